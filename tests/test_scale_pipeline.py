"""The compute section: typed config, stages counting Parquet in place, unreachable schedulers."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bnlab.cli.commands import compose_params
from bnlab.cli.commands import main as bnlab_main
from bnlab.errors import ConfigError
from bnlab.ops.config import validate
from bnlab.ops.experiment import compose
from bnlab.ops.experiment import main as experiment_main
from tests.partition_helpers import write_parts

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SMALL = [
    "dataset=asia",
    "dataset.rows=1500",
    "dataset.missing=0.05",
    "structure=learned",
    "tracking.enabled=false",
]
UNREACHABLE = ["compute=dask", "compute.scheduler_address=tcp://127.0.0.1:9", "compute.timeout_s=2"]


def test_compute_defaults_to_local_and_dask_is_typed() -> None:
    assert validate(compose(CONF, [])).compute.name == "local"
    cfg = validate(compose(CONF, ["compute=dask", "compute.timeout_s=3"]))
    assert (cfg.compute.name, cfg.compute.timeout_s) == ("dask", 3.0)
    assert cfg.compute.scheduler_address == "tcp://127.0.0.1:8786"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["compute=dask", "compute.scheduler_address=null"], "needs compute.scheduler_address"),
        (["compute.name=spark"], "compute.name"),
        (["compute.timeout_s=0"], "compute.timeout_s"),
        (["compute.batch_rows=0"], "compute.batch_rows"),
        (["+compute.workers=3"], "compute.workers"),
    ],
)
def test_bad_compute_sections_are_refused(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(compose(CONF, overrides))


def run_stage(name: str, params: Path, *args: str) -> int:
    return bnlab_main(["stage", name, "--params", str(params), *args])


def test_stages_count_parquet_in_place_with_in_memory_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    memory = compose_params(tmp_path / "memory.yaml", SMALL, config_dir=CONF)
    train = tmp_path / "train.parquet"
    assert run_stage("prepare", memory, "--train", str(train), "--test", "test.parquet") == 0
    frame = pd.read_parquet(train)
    write_parts(frame, tmp_path / "parts", 3)
    # relative to the project root, as DVC runs stages
    in_place = compose_params(
        tmp_path / "in_place.yaml",
        [*SMALL, "compute.train_data=parts", "compute.batch_rows=100"],
        config_dir=CONF,
    )
    for tag, params in (("memory", memory), ("in_place", in_place)):
        structure, post = f"{tag}.json", f"{tag}.nc"
        assert run_stage("learn", params, "--train", str(train), "--structure", structure) == 0
        fit_args = ["--train", str(train), "--structure", structure, "--posterior", post,
                    "--network", f"{tag}_net.json"]  # fmt: skip
        assert run_stage("fit", params, *fit_args) == 0
    assert Path("memory.json").read_text() == Path("in_place.json").read_text()
    from bnlab.posterior import load_posterior

    a, b = load_posterior("memory.nc"), load_posterior("in_place.nc")
    assert a.n_rows == b.n_rows and dict(a.n_dropped) == dict(b.n_dropped)
    for v in a.structure.variables:
        np.testing.assert_array_equal(a.alpha[v], b.alpha[v])


def test_unreachable_scheduler_fails_the_stage_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    params = compose_params(tmp_path / "params.yaml", [*SMALL, *UNREACHABLE], config_dir=CONF)
    pd.DataFrame({"asia": pd.Categorical(["yes"])}).to_parquet(tmp_path / "train.parquet")
    start = time.perf_counter()
    rc = run_stage("learn", params, "--train", "train.parquet", "--structure", "s.json")
    assert rc == 2
    assert time.perf_counter() - start < 30
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not Path("s.json").exists()


def test_experiment_checks_the_scheduler_before_any_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        experiment_main([*SMALL, *UNREACHABLE, "name=unreachable_scheduler"])
    assert exc.value.code == 2
    assert time.perf_counter() - start < 30
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (ROOT / "experiments" / "unreachable_scheduler").exists()
