"""Promises the README makes to a new user: typed errors that name the fix, exit code 2, no
traceback, for the mistakes met in the first hour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bnlab
from bnlab.errors import ConfigError

CONF = Path(__file__).resolve().parents[1] / "conf"


@pytest.mark.parametrize("override", ["prior.esss=10", "+prior.esss=10"])
def test_a_mistyped_key_gets_the_valid_keys_and_the_closest(override: str) -> None:
    from bnlab.ops.config import validate
    from bnlab.ops.experiment import compose

    with pytest.raises(ConfigError, match=r"Did you mean 'prior.ess'\?.*\['ess', 'name'\]"):
        validate(compose(CONF, [override]), root=CONF.parent)


def test_an_unknown_section_lists_the_top_level_keys() -> None:
    from bnlab.ops.experiment import compose

    with pytest.raises(ConfigError, match=r"Did you mean 'prior'\?.*'vetting'\]") as info:
        compose(CONF, ["priorr.ess=3"])
    assert "+priorr" not in str(info.value)  # not Hydra's advice to append a key


def test_experiment_command_exits_2_on_a_typo(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bnlab.ops.experiment", "prior.esss=10"],
        capture_output=True,
        text=True,
        check=False,
        cwd=CONF.parent,
    )
    assert done.returncode == 2, done.stderr
    assert "Did you mean 'prior.ess'" in done.stderr and "Traceback" not in done.stderr


def test_monitor_of_an_alias_that_is_not_set_is_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bnlab.cli.commands import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    net = bnlab.load_example("asia")
    bnlab.sample(net, n=50, seed=1).to_parquet(tmp_path / "batch.parquet")
    code = main(["monitor", "models:/bnlab-asia@champion", str(tmp_path / "batch.parquet")])
    err = capsys.readouterr().err
    assert code == 2
    assert "bnlab-asia@champion" in err and "bnlab promote" in err and "Traceback" not in err


def test_compose_check_accepts_what_dvc_exp_run_wrote_and_refuses_bad_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `dvc exp run -S prior.ess=10` params.yaml is conf/ plus an override: `make run`'s
    check accepts it (naming the override); a refused value or a stray edit is stale."""
    import yaml

    from bnlab.cli.commands import compose_params, main

    params = tmp_path / "params.yaml"
    check = ["compose", "--check", "-o", str(params), "--config-dir", str(CONF)]
    compose_params(params, ["prior.ess=10"], CONF)
    assert main(check) == 0
    assert "overrides prior.ess=10" in capsys.readouterr().out
    doc = yaml.safe_load(params.read_text())
    doc["prior"]["ess"] = "abc"  # what a refused `dvc exp run -S prior.ess=abc` leaves
    params.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(check) == 1
    assert "prior.ess" in capsys.readouterr().err
    doc["prior"]["unknown_key"] = 1
    params.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(check) == 1
    compose_params(params, [], CONF)
    assert main(check) == 0
