"""Decomposable scores: local scores against hand computations, pgmpy, and each other."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.learn import FamilyScorer, ScoreError, local_scores, structure_score
from bnlab.learn.scores import SCORES, local_score_from_counts, unique_rows


def _hand_score(
    rows: list[tuple[int, ...]],
    child: int,
    parents: list[int],
    cards: list[int],
    score: str,
    ess: float = 1.0,
) -> float:
    """Plain-Python local score, complete-case over the family (independent oracle)."""
    fam = [row for row in rows if all(row[v] >= 0 for v in [*parents, child])]
    r = cards[child]
    q = math.prod(cards[p] for p in parents)
    n_jk: dict[tuple[tuple[int, ...], int], int] = {}
    for row in fam:
        key = (tuple(row[p] for p in parents), row[child])
        n_jk[key] = n_jk.get(key, 0) + 1
    configs = list(product(*[range(cards[p]) for p in parents]))
    ll = 0.0
    k2 = 0.0
    bdeu = 0.0
    a_j, a_jk = ess / q, ess / (q * r)
    for j in configs:
        nj = sum(n_jk.get((j, k), 0) for k in range(r))
        k2 += math.lgamma(r) - math.lgamma(nj + r)
        bdeu += math.lgamma(a_j) - math.lgamma(a_j + nj)
        for k in range(r):
            c = n_jk.get((j, k), 0)
            if c:
                ll += c * math.log(c / nj)
            k2 += math.lgamma(c + 1)
            bdeu += math.lgamma(a_jk + c) - math.lgamma(a_jk)
    n = len(fam)
    return {
        "loglik": ll,
        "bic": ll - 0.5 * math.log(n) * q * (r - 1),
        "aic": ll - q * (r - 1),
        "k2": k2,
        "bdeu": bdeu,
    }[score]


@pytest.fixture(scope="module")
def tiny() -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(3)
    cards = [2, 3, 2, 4]
    n = 60
    a = rng.integers(0, 2, n)
    b = (a + rng.integers(0, 2, n)) % 3
    c = (a ^ (b > 0)).astype(int)
    d = rng.integers(0, 4, n)
    codes = np.stack([a, b, c, d], axis=1)
    codes[rng.random(codes.shape) < 0.08] = -1  # some missing cells
    return codes, cards


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("parents", [(), (0,), (0, 1), (1, 3), (0, 1, 3)])
def test_local_score_matches_hand_computation(tiny, score, parents) -> None:
    codes, cards = tiny
    rows = [tuple(int(v) for v in r) for r in codes]
    want = _hand_score(rows, 2, list(parents), cards, score, ess=2.5)
    sc = FamilyScorer(codes, cards, score, ess=2.5)
    assert sc.score(2, parents) == pytest.approx(want, rel=1e-12, abs=1e-9)
    # dropped rows are the complete-case losses of this family
    kept = sum(all(r[v] >= 0 for v in [*parents, 2]) for r in rows)
    assert sc.dropped(2, parents) == len(rows) - kept


@pytest.mark.parametrize("score", SCORES)
def test_batched_additions_and_pairs_equal_single_families(tiny, score) -> None:
    codes, cards = tiny
    codes = np.concatenate([codes] * 5)  # duplicates: exercises the row compression
    batched = FamilyScorer(codes, cards, score, ess=3.0)
    single = FamilyScorer(codes, cards, score, ess=3.0, compress=False)
    got = batched.add_scores(1, (3,), np.array([0, 2]))
    want = single.score_sets(1, [(3, 0), (3, 2)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    pairs = FamilyScorer(codes, cards, score, ess=3.0)
    pairs.precompute_pairs()
    for y in range(4):
        for x in range(4):
            if x != y:
                assert pairs.cache[(y, frozenset({x}))] == pytest.approx(
                    single.score(y, (x,)), rel=1e-12
                )


@pytest.mark.parametrize("weighted", [False, True])
def test_pair_counts_and_precomputed_families_match_brute_force(tiny, weighted) -> None:
    """The gram holds every pair table (complete-case) and fills empty + one-parent families."""
    codes, cards = tiny
    w = np.random.default_rng(1).random(len(codes)) * 3 if weighted else None
    sc = FamilyScorer(codes, cards, "bdeu", ess=2.0, weights=w)
    gram = sc.gram()
    weight = np.ones(len(codes)) if w is None else w
    off = np.concatenate([[0], np.cumsum(cards)[:-1]])
    for x in range(4):
        for y in range(4):
            want = np.zeros((cards[x], cards[y]))
            for row, wt in zip(codes, weight, strict=True):
                if row[x] >= 0 and row[y] >= 0:
                    want[row[x], row[y]] += wt  # x == y: the counts on the diagonal
            block = gram[off[x] : off[x] + cards[x], off[y] : off[y] + cards[y]]
            np.testing.assert_allclose(block, want, rtol=1e-12)
    sc.precompute_pairs()
    rows = [tuple(int(v) for v in r) for r in codes]
    for y in range(4):
        for ps in [(), *[(x,) for x in range(4) if x != y]]:
            got = sc.cache[(y, frozenset(ps))]
            if w is None:
                assert got == pytest.approx(
                    _hand_score(rows, y, list(ps), cards, "bdeu", ess=2.0), rel=1e-12
                )
            else:  # weighted: against a scorer that counts the family on its own
                fresh = FamilyScorer(codes, cards, "bdeu", ess=2.0, weights=w, compress=False)
                assert got == pytest.approx(fresh.score(y, ps), rel=1e-12)
            used = [min(r[v] for v in (*ps, y)) >= 0 for r in rows]
            kept = float(weight[np.array(used)].sum())
            assert sc.n_dropped[(y, frozenset(ps))] == pytest.approx(weight.sum() - kept)


@pytest.mark.parametrize("weighted", [False, True])
def test_both_count_layouts_give_the_same_bits(tiny, weighted) -> None:
    """Row-wise and variable-wise flat indices: identical counts (missing values, weights)."""
    codes, cards = tiny
    codes = np.concatenate([codes] * 3)
    w = np.random.default_rng(2).random(len(codes)) if weighted else None
    sc = FamilyScorer(codes, cards, "bic", weights=w)
    for parents in [(), (1,), (1, 3)]:
        key, q, valid = sc._family_key(0, parents)
        for lo in (0, 2):
            by_row = sc._joint_counts(key, q * cards[0], valid, lo, rowwise=True)
            by_var = sc._joint_counts(key, q * cards[0], valid, lo, rowwise=False)
            assert np.array_equal(by_row, by_var)
    # against a brute-force count of (child 0, parent 1) x variable 2
    key, q, valid = sc._family_key(0, (1,))
    got = sc._joint_counts(key, q * cards[0], valid, 0, rowwise=True)
    weight = np.ones(len(codes)) if w is None else w
    want = np.zeros((cards[1], cards[0], cards[2]))
    for row, wt in zip(codes, weight, strict=True):
        if min(row[0], row[1], row[2]) >= 0:
            want[row[1], row[0], row[2]] += wt
    got_block = got.reshape(cards[1], cards[0], 4, sc.maxc)[:, :, 2, : cards[2]]
    np.testing.assert_allclose(got_block, want, rtol=1e-12)


def test_lgamma_tables_equal_direct_evaluation() -> None:
    """Table lookups, grown on demand, give the bits of a direct ``gammaln`` evaluation."""
    from scipy.special import gammaln

    from bnlab.learn.scores import LgammaTables

    tables = LgammaTables(5000)
    counts = np.array([0, 1, 7, 300, 4999])
    for a in (0.001, 1 / 3, 2.5):
        direct = gammaln(a + counts.astype(float)) - gammaln(a)
        assert np.array_equal(tables(a, 10)[counts[:3]], direct[:3])
        assert np.array_equal(tables(a, 5000)[counts], direct)  # grown
        assert len(tables(a, 1)) >= 5000  # never shrinks
    assert len(LgammaTables(10)(1.0, 5)) == 11  # capped at the number of rows + 1


@pytest.mark.parametrize("score", ["bdeu", "k2"])
def test_lgamma_lookups_and_direct_evaluation_score_the_same(score) -> None:
    """A batch scored from fresh tables (direct lgamma) and from grown ones: equal bits."""
    from bnlab.learn.scores import LgammaTables, score_tables

    rng = np.random.default_rng(5)
    tables = rng.integers(0, 40, (6, 8, 3)) * (rng.random((6, 8, 3)) < 0.7)
    qs = np.array([8, 8, 4, 4, 2, 8])  # three distinct prior counts in one batch
    fresh = score_tables(tables, qs, score, 2.0, lgamma_lut=LgammaTables(10_000))
    grown = LgammaTables(10_000)
    for a in {2.0 / q / 3 for q in qs} | {2.0 / q for q in qs} | {1.0, 3.0}:
        grown(a, 10_000)
    assert np.array_equal(fresh, score_tables(tables, qs, score, 2.0, lgamma_lut=grown))
    plain = score_tables(tables, qs, score, 2.0)  # no tables: lgamma of the nonzero cells
    np.testing.assert_allclose(fresh, plain, rtol=1e-12)


def test_a_cached_family_keeps_its_first_score(tiny) -> None:
    codes, cards = tiny
    sc = FamilyScorer(codes, cards, "bic")
    sc.cache[(1, frozenset({3, 0}))] = 123.0  # a sentinel: batched scoring must not replace it
    got = sc.add_scores(1, (3,), np.array([0, 2]))
    assert got[0] == 123.0
    assert got[1] == pytest.approx(FamilyScorer(codes, cards, "bic").score(1, (3, 2)), rel=1e-12)


def test_integer_weights_equal_repeated_rows(tiny) -> None:
    codes, cards = tiny
    w = np.random.default_rng(0).integers(0, 4, len(codes))
    repeated = np.repeat(codes, w, axis=0)
    a = FamilyScorer(codes, cards, "bdeu", weights=w.astype(float))
    b = FamilyScorer(repeated, cards, "bdeu")
    assert a.score(0, (1, 3)) == pytest.approx(b.score(0, (1, 3)), rel=1e-12)


def test_unique_rows_counts_rows() -> None:
    codes = np.array([[0, 1], [0, 1], [1, -1], [0, 1], [1, -1], [1, 0]])
    uniq, counts = unique_rows(codes)
    got = {tuple(r): c for r, c in zip(uniq.tolist(), counts.tolist(), strict=True)}
    assert got == {(0, 1): 3.0, (1, -1): 2.0, (1, 0): 1.0}


def _pgmpy_frame(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype(str)


@pytest.mark.parametrize(
    ("name", "ours"),
    [("BIC", "bic"), ("BDeu", "bdeu"), ("K2", "k2"), ("AIC", "aic"), ("LogLikelihood", "loglik")],
)
def test_total_score_matches_pgmpy(name, ours) -> None:
    import pgmpy.structure_score as pss
    from pgmpy.models import DiscreteBayesianNetwork

    net = bnlab.load_example("asia")
    df = bnlab.sample(net, 2000, seed=4)
    model = DiscreteBayesianNetwork(net.edges)
    model.add_nodes_from(net.variables)
    kwargs = {"equivalent_sample_size": 5} if name == "BDeu" else {}
    states = {v: list(net.states[v]) for v in net.variables}
    theirs = getattr(pss, name)(_pgmpy_frame(df), state_names=states, **kwargs).score(model)
    ess = 5.0 if ours == "bdeu" else 1.0
    mine = structure_score(net.structure, df, ours, ess=ess)
    assert mine == pytest.approx(theirs, rel=1e-9)
    # decomposable: the total is the sum of the local scores
    assert mine == pytest.approx(sum(local_scores(net, df, ours, ess=ess).values()), rel=1e-12)


def test_score_from_counts_and_errors() -> None:
    table = np.array([[3, 1], [0, 4]])
    ll = 3 * math.log(3 / 4) + math.log(1 / 4)
    assert local_score_from_counts(table, "loglik") == pytest.approx(ll)
    with pytest.raises(ScoreError, match="unknown score"):
        local_score_from_counts(table, "mdl2")
    with pytest.raises(ScoreError, match="ess > 0"):
        local_score_from_counts(table, "bdeu", ess=0.0)
    with pytest.raises(ScoreError, match="weights"):
        FamilyScorer(np.zeros((3, 2), dtype=int), [2, 2], weights=np.array([1.0, -1.0, 1.0]))
