"""Counterfactuals against pyAgrum's counterfactual and a brute-force twin-world enumeration."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from causal_fixtures import import_pyagrum, joint, quiet, random_latent_dag, random_net
from hypothesis import given, settings
from hypothesis import strategies as st

from bnlab import BayesNet, Structure
from bnlab.causal import counterfactual
from bnlab.errors import BNError


def _salary_net(noisy: bool) -> BayesNet:
    """Pearl's education / experience / salary example (The Book of Why, ch. 8), the network
    of pyAgrum's counterfactual notebook: exogenous roots Ux, Us; experience = 10 - 4 ed + Ux,
    salary = 65 + 2 experience + 5 ed + Us (clipped), with +-1 imprecision on experience when
    ``noisy`` (the notebook's "probabilistic" version)."""
    ux, exp_, sal, us = range(-2, 11), range(0, 21), range(65, 151), range(0, 26)
    ed = ("low", "medium", "high")
    states = {
        "Ux": tuple(map(str, ux)), "experience": tuple(map(str, exp_)), "education": ed,
        "salary": tuple(map(str, sal)), "Us": tuple(map(str, us)),
    }  # fmt: skip
    parents = {"experience": ["Ux", "education"], "salary": ["experience", "education", "Us"]}
    s = Structure(list(states), states, parents)
    noise = {-1: 0.2, 0: 0.6, 1: 0.2} if noisy else {0: 1.0}
    cexp = np.zeros((len(ux), 3, len(exp_)))
    for i, u in enumerate(ux):
        for e in range(3):
            for d, w in noise.items():
                cexp[i, e, min(max(10 - 4 * e + u + d, 0), 20)] += w
    csal = np.zeros((len(exp_), 3, len(us), len(sal)))
    for x in exp_:
        for e in range(3):
            for k, u in enumerate(us):
                csal[x, e, k, min(max(65 + 2 * x + 5 * e + u, 65), 150) - 65] = 1.0
    cpts = {
        "Ux": np.full(len(ux), 1 / len(ux)), "Us": np.full(len(us), 1 / len(us)),
        "education": np.array([0.4, 0.4, 0.2]), "experience": cexp, "salary": csal,
    }  # fmt: skip
    return BayesNet(structure=s, cpts=cpts)


@pytest.mark.parametrize("noisy", [False, True])
def test_alice_salary_matches_pyagrum(noisy: bool) -> None:
    from bnlab.io import to_pyagrum

    gum = import_pyagrum()
    net = _salary_net(noisy)
    alice = {"experience": "8", "education": "low", "salary": "86"}
    ours = counterfactual(net, alice, {"education": "medium"}, "salary")
    bn = quiet(to_pyagrum, net)
    cm = quiet(gum.CausalModel, bn, [], False)  # (bn) alone segfaults in this build
    pot = quiet(gum.counterfactual, cm, profile=alice, on="salary", whatif="education",
                values={"education": "medium"})  # fmt: skip
    theirs = np.asarray(quiet(pot.toarray), dtype=float).reshape(-1)
    np.testing.assert_allclose(ours["mean"].to_numpy(), theirs, atol=1e-9)
    if not noisy:  # Ux = -2, Us = 5: experience 4, salary 65 + 8 + 5 + 5 = 83 for sure
        assert ours.loc[ours["mean"].idxmax(), "state"] == "83"
        assert ours["mean"].max() == pytest.approx(1.0)


def _twin_oracle(net: BayesNet, evidence: dict, intervention: dict, target: str) -> np.ndarray:  # noqa: ANN001
    """Enumerate: P(v | e) over the factual world, then the counterfactual copies of the
    intervened variables' descendants drawn from their CPTs with the do() applied."""
    s = net.structure
    names = list(s.variables)
    copied = set(intervention)
    for v in names:
        if copied & set(s.parents[v]):
            copied.add(v)
    table = joint(net)
    mask = np.zeros_like(table, dtype=bool)
    for cfg in product(*[range(s.cards[v]) for v in names]):
        mask[cfg] = all(s.states[v][cfg[names.index(v)]] == st for v, st in evidence.items())
    post = np.where(mask, table, 0.0)
    post /= post.sum()
    order = [v for v in names if v in copied]
    out = np.zeros(s.cards[target])
    for cfg in product(*[range(s.cards[v]) for v in names]):
        w = post[cfg]
        if w == 0:
            continue
        fact = dict(zip(names, cfg, strict=True))
        for cf in product(*[range(s.cards[v]) for v in order]):
            world = dict(zip(order, cf, strict=True))
            p = 1.0
            for v in order:
                if v in intervention:
                    p *= float(world[v] == s.states[v].index(intervention[v]))
                else:
                    pa = tuple(world.get(q, fact[q]) for q in s.parents[v])
                    p *= net.cpt(v)[pa + (world[v],)]
            val = world[target] if target in world else fact[target]
            out[val] += w * p
    return out


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_counterfactual_equals_twin_enumeration(seed: int) -> None:
    s, obs, lat = random_latent_dag(seed, n_observed=4, max_latent=1, p_edge=0.6)
    net = random_net(s, seed)
    rng = np.random.default_rng(seed)
    x, y, e = (str(v) for v in rng.choice(obs, size=3, replace=False))
    evidence = {x: "a", e: "b"}
    got = counterfactual(net, evidence, {x: "b"}, y)
    want = _twin_oracle(net, evidence, {x: "b"}, y)
    np.testing.assert_allclose(got["mean"].to_numpy(), want, atol=1e-9)


def test_unaffected_target_and_posterior_intervals() -> None:
    import bnlab

    net = bnlab.load_example("asia")
    seen = counterfactual(net, {"smoke": "yes", "asia": "yes"}, {"smoke": "no"}, "asia")
    assert list(seen["mean"]) == [1.0, 0.0]  # not a descendant of smoke, and observed
    post = bnlab.fit(net.structure, bnlab.sample(net, 3000, seed=0))
    out = counterfactual(post, {"smoke": "yes", "dysp": "yes"}, {"smoke": "no"}, "dysp",
                         draws=200, interval=0.9)  # fmt: skip
    assert list(out.columns) == ["state", "mean", "lower", "upper"]
    assert out["mean"].sum() == pytest.approx(1.0)
    assert ((out["lower"] < out["mean"]) & (out["mean"] < out["upper"])).all()
    point = counterfactual(post.mean(), {"smoke": "yes", "dysp": "yes"}, {"smoke": "no"}, "dysp")
    assert ((out["lower"] < point["mean"]) & (point["mean"] < out["upper"])).all()
    with pytest.raises(BNError, match="intervention is empty"):
        counterfactual(net, {"smoke": "yes"}, {}, "dysp")
    with pytest.raises(BNError, match="not a state"):
        counterfactual(net, {"smoke": "maybe"}, {"smoke": "no"}, "dysp")
