"""The vetting gate on audits of alarm (seeded): the true graph passes at every sample size,
a graph missing a strong edge fails, and so does each of the audit tests' removed edges.

The effect gate (a rejected independence counts only when the lower end of its CMI interval
exceeds ``min_effect``) must keep the p-value test's power on edges that matter: the three
edges of ``test_evaluate_audit.REMOVED`` (statement CMI 0.008-0.14 nats) are each caught at
5,000 rows, as they were before the effect gate existed.
"""

from __future__ import annotations

import pytest
from conftest import network_path

import bnlab
from bnlab.evaluate import independence_audit, vet
from bnlab.evaluate.audit import DEFAULT_MIN_EFFECT

STRONG = ("PULMEMBOLUS", "PAP")
REMOVED = [("ANAPHYLAXIS", "TPR"), ("PULMEMBOLUS", "PAP"), ("LVFAILURE", "HISTORY")]


@pytest.fixture(scope="module")
def alarm() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("alarm"))


def without(structure: bnlab.Structure, edge: tuple[str, str]) -> bnlab.Structure:
    a, b = edge
    parents = {
        v: tuple(p for p in structure.parents[v] if (p, v) != (a, b)) for v in structure.variables
    }
    return structure.with_parents(parents)


@pytest.mark.parametrize("n,seed", [(2000, 0), (5000, 1), (20000, 2)])
def test_true_graph_passes_and_a_strong_edge_missing_fails(
    alarm: bnlab.BayesNet, n: int, seed: int
) -> None:
    df = bnlab.sample(alarm, n=n, seed=seed)
    good = vet(audit=independence_audit(alarm.structure, df))
    assert good.passed, good.failure_lines()
    audit = independence_audit(without(alarm.structure, STRONG), df)
    bad = vet(audit=audit)
    assert not bad.passed
    (line,) = bad.failure_lines()
    assert line.startswith("FAIL independence_violations: ")
    assert "worst: PAP _||_ PULMEMBOLUS" in line or "worst: PULMEMBOLUS _||_ PAP" in line
    # audit.csv order: largest effect first, the counted rows marked
    top = audit.iloc[0]
    assert {top["x"], top["y"]} == set(STRONG) and bool(top["counts"])
    assert audit["cmi_lower"].is_monotonic_decreasing


@pytest.mark.parametrize("edge", REMOVED)
def test_each_removed_edge_of_the_audit_tests_still_fails(
    alarm: bnlab.BayesNet, edge: tuple[str, str]
) -> None:
    df = bnlab.sample(alarm, n=5000, seed=7)
    audit = independence_audit(without(alarm.structure, edge), df)
    verdict = vet(audit=audit)
    assert not verdict.passed, edge
    row = audit[
        ((audit.x == edge[0]) & (audit.y == edge[1]))
        | ((audit.x == edge[1]) & (audit.y == edge[0]))
    ]
    assert bool(row["counts"].iloc[0]) and float(row["cmi_lower"].iloc[0]) > DEFAULT_MIN_EFFECT


def test_a_tiny_real_dependence_is_rejected_but_does_not_count() -> None:
    # x -> y with a dependence of ~2e-4 nats: on 200,000 rows the G² test rejects the
    # (wrong) claim x _||_ y, but the effect is far below min_effect, so the gate passes
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    n = 200_000
    x = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(x == 1, 0.51, 0.49)).astype(int)
    z = rng.integers(0, 2, n)
    df = pd.DataFrame(
        {
            v: pd.Categorical(c.astype(str), categories=["0", "1"])
            for v, c in (("x", x), ("y", y), ("z", z))
        }
    )
    s = bnlab.Structure(["x", "y", "z"], {v: ("0", "1") for v in "xyz"}, {})
    audit = independence_audit(s, df)
    row = audit[(audit.x == "x") & (audit.y == "y")].iloc[0]
    assert row["rejected"] and not row["counts"]
    assert row["cmi_upper"] < DEFAULT_MIN_EFFECT
    assert vet(audit=audit).passed
    assert not vet(audit=audit, thresholds={"min_effect": 0.0}).passed  # p-values alone fail it


def test_a_complete_graph_has_nothing_to_audit() -> None:
    s = bnlab.Structure(["a", "b"], {"a": ("0", "1"), "b": ("0", "1")}, {"b": ("a",)})
    import numpy as np
    import pandas as pd

    df = pd.DataFrame({v: pd.Categorical(["0", "1", "1"], categories=["0", "1"]) for v in "ab"})
    audit = independence_audit(s, df)
    assert len(audit) == 0 and list(audit.columns)[-1] == "counts"
    verdict = vet(audit=audit)
    assert verdict.checks[0].status == "not applicable" and not verdict.passed
    assert np.isnan(verdict.checks[0].value)
