"""Score-based search: recovery of known networks, local optimality, tabu/restarts, options."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import DataError, StructureError
from bnlab.learn import LearnResult, learn_structure, shd, structure_score
from bnlab.learn.cpdag import adjacency, has_cycle


@pytest.fixture(scope="module")
def asia_df() -> tuple[bnlab.BayesNet, pd.DataFrame]:
    net = bnlab.load_example("asia")
    return net, bnlab.sample(net, 20_000, seed=0)


# Reference SHDs (CPDAG vs true CPDAG) measured on these seeds; the bounds leave a margin.
@pytest.mark.parametrize(
    ("name", "n", "score", "method", "max_shd"),
    [
        ("asia", 20_000, "bic", "hc", 1),  # measured 0
        ("asia", 20_000, "bdeu", "tabu", 1),  # measured 0
        ("child", 20_000, "bdeu", "hc", 3),  # measured 0
        ("child", 20_000, "bic", "tabu", 4),  # measured 0
        ("insurance", 20_000, "bdeu", "hc", 16),  # measured 9 (52 true edges)
    ],
)
def test_recovers_true_cpdag(name, n, score, method, max_shd) -> None:
    net = bnlab.load_example(name)
    df = bnlab.sample(net, n, seed=0)
    learned = learn_structure(df, score, method)
    assert set(learned.variables) == set(net.variables)
    assert dict(learned.states) == dict(net.states)
    assert shd(learned, net) <= max_shd


def test_hill_climbing_ends_at_a_local_optimum(asia_df) -> None:
    """No single add / delete / reverse improves the score (brute force over all moves)."""
    net, df = asia_df
    df = df.iloc[:3000]
    res = learn_structure(df, "bic", "hc", return_info=True)
    s = res.structure
    base = structure_score(s, df, "bic")
    assert base == pytest.approx(res.score, rel=1e-12)
    parents = {v: set(s.parents[v]) for v in s.variables}
    for x in s.variables:
        for y in s.variables:
            if x == y:
                continue
            cands = []
            if x in parents[y]:
                cands.append({**parents, y: parents[y] - {x}})
                cands.append({**parents, y: parents[y] - {x}, x: parents[x] | {y}})
            elif y not in parents[x]:
                cands.append({**parents, y: parents[y] | {x}})
            for cand in cands:
                try:
                    g = s.with_parents({k: sorted(v) for k, v in cand.items()})
                except StructureError:
                    continue  # the move closes a cycle
                assert structure_score(g, df, "bic") <= base + 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("score", ["bic", "bdeu"])
def test_tabu_and_restarts_never_below_hill_climbing(seed, score) -> None:
    net = bnlab.load_example("child")
    df = bnlab.sample(net, 3000, seed=seed)
    start = [("Disease", "Age"), ("Sick", "Disease")]  # same (poor) start for all
    hc = learn_structure(df, score, "hc", start=start, return_info=True)
    tabu = learn_structure(df, score, "tabu", start=start, return_info=True)
    rr = learn_structure(df, score, "hc", start=start, restarts=3, seed=seed, return_info=True)
    assert tabu.score >= hc.score - 1e-6
    assert rr.score >= hc.score - 1e-6
    for r in (hc, tabu, rr):
        assert r.score == pytest.approx(structure_score(r.structure, df, score), rel=1e-10)


def test_max_indegree_and_start_graph(asia_df) -> None:
    net, df = asia_df
    s = learn_structure(df, "bic", max_indegree=1)
    assert max(len(p) for p in s.parents.values()) <= 1
    none = learn_structure(df, "bic", max_indegree=0)
    assert none.edges == []
    # starting at the true graph, hill climbing keeps a graph at least as good
    res = learn_structure(df, "bic", start=net, return_info=True)
    assert res.score >= structure_score(net, df, "bic") - 1e-6
    assert not has_cycle(adjacency(res.structure))


def test_missing_values_are_complete_case_per_family(asia_df) -> None:
    net, df = asia_df
    df = df.iloc[:5000].copy()
    rng = np.random.default_rng(0)
    holes = rng.random(len(df)) < 0.1
    df.loc[holes, "xray"] = np.nan
    res = learn_structure(df, "bic", return_info=True)
    assert isinstance(res, LearnResult)
    assert res.n_rows == 5000
    assert res.n_dropped["xray"] == int(holes.sum())
    for v in res.structure.variables:
        fam = {v, *res.structure.parents[v]}
        assert res.n_dropped[v] == (int(holes.sum()) if "xray" in fam else 0)


def test_integer_codes_need_a_structure_and_bad_inputs_fail(asia_df) -> None:
    net, df = asia_df
    codes = bnlab.encode(df.iloc[:2000], net)
    s = learn_structure(codes, "bic", structure=net.structure)
    assert set(s.variables) == set(net.variables)
    with pytest.raises(DataError, match="structure"):
        learn_structure(codes, "bic")
    with pytest.raises(StructureError, match="unknown method"):
        learn_structure(df, "bic", method="annealing")
    with pytest.raises(StructureError, match="max_indegree"):
        learn_structure(df, "bic", max_indegree=-1)
    with pytest.raises(DataError, match="no rows"):
        learn_structure(df.iloc[:0], "bic")


def test_top_level_name_matches_design() -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, 5000, seed=1)
    s = bnlab.learn_structure(df, score="bic", method="hc")
    assert isinstance(s, bnlab.Structure)
    assert s.states == net.states


def test_only_the_changed_family_is_rescored(asia_df) -> None:
    from bnlab.learn.scores import FamilyScorer
    from bnlab.learn.search import _Search

    net, df = asia_df
    codes = bnlab.encode(df.iloc[:2000], net)
    cards = [net.cards[v] for v in net.variables]
    sc = FamilyScorer(codes, cards, "bic")
    p = len(cards)
    st = _Search(sc, np.ones((p, p), dtype=bool), np.zeros((p, p), dtype=bool), None)
    st.set_graph([() for _ in range(p)])
    before = sc.n_counted
    st.apply(0, 2, 3)  # add smoke -> lung: only lung's column is recounted
    assert 0 < sc.n_counted - before <= p - 1
    before = sc.n_counted
    st.apply(1, 2, 3)  # delete it again: back to a cached family, nothing is counted
    assert sc.n_counted == before
    # the cached local score equals a fresh computation
    fresh = FamilyScorer(codes, cards, "bic", compress=False)
    assert sc.score(3, (2,)) == pytest.approx(fresh.score(3, (2,)), rel=1e-12)


def test_categorical_frames_take_a_fast_path_with_the_same_codes() -> None:
    """Categorical columns: codes and states as ``infer_structure`` + ``encode`` give them."""
    from bnlab.learn.core import _categorical_codes, infer_structure, prepare_data

    net = bnlab.load_example("alarm")
    df = bnlab.sample(net, 500, seed=2, missing=0.05)
    base, codes = prepare_data(df, None)
    want = infer_structure(df)
    assert base.variables == want.variables and base.states == want.states
    want_codes = bnlab.encode(df, want)
    assert np.array_equal(codes, want_codes) and codes.dtype == want_codes.dtype
    # anything else takes the general path
    assert _categorical_codes(df.astype({df.columns[0]: str})) is None
    assert _categorical_codes(df.set_axis(range(df.shape[1]), axis=1)) is None
    with pytest.raises(DataError, match="no rows"):
        prepare_data(df.iloc[:0], None)
