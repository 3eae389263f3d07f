"""Compiled counting kernels against the numpy reference and brute force."""

from __future__ import annotations

import numpy as np
import pytest

import bnlab
from bnlab.learn import learn_structure
from bnlab.learn import scores as scores_mod
from bnlab.learn.scores import SCORES, FamilyScorer


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, list[int]]:
    """Correlated codes with missing cells, 5 variables of 2-5 states, many duplicate rows."""
    rng = np.random.default_rng(7)
    cards = [2, 3, 5, 2, 4]
    n = 700
    a = rng.integers(0, 2, n)
    b = (a + rng.integers(0, 2, n)) % 3
    c = (b * 2 + rng.integers(0, 2, n)) % 5
    d = (a ^ (c > 2)).astype(int)
    e = rng.integers(0, 4, n)
    codes = np.stack([a, b, c, d, e], axis=1)
    codes[rng.random(codes.shape) < 0.05] = -1
    return codes, cards


def _brute_joint(codes, weights, child, parents, cards, maxc):
    """Counts of (parent config, child state, x, state of x) by a loop over rows."""
    q = int(np.prod([cards[v] for v in parents])) if parents else 1
    r = cards[child]
    out = np.zeros((q * r, len(cards), maxc))
    for row, w in zip(codes, weights, strict=True):
        if min(row[v] for v in (*parents, child)) < 0:
            continue
        k = 0
        for v in parents:
            k = k * cards[v] + row[v]
        k = k * r + row[child]
        for x, s in enumerate(row):
            if s >= 0:
                out[k, x, s] += w
    return out


@pytest.mark.parametrize("weights", [None, "int", "float"])
@pytest.mark.parametrize("bit_cost", [0.0, 0.2, 1e9])  # all bitsets, mixed, all row by row
def test_joint_counts_equal_numpy_and_brute_force(data, weights, bit_cost, monkeypatch) -> None:
    codes, cards = data
    rng = np.random.default_rng(1)
    w = {
        None: None,
        "int": rng.integers(0, 4, len(codes)).astype(float),
        "float": rng.random(len(codes)) * 2,
    }[weights]
    monkeypatch.setattr(scores_mod, "_BIT_COST", bit_cost)
    fast = FamilyScorer(codes, cards, "bic", weights=w)
    ref = FamilyScorer(codes, cards, "bic", weights=w, engine="numpy")
    ones = np.ones(len(codes)) if w is None else w
    for child, parents in [(0, ()), (1, (0,)), (3, (0, 2)), (4, (2, 1, 3))]:
        key, q, valid = fast._family_key(child, parents)
        got = fast._joint_counts(key, q * cards[child], valid, 0)
        key_r, q_r, valid_r = ref._family_key(child, parents)
        want = ref._joint_counts(key_r, q_r * cards[child], valid_r, 0)
        if w is None or weights == "int":
            assert np.array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12)
        brute = _brute_joint(codes, ones, child, parents, cards, fast.maxc)
        np.testing.assert_allclose(got, brute, rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_gram_and_family_scores_equal_numpy(data, weighted) -> None:
    codes, cards = data
    w = np.random.default_rng(3).random(len(codes)) * 3 if weighted else None
    fast = FamilyScorer(codes, cards, "bdeu", ess=2.0, weights=w)
    ref = FamilyScorer(codes, cards, "bdeu", ess=2.0, weights=w, engine="numpy")
    np.testing.assert_allclose(fast.gram(), ref.gram(), rtol=1e-12)
    for score in SCORES:
        a = FamilyScorer(codes, cards, score, ess=2.0, weights=w)
        b = FamilyScorer(codes, cards, score, ess=2.0, weights=w, engine="numpy")
        sets = [(), (0,), (1, 2), (0, 2, 4)]
        np.testing.assert_allclose(a.score_sets(3, sets), b.score_sets(3, sets), rtol=1e-12)
        cand = np.array([0, 1, 2, 4])
        np.testing.assert_allclose(
            a.add_scores(3, (1,), cand), b.add_scores(3, (1,), cand), rtol=1e-12
        )
        for ps in sets:
            assert a.dropped(3, ps) == b.dropped(3, ps)


def test_unweighted_scores_are_bit_identical_to_numpy(data) -> None:
    """Integer counts are exact in any order: the same tables, the same bits."""
    codes, cards = data
    for score in ("bic", "bdeu", "k2"):
        a = FamilyScorer(codes, cards, score)
        b = FamilyScorer(codes, cards, score, engine="numpy")
        cand = np.array([0, 2, 4])  # three cardinalities: three BDeu prior counts at once
        assert np.array_equal(a.add_scores(1, (3,), cand), b.add_scores(1, (3,), cand))
        assert np.array_equal(a.add_scores(2, (0, 3), [1, 4]), b.add_scores(2, (0, 3), [1, 4]))
        assert a.score(4, (0, 1, 2)) == b.score(4, (0, 1, 2))


@pytest.mark.parametrize("method", ["hc", "tabu"])
def test_search_takes_the_same_path_with_either_engine(method, monkeypatch) -> None:
    net = bnlab.load_example("child")
    df = bnlab.sample(net, 3000, seed=3)
    fast = learn_structure(df, "bic", method, return_info=True)
    orig = FamilyScorer.__init__

    def numpy_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        orig(self, *args, **{**kwargs, "engine": "numpy"})

    monkeypatch.setattr(FamilyScorer, "__init__", numpy_init)
    ref = learn_structure(df, "bic", method, return_info=True)
    assert fast.structure.edges == ref.structure.edges
    assert fast.score == ref.score
    assert fast.iterations == ref.iterations


def test_unknown_engine_fails() -> None:
    with pytest.raises(scores_mod.ScoreError, match="engine"):
        FamilyScorer(np.zeros((3, 2), dtype=int), [2, 2], engine="cuda")  # type: ignore[arg-type]


def test_compiled_best_move_equals_numpy_deltas() -> None:
    """The compiled move choice equals ``best(deltas(tabu))`` along random walks."""
    from bnlab.learn.search import _Search

    net = bnlab.load_example("child")
    codes = bnlab.encode(bnlab.sample(net, 2000, seed=4), net)
    cards = [net.cards[v] for v in net.variables]
    p = len(cards)
    rng = np.random.default_rng(0)
    allowed = rng.random((p, p)) < 0.8
    required = np.zeros((p, p), dtype=bool)
    required[0, 1] = allowed[0, 1] = True
    start: list[tuple[int, ...]] = [() for _ in range(p)]
    start[1] = (0,)
    st = _Search(FamilyScorer(codes, cards, "bdeu"), allowed, required, max_indegree=2)
    st.set_graph(start)
    for step in range(40):
        tabu = {(int(k), int(a), int(b)) for k, a, b in rng.integers(0, [3, p, p], (5, 3))}
        for t in (None, tabu):
            assert st.best_move(t) == st.best(st.deltas(t))
        if step % 2:
            st.perturb(2, rng)
        else:
            gain, kind, x, y = st.best_move()
            if gain > -np.inf:
                st.apply(kind, x, y)
