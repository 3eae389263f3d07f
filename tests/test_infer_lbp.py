"""``Engine(method="lbp")``: loopy belief propagation, batched over rows and CPT draws.

Oracles: brute-force enumeration of the joint on random polytrees (where the BP fixed
point is exact: marginals and the Bethe ``log P(e)``, hard, soft and impossible evidence,
CPTs with exact zeros), per CPT draw too; on a loopy network (ASIA) the exact engine,
which BP approaches but does not equal.
"""

from __future__ import annotations

import logging
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_infer_exact import assert_draws_match_oracle, two_draw_case

import bnlab
from bnlab import BayesNet
from bnlab.errors import BNError
from bnlab.infer import Engine


@st.composite
def polytrees(draw: st.DrawFn, max_vars: int = 8) -> BayesNet:
    """Random polytrees (forests included): parents joined only across components."""
    n = draw(st.integers(1, max_vars))
    names = list(string.ascii_uppercase[:n])
    cards = {v: draw(st.integers(2, 4)) for v in names}
    component = list(range(n))

    def find(a: int) -> int:
        while component[a] != a:
            a = component[a]
        return a

    parents: dict[str, tuple[str, ...]] = {}
    for i, v in enumerate(names):
        chosen = []
        for j in draw(st.permutations(range(i)))[: draw(st.integers(0, min(3, i)))]:
            if find(j) != find(i):  # an edge inside a component would close a loop
                component[find(j)] = find(i)
                chosen.append(names[j])
        parents[v] = tuple(chosen)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cpts = {}
    for v in names:
        shape = (*(cards[p] for p in parents[v]), cards[v])
        t = rng.dirichlet(np.ones(cards[v]), size=shape[:-1])
        zero = rng.random(shape) < 0.15
        zero[..., 0] = False
        t = np.where(zero, 0.0, t)
        cpts[v] = t / t.sum(axis=-1, keepdims=True)
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in names}
    return BayesNet(variables=names, states=states, parents=parents, cpts=cpts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=polytrees(), seed=st.integers(0, 2**31 - 1))
def test_lbp_is_exact_on_polytrees_per_draw(net: BayesNet, seed: int) -> None:
    rows = 3
    liks, codes, soft, other, draws = two_draw_case(net, seed, rows)
    eng = Engine.from_draws(net, draws, dtype=np.float64, method="lbp", tol=1e-13, damping=0.0)
    m = eng.marginals(codes, soft=soft, on_impossible="nan")
    lp = eng.log_prob(codes, soft=soft)
    assert m.converged is not None and m.converged.shape == (2, rows)
    assert m.converged[~m.impossible].all()
    assert_draws_match_oracle(net, other, liks, m, lp)


def test_lbp_on_a_loopy_network_is_close_but_not_exact() -> None:
    net = bnlab.load_example("asia")  # smoke -> lung -> either -> dysp <- bronc <- smoke
    rows = [{"smoke": "yes", "dysp": "yes"}, {"xray": "yes"}, {"asia": "yes", "dysp": "no"}]
    exact = Engine(net, dtype=np.float64).marginals(rows)
    approx = Engine(net, dtype=np.float64, method="lbp").marginals(rows)
    assert approx.converged is not None and approx.converged.all()
    gap = max(float(np.abs(exact[v] - approx[v]).max()) for v in net.variables)
    assert 1e-6 < gap < 0.05  # an approximation, and a close one on this network
    for v in net.variables:
        np.testing.assert_allclose(approx[v].sum(axis=-1), 1.0)


def test_queries_with_draws_give_intervals() -> None:
    net = bnlab.load_example("asia")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=500, seed=0))
    rows = [{"smoke": "yes"}, {"xray": "yes", "smoke": "no"}]
    q = Engine(post, draws=40, seed=1, method="lbp").query("lung", rows)
    ref = Engine(post, draws=40, seed=1).query("lung", rows)
    assert (q["lower"] <= q["mean"]).all() and (q["mean"] <= q["upper"]).all()
    np.testing.assert_allclose(q["mean"], ref["mean"], atol=0.05)


def test_rows_that_do_not_converge_are_flagged_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    eng = Engine(bnlab.load_example("alarm"), method="lbp", max_iter=2)
    with caplog.at_level(logging.WARNING, logger="bnlab.infer"):
        m = eng.marginals([{"HR": "HIGH"}, {}])
    assert m.converged is not None and not m.converged.any()
    assert (eng.diagnostics["iterations"] == 2).all()
    assert "did not converge in 2 iterations" in caplog.text


def test_bad_settings_and_unsupported_calls_are_typed_errors() -> None:
    net = bnlab.load_example("asia")
    for bad in ({"damping": 1.0}, {"max_iter": 0}, {"tol": 0.0}):
        with pytest.raises(BNError, match="method='lbp' needs"):
            Engine(net, method="lbp", **bad)
    with pytest.raises(BNError, match="needs exact inference"):
        Engine(net, method="lbp").mpe([{"smoke": "yes"}])
