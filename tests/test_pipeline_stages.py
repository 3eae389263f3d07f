"""The stages and one experiment run in-process: real code, atomic outputs, MLflow records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bnlab.cli import compose_params
from bnlab.cli import main as bnlab_main
from bnlab.config import validate
from bnlab.experiment import compose
from bnlab.stages import common, prepare

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SMALL = ["dataset=asia", "dataset.rows=1000", "evaluate.draws=40", "tracking.enabled=false"]


@pytest.fixture
def params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return compose_params(tmp_path / "params.yaml", SMALL, config_dir=CONF)


def stage(name: str, *args: str) -> int:
    return bnlab_main(["stage", name, "--params", "params.yaml", *args])


def test_split_is_a_seeded_partition() -> None:
    frame = pd.DataFrame({"a": pd.Categorical(list("xyxyxyxyxy"))})
    train, test = prepare.split(frame, 0.3, seed=4)
    assert (len(train), len(test)) == (7, 3)
    again = prepare.split(frame, 0.3, seed=4)
    pd.testing.assert_frame_equal(train, again[0])
    with pytest.raises(Exception, match="keep both parts non-empty"):
        prepare.split(frame.iloc[:1], 0.3, seed=0)


def test_file_dataset_is_typed_by_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\nx,u\ny,\nx,v\n")
    over = [
        "dataset=csv",
        f"dataset.path={path}",
        "+dataset.schema.a=[x,y]",
        "+dataset.schema.b=[u,v]",
        "structure=learned",
        "evaluate.test_fraction=0.34",
    ]
    cfg = validate(compose(CONF, over), root=tmp_path)
    frame = prepare.read_data_file(cfg.dataset, tmp_path)
    assert list(frame["b"].cat.categories) == ["u", "v"] and frame["b"].isna().sum() == 1
    path.write_text("a,b\nx,u\nz,v\n")
    with pytest.raises(Exception, match=r"column 'a' has value\(s\) \['z'\]"):
        prepare.read_data_file(cfg.dataset, tmp_path)


def test_stages_chain_and_a_failing_stage_keeps_previous_outputs(params: Path) -> None:
    out = Path("experiments/default")
    assert stage("prepare", "--train", f"{out}/train.parquet", "--test", f"{out}/test.parquet") == 0
    train = pd.read_parquet(out / "train.parquet")
    assert len(train) == 800 and isinstance(train["lung"].dtype, pd.CategoricalDtype)
    assert stage("learn", "--train", f"{out}/train.parquet", "--structure", f"{out}/s.json") == 0
    fit_args = ["--train", f"{out}/train.parquet", "--structure", f"{out}/s.json",
                "--posterior", f"{out}/post.nc", "--network", f"{out}/net.json"]  # fmt: skip
    assert stage("fit", *fit_args) == 0
    from bnlab.posterior import load_posterior

    post = load_posterior(out / "post.nc")
    # conjugate oracle: Dirichlet(BDeu(ess=1) + counts) for the root 'asia'
    counts = train["asia"].value_counts().reindex(["yes", "no"]).to_numpy()
    np.testing.assert_allclose(post.alpha["asia"], counts + 0.5)

    before = (out / "post.nc").read_bytes()
    (out / "s.json").write_text("{broken")
    assert stage("fit", *fit_args) == 2
    assert (out / "post.nc").read_bytes() == before
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temp files


def test_stage_error_is_one_paragraph_on_stderr(
    params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = yaml.safe_load(params.read_text())
    doc["dataset"]["rows"] = -1
    params.write_text(yaml.safe_dump(doc))
    assert stage("prepare", "--train", "a.parquet", "--test", "b.parquet") == 2
    err = capsys.readouterr().err
    assert err.startswith("bnlab: error: dataset.rows=-1") and err.count("\n") == 1
    assert not Path("a.parquet").exists()


def test_compose_check_detects_a_stale_params_file(params: Path) -> None:
    args = ["compose", *SMALL, "--config-dir", str(CONF), "-o", str(params)]
    assert bnlab_main([*args, "--check"]) == 0
    params.write_text(params.read_text().replace("ess: 1.0", "ess: 2.0"))
    assert bnlab_main([*args, "--check"]) == 1


def test_atomic_path_leaves_target_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    common.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), common.atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
