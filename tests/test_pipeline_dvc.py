"""The DVC pipeline with the real tools, in a fresh temporary git repository (no mocks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: a small, fast default experiment for the copy of conf/: asia, 1500 rows, a verdict that
#: passes (so the export stage registers). It goes into conf/ (not only params.yaml) because
#: `dvc exp run -S` composes conf/ afresh.
SMALL = """# @package _global_
defaults:
  - override /dataset: asia
dataset:
  rows: 1500
evaluate:
  draws: 50
vetting:  # 90% coverage from 50 draws and 200 queries is too noisy to gate on here
  min_coverage_90: 0.0
  max_coverage_90: 1.0
tracking:
  enabled: false
"""
STAGES = ("prepare", "learn", "fit", "evaluate", "report", "export")
#: the registered model name that export.registry_name composes to for the small experiment
MODEL = "bnlab-asia"


def _env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site-cache"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "JAX_PLATFORMS": "cpu",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=_env(cwd.parent), capture_output=True, text=True, timeout=900
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "dvc", *args], cwd, check)


def make_project(tmp: Path, experiment: str = SMALL) -> Path:
    """A fresh git repo holding bnlab, conf/ (default experiment: ``experiment``), dvc.yaml
    and the params.yaml that conf/ composes to."""
    from bnlab.cli.commands import compose_params

    repo = tmp / "project"
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "bnlab", repo / "bnlab", ignore=ignore)
    shutil.copytree(ROOT / "conf", repo / "conf", ignore=ignore)
    shutil.copytree(ROOT / ".dvc", repo / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy2(ROOT / name, repo / name)
    (repo / "conf" / "experiment" / "pipeline_test.yaml").write_text(experiment)
    config = repo / "conf" / "config.yaml"
    text = config.read_text()
    assert "  - experiment: null\n" in text
    config.write_text(text.replace("  - experiment: null\n", "  - experiment: pipeline_test\n"))
    compose_params(repo / "params.yaml", config_dir=repo / "conf")
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "project"], repo)
    return repo


def stages_run(output: str) -> list[str]:
    return [s for s in STAGES if f"Running stage '{s}'" in output]


def _registry(repo: Path) -> dict[str, object]:
    """Versions (with tags) and aliases of MODEL in the project's embedded store."""
    from bnlab.ops.registry import registry_state

    return registry_state(MODEL, tracking_uri=f"sqlite:///{(repo / 'mlflow.db').resolve()}")


def test_committed_pipeline_files_are_consistent() -> None:
    doc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    assert list(doc["stages"]) == list(STAGES)
    for name, stage in doc["stages"].items():
        module = f"bnlab.cli {name}" if name in ("report", "export") else f"bnlab.stages.{name}"
        assert module in stage["cmd"]
        for dep in stage["deps"]:
            if not dep.startswith(("experiments/", "reports/")):  # pipeline outputs
                assert (ROOT / dep).exists(), f"stage {name}: dep {dep} does not exist"
    config = (ROOT / ".dvc" / "config").read_text()
    assert "enabled = true" in config and "remote = local" in config


#: outputs git tracks (dvc.yaml `cache: false`): a rerun must rewrite them byte for byte
TRACKED_OUTPUTS = (
    "metrics.json", "verdict.json", "calibration.csv", "coverage.csv", "ppc.csv",
    "queries.csv", "explanations.json",
)  # fmt: skip


@pytest.mark.slow(expected_s=400)
def test_dvc_repro_exp_run_metrics_and_plots(tmp_path: Path) -> None:
    repo = make_project(tmp_path)
    out = repo / "experiments" / "default"

    first = dvc("repro", cwd=repo)
    assert stages_run(first.stdout) == list(STAGES), first.stdout
    for rel in (
        "data/train.parquet", "data/test.parquet", "structure.json", "posterior.nc",
        "network.json", "metrics.json", "verdict.json", "calibration.csv", "audit.csv",
    ):  # fmt: skip
        assert (out / rel).is_file(), rel
    assert (repo / "reports" / "default" / "index.html").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout.complete_rows"] == 300.0  # 20% of 1500 held out
    assert (repo / "dvc.lock").is_file()
    # the export stage registered the vetted model in the embedded store, no server
    record = json.loads((out / "export.json").read_text())
    assert record["registered"] and record["name"] == MODEL and record["version"] == "1"
    assert record["tracking_uri"] == "sqlite:///mlflow.db"  # no machine path in the record
    state = _registry(repo)
    assert state["aliases"] == {"challenger": "1"} and set(state["versions"]) == {"1"}
    tags = state["versions"]["1"]
    assert tags["git_commit"] == run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
    assert tags["verdict"].startswith("passed") and tags["data_hash"] and tags["dvc_lock_sha256"]

    second = dvc("repro", cwd=repo)
    assert stages_run(second.stdout) == [], second.stdout

    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "run"], repo)
    # every output is committed (cache: false): a fresh clone has nothing to rerun
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert json.loads(dvc("status", "--json", cwd=clone).stdout or "{}") == {}

    # prior.ess only: fit and what follows rerun (a new version), prepare and learn do not
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["prior"]["ess"] = 10.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    third = dvc("repro", cwd=repo)
    assert stages_run(third.stdout) == ["fit", "evaluate", "report", "export"], third.stdout
    assert _registry(repo)["aliases"] == {"challenger": "2"}
    # the registration that moved the alias says so, on the console and in the record
    assert "alias 'challenger' of bnlab-asia moved from version 1 to 2" in third.stdout
    assert json.loads((out / "export.json").read_text())["moved_aliases"] == {"challenger": "1"}
    run(["git", "checkout", "-q", "--", "."], repo)  # params.yaml, dvc.lock, metrics back
    dvc("checkout", cwd=repo)
    assert stages_run(dvc("repro", cwd=repo).stdout) == []

    # a failing verdict fails the export stage with exit code 2, naming the failed checks;
    # the registry (versions, aliases, the database file itself) and the record stay as they were
    before, db, rec = _registry(repo), (repo / "mlflow.db").read_bytes(), record
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["vetting"]["max_ece"] = 0.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    failed = dvc("repro", cwd=repo, check=False)
    assert failed.returncode != 0, failed.stdout
    assert stages_run(failed.stdout) == ["evaluate", "report", "export"], failed.stdout
    said = failed.stdout + failed.stderr
    assert "exited with 2" in said and "ece[lung]" in said and "not registered" in said, said
    assert _registry(repo) == before and (repo / "mlflow.db").read_bytes() == db
    assert json.loads((out / "export.json").read_text()) == rec
    run(["git", "checkout", "-q", "--", "."], repo)
    dvc("checkout", cwd=repo)

    # export=none (export.enabled false): only the export stage reruns, and registers nothing
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["export"]["enabled"] = False
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    skipped = dvc("repro", cwd=repo)
    assert stages_run(skipped.stdout) == ["export"], skipped.stdout
    assert json.loads((out / "export.json").read_text())["registered"] is False
    assert _registry(repo) == before
    run(["git", "checkout", "-q", "--", "."], repo)
    assert stages_run(dvc("repro", cwd=repo).stdout) == []

    # dvc exp run -S composes conf/ (Hydra) with the override and records an experiment
    exp = dvc("exp", "run", "-S", "prior.ess=10", "-n", "ess10", cwd=repo)
    assert "Running stage 'fit'" in exp.stdout and "Running stage 'prepare'" not in exp.stdout
    assert yaml.safe_load((repo / "params.yaml").read_text())["prior"]["ess"] == 10
    diff = dvc("metrics", "diff", "--json", cwd=repo)
    changed = json.loads(diff.stdout)
    assert any("heldout.loglik_per_row" in keys for keys in changed.values()), diff.stdout
    shown = dvc("exp", "show", "--json", cwd=repo)
    assert "ess10" in shown.stdout

    table = dvc("metrics", "show", cwd=repo)
    assert "heldout.loglik_per_row" in table.stdout
    plots = dvc("plots", "show", "--json", cwd=repo)
    assert "calibration.csv" in plots.stdout and "coverage.csv" in plots.stdout
    html = dvc("plots", "show", "-o", str(tmp_path / "plots"), cwd=repo)
    assert (tmp_path / "plots" / "index.html").is_file(), html.stdout

    # the local default remote works out of the box for a data file of the user's own
    # (`dvc add`, as dvc.yaml advises; the pipeline's outputs live in git, cache: false)
    own = repo / "data" / "own.csv"
    own.parent.mkdir(exist_ok=True)
    own.write_text("a,b\nx,y\n")
    dvc("add", "data/own.csv", cwd=repo)
    dvc("push", cwd=repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    own.unlink()
    dvc("pull", cwd=repo)
    assert own.read_text() == "a,b\nx,y\n"

    # a forced rerun (prepare to evaluate) with one JAX CPU device instead of the default
    # writes the same bytes: no summation order, chunking or device split leaks into the
    # written numbers (here rather than in a project of its own: one pipeline run less)
    first_bytes = {name: (out / name).read_bytes() for name in TRACKED_OUTPUTS}
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "--force", "evaluate"],
        cwd=repo,
        env={**_env(tmp_path), "BNLAB_CPU_DEVICES": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    changed = [n for n in TRACKED_OUTPUTS if (out / n).read_bytes() != first_bytes[n]]
    assert changed == []


@pytest.mark.slow(expected_s=120)
def test_failing_stage_reports_the_error_and_keeps_outputs(tmp_path: Path) -> None:
    repo = make_project(tmp_path)
    dvc("repro", "fit", cwd=repo)
    before = (repo / "experiments" / "default" / "posterior.nc").read_bytes()
    # a failure inside the stage's work (not only in its config): a corrupt structure file
    structure = repo / "experiments" / "default" / "structure.json"
    good = structure.read_text()
    structure.write_text("{not json")
    failed = dvc("repro", "-s", "fit", cwd=repo, check=False)
    assert failed.returncode != 0 and "bnlab: error:" in failed.stderr, failed.stderr
    assert (repo / "experiments" / "default" / "posterior.nc").read_bytes() == before
    structure.write_text(good)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["backend"]["name"] = "stan"
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    failed = dvc("repro", "-s", "fit", cwd=repo, check=False)
    assert failed.returncode != 0
    assert "backend.name='stan' is not one of" in failed.stderr + failed.stdout
    assert (repo / "experiments" / "default" / "posterior.nc").read_bytes() == before
