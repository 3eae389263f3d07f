"""The whole report from a real fit and evaluation: in memory, from a folder, via the CLI."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from report_fixtures import asia_results, write_experiment

import bnlab
from bnlab.cli.report import main as report_main
from bnlab.errors import ArtifactError, DataError
from bnlab.posterior import Posterior
from bnlab.report import FILES, SECTION_IDS, build_report, write_report
from bnlab.report.sections import mcmc_entry_table, mcmc_section

IMG = re.compile(r'<img src="data:image/(png|svg\+xml);base64,([^"]+)"')


@pytest.fixture(scope="module")
def results():
    return asia_results()


@pytest.fixture(scope="module")
def page(results):
    return build_report(**results)


def _images(page: str) -> list[tuple[str, bytes]]:
    return [(kind, base64.b64decode(data, validate=True)) for kind, data in IMG.findall(page)]


def test_every_section_present_in_order(page):
    positions = [page.index(f'<section id="{s}">') for s in SECTION_IDS]
    assert positions == sorted(positions)
    assert "Not run" not in page.split('<section id="mcmc">')[0]  # all inputs were given


def test_self_contained_and_images_decode(page):
    # no external resource of any kind: every src is inline, no stylesheet/script links
    assert re.findall(r'(?:src|href)="(?!data:|#)', page) == []
    assert "<script" not in page and "<link" not in page
    images = _images(page)
    assert len(images) == page.count("<img")
    kinds = {k for k, _ in images}
    assert kinds == {"png", "svg+xml"}
    for kind, data in images:
        if kind == "png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
        else:
            import xml.etree.ElementTree as ET

            assert ET.fromstring(data).tag.endswith("svg")


def test_content_matches_the_inputs(results, page):
    post = results["posterior"]
    # verdict at the top says what vet said
    verdict_html = page.split('<section id="graph">')[0]
    badge = "PASSED" if results["verdict"].passed else "FAILED"
    assert badge in verdict_html
    for check in results["verdict"].checks:
        assert check.name in verdict_html
    # a CPT table for every variable, with the summary's numbers
    summary = post.summary(interval=0.9, kind="hdi")
    for v in post.structure.variables:
        assert f"<summary>{v}  (" in page
    row = summary.iloc[0]
    assert f"{row['mean']:.3f} [{row['lower']:.3f}, {row['upper']:.3f}]" in page
    # the required edge is reported present, the weak bootstrap edges listed
    assert "all present" in page and "edges with bootstrap strength below 0.5" in page
    # audit count and calibration targets
    assert f"{len(results['audit'])} independencies implied by the graph" in page
    assert "<h3>either</h3>" in page and "<h3>dysp</h3>" in page
    ece = results["calibration"]["dysp"]["ece"]
    assert f"{ece:.4g}" in page
    assert "git_commit" in page and "0" * 40 in page
    queries = page.split('<section id="queries">')[1].split("</section>")[0]
    assert "either" in queries and "dysp" in queries and "lower" in queries


def test_forest_marks_true_values(page):
    svgs = [d for k, d in _images(page) if k == "svg+xml"]
    forests = [d for d in svgs if b"HDI" in d]
    assert len(forests) == len(bnlab.load_example("asia").variables)  # 8 <= default max
    assert all(b"true value" in d for d in forests)


def test_optional_pieces_are_said_not_run(results):
    page = build_report(posterior=results["posterior"])
    for sid in ("verdict", "audit", "calibration", "coverage", "ppc", "queries", "explanations"):
        body = page.split(f'<section id="{sid}">')[1].split("</section>")[0]
        assert "Not run" in body, sid
    assert "Not run" not in page.split('<section id="cpts">')[1].split("</section>")[0]


def test_bad_interval_is_refused(results):
    with pytest.raises(DataError, match="interval"):
        build_report(posterior=results["posterior"], interval=1.5)


def _draws_posterior(shift: float, per_chain: int = 200) -> Posterior:
    """4 chains of exact Dirichlet draws; ``shift`` moves chain 0 away from the others."""
    net = bnlab.load_example("asia")
    fit = bnlab.fit(net.structure, bnlab.sample(net, n=500, seed=0))
    flat = fit.draws(4 * per_chain, seed=1)
    draws = {}
    for v, d in flat.items():
        x = d.reshape(4, per_chain, *d.shape[1:]).copy()
        if shift:
            x[0] = x[0] ** (1.0 + shift)
            x[0] /= x[0].sum(axis=-1, keepdims=True)
        draws[v] = x
    stats = {"diverging": np.zeros((4, per_chain), dtype=bool)}
    stats["diverging"][1, :3] = True
    return Posterior(net.structure, draws=draws, backend="numpyro", sample_stats=stats)


def test_mcmc_section_good_and_bad_mixing():
    good = _draws_posterior(0.0, per_chain=1000).to_arviz()  # iid: R-hat within 1.01
    bad = _draws_posterior(3.0).to_arviz()
    t_good, t_bad = mcmc_entry_table(good), mcmc_entry_table(bad)
    assert t_good["rhat"].max() < 1.01
    assert t_bad["rhat"].max() > 1.1
    assert list(t_bad["rhat"]) == sorted(t_bad["rhat"], reverse=True)
    # oracle: arviz's own R-hat of the worst entry
    import arviz as az

    worst = t_bad.iloc[0]
    da = bad["posterior"].dataset[worst["variable"]]
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    entry = da.isel(dict(zip(dims, worst["index"], strict=True)))
    ref = float(az.rhat(entry.values, method="rank"))
    assert worst["rhat"] == pytest.approx(ref, rel=1e-6)
    body = mcmc_section(bad).body
    assert "divergent transitions: 3" in body and '<tr class="bad">' in body
    assert body.count("<img") == 1  # the rank plots
    assert '<tr class="bad">' not in mcmc_section(good).body


def test_write_report_from_folder_and_cli(results, tmp_path):
    exp = write_experiment(tmp_path / "exp", results)
    out = write_report(exp, tmp_path / "out")
    assert out == tmp_path / "out" / "index.html"
    page = out.read_text(encoding="utf-8")
    for sid in SECTION_IDS:
        body = page.split(f'<section id="{sid}">')[1].split("</section>")[0]
        if sid != "mcmc":
            assert "Not run" not in body, sid
    assert "bnlab report: exp" in page
    assert "<td>bronc, either</td>" in page  # the audit's conditioning sets survive the CSV
    assert "&quot;seed&quot;: 0" in page  # config.yaml shown under provenance
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["index.html"]  # no temp left
    # a folder without the explanations (an MLflow run of bnlab-experiment) says not run
    (exp / FILES.explanations).unlink()
    page = write_report(exp, tmp_path / "out2").read_text(encoding="utf-8")
    assert "Not run" in page.split('<section id="explanations">')[1].split("</section>")[0]
    assert "Not run" not in page.split('<section id="queries">')[1].split("</section>")[0]
    # the CLI writes next to the experiment by default; `bnlab report` is the same command
    assert report_main([str(exp)]) == 0
    assert (exp / "index.html").is_file()
    from bnlab.cli.commands import main as bnlab_main

    assert bnlab_main(["report", str(exp), "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "index.html").is_file()


def test_folder_without_graph_or_missing_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="has none of"):
        write_report(tmp_path / "empty")
    assert report_main([str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_structure_only_folder_gives_partial_report(results, tmp_path):
    from bnlab.io import write_structure

    exp = tmp_path / "exp"
    exp.mkdir()
    write_structure(results["posterior"].structure, exp / FILES.structure)
    (exp / FILES.verdict).write_text("not json")
    with pytest.raises(ArtifactError, match="verdict.json"):
        write_report(exp)
    (exp / FILES.verdict).unlink()
    page = Path(write_report(exp)).read_text(encoding="utf-8")
    assert '<section id="graph">' in page and page.count("Not run") >= 8


def test_given_column_after_csv_round_trip():
    from bnlab.report.build import _given

    assert _given("('a', 'b')") == "a, b"
    assert _given("('a',)") == "a"
    assert _given("()") == ""
    assert _given("a|b") == "a, b"
    assert _given(float("nan")) == ""


def test_network_only_folder(results, tmp_path):
    from bnlab.io import write_network

    exp = tmp_path / "exp"
    exp.mkdir()
    write_network(results["posterior"].mean(), exp / FILES.network)
    page = Path(write_report(exp)).read_text(encoding="utf-8")
    assert "8 variables, 8 edges" in page


@pytest.mark.slow
def test_report_from_mlflow_run(results, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)  # the SQLite store puts artifacts under ./mlruns
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exp = write_experiment(tmp_path / "exp", results)
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as run:
            mlflow.log_artifacts(str(exp), artifact_path="experiment")
        out = tmp_path / "from-run"
        code = report_main(
            [f"runs:/{run.info.run_id}/experiment", "--out", str(out), "--tracking-uri", uri]
        )
        assert code == 0
        page = (out / "index.html").read_text(encoding="utf-8")
        assert "badge pass" in page and "<h3>dysp</h3>" in page
        assert report_main(["runs:/0123456789abcdef/experiment", "--tracking-uri", uri]) == 2
        # the form --help shows, without a trailing slash: the run's whole artifact root
        with mlflow.start_run() as flat:
            mlflow.log_artifacts(str(exp))
        assert (
            report_main(
                [f"runs:/{flat.info.run_id}", "--out", str(out / "flat"), "--tracking-uri", uri]
            )
            == 0
        )
        # an export run logs a model, not the experiment folder: report from the model's files
        import bnlab.mlflow as flavor

        with mlflow.start_run() as exported:
            flavor.log_model(results["posterior"], name="model", input_example=None)
        assert (
            report_main(
                [
                    f"runs:/{exported.info.run_id}",
                    "--out",
                    str(out / "model"),
                    "--tracking-uri",
                    uri,
                ]
            )
            == 0
        )
        from_model = (out / "model" / "index.html").read_text(encoding="utf-8")
        assert "8 variables, 8 edges" in from_model and "dysp" in from_model
        with mlflow.start_run() as unrelated:
            mlflow.log_text("nothing to report", "notes.txt")
        assert report_main([f"runs:/{unrelated.info.run_id}", "--tracking-uri", uri]) == 2
    finally:
        mlflow.set_tracking_uri(None)
