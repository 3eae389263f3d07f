"""Orchestration overhead of the default experiment (issue 7).

Times, each in a fresh process so that imports count the same way for all:

- ``direct``: the library called directly (public API, the same steps and outputs as the
  default experiment: alarm, 10 000 rows, expert graph, conjugate BDeu(1), audit,
  calibration on the targets, coverage, vetting verdict);
- ``experiment``: ``bnlab-experiment`` (Hydra + validation + MLflow tracking into SQLite),
  first into a new ``mlflow.db`` (MLflow creates its schema), then again with it in place;
- ``dvc repro evaluate``: the DVC stages prepare -> evaluate (the same work as ``direct``,
  in four processes) from a fresh copy of the project;
- ``dvc repro report``: then the report stage alone (the full HTML report, extra work that
  ``direct`` does not do; shown for completeness);
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
import json, sys
from pathlib import Path
import numpy as np
import bnlab
from bnlab import evaluate
out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
net = bnlab.load_example("alarm")
df = bnlab.sample(net, 10_000, seed=0)
rng = np.random.default_rng(1)
test_rows = np.zeros(len(df), bool); test_rows[rng.choice(len(df), 2000, replace=False)] = True
train, test = df[~test_rows].reset_index(drop=True), df[test_rows].reset_index(drop=True)
post = bnlab.fit(net.structure, train, prior="bdeu", ess=1.0)
engine = bnlab.Engine(post, draws=200, seed=0)
audit = evaluate.independence_audit(net.structure, test, fdr=0.05)
cal = {t: evaluate.calibration(post, test, target=t, draws=200, engine=engine)
       for t in ("LVFAILURE", "HYPOVOLEMIA")}
cov = evaluate.coverage(post, net, queries=200, draws=200, engine=engine)
verdict = evaluate.vet(audit=audit, calibration=cal, coverage=cov)
post.save(out / "posterior.nc"); bnlab.write_network(post.mean(), out / "network.json")
(out / "verdict.json").write_text(verdict.to_json())
(out / "metrics.json").write_text(json.dumps({t: c["ece"] for t, c in cal.items()}))
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
                timed([py, "-c", DIRECT, str(tmp / "direct")], tmp, env)
            )
            rows.setdefault("bnlab-experiment", []).append(
                timed([py, "-m", "bnlab.experiment", f"hydra.run.dir={tmp / 'run'}"], tmp, env)
            )
            # the usual case: the project's mlflow.db exists (no schema migrations)
            rows.setdefault("bnlab-experiment, warm", []).append(
                timed([py, "-m", "bnlab.experiment", f"hydra.run.dir={tmp / 'run2'}"], tmp, env)
            )
            repo = project_copy(tmp)
            rows.setdefault("dvc repro evaluate", []).append(
                timed([py, "-m", "dvc", "repro", "evaluate"], repo, env)
            )
            rows.setdefault("dvc repro report", []).append(
                timed([py, "-m", "dvc", "repro", "report"], repo, env)
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
        extra = "" if name in ("dvc repro (no-op)", "dvc repro report") else f"{best - base:12.1f}"
        print(f"{name:<26}{best:9.1f}{extra}")


if __name__ == "__main__":
    main()
