"""Per-row ``P(target | e)`` from the requisite factors, against brute-force enumeration."""

from __future__ import annotations

import string

import numpy as np
import pytest
from enumeration import joint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bnlab
from bnlab import BayesNet
from bnlab.infer.evidence import encode_evidence
from bnlab.infer.requisite import (
    draws_last,
    requisite,
    requisite_marginal,
    strictly_positive,
)
from bnlab.network import Structure

DRAWS = 3


@st.composite
def positive_draws(draw: st.DrawFn, max_vars: int = 7) -> tuple[Structure, dict[str, np.ndarray]]:
    """A random DAG and ``DRAWS`` strictly positive CPT sets ``(draws, *parents, card)``."""
    n = draw(st.integers(1, max_vars))
    names = list(string.ascii_uppercase[:n])
    cards = {v: draw(st.integers(2, 3)) for v in names}
    parents: dict[str, tuple[str, ...]] = {}
    for i, v in enumerate(names):
        k = draw(st.integers(0, min(3, i)))
        parents[v] = tuple(draw(st.permutations(names[:i]))[:k]) if k else ()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in names}
    structure = Structure(names, states, parents)
    cpts = {
        v: rng.dirichlet(np.full(cards[v], 0.7), size=(DRAWS, *(cards[p] for p in parents[v])))
        for v in names
    }
    return structure, cpts


def brute_conditional(
    structure: Structure, cpts: dict[str, np.ndarray], codes: np.ndarray, target: str
) -> np.ndarray:
    """``P(target | row)`` per draw by summing each draw's full joint table."""
    out = []
    for d in range(DRAWS):
        net = BayesNet(
            variables=list(structure.variables),
            states=dict(structure.states),
            parents=dict(structure.parents),
            cpts={v: a[d] for v, a in cpts.items()},
        )
        index = tuple(slice(None) if c < 0 else int(c) for c in codes)
        sub = joint(net)[index]
        free = [v for v, c in zip(structure.variables, codes, strict=True) if c < 0]
        k = free.index(target)
        marg = sub.sum(axis=tuple(i for i in range(len(free)) if i != k))
        out.append(marg / marg.sum())
    return np.array(out)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=positive_draws(), seed=st.integers(0, 2**31 - 1))
def test_requisite_marginal_equals_brute_force(
    case: tuple[Structure, dict[str, np.ndarray]], seed: int
) -> None:
    structure, cpts = case
    rng = np.random.default_rng(seed)
    target = structure.variables[rng.integers(len(structure.variables))]
    for _ in range(4):
        codes = np.array(
            [rng.integers(structure.cards[v]) if rng.random() < 0.5 else -1
             for v in structure.variables],
            dtype=np.int32,
        )  # fmt: skip
        codes[structure.index[target]] = -1
        got = requisite_marginal(structure, draws_last(cpts), codes, target)
        assert got is not None
        np.testing.assert_allclose(
            got, brute_conditional(structure, cpts, codes, target), atol=1e-12
        )


def chain() -> Structure:
    states = {v: ("0", "1") for v in "ABCD"}
    return Structure(list("ABCD"), states, {"A": (), "B": ("A",), "C": ("B",), "D": ("A",)})


def test_barren_and_blocked_factors_drop_out() -> None:
    s = chain()  # A -> B -> C, A -> D
    # nothing observed: every other variable is barren
    assert requisite(s, "A", set()) == (("A",), ("A",))
    # C observed: B is summed over, D is barren
    assert requisite(s, "A", {"C"}) == (("A", "B", "C"), ("A", "B"))
    # B observed blocks C; D observed is a child of A
    assert requisite(s, "A", {"B", "C", "D"}) == (("A", "B", "D"), ("A",))
    # a target with an observed child and an observed co-parent's ancestry
    assert requisite(s, "B", {"A", "C"}) == (("B", "C"), ("B",))


def test_alarm_rows_equal_the_engine_over_posterior_draws() -> None:
    net = bnlab.load_example("alarm")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=2_000, seed=0), ess=10)
    import jax

    with jax.enable_x64(True):
        engine = bnlab.Engine(post, draws=200, seed=0)
        cpts = draws_last(engine.cpt_arrays())
        assert strictly_positive(cpts)
        target = "LVFAILURE"
        rows = bnlab.sample(net, n=40, seed=5).drop(columns=[target]).astype(object)
        rows = rows.mask(np.random.default_rng(5).random(rows.shape) < 0.5, None)
        want = np.asarray(engine.marginals(rows, variables=[target])[target], dtype=np.float64)
    codes = encode_evidence(net.structure, rows)
    answered = 0
    for r in range(len(rows)):
        got = requisite_marginal(net.structure, cpts, codes[r], target)
        if got is not None:
            answered += 1
            np.testing.assert_allclose(got, want[:, r], atol=1e-12)
    assert answered == len(rows)
    # a cost cap sends a row to the engine instead
    assert requisite_marginal(net.structure, cpts, codes[0], target, max_flops=0.0) is None


def test_near_underflow_is_left_to_the_engine() -> None:
    s = Structure(["A", "B"], {"A": ("0", "1"), "B": ("0", "1")}, {"A": (), "B": ("A",)})
    tiny = draws_last({
        "A": np.array([[0.5, 0.5]]),
        "B": np.array([[[1 - 1e-300, 1e-300], [1 - 1e-300, 1e-300]]]),
    })  # fmt: skip
    assert requisite_marginal(s, tiny, np.array([-1, 1], dtype=np.int32), "A") is None
    fine = requisite_marginal(s, tiny, np.array([-1, 0], dtype=np.int32), "A")
    assert fine is not None
    np.testing.assert_allclose(fine, [[0.5, 0.5]])


@pytest.mark.parametrize("zero", [True, False])
def test_strictly_positive(zero: bool) -> None:
    table = np.array([[0.2, 0.8], [0.0 if zero else 0.1, 1.0]])
    assert strictly_positive({"A": table}) is not zero
