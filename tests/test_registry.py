"""The vetting gate, provenance tags, aliases and rollback, through the real MLflow registry."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_registry_helpers import (
    CHILD_ENV,
    TARGET,
    bnlab_cli,
    engine_answer,
    evidence_frame,
    fit_asia,
    served_columns,
    verdict,
    write_experiment,
)

import bnlab
from bnlab.cli.commands import main
from bnlab.errors import ArtifactError
from bnlab.ops.registry import GateError, promote, register, registry_state
from bnlab.stages.prepare import data_hash

NAME = "asia-model"


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project folder (git repo, dvc.lock) with a passing and a failing experiment, and a
    store holding version 1 (passed) and version 2 (forced past a failed verdict)."""
    root = tmp_path_factory.mktemp("project")
    (root / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    _git(root, "init", "-q")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", "dvc.lock")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    net, post = fit_asia()
    good = write_experiment(root / "experiments" / "good", post, passed=True, layout="dvc")
    bad = write_experiment(root / "runs" / "bad", post, passed=False, layout="run")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    assert main(["export", str(good), "--name", NAME, "--tracking-uri", uri, "--root", str(root),
                 "--output", str(root / "export.json")]) == 0  # fmt: skip
    reason = "known-bad calibration accepted for a shadow deployment"
    assert main(["export", str(bad), "--name", NAME, "--tracking-uri", uri, "--root", str(root),
                 "--force", "--reason", reason]) == 0  # fmt: skip
    return {"root": root, "uri": uri, "good": good, "bad": bad, "net": net, "post": post,
            "reason": reason}  # fmt: skip


def test_export_tags_provenance_and_alias(project: dict[str, Any]) -> None:
    root = project["root"]
    state = registry_state(NAME, tracking_uri=project["uri"])
    assert set(state["versions"]) == {"1", "2"}
    tags = state["versions"]["1"]
    assert tags["git_commit"] == _git(root, "rev-parse", "HEAD")
    assert tags["dvc_lock_sha256"] == hashlib.sha256((root / "dvc.lock").read_bytes()).hexdigest()
    train = pd.read_parquet(project["good"] / "data" / "train.parquet")
    assert tags["data_hash"] == data_hash(train)  # DVC layout: hashed from the training rows
    assert registry_state(NAME, tracking_uri=project["uri"])["versions"]["2"]["data_hash"] == (
        "d" * 16  # run layout: from provenance.json
    )
    assert tags["bnlab_version"] == bnlab.__version__
    assert tags["verdict"] == "passed: 3/3 checks passed"
    assert "forced" not in tags
    assert state["aliases"]["challenger"] == "2"  # the newest version is the challenger
    record = json.loads((root / "export.json").read_text())
    assert record["version"] == "1" and record["alias"] == "challenger"
    # the artifacts live beside the SQLite store, not in the current folder
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=project["uri"], registry_uri=project["uri"])
    run_id = client.get_model_version(NAME, "1").run_id
    artifacts = client.get_run(run_id).info.artifact_uri
    assert artifacts.startswith((root / "mlartifacts").as_uri()), artifacts
    assert (root / "mlartifacts").is_dir()


def test_exported_model_carries_report_config_and_verdict(project: dict[str, Any]) -> None:
    import bnlab.mlflow as flavor
    from bnlab.ops.registry import using_store

    with using_store(project["uri"]):
        model = flavor.load_model(f"models:/{NAME}/1")
    assert Path(model.files["report"]).read_text() == "<html>dvc report</html>"
    assert model.config is not None and model.config["name"] == "good"
    assert model.verdict is not None and model.verdict.passed
    assert model.targets == (TARGET,)


def test_force_records_its_reason(project: dict[str, Any]) -> None:
    tags = registry_state(NAME, tracking_uri=project["uri"])["versions"]["2"]
    assert tags["forced"] == "true"
    assert tags["force_reason"] == project["reason"]
    assert tags["failed_checks"] == "ece[dysp]"
    assert tags["verdict"].startswith("failed: 2/3")


def test_failing_verdict_leaves_registry_exactly_as_it_was(project: dict[str, Any]) -> None:
    uri, root = project["uri"], project["root"]
    before = registry_state(NAME, tracking_uri=uri)
    db_before = (root / "mlflow.db").read_bytes()
    done = bnlab_cli(["export", str(project["bad"]), "--name", NAME, "--tracking-uri", uri], root)
    assert done.returncode == 2, done.stderr
    assert "ece[dysp]" in done.stderr and "not registered" in done.stderr
    # --force without a reason is refused too
    assert main(["export", str(project["bad"]), "--name", NAME, "--tracking-uri", uri,
                 "--force"]) == 2  # fmt: skip
    with pytest.raises(GateError, match=r"ece\[dysp\]") as err:
        register(project["post"], NAME, verdict(False), tracking_uri=uri)
    assert err.value.failed == ["ece[dysp]"]
    # a verdict dict claiming passed over a failing check is refused, not trusted
    forged = json.loads(verdict(False).to_json()) | {"passed": True}
    with pytest.raises(ArtifactError, match="edited"):
        register(project["post"], NAME, forged, tracking_uri=uri)
    assert registry_state(NAME, tracking_uri=uri) == before
    assert (root / "mlflow.db").read_bytes() == db_before


def test_promote_and_rollback(project: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    uri = project["uri"]
    assert promote(NAME, 1, tracking_uri=uri) in (None, "1")
    assert main(["promote", NAME, "2", "--tracking-uri", uri]) == 0
    assert "previous champion: version 1" in capsys.readouterr().out
    state = registry_state(NAME, tracking_uri=uri)
    assert state["aliases"]["champion"] == "2"
    assert state["versions"]["2"]["previous_champion"] == "1"
    assert set(state["versions"]) == {"1", "2"}  # the old champion stays a version
    assert promote(NAME, state["versions"]["2"]["previous_champion"], tracking_uri=uri) == "2"
    assert registry_state(NAME, tracking_uri=uri)["aliases"]["champion"] == "1"
    with pytest.raises(bnlab.BNError, match="no version 9"):
        promote(NAME, 9, tracking_uri=uri)
    assert main(["promote", "no-such-model", "1", "--tracking-uri", uri]) == 2


def test_export_if_enabled_and_aliases(project: dict[str, Any], tmp_path: Path) -> None:
    root, good = project["root"], str(project["good"])
    db = tmp_path / "other.db"
    uri, record = f"sqlite:///{db}", tmp_path / "export.json"
    common = ["export", good, "--name", NAME, "--tracking-uri", uri, "--root", str(root)]
    # the pipeline's --if-enabled: this configuration does not enable export, so nothing is
    # registered (MLflow is not even opened) and the record says why
    assert main([*common, "--if-enabled", "--output", str(record)]) == 0
    doc = json.loads(record.read_text())
    assert doc["registered"] is False and "export.enabled" in doc["reason"]
    # champion is a person's decision (bnlab promote), never an export's; bad aliases refused
    for alias in ("champion", "latest", "v3", "no spaces"):
        assert main([*common, "--alias", alias]) == 2
    assert not db.exists()
    assert main([*common, "--alias", "staging", "--output", str(record)]) == 0
    doc = json.loads(record.read_text())
    assert doc["registered"] and doc["aliases"] == ["challenger", "staging"]
    assert doc["model_uri"] == f"models:/{NAME}/1"
    assert registry_state(NAME, tracking_uri=uri)["aliases"] == {"challenger": "1", "staging": "1"}


_LOAD_SCRIPT = """
import sys, mlflow.pyfunc, pandas as pd
evidence = pd.read_json(sys.argv[1], orient="split", dtype=False)
model = mlflow.pyfunc.load_model("models:/{name}@champion")
model.predict(evidence, params={{"interval": 0.9}}).to_json(sys.argv[2], orient="split")
print(sorted(k for k in sys.modules if k == "jax" or k.startswith("bnlab")))
"""


# a fresh interpreter: mlflow + jax imports and a JIT compile, ~30 s or more
@pytest.mark.slow(expected_s=60)
def test_champion_loads_in_a_fresh_process_and_equals_the_engine(
    project: dict[str, Any], tmp_path: Path
) -> None:
    uri, net, post = project["uri"], project["net"], project["post"]
    promote(NAME, 1, tracking_uri=uri)
    evidence = evidence_frame(net, 50)
    evidence.to_json(tmp_path / "in.json", orient="split")
    env = {**os.environ, **CHILD_ENV, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT.format(name=NAME), str(tmp_path / "in.json"),
         str(tmp_path / "out.json")],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "'bnlab.mlflow'" in done.stdout  # the flavor's loader really ran over there
    out = pd.read_json(tmp_path / "out.json", orient="split")
    assert len(out) == 50
    for got, want in zip(
        served_columns(out, net.states[TARGET]), engine_answer(post, evidence), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_artifacts_of_a_sqlite_store_go_beside_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bnlab.ops.registry import artifact_location

    monkeypatch.chdir(tmp_path)
    assert artifact_location("sqlite:///mlflow.db") == (tmp_path / "mlartifacts").as_uri()
    assert (
        artifact_location(f"sqlite:///{tmp_path}/s/m.db")
        == (tmp_path / "s" / "mlartifacts").as_uri()
    )
    assert artifact_location("http://127.0.0.1:5000") is None


def test_portable_uri_is_relative_only_inside_the_project(tmp_path: Path) -> None:
    from bnlab.ops.tracking import portable_uri

    inside = f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"
    assert portable_uri(inside, tmp_path) == "sqlite:///mlflow.db"
    outside = f"sqlite:///{(tmp_path.parent / 'other.db').resolve()}"
    assert portable_uri(outside, tmp_path) == outside
    assert portable_uri("http://127.0.0.1:5000", tmp_path) == "http://127.0.0.1:5000"
