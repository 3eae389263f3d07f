"""Your own data in one command: a raw mixed-type CSV with no schema -> report, verdict,
registered model -> ``bnlab monitor`` on a batch of raw numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bnlab.ops.experiment import check_jobs, user_searchpath

CONF = Path(__file__).resolve().parents[1] / "conf"
ENV = {"BNLAB_CONFIG_DIR": str(CONF), "JAX_PLATFORMS": "cpu", "MLFLOW_DISABLE_TELEMETRY": "true",
       "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}  # fmt: skip


def survey(n: int, seed: int) -> pd.DataFrame:
    """Text, bool, small-integer, many-valued integer and float columns, some missing."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 63, n)
    smoker = rng.random(n) < 0.3
    size = rng.integers(1, 6, n)
    income = rng.normal(40, 8, n) + 0.3 * (age - 18)
    risk = 0.02 * (age - 18) + 0.8 * smoker + 0.1 * size
    insurance = np.where(risk + rng.normal(0, 0.4, n) > 1.0, "premium", "basic")
    region = rng.choice(["north", "south", "east"], n)
    frame = pd.DataFrame(
        {
            "age": age,
            "smoker": smoker,
            "family_size": size,
            "income": income.round(2),
            "region": region,
            "insurance": insurance,
        }
    )
    frame.loc[rng.random(n) < 0.03, "income"] = np.nan
    return frame


def test_user_config_dirs_compose_before_hydra_starts(tmp_path: Path) -> None:
    data = tmp_path / "my.csv"
    survey(60, 0).to_csv(data, index=False)
    user = tmp_path / "myconf"
    (user / "dataset").mkdir(parents=True)
    (user / "dataset" / "my_data.yaml").write_text(
        f"defaults:\n  - csv\n  - _self_\nname: my_data\npath: {data}\ntargets: [insurance]\n"
        "schema:\n  age: {discretize: uniform, bins: 3}\n"
    )
    for flags in (["--config-dir", str(user)], [f"hydra.searchpath=[file://{user}]"]):
        assert check_jobs(CONF, [*flags, "dataset=my_data", "structure=learned"], tmp_path) == 1
    assert user_searchpath(["-cd", str(user)]) == [f"hydra.searchpath=[file://{user}]"]
    with pytest.raises(Exception, match="my_data"):  # without the folder it is not found
        check_jobs(CONF, ["dataset=my_data"], tmp_path)


def test_parquet_with_no_schema_is_prepared_with_bins_from_training_rows(tmp_path: Path) -> None:
    from bnlab.ops.config import validate
    from bnlab.ops.experiment import compose
    from bnlab.stages.prepare import prepare

    frame = survey(300, 2)
    frame.to_parquet(tmp_path / "my.parquet")
    over = ["dataset=parquet", f"dataset.path={tmp_path / 'my.parquet'}",
            "dataset.targets=[insurance]", "dataset.discretize=mdlp"]  # fmt: skip
    cfg = validate(compose(CONF, over), root=tmp_path)
    assert cfg.structure.source == "learned"  # no expert graph for own data: searched
    out = prepare(cfg.dataset, cfg.evaluate, tmp_path)
    assert out.schema is not None and out.schema.states["family_size"] == tuple("12345")
    assert out.schema.column("age").bins.method == "mdlp"  # type: ignore[union-attr]
    assert all(isinstance(out.train[c].dtype, pd.CategoricalDtype) for c in out.train)
    assert len(out.train) + len(out.test) == 300
    with pytest.raises(Exception, match="'row_id'.*identifier"):
        frame.assign(row_id=np.arange(300)).to_parquet(tmp_path / "my.parquet")
        prepare(cfg.dataset, cfg.evaluate, tmp_path)


# a whole experiment and a monitor run as subprocesses: minutes on 2 cores
@pytest.mark.slow(expected_s=240)
def test_csv_with_no_schema_to_registered_model_and_monitor(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    survey(1500, 0).to_csv(tmp_path / "data" / "my.csv", index=False)
    env = {**os.environ, **ENV}
    args = ["dataset=csv", "dataset.path=data/my.csv", "dataset.targets=[insurance]",
            "vetting=lenient", "evaluate.draws=50"]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "bnlab.ops.experiment", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run,) = (tmp_path / "experiments" / "default" / "runs").iterdir()
    schema = json.loads((run / "schema.json").read_text())
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    assert kinds == {"age": "discretized", "smoker": "categorical", "family_size": "integer",
                     "income": "discretized", "region": "categorical",
                     "insurance": "categorical"}  # fmt: skip
    html = (run / "report.html").read_text()
    assert "Data schema" in html and "[18, " in html
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["passed"], verdict
    assert "bnlab: registered bnlab-csv version 1" in done.stdout

    batch = survey(400, 1).drop(columns=["insurance"])
    batch.loc[:4, "age"] = 90  # beyond the training range: edge bin, counted
    batch.to_csv(tmp_path / "batch.csv", index=False)
    mon = subprocess.run(
        [sys.executable, "-m", "bnlab.cli", "monitor", "models:/bnlab-csv@challenger",
         "batch.csv", "--out", "drift.json"],
        cwd=tmp_path, env={**env, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert mon.returncode == 0, mon.stdout[-3000:] + mon.stderr[-3000:]
    report = json.loads((tmp_path / "drift.json").read_text())
    quality = {r["variable"]: r for r in report["quality"]}
    assert quality["age"]["out_of_range"] == 5
    assert quality["age"]["unknown_rate"] == 0.0 and quality["income"]["unknown_rate"] == 0.0
