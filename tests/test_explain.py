"""Explanations against independent truth: brute-force Shapley, finite differences, the engine."""

from __future__ import annotations

import itertools
import warnings
from math import factorial

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import BNError, EvidenceError, ImpossibleEvidenceError
from bnlab.explain import (
    covary,
    evidence_contributions,
    most_probable_explanation,
    parameter_sensitivity,
    sensitivity_function,
)
from tests.enumeration import conditional, joint


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.load_example("asia")


ROW = {"asia": "yes", "smoke": "yes", "xray": "yes", "dysp": "no"}


def query(net: bnlab.BayesNet, target: str, state: str, ev: dict[str, str]) -> float:
    """P(target = state | ev) by enumeration of the joint (independent of the engine)."""
    return conditional(net, joint(net), target, state, ev)


def brute_shapley(
    net: bnlab.BayesNet, target: str, state: str, ev: dict[str, str]
) -> dict[str, float]:
    players = list(ev)
    k = len(players)
    out = {}
    for i, p in enumerate(players):
        others = players[:i] + players[i + 1 :]
        total = 0.0
        for size in range(k):
            w = factorial(size) * factorial(k - size - 1) / factorial(k)
            for subset in itertools.combinations(others, size):
                with_p = {q: ev[q] for q in (*subset, p)}
                without = {q: ev[q] for q in subset}
                total += w * (
                    query(net, target, state, with_p) - query(net, target, state, without)
                )
        out[p] = total
    return out


def test_exact_shapley_equals_brute_force_and_is_efficient(asia: bnlab.BayesNet) -> None:
    table = evidence_contributions(asia, "lung", "yes", ROW)
    truth = brute_shapley(asia, "lung", "yes", ROW)
    got = dict(zip(table["variable"], table["shapley"], strict=True))
    assert set(got) == set(ROW)
    for v in ROW:
        assert got[v] == pytest.approx(truth[v], abs=1e-12)
    p_all, p_none = query(asia, "lung", "yes", ROW), query(asia, "lung", "yes", {})
    assert table["shapley"].sum() == pytest.approx(p_all - p_none, abs=1e-9)
    # leave-one-out by hand
    for v, loo in zip(table["variable"], table["loo"], strict=True):
        rest = {q: s for q, s in ROW.items() if q != v}
        assert loo == pytest.approx(p_all - query(asia, "lung", "yes", rest), abs=1e-12)
    # sorted by |shapley| and states reported
    assert list(np.abs(table["shapley"])) == sorted(np.abs(table["shapley"]), reverse=True)
    assert dict(zip(table["variable"], table["state"], strict=True)) == ROW


def test_sampled_estimator_is_efficient_and_close(asia: bnlab.BayesNet) -> None:
    exact = evidence_contributions(asia, "lung", "yes", ROW).set_index("variable")
    sampled = evidence_contributions(
        asia, "lung", "yes", ROW, method="sampled", permutations=400, seed=1
    ).set_index("variable")
    assert sampled["shapley"].sum() == pytest.approx(exact["shapley"].sum(), abs=1e-9)
    diff = (sampled["shapley"] - exact.loc[sampled.index, "shapley"]).abs()
    assert (diff <= 5 * sampled["se"] + 1e-12).all()


def test_posterior_contributions_have_intervals(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, n=500, seed=0)
    post = bnlab.fit(asia.structure, df)
    table = evidence_contributions(post, "lung", "yes", ROW, draws=200, seed=0)
    assert {"lower", "upper", "loo_lower", "loo_upper"} <= set(table.columns)
    assert (table["lower"] <= table["shapley"] + 1e-12).all()
    assert (table["shapley"] <= table["upper"] + 1e-12).all()
    assert (table["upper"] - table["lower"] > 0).any()


def test_shapley_agrees_with_pyagrum_conditional_shap(asia: bnlab.BayesNet) -> None:
    """pyAgrum's ConditionalShapValues(logit=False) uses v(S) = P(target | e_S), as we do."""
    with warnings.catch_warnings():
        # pyagrum's import segfaults when a warning it triggers is turned into an error
        warnings.simplefilter("ignore")
        import pyagrum.explain as gexp

    from bnlab.io import to_pyagrum

    row = {**ROW, "tub": "no", "bronc": "yes"}
    explainer = gexp.ConditionalShapValues(to_pyagrum(asia), "lung", logit=False)
    result = explainer.compute(pd.DataFrame([row]))
    theirs = result[asia.states["lung"].index("yes")]  # keyed by the target state's index
    ours = evidence_contributions(asia, "lung", "yes", row).set_index("variable")["shapley"]
    assert set(theirs) == set(row)
    for v in row:
        assert ours[v] == pytest.approx(theirs[v], abs=1e-6), v


def test_contribution_errors(asia: bnlab.BayesNet) -> None:
    with pytest.raises(EvidenceError, match="target 'lung' is observed"):
        evidence_contributions(asia, "lung", "yes", {"lung": "yes", "smoke": "no"})
    with pytest.raises(EvidenceError, match="not a state of 'lung'"):
        evidence_contributions(asia, "lung", "maybe", ROW)
    with pytest.raises(ImpossibleEvidenceError):
        evidence_contributions(asia, "smoke", "yes", {"tub": "yes", "either": "no"})
    with pytest.raises(BNError, match="method='sampled'"):
        alarm = bnlab.load_example("alarm")
        ev = bnlab.sample(alarm, n=1, seed=0).iloc[[0]].drop(columns=["LVFAILURE"])
        evidence_contributions(alarm, "LVFAILURE", "TRUE", ev)


def test_derivatives_match_finite_differences(asia: bnlab.BayesNet) -> None:
    ev = {"smoke": "yes", "dysp": "yes"}
    sens = parameter_sensitivity(asia, "lung", "yes", ev)
    assert sens.attrs["query"] == pytest.approx(query(asia, "lung", "yes", ev), abs=1e-12)
    h = 1e-6
    for rec in sens.head(12).itertuples(index=False):
        theta = np.array(asia.cpt(rec.variable))
        cfg = tuple(
            asia.states[p].index(s)
            for p, s in zip(asia.parents[rec.variable], rec.parent_states, strict=True)
        )
        x = asia.states[rec.variable].index(rec.state)
        vals = []
        for step in (h, -h):
            t = theta.copy()
            t[cfg] = covary(theta[cfg], x, float(theta[cfg][x]) + step)
            vals.append(query(asia.with_cpts({rec.variable: t}), "lung", "yes", ev))
        fd = (vals[0] - vals[1]) / (2 * h)
        assert rec.derivative == pytest.approx(fd, rel=1e-6, abs=1e-9), rec


def test_sensitivity_function_reproduces_the_engine(asia: bnlab.BayesNet) -> None:
    ev = {"xray": "yes"}
    fn = sensitivity_function(asia, "lung", "yes", ev, "lung", {"smoke": "yes"}, "yes")
    assert fn.value == pytest.approx(
        asia.cpt("lung")[0 if asia.states["smoke"][0] == "yes" else 1][
            asia.states["lung"].index("yes")
        ]
    )
    for theta in (0.0, 0.03, 0.25, 0.6, 0.97):
        t = np.array(asia.cpt("lung"))
        cfg = (asia.states["smoke"].index("yes"),)
        t[cfg] = covary(t[cfg], asia.states["lung"].index("yes"), theta)
        expected = query(asia.with_cpts({"lung": t}), "lung", "yes", ev)
        assert float(fn(theta)) == pytest.approx(expected, abs=1e-12)
    a, b, c, d = fn.coefficients
    assert (a * 0.4 + b) / (c * 0.4 + d) == pytest.approx(float(fn(0.4)), abs=1e-12)
    # P(lung = yes | xray = yes) crosses 0.5 somewhere in [0, 1]: the argmax flips there
    assert fn.crossover is not None
    assert float(fn(fn.crossover)) == pytest.approx(0.5, abs=1e-9)
    assert fn.crossover_state == "yes"


def test_mpe_and_runner_up_by_enumeration(asia: bnlab.BayesNet) -> None:
    ev = {"xray": "yes", "dysp": "yes"}
    expl = most_probable_explanation(asia, ev)
    free = [v for v in asia.variables if v not in ev]
    scores = []
    for states in itertools.product(*(asia.states[v] for v in free)):
        full = {**ev, **dict(zip(free, states, strict=True))}
        p = 1.0
        for v in asia.variables:
            idx = tuple(asia.states[q].index(full[q]) for q in (*asia.parents[v], v))
            p *= asia.cpt(v)[idx]
        scores.append((p, dict(zip(free, states, strict=True))))
    scores.sort(key=lambda t: -t[0])
    pe = sum(p for p, _ in scores)
    assert expl.assignment == scores[0][1]
    assert expl.probability == pytest.approx(scores[0][0] / pe, abs=1e-12)
    assert expl.runner_up_probability == pytest.approx(scores[1][0] / pe, abs=1e-12)
    assert expl.runner_up == scores[1][1]
