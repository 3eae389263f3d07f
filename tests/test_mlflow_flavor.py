"""The ``bnlab`` MLflow flavor: plain files, pyfunc equal to the engine, tampering refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from test_registry_helpers import (
    TARGET,
    engine_answer,
    evidence_frame,
    fit_asia,
    served_columns,
    verdict,
)

import bnlab
import bnlab.mlflow as flavor
from bnlab.errors import ArtifactError, EvidenceError
from bnlab.ops import model_folder, requests


@pytest.fixture(scope="module")
def asia() -> tuple[bnlab.BayesNet, bnlab.Posterior]:
    return fit_asia()


@pytest.fixture(scope="module")
def saved(asia: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, post = asia
    path = tmp_path_factory.mktemp("flavor") / "model"
    flavor.save_model(post, path, targets=[TARGET, "lung"], verdict=verdict(True), config={"a": 1})
    return path


def test_saved_folder_holds_plain_files_only(saved: Path) -> None:
    data = saved / flavor.DATA_PATH
    assert sorted(p.name for p in data.iterdir()) == [
        "config.json", "model.json", "network.json", "posterior.nc", "verdict.json",
    ]  # fmt: skip
    for p in saved.rglob("*"):
        if p.is_file():  # no pickle protocol header anywhere (protocol 2+ starts with 0x80)
            assert not p.read_bytes().startswith(b"\x80"), p
            assert p.suffix not in (".pkl", ".pickle", ".joblib", ".cloudpickle"), p
    mlmodel = (saved / "MLmodel").read_text()
    assert "loader_module: bnlab.mlflow" in mlmodel and "bnlab:" in mlmodel


def test_load_model_round_trip(saved: Path, asia: Any) -> None:
    _, post = asia
    model = flavor.load_model(str(saved))
    assert model.network == post.mean()
    assert model.posterior is not None and model.posterior.structure == post.structure
    assert model.targets == (TARGET, "lung") and model.interval == 0.9 and model.draws == 1000
    assert model.verdict is not None and model.verdict.passed
    assert model.config == {"a": 1}


def test_pyfunc_equals_engine_and_batch_is_one_call(saved: Path, asia: Any) -> None:
    import mlflow.pyfunc

    net, post = asia
    evidence = evidence_frame(net, 64)
    loaded = mlflow.pyfunc.load_model(str(saved))
    out = loaded.predict(evidence, params={"targets": TARGET, "interval": 0.8})
    assert list(out.columns) == flavor.prediction_columns(net, [TARGET])
    assert len(out) == 64
    for got, want in zip(
        served_columns(out, net.states[TARGET]), engine_answer(post, evidence, 0.8), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-9, rtol=0)
    # batch = stack of singles, and the batch costs one engine call
    wrapper = flavor._load_pyfunc(str(saved / flavor.DATA_PATH))
    unobserved = evidence.drop(columns=["lung"])  # both targets unobserved: one call for both
    batch = wrapper.predict(unobserved, params={"targets": f"{TARGET},lung"})
    assert wrapper.engine_calls == 1
    singles = pd.concat(
        [
            wrapper.predict(unobserved.iloc[[i]], params={"targets": f"{TARGET},lung"})
            for i in (0, 63)
        ]
    )
    np.testing.assert_allclose(singles.to_numpy(), batch.iloc[[0, 63]].to_numpy(), atol=1e-12)
    assert wrapper.engine_calls == 3
    wrapper.predict(evidence)  # lung observed: its own call, with its column dropped
    assert wrapper.engine_calls == 5


def test_observed_target_column_is_ignored_for_that_target(saved: Path, asia: Any) -> None:
    net, _ = asia
    wrapper = flavor._load_pyfunc(str(saved / flavor.DATA_PATH))
    evidence = evidence_frame(net, 20)
    with_target = evidence.assign(**{TARGET: ["yes", "no"] * 10})
    a, b = wrapper.predict(evidence), wrapper.predict(with_target)
    cols = flavor.prediction_columns(net, [TARGET])
    np.testing.assert_allclose(a[cols].to_numpy(), b[cols].to_numpy(), atol=1e-12)
    # the other target (lung) does see the observed dysp column
    assert not np.allclose(a["P(lung=yes)_mean"], b["P(lung=yes)_mean"])


def test_point_network_gives_degenerate_intervals(asia: Any, tmp_path: Path) -> None:
    net, _ = asia
    flavor.save_model(net, tmp_path / "m", targets=[TARGET])
    out = flavor._load_pyfunc(str(tmp_path / "m" / flavor.DATA_PATH)).predict(
        pd.DataFrame({"smoke": ["yes"]})
    )
    want = bnlab.Engine(net).marginals([{"smoke": "yes"}])[TARGET][0]
    np.testing.assert_allclose(out[["P(dysp=yes)_mean", "P(dysp=no)_mean"]].iloc[0], want)
    np.testing.assert_array_equal(out["P(dysp=yes)_lower"], out["P(dysp=yes)_upper"])


def test_bad_requests_are_typed_errors(saved: Path) -> None:
    wrapper = flavor._load_pyfunc(str(saved / flavor.DATA_PATH))
    with pytest.raises(EvidenceError, match="not variables of the model"):
        wrapper.predict(pd.DataFrame({"nope": ["x"]}))
    with pytest.raises(EvidenceError, match="unknown params"):
        wrapper.predict(pd.DataFrame({"smoke": ["yes"]}), params={"temperature": 1.0})
    with pytest.raises(EvidenceError, match="interval"):
        wrapper.predict(pd.DataFrame({"smoke": ["yes"]}), params={"interval": 1.5})
    with pytest.raises(EvidenceError, match="draws"):
        wrapper.predict(pd.DataFrame({"smoke": ["yes"]}), params={"draws": 10**9})
    with pytest.raises(EvidenceError, match="not a state"):
        wrapper.predict(pd.DataFrame({"smoke": ["maybe"]}))


def test_save_refuses_bad_settings(asia: Any, tmp_path: Path) -> None:
    _, post = asia
    with pytest.raises(bnlab.BNError, match="not variables"):
        flavor.save_model(post, tmp_path / "a", targets=["nope"])
    with pytest.raises(bnlab.BNError, match="interval"):
        flavor.save_model(post, tmp_path / "b", interval=1.0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    flavor.save_model(post, tmp_path / "c")
    with pytest.raises(bnlab.BNError, match="already exists"):
        flavor.save_model(post, tmp_path / "c")


# -- tampering ------------------------------------------------------------------------------
def _rehash(data: Path, role: str) -> None:
    """Update the manifest digest, as an attacker who also edits the manifest would."""
    manifest = json.loads((data / "model.json").read_text())
    manifest["sha256"][role] = model_folder._sha256(data / manifest["files"][role])
    (data / "model.json").write_text(json.dumps(manifest))


def _cpt_not_summing(data: Path) -> None:
    doc = json.loads((data / "network.json").read_text())
    doc["cpts"]["asia"] = [0.5, 0.7]
    (data / "network.json").write_text(json.dumps(doc))
    _rehash(data, "network")


def _nan_posterior(data: Path) -> None:
    with xr.open_datatree(data / "posterior.nc", engine="h5netcdf") as tree:
        ds = tree.to_dataset().load()
    ds["asia"].values[0] = np.nan
    (data / "posterior.nc").unlink()
    ds.to_netcdf(data / "posterior.nc", engine="h5netcdf")
    _rehash(data, "posterior")


def _wrong_schema_version(data: Path) -> None:
    doc = json.loads((data / "network.json").read_text())
    doc["version"] = 2
    (data / "network.json").write_text(json.dumps(doc))
    _rehash(data, "network")


def _dotdot_file_name(data: Path) -> None:
    manifest = json.loads((data / "model.json").read_text())
    manifest["files"]["network"] = "../network.json"
    shutil.copy(data / "network.json", data.parent / "network.json")
    (data / "model.json").write_text(json.dumps(manifest))


def _edited_without_rehash(data: Path) -> None:
    doc = json.loads((data / "network.json").read_text())
    doc["cpts"]["asia"] = [0.5, 0.5]
    (data / "network.json").write_text(json.dumps(doc))


def _network_not_posterior_mean(data: Path) -> None:
    _edited_without_rehash(data)
    _rehash(data, "network")


def _forged_verdict(data: Path) -> None:
    doc = json.loads((data / "verdict.json").read_text())
    doc["checks"][0]["passed"] = False  # says passed: true over a failing check
    (data / "verdict.json").write_text(json.dumps(doc))
    _rehash(data, "verdict")


def _future_manifest(data: Path) -> None:
    manifest = json.loads((data / "model.json").read_text())
    manifest["version"] = 99
    (data / "model.json").write_text(json.dumps(manifest))


TAMPERINGS = {
    "cpt_not_summing_to_one": (_cpt_not_summing, "sum"),
    "nan_in_posterior": (_nan_posterior, "NaN|nan|finite"),
    "network_schema_version": (_wrong_schema_version, "version"),
    "dotdot_file_name": (_dotdot_file_name, "not a plain file name"),
    "digest_mismatch": (_edited_without_rehash, "SHA-256"),
    "network_not_posterior_mean": (_network_not_posterior_mean, "posterior mean"),
    "forged_verdict": (_forged_verdict, "edited"),
    "manifest_version": (_future_manifest, "version 99"),
}


@pytest.mark.parametrize("case", sorted(TAMPERINGS))
def test_tampered_model_is_refused_before_anything_runs(
    case: str, saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc

    tamper, message = TAMPERINGS[case]
    model = tmp_path / "model"
    shutil.copytree(saved, model)
    tamper(model / flavor.DATA_PATH)
    built: list[object] = []
    import bnlab.ops.pyfunc

    monkeypatch.setattr(bnlab.ops.pyfunc.BNPyfunc, "__init__", lambda *a: built.append(a))
    with pytest.raises(ArtifactError, match=message):
        mlflow.pyfunc.load_model(str(model))
    with pytest.raises(ArtifactError, match=message):
        flavor.load_model(str(model))
    assert built == []  # no wrapper was built, so no engine compiled and nothing ran


# -- explanations (issue 12: params={"explain": true}) ------------------------------------------
def _explained_rows(net: bnlab.BayesNet) -> pd.DataFrame:
    """Evidence rows observing 0, 1, 2 and several variables (dysp, the target, unobserved)."""
    rows = evidence_frame(net, 5, seed=3).reset_index(drop=True)
    rows.iloc[0] = None
    rows.loc[1, :] = None
    rows.loc[1, "smoke"] = "yes"
    rows.loc[2, :] = None
    rows.loc[2, ["xray", "either"]] = ["yes", "yes"]
    return rows.astype(object).where(rows.notna(), None)


def _assert_explanation(
    out: pd.DataFrame, row: int, model: Any, evidence: pd.DataFrame, top: int, **kwargs: Any
) -> pd.DataFrame:
    """Row ``row`` of the pyfunc output against bnlab.explain called directly; return the latter."""
    from bnlab import explain

    pre = f"explain({TARGET})_"
    state = out.loc[row, pre + "state"]
    means = [out.loc[row, f"P({TARGET}={s})_mean"] for s in model.structure.states[TARGET]]
    assert state == model.structure.states[TARGET][int(np.argmax(means))]
    want = explain.evidence_contributions(
        model, TARGET, state, evidence.iloc[[row]], draws=1000, seed=0, **kwargs
    )
    assert out.loc[row, pre + "baseline"] == pytest.approx(want.attrs["p_none"], abs=1e-9)
    assert out.loc[row, f"P({TARGET}={state})_mean"] == pytest.approx(want.attrs["p_all"], abs=1e-9)
    for k in range(1, top + 1):
        name = f"{pre}{k}_"
        if k > len(want):  # fewer observed variables than slots: empty slot, no NaN
            assert out.loc[row, name + "variable"] is None and out.loc[row, name + "state"] is None
            assert [out.loc[row, name + c] for c in ("shapley", "lower", "upper", "se")] == [
                0.0
            ] * 4
            continue
        w = want.iloc[k - 1]
        assert (out.loc[row, name + "variable"], out.loc[row, name + "state"]) == (
            w["variable"],
            w["state"],
        )
        for col in ("shapley", "lower", "upper", "se"):
            expected = w.get(col, w["shapley"] if col in ("lower", "upper") else 0.0)
            assert out.loc[row, name + col] == pytest.approx(expected, abs=1e-9), (row, k, col)
    return want


def test_explain_param_adds_the_top_contributions_of_bnlab_explain(saved: Path, asia: Any) -> None:
    import mlflow.pyfunc

    net, post = asia
    evidence = _explained_rows(net)
    loaded = mlflow.pyfunc.load_model(str(saved))  # through MLflow's params schema
    plain = loaded.predict(evidence, params={"targets": TARGET})
    out = loaded.predict(evidence, params={"targets": TARGET, "explain": True, "explain_top": 3})
    assert list(out.columns) == [
        *flavor.prediction_columns(net, [TARGET]),
        *requests.explanation_columns([TARGET], 3),
    ]
    assert len(out) == len(evidence) and not out.select_dtypes("number").isna().any().any()
    pd.testing.assert_frame_equal(out[plain.columns], plain)  # the prediction is unchanged
    for row in range(len(evidence)):
        want = _assert_explanation(out, row, post, evidence, 3, interval=0.9)
        assert out.loc[row, f"explain({TARGET})_method"] == "exact"
        assert len(want) == int(evidence.iloc[row].notna().sum())
    # efficiency: with a slot per observed variable, baseline + contributions = P(T=s | e)
    wrapper = flavor._load_pyfunc(str(saved / flavor.DATA_PATH))
    full = wrapper.predict(
        evidence, params={"targets": TARGET, "explain": "true", "explain_top": 7}
    )
    pre = f"explain({TARGET})_"
    for row in range(len(evidence)):
        total = full.loc[row, pre + "baseline"] + sum(
            full.loc[row, f"{pre}{k}_shapley"] for k in range(1, 8)
        )
        p_state = full.loc[row, f"P({TARGET}={full.loc[row, pre + 'state']})_mean"]
        assert total == pytest.approx(p_state, abs=1e-9)


def test_explain_falls_back_to_sampled_shapley_above_max_exact(
    saved: Path, asia: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bnlab.explain

    net, post = asia
    monkeypatch.setattr(bnlab.explain, "MAX_EXACT", 2)  # rows observing 3+ variables: sampled
    evidence = _explained_rows(net)
    wrapper = flavor._load_pyfunc(str(saved / flavor.DATA_PATH))
    out = wrapper.predict(evidence, params={"targets": TARGET, "explain": True, "explain_top": 2})
    methods = out[f"explain({TARGET})_method"].tolist()
    observed = evidence.notna().sum(axis=1).tolist()
    assert methods == ["exact" if n <= 2 else "sampled" for n in observed]
    assert "exact" in methods and "sampled" in methods
    for row in range(len(evidence)):
        kwargs: dict[str, Any] = {"interval": 0.9}
        if methods[row] == "sampled":
            kwargs |= {"method": "sampled", "permutations": requests.EXPLAIN_PERMUTATIONS}
        _assert_explanation(out, row, post, evidence, 2, **kwargs)
    assert (
        out.loc[[i for i, m in enumerate(methods) if m == "sampled"], "explain(dysp)_1_se"] > 0
    ).all()


def test_explain_on_a_point_network_and_bad_explain_params(asia: Any, tmp_path: Path) -> None:
    net, _ = asia
    flavor.save_model(net, tmp_path / "m", targets=[TARGET])
    wrapper = flavor._load_pyfunc(str(tmp_path / "m" / flavor.DATA_PATH))
    evidence = _explained_rows(net)
    out = wrapper.predict(evidence, params={"explain": True})
    for row in range(len(evidence)):
        _assert_explanation(out, row, net, evidence, requests.EXPLAIN_TOP)
        for k in range(1, requests.EXPLAIN_TOP + 1):  # no posterior: degenerate intervals
            name = f"explain({TARGET})_{k}_"
            assert out.loc[row, name + "lower"] == out.loc[row, name + "upper"]
    one = pd.DataFrame({"smoke": ["yes"]})
    with pytest.raises(EvidenceError, match="explain must be true or false"):
        wrapper.predict(one, params={"explain": "maybe"})
    for top in (0, requests.MAX_EXPLAIN_TOP + 1, "three", 2.5):
        with pytest.raises(EvidenceError, match="explain_top"):
            wrapper.predict(one, params={"explain": True, "explain_top": top})
