"""Explanations of example queries against brute-force enumeration of asia's joint table."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

import bnlab
from bnlab.errors import ArtifactError
from bnlab.explain import covary, parameter_sensitivity
from bnlab.infer import Engine
from bnlab.report import sections
from bnlab.report.explanations import (
    QueryExplanation,
    blanket_network,
    explain_examples,
    explanations_from_json,
    explanations_to_json,
    query_sensitivity,
)
from bnlab.report.queries import markov_blanket
from tests.enumeration import conditional, joint


def shapley_by_permutations(value, players: list[str]) -> dict[str, float]:
    """The Shapley value as the mean marginal gain over every ordering of the players."""
    out = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        for i, p in enumerate(order):
            out[p] += value(order[: i + 1]) - value(order[:i])
    return {p: x / len(orders) for p, x in out.items()}


@pytest.fixture(scope="module")
def asia():
    net = bnlab.load_example("asia")
    data = bnlab.sample(net, n=300, seed=3)
    exps = explain_examples(Engine(net), data, ["either", "lung"], rows=2, example_rows=2)
    return net, joint(net), exps


def test_answers_and_shapley_values_match_enumeration(asia):
    net, table, exps = asia
    assert [e.target for e in exps] == ["either", "either", "lung", "lung"]
    for e in exps:
        assert set(e.evidence) == set(markov_blanket(net, e.target))
        p = {s: conditional(net, table, e.target, s, e.evidence) for s in net.states[e.target]}
        assert e.state == max(p, key=p.__getitem__)  # the model's answer is explained
        assert e.mean == pytest.approx(p[e.state], abs=1e-5)
        assert e.lower == e.upper == e.mean  # a network has no parameter uncertainty
        assert e.prior == pytest.approx(conditional(net, table, e.target, e.state, {}), abs=1e-5)

        def value(coalition, e=e):
            return conditional(net, table, e.target, e.state, {v: e.evidence[v] for v in coalition})

        truth = shapley_by_permutations(value, list(e.evidence))
        got = dict(zip(e.contributions["variable"], e.contributions["shapley"], strict=True))
        assert got.keys() == truth.keys()
        for v in truth:
            assert got[v] == pytest.approx(truth[v], abs=2e-5), v
        players = list(e.evidence)
        loo = dict(zip(e.contributions["variable"], e.contributions["loo"], strict=True))
        for v in players:
            rest = [w for w in players if w != v]
            assert loo[v] == pytest.approx(value(players) - value(rest), abs=2e-5)


def test_most_probable_explanation_matches_enumeration(asia):
    net, table, exps = asia
    for e in exps:
        index: list[object] = [slice(None)] * len(net.variables)
        for v, s in e.evidence.items():
            index[net.variables.index(v)] = net.states[v].index(s)
        sub = table[tuple(index)]
        free = [v for v in net.variables if v not in e.evidence]
        flat = sub.reshape(-1)
        order = np.argsort(-flat, kind="stable")
        best = np.unravel_index(order[0], sub.shape)
        assert e.mpe.assignment == {v: net.states[v][i] for v, i in zip(free, best, strict=True)}
        assert e.mpe.probability == pytest.approx(flat[order[0]] / flat.sum(), rel=1e-4)
        assert e.mpe.runner_up_probability == pytest.approx(flat[order[1]] / flat.sum(), rel=1e-4)
        if not math.isclose(flat[order[1]], flat[order[2]], rel_tol=1e-9):  # unique runner-up
            second = np.unravel_index(order[1], sub.shape)
            assert e.mpe.runner_up == {
                v: net.states[v][i] for v, i in zip(free, second, strict=True)
            }


def test_sensitivity_matches_finite_differences_and_the_full_network(asia):
    net, _, exps = asia
    for e in exps:
        sens = e.sensitivity
        assert 0 < len(sens) <= 10
        d = sens["derivative"].to_numpy()
        assert list(np.abs(d)) == sorted(np.abs(d), reverse=True)
        for r in sens.head(3).itertuples(index=False):  # central differences of enumeration
            theta = net.cpt(r.variable)
            config = tuple(
                net.states[p].index(s)
                for p, s in zip(net.parents[r.variable], r.parent_states, strict=True)
            )
            k = net.states[r.variable].index(r.state)
            assert r.value == pytest.approx(theta[config][k])
            # central where the entry is inside (0, 1), one-sided at a deterministic entry
            lo, hi = max(theta[config][k] - 1e-6, 0.0), min(theta[config][k] + 1e-6, 1.0)
            ends = []
            for x in (lo, hi):
                t2 = np.array(theta, copy=True)
                t2[config] = covary(theta[config], k, x)
                moved = net.with_cpts({**net.cpts, r.variable: t2})
                ends.append(conditional(moved, joint(moved), e.target, e.state, e.evidence))
            slope = (ends[1] - ends[0]) / (hi - lo)
            assert r.derivative == pytest.approx(slope, rel=1e-4, abs=1e-8)
        # the Markov-blanket shortcut gives the full network's derivatives
        full = parameter_sensitivity(net, e.target, e.state, e.evidence)
        lookup = {
            (r.variable, tuple(r.parent_states), r.state): r.derivative
            for r in full.itertuples(index=False)
        }
        for r in sens.itertuples(index=False):
            key = (r.variable, tuple(r.parent_states), r.state)
            assert lookup[key] == pytest.approx(r.derivative, rel=1e-9, abs=1e-12)
        cut = np.abs(full["derivative"].to_numpy())
        assert np.abs(d).min() >= np.sort(cut)[::-1][len(sens) - 1] - 1e-12


def test_blanket_network_answers_like_the_full_network():
    net = bnlab.load_example("alarm")
    data = bnlab.sample(net, n=5, seed=0)
    blanket = list(markov_blanket(net, "LVFAILURE"))
    sub = blanket_network(net, "LVFAILURE")
    assert set(sub.variables) == {"LVFAILURE", *blanket}
    evidence = data[blanket].astype(str)
    full_p = Engine(net).marginals(evidence, variables=["LVFAILURE"])["LVFAILURE"]
    sub_p = Engine(sub).marginals(evidence, variables=["LVFAILURE"])["LVFAILURE"]
    np.testing.assert_allclose(sub_p, full_p, atol=1e-6)


def test_sensitivity_without_the_whole_blanket_uses_the_full_network():
    net = bnlab.load_example("asia")
    partial = {"xray": "yes"}  # P(either | xray) also hangs on lung's and tub's ancestors
    table = query_sensitivity(net, "either", "yes", partial, top=40)
    full = parameter_sensitivity(net, "either", "yes", partial)
    full = full[np.abs(full["derivative"]) > 1e-12].reset_index(drop=True)
    assert {"smoke", "asia"} <= set(table["variable"])
    np.testing.assert_allclose(table["derivative"], full["derivative"].head(40))


def test_posterior_explanations_have_intervals_and_add_up():
    net = bnlab.load_example("asia")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=400, seed=0))
    data = bnlab.sample(net, n=50, seed=1)
    (e,) = explain_examples(Engine(post, draws=100), data, ["lung"], rows=1, example_rows=3)
    c = e.contributions
    assert (c["lower"] <= c["shapley"] + 1e-12).all() and (c["shapley"] <= c["upper"] + 1e-12).all()
    assert e.lower < e.mean < e.upper
    # efficiency, averaged over draws: the values add up to the answer minus the prior
    assert c["shapley"].sum() == pytest.approx(e.mean - e.prior, abs=1e-5)


def test_json_round_trip_and_malformed_files(asia):
    _, _, exps = asia
    text = json.dumps(explanations_to_json(exps), sort_keys=True)  # as the stage writes it
    back = explanations_from_json(json.loads(text))
    assert len(back) == len(exps)
    for a, b in zip(exps, back, strict=True):
        assert (a.target, a.state, a.evidence, a.mpe) == (b.target, b.state, b.evidence, b.mpe)
        assert a.mean == b.mean and a.prior == b.prior
        np.testing.assert_allclose(b.contributions["shapley"], a.contributions["shapley"])
        assert list(b.contributions.columns) == list(a.contributions.columns)
        assert list(b.sensitivity["parent_states"]) == list(a.sensitivity["parent_states"])
    with pytest.raises(ArtifactError, match="explanations"):
        explanations_from_json([])
    doc = json.loads(text)
    del doc["explanations"][0]["mpe"]
    with pytest.raises(ArtifactError, match="malformed"):
        explanations_from_json(doc)


def test_section_shows_each_explanation(asia):
    _, _, exps = asia
    body = sections.explanations_section(exps, 0.9).body
    assert body.count("<h3>") == len(exps)
    assert body.count('alt="evidence contributions"') == len(exps)
    e: QueryExplanation = exps[0]
    assert f"P({e.target}={e.state} | " in body and "runner-up" in body
    assert f"{e.sensitivity['derivative'].iloc[0]:.3e}" in body or "derivative" in body
    assert "Not run" in sections.explanations_section(None, 0.9).body
    assert "Not run" in sections.explanations_section([], 0.9).body
