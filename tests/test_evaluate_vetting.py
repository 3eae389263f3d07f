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


def audit_with(rejected: int, total: int = 100, lower: float = 0.0004) -> pd.DataFrame:
    """An audit table: ``rejected`` rows with q = 0.001 and effect lower end ``lower``."""
    q = np.r_[np.full(rejected, 0.001), np.full(total - rejected, 0.5)]
    cmi_lower = np.r_[np.full(rejected, lower), np.zeros(total - rejected)]
    return pd.DataFrame(
        {
            "x": [f"x{i}" for i in range(total)],
            "y": "y",
            "given": [()] * total,
            "p": q,
            "q": q,
            "cmi": cmi_lower + 0.001,
            "cmi_lower": cmi_lower,
            "cmi_upper": cmi_lower + 0.002,
            "share": cmi_lower,
            "rejected": q <= 0.05,
        }
    )


GOOD = {
    # two rejections, both too small to count (interval lower end 0.0004 < 0.001 nats)
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
        "independence_violations",
        "ece[LVFAILURE]",
        "ece[HR]",
        "rhat",
        "ess_bulk",
        "divergences",
        "coverage_90_low",
        "coverage_90_high",
    ]
    assert verdict.checks[0].value == 0  # rejected, but too small to count
    assert "0 of 100" in verdict.checks[0].detail and "2 rejected" in verdict.checks[0].detail


@pytest.mark.parametrize(
    "change,failed",
    [
        ({"audit": audit_with(1, lower=0.01)}, "independence_violations"),
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
    evidence = {**GOOD, "audit": audit_with(2, lower=0.0008)}  # counts for strict only
    evidence["calibration"] = {"LVFAILURE": {"ece": 0.03}}
    assert vet(**evidence).passed
    strict = vet(**evidence, thresholds=CONF / "strict.yaml")
    assert not strict.passed
    assert {c.name for c in strict.failed} == {
        "independence_violations",
        "ece[LVFAILURE]",
        "ess_bulk",
    }


def test_violations_need_fdr_and_effect() -> None:
    audit = pd.DataFrame(
        {"q": [0.001, 0.02, 0.04, 0.5, 0.001], "cmi_lower": [0.01, 0.01, 0.003, 0.02, 0.001]}
    )

    def value(**th: float) -> float:
        return vet(audit=audit, thresholds={"max_violations": 10, **th}).checks[0].value

    assert value(audit_fdr=0.05, min_effect=0.002) == 3  # q <= 0.05 and lower > 0.002
    assert value(audit_fdr=0.01, min_effect=0.002) == 1
    assert value(audit_fdr=0.05, min_effect=0.005) == 2
    assert value(audit_fdr=0.05, min_effect=0.0) == 4
    # a share when max_violations < 1: 3 of 5 statements
    share = vet(audit=audit, thresholds={"max_violations": 0.5}).checks[0]
    assert share.value == pytest.approx(0.6) and not share.passed
    assert vet(audit=audit, thresholds={"max_violations": 3}).passed
    assert not vet(audit=audit, thresholds={"max_violations": 2}).passed


def test_failed_audit_names_the_worst_violations() -> None:
    audit = audit_with(4, lower=0.01)
    audit.loc[2, ["cmi", "cmi_lower", "cmi_upper"]] = [0.051, 0.05, 0.052]  # the worst
    verdict = vet(audit=audit)
    (line,) = verdict.failure_lines()
    assert line.startswith("FAIL independence_violations: 4 (must be <= 0)")
    assert "worst: x2 _||_ y (CMI 0.051 [0.05, 0.052] nats" in line
    assert "x3 _||_ y" not in line  # three named at most
    assert str(verdict).splitlines()[1].strip() == line


def test_no_implied_independence_is_not_applicable() -> None:
    empty = audit_with(0, total=0)
    alone = vet(audit=empty)
    (check,) = alone.checks
    assert check.status == "not applicable" and not check.passed and not check.applicable
    assert "implies no conditional independence" in check.detail
    assert not alone.passed  # no applicable check: nothing was judged
    assert alone.failure_lines() == ["FAIL no applicable check: the gate had no evidence to judge"]
    both = vet(audit=empty, calibration={"T": {"ece": 0.01}})
    assert both.passed and both.failed == ()
    again = Verdict.from_json(both.to_json())
    assert again.to_json() == both.to_json() and again.checks[0].status == "not applicable"


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


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"audit_fdr": 0.0}, r"audit_fdr=0 is out of range: it must lie in \(0, 1\)"),
        ({"audit_fdr": 1.5}, "audit_fdr=1.5 is out of range"),
        ({"min_effect": -0.01}, r"min_effect=-0.01 is out of range: it must lie in \[0, inf\)"),
        ({"max_violations": -1}, "max_violations=-1 is out of range"),
        ({"max_violations": 2.5}, "neither a count"),
        ({"max_ece": 1.2}, "max_ece=1.2 is out of range"),
        ({"max_rhat": 0.9}, "max_rhat=0.9 is out of range"),
        ({"min_coverage_90": 0.96}, "min_coverage_90=0.96 exceeds max_coverage_90=0.95"),
        ({"max_rejected_share": 0.05}, "'max_rejected_share' is retired: .*min_effect"),
        ({"fail": "yes"}, "option 'fail' must be true or false"),
    ],
)
def test_thresholds_out_of_range(bad: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        vet(**GOOD, thresholds=bad)


def test_fail_option_is_not_a_threshold() -> None:
    assert "fail" not in load_thresholds(CONF / "default.yaml")
    assert vet(**GOOD, thresholds={"fail": False}).passed


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
