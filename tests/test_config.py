"""The experiment configuration: conf/ composes, the schema refuses bad configs with exit 2."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bnlab.errors import ConfigError
from bnlab.ops.config import ExperimentConfig, find_cycle, validate
from bnlab.ops.experiment import check_jobs, compose, job_overrides
from tests.conftest import experiment_cli

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_default_config_is_alarm_with_conjugate_bdeu() -> None:
    cfg = validate(compose(CONF, []), root=ROOT)
    assert isinstance(cfg, ExperimentConfig)
    assert (cfg.dataset.name, cfg.dataset.network, cfg.structure.source) == (
        "alarm",
        "alarm",
        "expert",
    )
    assert (cfg.prior.name, cfg.prior.ess, cfg.backend.name) == ("bdeu", 1.0, "conjugate")
    assert cfg.evaluate.targets == cfg.dataset.targets  # interpolated
    # the vetted model is registered by default (embedded SQLite registry, alias challenger)
    assert cfg.export.enabled and cfg.tracking.enabled and cfg.tracking.uri is None


@pytest.mark.parametrize(
    ("group", "option"),
    [(g, o) for g in ("prior", "backend", "evaluate", "vetting", "export") for o in _options(g)]
    + [("dataset", o) for o in _options("dataset") if o not in ("csv", "parquet")]
    + [("experiment", o) for o in _options("experiment")],
)  # fmt: skip
def test_every_config_option_composes_and_validates(group: str, option: str) -> None:
    extra = ["backend=numpyro"] if option == "hierarchical" else []
    cfg = validate(compose(CONF, [f"{group}={option}", *extra]), root=ROOT)
    assert isinstance(cfg, ExperimentConfig)


@pytest.mark.parametrize("option", _options("structure"))
def test_every_structure_option_validates_on_asia(option: str) -> None:
    cfg = validate(compose(CONF, ["dataset=asia", f"structure={option}"]), root=ROOT)
    assert cfg.structure.source in ("expert", "learned", "hybrid")


def test_structure_knowledge_must_name_dataset_variables() -> None:
    with pytest.raises(ConfigError, match=r"structure\.required names \['either', 'lung'"):
        validate(compose(CONF, ["dataset=alarm", "structure=asia_expert"]), root=ROOT)


@pytest.mark.parametrize("option", ["csv", "parquet"])
def test_file_datasets_validate_with_a_file_and_schema(option: str, tmp_path: Path) -> None:
    import pandas as pd

    def write(frame: pd.DataFrame) -> None:
        if option == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path)

    path = tmp_path / f"d.{option}"
    write(pd.DataFrame({"a": ["x", "y"], "b": ["u", "v"]}))
    over = [f"dataset={option}", f"dataset.path={path}", "+dataset.schema.a=[x,y]"]
    over.append("structure=learned")
    cfg = validate(compose(CONF, over), root=tmp_path)
    assert cfg.dataset.source == "file" and cfg.dataset.schema == {"a": ["x", "y"]}
    # no schema at all: the states are inferred from the file (bnlab.infer_schema)
    bare = validate(compose(CONF, [*over[:2], "structure=learned"]), root=tmp_path)
    assert bare.dataset.schema == {} and bare.dataset.max_states == 20
    with pytest.raises(ConfigError, match="two or more distinct states"):
        validate(compose(CONF, [*over, "+dataset.schema.b=[u]"]), root=tmp_path)
    # the header is checked before any work: a declared variable without a column
    with pytest.raises(ConfigError, match=r"no column for declared variable\(s\) \['c'\]"):
        validate(compose(CONF, [*over, "+dataset.schema.c=[p,q]"]), root=tmp_path)
    # a file that is not data of its kind (any first line is a CSV header, so a CSV file is
    # refused for its columns, a Parquet file for its format)
    path.write_bytes(b"\x00\x01 not a table")
    with pytest.raises(ConfigError, match="cannot be read" if option == "parquet" else "columns"):
        validate(compose(CONF, over), root=tmp_path)


def test_committed_params_yaml_equals_what_conf_composes_to(tmp_path: Path) -> None:
    from bnlab.cli.commands import compose_params

    fresh = compose_params(tmp_path / "params.yaml", config_dir=CONF)
    assert (ROOT / "params.yaml").read_text() == fresh.read_text(), (
        "params.yaml is out of date: run `uv run bnlab compose`"
    )
    doc = yaml.safe_load(fresh.read_text())
    assert doc["prior"] == {"name": "bdeu", "ess": 1.0}


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["dataset.rows=-5"], r"dataset\.rows=-5 must be a positive"),
        (["dataset.rows=many"], r"'dataset\.rows'.*could not be converted"),
        (["+dataset.colour=red"], r"'dataset\.colour'.*not in 'DatasetConfig'"),
        (["dataset.missing=1.5"], r"dataset\.missing"),
        (["dataset.network=no_such_net"], r"neither a shipped example"),
        (["prior.ess=0"], r"prior\.ess=0\.0 .* positive"),
        (["backend.name=stan"], r"backend\.name='stan' is not one of"),
        (["evaluate.targets=[NOPE]"], r"not variables of dataset"),
        (["structure=expert", "structure.edges=[[a,b],[b,c],[c,a]]"], r"cycle: a -> b -> c -> a"),
        (["structure=learned", "structure.required=[[HR,CO],[CO,HR]]"], r"required has a directed"),
        (["dataset=csv", "dataset.path=missing.csv"], r"no such data file"),
        (["evaluate.test_fraction=1.0"], r"test_fraction"),
        (["prior=hierarchical"], r"backend=conjugate cannot fit it"),
        (["prior=hierarchical", "backend=gibbs"], r"backend=gibbs cannot fit it"),
    ],
)
def test_invalid_configs_are_refused(overrides: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        validate(compose(CONF, overrides), root=ROOT)


def test_unknown_group_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"Could not find 'dataset/nope'.*alarm"):
        compose(CONF, ["dataset=nope"])


def test_sweep_jobs_are_the_product_of_the_sweep_overrides() -> None:
    jobs = job_overrides(["dataset=asia,alarm", "prior.ess=1,10", "seed=3"], multirun=True)
    assert len(jobs) == 4
    assert ["dataset=asia", "prior.ess=1", "seed=3"] in jobs
    assert job_overrides(["a=1"], multirun=False) == [["a=1"]]
    assert check_jobs(CONF, ["-m", "dataset=asia,child", "prior.ess=1,10"], ROOT) == 4
    with pytest.raises(ConfigError, match=r"job with \['dataset=asia', 'dataset.rows=-1'\]"):
        check_jobs(CONF, ["-m", "dataset=asia", "dataset.rows=10,-1"], ROOT)


def test_find_cycle_against_brute_force() -> None:
    assert find_cycle([("a", "b"), ("b", "c"), ("a", "c")]) is None
    assert find_cycle([]) is None
    cyc = find_cycle([("x", "a"), ("a", "b"), ("b", "c"), ("c", "a")])
    assert cyc is not None and sorted(cyc) == ["a", "b", "c"]
    assert find_cycle([("a", "a")]) == ["a"]


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return experiment_cli(args, cwd, cwd / "conf", HYDRA_FULL_ERROR="0")


BAD_RUNS = [
    (["dataset=nope"], "Could not find 'dataset/nope'"),
    (["-m", "dataset=asia", "dataset.rows=100,-3"], "dataset.rows=-3 must be a positive"),
    (["structure=cyclic"], "structure.required has a directed cycle"),
    (["dataset=csv", "dataset.path=data/absent.csv"], "no such data file"),
]


def _project(tmp_path: Path) -> None:
    shutil.copytree(CONF, tmp_path / "conf")
    (tmp_path / "conf" / "structure" / "cyclic.yaml").write_text(
        "source: learned\nrequired: [[asia, tub], [tub, either], [either, asia]]\n"
    )


def _one_paragraph(stderr: str, match: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnlab: error:") and match in lines[0], stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("args", "match"), BAD_RUNS)
def test_bnlab_experiment_exits_2_before_writing_anything(
    args: list[str],
    match: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bnlab.ops.experiment import main

    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BNLAB_CONFIG_DIR", str(tmp_path / "conf"))
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    _one_paragraph(capsys.readouterr().err, match)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf"]  # nothing written


def test_console_script_exits_2_with_one_paragraph(tmp_path: Path) -> None:
    _project(tmp_path)
    done = _cli(BAD_RUNS[1][0], tmp_path)
    assert done.returncode == 2, done.stderr
    _one_paragraph(done.stderr, BAD_RUNS[1][1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf"]
