"""Exactness of the inference kernels against brute-force enumeration of the joint.

Random networks (hypothesis: up to 8 variables, cardinalities 2-4, random parents, CPTs
with some exact zeros), random hard, missing and soft evidence, and interventions. The
oracle multiplies every CPT into the full joint table with numpy and sums it.
"""

from __future__ import annotations

import string
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnlab import BayesNet
from bnlab.errors import ImpossibleEvidenceError
from bnlab.infer import Engine, all_marginals, compile_plan, log_evidence, mpe

# -- the oracle -----------------------------------------------------------------------------


def joint(net: BayesNet, do: dict[str, int] | None = None) -> np.ndarray:
    """Full joint table, axes in ``net.variables`` order (truncated factorisation under do)."""
    names = list(net.variables)
    cards = [net.cards[v] for v in names]
    out = np.ones(cards)
    for v in names:
        cpt = net.cpt(v)
        if do and v in do:
            cpt = np.zeros_like(cpt)
            cpt[..., do[v]] = 1.0
        axes = [names.index(p) for p in net.parents[v]] + [names.index(v)]
        shape = [1] * len(names)
        order = np.argsort(axes)
        for a in axes:
            shape[a] = cards[a]
        out = out * np.transpose(cpt, order).reshape(shape)
    return out


def oracle(
    net: BayesNet, liks: list[np.ndarray], do: dict[str, int] | None = None
) -> tuple[float, list[np.ndarray], float]:
    """log P(e), marginals, and max_x log P(x, e) for one row of likelihood vectors."""
    j = joint(net, do)
    n = len(net.variables)
    for i, lk in enumerate(liks):
        shape = [1] * n
        shape[i] = lk.shape[0]
        j = j * lk.reshape(shape)
    z = j.sum()
    if z == 0:
        return -np.inf, [], -np.inf
    margs = [j.sum(axis=tuple(a for a in range(n) if a != i)) / z for i in range(n)]
    return float(np.log(z)), margs, float(np.log(j.max()))


# -- random networks ------------------------------------------------------------------------


@st.composite
def networks(draw: st.DrawFn, max_vars: int = 8) -> BayesNet:
    n = draw(st.integers(1, max_vars))
    names = list(string.ascii_uppercase[:n])
    cards = {v: draw(st.integers(2, 4)) for v in names}
    parents: dict[str, tuple[str, ...]] = {}
    for i, v in enumerate(names):
        cands = names[:i]
        k = draw(st.integers(0, min(3, len(cands))))
        parents[v] = tuple(draw(st.permutations(cands))[:k]) if k else ()
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cpts = {}
    for v in names:
        shape = tuple(cards[p] for p in parents[v]) + (cards[v],)
        t = rng.dirichlet(np.ones(cards[v]), size=shape[:-1])
        zero = rng.random(shape) < 0.15  # exact zeros: deterministic parts of real nets
        zero[..., 0] = False  # keep every row a distribution
        t = np.where(zero, 0.0, t)
        cpts[v] = t / t.sum(axis=-1, keepdims=True)
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in names}
    return BayesNet(variables=names, states=states, parents=parents, cpts=cpts)


def random_liks(net: BayesNet, rng: np.random.Generator, rows: int) -> list[np.ndarray]:
    """Per variable (rows, card): observed one-hot, missing ones, or soft evidence."""
    out = []
    for v in net.variables:
        c = net.cards[v]
        lk = np.ones((rows, c))
        kind = rng.integers(0, 3, size=rows)  # 0 missing, 1 hard, 2 soft
        for r in range(rows):
            if kind[r] == 1:
                lk[r] = 0.0
                lk[r, rng.integers(c)] = 1.0
            elif kind[r] == 2:
                lk[r] = rng.random(c) + 0.05
        out.append(lk)
    return out


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nets=st.lists(networks(), min_size=3, max_size=3), seed=st.integers(0, 2**31 - 1))
def test_kernels_match_brute_force(nets: list[BayesNet], seed: int) -> None:
    # 12 networks, three to a compiled program
    check_kernels(nets, seed)


@pytest.mark.slow(expected_s=120)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nets=st.lists(networks(max_vars=10), min_size=5, max_size=5), seed=st.integers(0, 2**31 - 1))
def test_kernels_match_brute_force_many(nets: list[BayesNet], seed: int) -> None:
    # the same kernels over 150 more structures, five to an example: one XLA program runs all
    # five (compiling one program of five networks takes about half the time of five
    # programs); XLA's backend optimisation off makes each program compile about a quarter
    # faster (what the programs compute is unchanged; the default-level build is the one
    # test_kernels_match_brute_force checks)
    check_kernels(nets, seed, {"xla_backend_optimization_level": 0})


def check_kernels(
    nets: list[BayesNet], seed: int, compiler_options: dict[str, Any] | None = None
) -> None:
    """All marginals, log P(e) and the MPE of every network, from one compiled program,
    against the brute-force oracle on 3 random evidence rows per network."""
    rng = np.random.default_rng(seed)
    rows = 3
    plans = [compile_plan(net) for net in nets]
    liks = [random_liks(net, rng, rows) for net in nets]
    args = [
        ([jnp.asarray(net.cpt(v)) for v in net.variables], [jnp.asarray(x) for x in lk])
        for net, lk in zip(nets, liks, strict=True)
    ]

    def run_all(all_args: list[Any]) -> list[Any]:
        return [
            (all_marginals(plan, c, lk), mpe(plan, c, lk))
            for plan, (c, lk) in zip(plans, all_args, strict=True)
        ]

    results = jax.jit(run_all).lower(args).compile(compiler_options)(args)
    for net, plan, lk, result in zip(nets, plans, liks, results, strict=True):
        check_rows(net, plan.n, lk, result, rows)


def check_rows(net: BayesNet, n: int, liks: list[np.ndarray], result: Any, rows: int) -> None:
    (z, margs), (codes, best) = result
    for r in range(rows):
        ez, em, eb = oracle(net, [lk[r] for lk in liks])
        if not np.isfinite(ez):  # impossible row: flagged, never garbage
            assert not np.isfinite(float(z[r]))
            assert np.all(np.isnan(np.asarray(margs[0][r])))
            continue
        assert float(z[r]) == pytest.approx(ez, abs=1e-9)
        for i in range(n):
            np.testing.assert_allclose(np.asarray(margs[i][r]), em[i], atol=1e-9)
        assert float(best[r]) == pytest.approx(eb, abs=1e-9)
        # the returned assignment attains the maximum
        j = joint(net)
        val = j[tuple(int(c) for c in codes[r])]
        val *= np.prod([liks[i][r, int(codes[r, i])] for i in range(n)])
        assert np.log(val) == pytest.approx(eb, abs=1e-9)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(max_vars=6), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_do_matches_truncated_factorisation(net: BayesNet, seed: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    v = data.draw(st.sampled_from(net.variables))
    state = data.draw(st.integers(0, net.cards[v] - 1))
    eng = Engine(net, jit=False)
    liks = random_liks(net, rng, 2)
    j = net.variables.index(v)
    liks[j][:] = 1.0  # no evidence on the intervened variable
    soft = {u: liks[i] for i, u in enumerate(net.variables)}
    m = eng.marginals([{}, {}], soft=soft, do={v: f"s{state}"}, on_impossible="nan")
    for r in range(2):
        ez, em, _ = oracle(net, [lk[r] for lk in liks], do={v: state})
        if not np.isfinite(ez):
            assert m.impossible[r]
            continue
        assert m.log_prob[r] == pytest.approx(ez, abs=1e-9)
        for i, u in enumerate(net.variables):
            np.testing.assert_allclose(m[u][r], em[i], atol=1e-9)


def test_batch_equals_stack_of_singles() -> None:
    rng = np.random.default_rng(3)
    net = _chain_net(rng)
    eng = Engine(net, jit=False)
    rows = [{"A": "s0"}, {"C": "s1", "D": "s2"}, {}, {"B": "s1"}]
    batch = eng.marginals(rows)
    for r, row in enumerate(rows):
        single = eng.marginals([row])
        for v in net.variables:
            np.testing.assert_allclose(batch[v][r], single[v][0], atol=1e-12)
        assert batch.log_prob[r] == pytest.approx(single.log_prob[0], abs=1e-12)


def _chain_net(rng: np.random.Generator) -> BayesNet:
    names = ["A", "B", "C", "D"]
    parents = {"B": ("A",), "C": ("A", "B"), "D": ("C",)}
    cards = {"A": 2, "B": 3, "C": 2, "D": 4}
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in names}
    cpts = {
        v: rng.dirichlet(np.ones(cards[v]), size=tuple(cards[p] for p in parents.get(v, ())))
        for v in names
    }
    return BayesNet(variables=names, states=states, parents=parents, cpts=cpts)


def test_impossible_evidence_is_reported_per_row() -> None:
    names = ["A", "B"]
    states = {"A": ("a0", "a1"), "B": ("b0", "b1")}
    cpts = {"A": np.array([0.5, 0.5]), "B": np.array([[1.0, 0.0], [0.3, 0.7]])}
    net = BayesNet(variables=names, states=states, parents={"B": ("A",)}, cpts=cpts)
    eng = Engine(net, jit=False)
    rows = [{"A": "a0", "B": "b1"}, {"A": "a1", "B": "b1"}, {"A": "a0", "B": "b1"}]
    with pytest.raises(ImpossibleEvidenceError) as err:
        eng.marginals(rows)
    assert err.value.rows == [0, 2]
    m = eng.marginals(rows, on_impossible="nan")
    assert m.impossible.tolist() == [True, False, True]
    assert np.isnan(m["A"][0]).all() and np.isnan(m["A"][2]).all()
    np.testing.assert_allclose(m["A"][1], [0.0, 1.0])
    lp = eng.log_prob(rows)
    assert lp[0] == -np.inf and lp[1] == pytest.approx(np.log(0.35))
    with pytest.raises(ImpossibleEvidenceError):
        eng.mpe(rows)


def test_log_evidence_gradient_matches_finite_differences() -> None:
    """The MCMC and sensitivity code differentiate log P(e) w.r.t. CPT entries."""
    net = _chain_net(np.random.default_rng(5))
    plan = compile_plan(net)
    liks = {"D": jnp.asarray([[0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])}
    cpts = {v: jnp.asarray(net.cpt(v)) for v in net.variables}
    g = jax.grad(lambda c: log_evidence(plan, c, liks).sum())(cpts)
    eps = 1e-6
    for v in net.variables:
        base = np.asarray(cpts[v])
        for k in range(base.size):
            up, dn = base.copy().reshape(-1), base.copy().reshape(-1)
            up[k] += eps
            dn[k] -= eps
            f_up = log_evidence(plan, {**cpts, v: jnp.asarray(up.reshape(base.shape))}, liks)
            f_dn = log_evidence(plan, {**cpts, v: jnp.asarray(dn.reshape(base.shape))}, liks)
            fd = float((f_up.sum() - f_dn.sum()) / (2 * eps))
            assert float(np.asarray(g[v]).reshape(-1)[k]) == pytest.approx(fd, abs=1e-6)


def test_wrong_kernel_is_caught_by_the_oracle() -> None:
    """The oracle is sensitive: dropping one CPT from the joint changes the answer."""
    net = _chain_net(np.random.default_rng(7))
    liks = [np.ones((1, net.cards[v])) for v in net.variables]
    liks[3][0] = [0.0, 0.0, 1.0, 0.0]
    ez, em, _ = oracle(net, [lk[0] for lk in liks])
    plan = compile_plan(net)
    cpts = [jnp.asarray(net.cpt(v)) for v in net.variables]
    cpts[2] = jnp.ones_like(cpts[2]) / 2.0  # a different network
    z, _ = all_marginals(plan, cpts, [jnp.asarray(x) for x in liks])
    assert abs(float(z[0]) - ez) > 1e-3


def test_float32_long_chain_does_not_underflow() -> None:
    """200 observed variables: P(e) ~ 1e-61, below float32's range; rescaling keeps it exact."""
    n = 200
    names = [f"X{i}" for i in range(n)]
    parents = {names[i]: (names[i - 1],) for i in range(1, n)}
    states = {v: ("a", "b") for v in names}
    cpts = {names[0]: np.array([0.5, 0.5])}
    for v in names[1:]:
        cpts[v] = np.array([[0.4, 0.6], [0.55, 0.45]])
    net = BayesNet(variables=names, states=states, parents=parents, cpts=cpts)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 2, size=n)
    row = {v: "ab"[k] for v, k in zip(names, obs, strict=True)}
    row.pop(names[100])  # one hidden variable in the middle
    exact = Engine(net, dtype=np.float64, jit=False).marginals([row])
    assert exact.log_prob[0] < -120.0  # exp of this underflows float32 (min ~1e-45)
    m32 = Engine(net, dtype=np.float32, jit=False).marginals([row])
    assert m32.log_prob[0] == pytest.approx(exact.log_prob[0], rel=1e-5)
    np.testing.assert_allclose(m32[names[100]], exact[names[100]], atol=1e-5)
    # and without the per-step scale the float32 polynomial itself is zero
    direct = np.float32(1.0)
    for i, v in enumerate(names):
        if v in row:
            par = obs[i - 1] if i else None
            p = cpts[v][obs[i]] if par is None else cpts[v][par, obs[i]]
            direct = np.float32(direct * np.float32(p))
    assert direct == 0.0


def two_draw_case(net: BayesNet, seed: int, rows: int) -> tuple[Any, ...]:
    """Random evidence as soft likelihoods over ``rows`` rows (codes all missing), and two
    CPT draws: the network's own CPTs and random ones.

    Returns ``(liks, codes, soft, other_cpts, draws)``.
    """
    rng = np.random.default_rng(seed)
    liks = random_liks(net, rng, rows)
    codes = np.full((rows, len(net.variables)), -1, dtype=np.int32)
    soft = dict(zip(net.variables, liks, strict=True))
    other = {
        v: rng.dirichlet(np.ones(net.cards[v]), size=net.cpt(v).shape[:-1]) for v in net.variables
    }
    draws = {v: np.stack([net.cpt(v), other[v]]) for v in net.variables}
    return liks, codes, soft, other, draws


def assert_draws_match_oracle(
    net: BayesNet, other: dict[str, np.ndarray], liks: list[np.ndarray], m: Any, lp: np.ndarray
) -> None:
    """Marginals ``m`` and log evidence ``lp`` of the two draws of :func:`two_draw_case`
    (the network's CPTs, then ``other``) equal enumeration; impossible rows are flagged."""
    for d, cpts in enumerate([net.cpts, other]):
        net_d = BayesNet(structure=net.structure, cpts=dict(cpts))
        for r in range(liks[0].shape[0]):
            ez, em, _ = oracle(net_d, [lk[r] for lk in liks])
            if not np.isfinite(ez):
                assert m.impossible[d, r] and not np.isfinite(lp[d, r])
                continue
            assert lp[d, r] == pytest.approx(ez, abs=1e-9)
            for i, v in enumerate(net.variables):
                np.testing.assert_allclose(m[v][d, r], em[i], atol=1e-9)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(), seed=st.integers(0, 2**31 - 1))
def test_host_tier_matches_brute_force(net: BayesNet, seed: int) -> None:
    """Small first calls of a default engine run on the host (no JAX program): still exact,
    per CPT draw too."""
    rows = 3
    liks, codes, soft, other, draws = two_draw_case(net, seed, rows)
    eng = Engine.from_draws(net, draws, dtype=np.float64)
    m = eng.marginals(codes, soft=soft, on_impossible="nan")
    lp = eng.log_prob(codes, soft=soft)
    assert eng._host_s and not eng._compiled  # answered on the host tier
    assert_draws_match_oracle(net, other, liks, m, lp)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(max_vars=10), seed=st.integers(0, 2**31 - 1))
def test_host_mpe_matches_brute_force(net: BayesNet, seed: int) -> None:
    """The MPE of a default engine's first calls runs on the host, on NumPy (no JAX program):
    the best assignment's value equals the brute-force maximum, and the assignment attains
    it; impossible rows are flagged."""
    rng = np.random.default_rng(seed)
    rows = 4
    liks = random_liks(net, rng, rows)
    codes = np.full((rows, len(net.variables)), -1, dtype=np.int32)
    eng = Engine(net, dtype=np.float64)
    best = eng.mpe(codes, soft=dict(zip(net.variables, liks, strict=True)), on_impossible="nan")
    assert eng._host_s and not eng._compiled  # answered on the host tier
    assert_mpe_matches_oracle(net, liks, best)


def assert_mpe_matches_oracle(net: BayesNet, liks: list[np.ndarray], best: Any) -> None:
    """An MPE table's value per row is the brute-force maximum, and its assignment attains
    it; impossible rows have a NaN value."""
    j = joint(net)
    for r in range(liks[0].shape[0]):
        _, _, eb = oracle(net, [lk[r] for lk in liks])
        if not np.isfinite(eb):
            assert np.isnan(best["log_prob"][r])
            continue
        assert best["log_prob"][r] == pytest.approx(eb, abs=1e-9)
        state = [int(best[v].cat.codes[r]) for v in net.variables]
        val = j[tuple(state)] * np.prod([liks[i][r, s] for i, s in enumerate(state)])
        assert np.log(val) == pytest.approx(eb, abs=1e-9)


def test_host_tier_hands_over_to_the_program() -> None:
    """Once the expected host time passes the program's compile estimate, the engine compiles
    the program and keeps using it; both answer the same."""
    import bnlab

    net = bnlab.load_example("asia")
    eng = Engine(net, dtype=np.float64)
    rows = [{"smoke": "yes"}, {"xray": "yes"}]
    first = eng.marginals(rows)
    assert eng._host_s and not eng._compiled
    eng._host_s[("marginals", False)] = eng._estimate.program_compile_s  # budget used up
    second = eng.marginals(rows)
    assert eng._compiled
    third = eng.marginals(rows[:1])  # small again: the program stays in use
    assert eng._host_s[("marginals", False)] == eng._estimate.program_compile_s
    for v in net.variables:
        np.testing.assert_allclose(first[v], second[v], atol=1e-12)
        np.testing.assert_allclose(first[v][:1], third[v], atol=1e-12)
    assert Engine(net, execution="program")._tiered is False
