"""The stages and one experiment run in-process: real code, atomic outputs, MLflow records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bnlab.cli.commands import compose_params
from bnlab.cli.commands import main as bnlab_main
from bnlab.ops.config import validate
from bnlab.ops.experiment import compose
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


def test_evaluate_stage_writes_what_the_report_shows(
    params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from interval_checks import check_experiment_folder
    from report_fixtures import markov_blanket_probs

    from bnlab.data import encode
    from bnlab.posterior import load_posterior
    from bnlab.report.queries import markov_blanket

    out = Path("experiments/default")
    train, test_file = f"{out}/train.parquet", f"{out}/test.parquet"
    graph, posterior = f"{out}/structure.json", f"{out}/posterior.nc"
    assert stage("prepare", "--train", train, "--test", test_file) == 0
    assert stage("learn", "--train", train, "--structure", graph) == 0
    fit_args = ["--train", train, "--structure", graph, "--posterior", posterior,
                "--network", f"{out}/network.json"]  # fmt: skip
    assert stage("fit", *fit_args) == 0
    outputs = ["metrics.json", "verdict.json", "calibration.csv", "audit.csv", "coverage.csv",
               "ppc.csv", "queries.csv", "explanations.json"]  # fmt: skip
    args = ["--test", test_file, "--structure", graph, "--posterior", posterior]
    for name in outputs:
        args += [f"--{name.split('.')[0]}", f"{out}/{name}"]
    assert stage("evaluate", *args) == 0
    test = pd.read_parquet(out / "test.parquet")
    post = load_posterior(out / "posterior.nc")
    metrics = json.loads((out / "metrics.json").read_text())

    # one meaning per number: every point written lies inside its own interval
    check_experiment_folder(out, metrics)
    # the stage names the verdict, and each failed check with value and threshold
    verdict = json.loads((out / "verdict.json").read_text())
    printed = capsys.readouterr().out
    assert ("PASSED" if verdict["passed"] else "FAILED") in printed
    for check in verdict["checks"]:
        if check["status"] == "failed":
            assert f"FAIL {check['name']}: " in printed and "(must be" in printed

    # coverage: asia is simulated and fitted on its own graph
    coverage = pd.read_csv(out / "coverage.csv")
    assert list(coverage["level"]) == [0.5, 0.8, 0.9, 0.95]
    assert (coverage["n_queries"] == 200).all()
    at90 = coverage.loc[coverage["level"] == 0.9, "coverage"].iloc[0]
    assert at90 == pytest.approx(metrics["coverage.90"])

    # predictive checks: observed frequencies are the held-out data's
    ppc = pd.read_csv(out / "ppc.csv", keep_default_na=False)
    freq = ppc[ppc["kind"] == "frequency"]
    for r in freq.itertuples(index=False):
        share = (test[r.variable].astype(str) == r.state).mean()
        assert r.observed == pytest.approx(share)
    assert len(ppc) - len(freq) == len(post.structure.edges)  # mutual information per edge

    # example queries: the mean over the stage's 40 draws of the Markov-blanket formula
    queries = pd.read_csv(out / "queries.csv", keep_default_na=False)
    draws = post.draws(40, seed=0)  # the engine's draws (evaluate.draws=40, seed=0)
    s = post.structure
    codes = encode(test[list(s.variables)], s)
    for target in ("lung", "tub"):
        mine = queries[(queries["target"] == target) & (queries["evidence"] != "")]
        blanket = [s.index[v] for v in markov_blanket(s, target)]
        _, first = np.unique(codes[:, blanket], axis=0, return_index=True)
        rows = np.sort(first)[:3]  # the first 3 distinct blanket configurations
        oracle = markov_blanket_probs(s, draws, codes[rows], target).mean(axis=0)
        got = mine["mean"].to_numpy().reshape(len(rows), -1)
        np.testing.assert_allclose(got, oracle, atol=2e-5)
        assert (mine["lower"] <= mine["mean"] + 1e-9).all()

    # explanations: one per target, of the first example query's most probable state
    doc = json.loads((out / "explanations.json").read_text())
    assert [e["target"] for e in doc["explanations"]] == ["lung", "tub"]
    for e in doc["explanations"]:
        row = queries[(queries["target"] == e["target"]) & (queries["state"] == e["state"])]
        assert e["mean"] == pytest.approx(row[row["evidence"] != ""]["mean"].iloc[0])
        assert sum(c["shapley"] for c in e["contributions"]) == pytest.approx(
            e["mean"] - e["prior"], abs=1e-5
        )

    # the report built from these files runs every section but MCMC (conjugate fit)
    assert bnlab_main(["report", str(out), "--out", "report"]) == 0
    page = Path("report/index.html").read_text(encoding="utf-8")
    for sid in ("coverage", "ppc", "queries", "explanations"):
        body = page.split(f'<section id="{sid}">')[1].split("</section>")[0]
        assert "Not run" not in body, sid


def test_evaluate_stage_imports_jax_only_after_the_compile_cache_is_set() -> None:
    # JAX reads JAX_COMPILATION_CACHE_DIR when imported: common.main must come first
    code = "import sys, bnlab.stages.evaluate; print('jax' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


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
    # a value `dvc exp run -S prior.ess=2` writes is conf/ plus an override: accepted
    params.write_text(params.read_text().replace("ess: 1.0", "ess: 2.0"))
    assert bnlab_main([*args, "--check"]) == 0
    # a key conf/ does not have is no override: stale
    params.write_text(params.read_text() + "stray: 1\n")
    assert bnlab_main([*args, "--check"]) == 1


def test_atomic_path_leaves_target_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    common.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), common.atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
