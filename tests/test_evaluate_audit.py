"""Empirical error rates of the CI audit on alarm (seeded), and the edge audit."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import network_path

import bnlab
from bnlab.errors import BNError, DataError
from bnlab.evaluate import edge_audit, independence_audit

# three true edges of moderate strength (the CMI of each, given the child's other parents,
# is 0.008-0.14 nats on 5,000 rows; ANAPHYLAXIS -> TPR is the weakest dependence in alarm
# after the near-superfluous INSUFFANESTH -> CATECHOL)
REMOVED = [("ANAPHYLAXIS", "TPR"), ("PULMEMBOLUS", "PAP"), ("LVFAILURE", "HISTORY")]


@pytest.fixture(scope="module")
def alarm() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("alarm"))


def without(structure: bnlab.Structure, edges: list[tuple[str, str]]) -> bnlab.Structure:
    parents = {
        v: tuple(p for p in structure.parents[v] if (p, v) not in edges)
        for v in structure.variables
    }
    return structure.with_parents(parents)


def audit_rates(
    net: bnlab.BayesNet, seeds: range
) -> tuple[list[float], dict[tuple[str, str], int]]:
    reduced = without(net.structure, REMOVED)
    shares = []
    caught = dict.fromkeys(REMOVED, 0)
    for seed in seeds:
        df = bnlab.sample(net, n=5000, seed=seed)
        audit = independence_audit(net.structure, df, fdr=0.05, bootstrap=0)
        shares.append(float(audit["rejected"].mean()))
        bad = independence_audit(reduced, df, fdr=0.05, bootstrap=0)
        for a, b in REMOVED:
            row = bad[((bad.x == a) & (bad.y == b)) | ((bad.x == b) & (bad.y == a))]
            assert len(row) == 1
            caught[(a, b)] += bool(row["rejected"].iloc[0])
    return shares, caught


def check_rates(shares: list[float], caught: dict[tuple[str, str], int], n_sets: int) -> None:
    # the true graph: at most 5% of the implied independencies rejected, in every data set
    assert max(shares) <= 0.05
    assert np.mean(shares) <= 0.05
    for edge, hits in caught.items():
        assert hits / n_sets >= 0.85, edge


def test_audit_error_rates_three_data_sets(alarm: bnlab.BayesNet) -> None:
    shares, caught = audit_rates(alarm, range(3))
    check_rates(shares, caught, 3)


@pytest.mark.slow
def test_audit_error_rates_twenty_data_sets(alarm: bnlab.BayesNet) -> None:
    # 12-30 s on 2 shared cores: 40 audits of 620 statements each on 5,000 rows
    shares, caught = audit_rates(alarm, range(100, 120))
    check_rates(shares, caught, 20)


def test_audit_table_shape_and_statement(alarm: bnlab.BayesNet) -> None:
    df = bnlab.sample(alarm, n=2000, seed=7)
    audit = independence_audit(alarm.structure, df)
    n_vars = len(alarm.variables)
    assert len(audit) == n_vars * (n_vars - 1) // 2 - len(alarm.edges)
    assert list(audit.columns[:10]) == [
        "x",
        "y",
        "given",
        "statement",
        "statistic",
        "dof",
        "p",
        "q",
        "q_effect",
        "cmi",
    ]
    assert (audit["q"] >= audit["p"] - 1e-12).all()
    assert (audit["q_effect"] >= audit["q"] - 1e-12).all()  # the excess is harder to show
    # the median-unbiased CMI inside its own interval; sorted by the lower end
    assert (audit["cmi_lower"] <= audit["cmi"]).all() and (audit["cmi"] <= audit["cmi_upper"]).all()
    assert (audit["cmi_lower"] >= 0).all() and audit["cmi_lower"].is_monotonic_decreasing
    assert (audit["share_upper"] <= 1).all()
    row = audit.iloc[0]
    assert row["statement"].startswith(f"{row['x']} _||_ {row['y']}")
    # a local-basis audit lists one statement per variable with non-descendant non-parents
    local = independence_audit(alarm.structure, df, basis="local", bootstrap=0)
    assert local["given"].map(len).max() <= max(len(p) for p in alarm.parents.values())
    assert local["rejected"].mean() <= 0.05


def test_edge_audit_flags_the_weak_edge(alarm: bnlab.BayesNet) -> None:
    df = bnlab.sample(alarm, n=5000, seed=3)
    edges = edge_audit(alarm.structure, df, bootstrap=0)
    assert len(edges) == len(alarm.edges)
    flagged = set(
        zip(edges.loc[edges["superfluous"], "x"], edges.loc[edges["superfluous"], "y"], strict=True)
    )
    # INSUFFANESTH -> CATECHOL is nearly deterministic-free in alarm's CPT: CMI ~ 0.002 nats
    assert flagged <= {("INSUFFANESTH", "CATECHOL")}
    # an added edge between independent roots is flagged superfluous
    s = alarm.structure
    extra = s.with_parents({**s.parents, "HISTORY": (*s.parents["HISTORY"], "ANAPHYLAXIS")})
    e2 = edge_audit(extra, df, bootstrap=0)
    assert bool(e2.loc[(e2.x == "ANAPHYLAXIS") & (e2.y == "HISTORY"), "superfluous"].iloc[0])


def test_audit_bad_input(alarm: bnlab.BayesNet) -> None:
    df = bnlab.sample(alarm, n=100, seed=0)
    with pytest.raises(DataError, match="no column"):
        independence_audit(alarm.structure, df.drop(columns=["HR"]))
    with pytest.raises(DataError, match="DataFrame"):
        independence_audit(alarm.structure, df.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(BNError, match="fdr"):
        independence_audit(alarm.structure, df, fdr=1.5)
