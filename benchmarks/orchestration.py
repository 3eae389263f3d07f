"""Orchestration overhead of the default experiment (issue 7).

Times, each in a fresh process so that imports count the same way for all:

- ``direct``: the same steps called as library functions in one process
  (:func:`bnlab.ops.experiment.execute` on the composed ``params.yaml``: prepare, learn, fit,
  evaluate with its tables and explanations, the full HTML report), no Hydra, no MLflow,
  no DVC, no export;
- ``experiment``: ``bnlab-experiment export=none`` (Hydra + validation + MLflow tracking into
  SQLite), first into a new ``mlflow.db`` (MLflow creates its schema), then again with it in
  place (the usual case);
- ``dvc repro report``: the DVC stages prepare -> report (the same work as ``direct``, in
  five processes) from a fresh copy of the project;
- ``dvc repro export``: then the export stage alone (the vetting gate and the registration
  in MLflow's registry: extra work that ``direct`` does not do);
- ``dvc repro (no-op)``: a further ``dvc repro`` that has nothing to do.

Run from the project root: ``uv run python benchmarks/orchestration.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DIRECT = """
import sys
from dataclasses import replace
from pathlib import Path
from bnlab.ops.config import load_params
from bnlab.ops.experiment import execute
from bnlab.stages.common import use_compile_cache
use_compile_cache()  # the persistent JAX cache every entry point uses
root, out = Path(sys.argv[1]), Path(sys.argv[2])
cfg = load_params(root / "params.yaml", root=root)
execute(replace(cfg, export=replace(cfg.export, enabled=False)), root, out)
"""


def _env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "JAX_PLATFORMS": "cpu",
        "BNLAB_CONFIG_DIR": str(ROOT / "conf"),
    }


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed


def project_copy(tmp: Path) -> Path:
    repo = tmp / "project"
    repo.mkdir()
    for name in ("bnlab", "conf", ".dvc"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns(
            "__pycache__", "*.pyc", "tmp", "cache"))  # fmt: skip
    for name in ("dvc.yaml", "params.yaml", ".dvcignore", ".gitignore"):
        shutil.copy2(ROOT / name, repo / name)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    py = sys.executable
    rows: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            env = _env(tmp)
            rows.setdefault("direct (library)", []).append(
                timed([py, "-c", DIRECT, str(ROOT), str(tmp / "direct")], tmp, env)
            )
            experiment = [py, "-m", "bnlab.ops.experiment", "export=none"]
            rows.setdefault("bnlab-experiment", []).append(
                timed([*experiment, f"hydra.run.dir={tmp / 'run'}"], tmp, env)
            )
            # the usual case: the project's mlflow.db exists (no schema migrations)
            rows.setdefault("bnlab-experiment, warm", []).append(
                timed([*experiment, f"hydra.run.dir={tmp / 'run2'}"], tmp, env)
            )
            repo = project_copy(tmp)
            rows.setdefault("dvc repro report", []).append(
                timed([py, "-m", "dvc", "repro", "report"], repo, env)
            )
            rows.setdefault("dvc repro export", []).append(
                timed([py, "-m", "dvc", "repro", "export"], repo, env)
            )
            rows.setdefault("dvc repro (no-op)", []).append(
                timed([py, "-m", "dvc", "repro"], repo, env)
            )
    load = os.getloadavg()
    base = min(rows["direct (library)"])
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores")
    print(f"{'command':<26}{'best s':>9}{'overhead s':>12}")
    for name, values in rows.items():
        best = min(values)
        extra = "" if name in ("dvc repro (no-op)", "dvc repro export") else f"{best - base:12.1f}"
        print(f"{name:<26}{best:9.1f}{extra}")


if __name__ == "__main__":
    main()
