"""The vetting gate: pass and fail cases, thresholds from conf/vetting, JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bnlab.errors import ArtifactError, ConfigError
from bnlab.evaluate import DEFAULT_THRESHOLDS, Verdict, load_thresholds, vet

CONF = Path(__file__).resolve().parents[1] / "conf" / "vetting"


def audit_with(rejected: int, total: int = 100) -> pd.DataFrame:
    q = np.r_[np.full(rejected, 0.001), np.full(total - rejected, 0.5)]
    return pd.DataFrame({"p": q, "q": q, "rejected": q <= 0.05})


GOOD = {
    "audit": audit_with(2),
    "calibration": {"LVFAILURE": {"ece": 0.01}, "HR": {"ece": 0.03}},
    "diagnostics": {"rhat_max": 1.002, "ess_bulk_min": 900.0, "divergences": 0},
    "coverage": {0.5: 0.5, 0.9: 0.91},
}


def test_default_yaml_equals_defaults() -> None:
    assert load_thresholds(CONF / "default.yaml") == DEFAULT_THRESHOLDS
    for path in CONF.glob("*.yaml"):
        load_thresholds(path)  # every shipped file is valid


def test_pass() -> None:
    verdict = vet(**GOOD)
    assert verdict.passed
    names = [c.name for c in verdict.checks]
    assert names == [
        "rejected_independencies",
        "ece[LVFAILURE]",
        "ece[HR]",
        "rhat",
        "ess_bulk",
        "divergences",
        "coverage_90_low",
        "coverage_90_high",
    ]
    assert verdict.checks[0].value == pytest.approx(0.02)


@pytest.mark.parametrize(
    "change,failed",
    [
        ({"audit": audit_with(9)}, "rejected_independencies"),
        ({"calibration": {"LVFAILURE": {"ece": 0.2}}}, "ece[LVFAILURE]"),
        ({"diagnostics": {"rhat_max": 1.05, "ess_bulk_min": 900, "divergences": 0}}, "rhat"),
        ({"diagnostics": {"rhat_max": 1.0, "ess_bulk_min": 100, "divergences": 0}}, "ess_bulk"),
        ({"diagnostics": {"rhat_max": 1.0, "ess_bulk_min": 900, "divergences": 3}}, "divergences"),
        ({"coverage": {0.9: 0.7}}, "coverage_90_low"),
        ({"coverage": {0.9: 0.99}}, "coverage_90_high"),
        ({"calibration": {"LVFAILURE": {"ece": float("nan")}}}, "ece[LVFAILURE]"),
    ],
)
def test_fail(change: dict, failed: str) -> None:
    verdict = vet(**{**GOOD, **change})
    assert not verdict.passed
    assert [c.name for c in verdict.failed] == [failed]


def test_strict_thresholds_fail_what_default_passes() -> None:
    evidence = {**GOOD, "calibration": {"LVFAILURE": {"ece": 0.03}}}
    assert vet(**evidence).passed
    strict = vet(**evidence, thresholds=CONF / "strict.yaml")
    assert not strict.passed
    assert {c.name for c in strict.failed} == {
        "rejected_independencies",
        "ece[LVFAILURE]",
        "ess_bulk",
    }


def test_audit_share_uses_threshold_fdr() -> None:
    audit = pd.DataFrame({"q": [0.001, 0.02, 0.04, 0.5]})
    assert (
        vet(audit=audit, thresholds={"audit_fdr": 0.05, "max_rejected_share": 1}).checks[0].value
        == 0.75
    )
    assert (
        vet(audit=audit, thresholds={"audit_fdr": 0.01, "max_rejected_share": 1}).checks[0].value
        == 0.25
    )


def test_no_evidence_does_not_pass() -> None:
    assert not vet().passed


def test_json_round_trip_and_atomic_save(tmp_path: Path) -> None:
    verdict = vet(**{**GOOD, "coverage": {0.9: 0.99}})
    again = Verdict.from_json(verdict.to_json())
    assert again == verdict
    path = tmp_path / "out" / "verdict.json"
    verdict.save(path)
    assert Verdict.load(path) == verdict
    assert [p.name for p in path.parent.iterdir()] == ["verdict.json"]  # no temp file left
    data = json.loads(path.read_text())
    assert data["passed"] is False
    assert {"name", "value", "threshold", "passed"} <= set(data["checks"][0])
    assert verdict.to_json() == vet(**{**GOOD, "coverage": {0.9: 0.99}}).to_json()  # deterministic


def test_tampered_verdict_refused() -> None:
    data = json.loads(vet(**{**GOOD, "coverage": {0.9: 0.99}}).to_json())
    data["passed"] = True
    with pytest.raises(ArtifactError, match="edited"):
        Verdict.from_json(json.dumps(data))
    with pytest.raises(ArtifactError, match="schema"):
        Verdict.from_json(json.dumps({**data, "schema": 99}))
    with pytest.raises(ArtifactError, match="not a bnlab verdict"):
        Verdict.from_json("[1, 2]")


def test_bad_thresholds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown vetting threshold 'max_eec'"):
        vet(**GOOD, thresholds={"max_eec": 0.1})
    with pytest.raises(ConfigError, match="must be a number"):
        vet(**GOOD, thresholds={"max_ece": "low"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_ece: 0.1\nmin_coverage: 0.8\n")
    with pytest.raises(ConfigError, match="min_coverage"):
        vet(**GOOD, thresholds=bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_thresholds(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="no 'ece'"):
        vet(calibration={"LVFAILURE": {"brier": 0.1}})


def test_mcmc_diagnostics_from_posterior_draws() -> None:
    import bnlab
    from bnlab.evaluate import mcmc_diagnostics
    from bnlab.posterior import Posterior

    s = bnlab.Structure(["a", "b"], {"a": ("0", "1"), "b": ("0", "1", "2")}, {"b": ("a",)})
    rng = np.random.default_rng(0)
    good = {
        "a": rng.dirichlet([30, 10], size=(4, 500)),
        "b": rng.dirichlet([5, 5, 10], size=(4, 500, 2)),
    }
    diverging = np.zeros((4, 500), dtype=bool)
    diverging[0, :3] = True
    post = Posterior(s, draws=good, backend="numpyro", sample_stats={"diverging": diverging})
    diag = mcmc_diagnostics(post)
    assert diag is not None
    assert diag["rhat_max"] < 1.01
    assert diag["ess_bulk_min"] > 1000
    assert diag["divergences"] == 3
    verdict = vet(diagnostics=diag)
    assert [c.name for c in verdict.failed] == ["divergences"]
    # chains stuck in different places: R-hat far above 1
    stuck = {"a": np.concatenate([good["a"][:2], good["a"][2:, :, ::-1]]), "b": good["b"]}
    bad = mcmc_diagnostics(Posterior(s, draws=stuck, backend="numpyro"))
    assert bad is not None and bad["rhat_max"] > 1.5
    assert not vet(diagnostics=bad).passed
    # a conjugate posterior has nothing to diagnose
    assert mcmc_diagnostics(Posterior(s, alpha={"a": [1.0, 1.0], "b": np.ones((2, 3))})) is None


def test_structure_quality_against_reference() -> None:
    import bnlab
    from bnlab.evaluate import structure_quality

    s = bnlab.Structure(["a", "b", "c"], {v: ("0", "1") for v in "abc"}, {"b": ("a",), "c": ("b",)})
    assert structure_quality(s, s)["shd"] == 0
    dropped = s.with_parents({"b": ("a",)})
    q = structure_quality(dropped, s)
    assert q["shd_dag"] == 1
    assert q["recall"] == pytest.approx(0.5)
    assert q["precision"] == pytest.approx(1.0)
