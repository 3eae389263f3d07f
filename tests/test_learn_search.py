"""Score-based search: recovery of known networks, local optimality, tabu/restarts, options."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import DataError, StructureError
from bnlab.learn import Constraints, LearnResult, learn_structure, shd, structure_score
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
    from bnlab.data import _categorical_codes, infer_structure, prepare_data

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


# -- tree start (maximum-weight spanning forest of pair gains) ---------------------------------


def _small_scorer(score: str, seed: int, n: int = 800):
    """A scorer over 5 dependent variables of 2-4 states (exhaustive checks stay cheap)."""
    from bnlab.learn.scores import FamilyScorer

    rng = np.random.default_rng(seed)
    cards = [2, 3, 4, 2, 3]
    a = rng.integers(0, 2, n)
    b = (a + rng.integers(0, 2, n)) % 3
    c = (2 * b + (rng.random(n) < 0.3)) % 4
    d = ((c > 1) ^ (rng.random(n) < 0.2)).astype(int)
    e = (a + d + rng.integers(0, 2, n)) % 3
    return FamilyScorer(np.stack([a, b, c, d, e], axis=1), cards, score), len(cards)


def _is_dag(parents) -> bool:
    adj = np.zeros((len(parents), len(parents)), dtype=bool)
    for y, ps in enumerate(parents):
        adj[list(ps), y] = True
    # has_cycle reads a pair of opposite edges as one undirected edge: check 2-cycles here
    return not (adj & adj.T).any() and not has_cycle(adj)


@pytest.mark.parametrize("score", ["bic", "bdeu", "aic"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tree_start_is_the_best_graph_with_at_most_one_parent_each(score, seed) -> None:
    """Brute force over every DAG in which no variable has two parents (Chow-Liu)."""
    import itertools

    from bnlab.learn.search import _Search

    sc, p = _small_scorer(score, seed)
    st = _Search(sc, np.ones((p, p), dtype=bool), np.zeros((p, p), dtype=bool), None)
    st.set_graph([() for _ in range(p)])
    st.climb(100, 1e-9)  # the tree is built from wherever the search stands
    tree = st.tree_start([() for _ in range(p)])
    assert _is_dag(tree) and all(len(ps) <= 1 for ps in tree)
    best = -np.inf
    for choice in itertools.product(range(-1, p), repeat=p):
        parents = [() if c < 0 else (c,) for c in choice]
        if any(c == y for y, c in enumerate(choice)) or not _is_dag(parents):
            continue
        best = max(best, sum(sc.score(y, ps) for y, ps in enumerate(parents)))
    got = sum(sc.score(y, ps) for y, ps in enumerate(tree))
    assert got == pytest.approx(best, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_tree_start_keeps_the_start_and_honours_constraints(seed) -> None:
    """Random forbidden edges, tiers, required/start edges and in-degree caps."""
    from bnlab.learn.scores import FamilyScorer
    from bnlab.learn.search import _Search

    net = bnlab.load_example("child")
    codes = bnlab.encode(bnlab.sample(net, 1500, seed=seed), net)
    cards = [net.cards[v] for v in net.variables]
    p = len(cards)
    rng = np.random.default_rng(seed)
    allowed = rng.random((p, p)) < 0.7
    tier = rng.integers(0, 3, p)
    allowed &= ~(tier[:, None] > tier[None, :])
    np.fill_diagonal(allowed, False)
    max_in = int(rng.integers(1, 4)) if seed % 3 else None
    # a start graph: a few allowed edges that follow a random order (so it is a DAG)
    order = rng.permutation(p)
    rank = np.empty(p, dtype=int)
    rank[order] = np.arange(p)
    start: list[list[int]] = [[] for _ in range(p)]
    for x, y in zip(*np.nonzero(allowed & (rank[:, None] < rank[None, :])), strict=True):
        if rng.random() < 0.04 and len(start[y]) < (max_in or p):
            start[y].append(int(x))
    start_t = [tuple(sorted(ps)) for ps in start]
    required = np.zeros((p, p), dtype=bool)
    for y, ps in enumerate(start_t):
        for x in ps[:1]:
            required[x, y] = True
    st = _Search(FamilyScorer(codes, cards, "bic"), allowed, required, max_in)
    st.set_graph(start_t)
    tree = st.tree_start(start_t)
    assert _is_dag(tree)
    for y in range(p):
        assert set(start_t[y]) <= set(tree[y])  # start (and required) edges kept
        new = set(tree[y]) - set(start_t[y])
        assert all(allowed[x, y] for x in new)
        if new:
            assert len(tree[y]) <= (max_in if max_in is not None else p)
    added = sum(len(t) - len(s) for t, s in zip(tree, start_t, strict=True))
    assert added > 0  # child's variables are strongly dependent: the forest adds edges


def test_tree_start_with_no_parent_slots_adds_nothing() -> None:
    from bnlab.learn.search import _Search

    sc, p = _small_scorer("bic", 0)
    st = _Search(sc, np.ones((p, p), dtype=bool), np.zeros((p, p), dtype=bool), 0)
    st.set_graph([() for _ in range(p)])
    assert st.tree_start([() for _ in range(p)]) == [() for _ in range(p)]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("score", ["bic", "bdeu", "k2"])
def test_tree_start_never_below_hill_climbing_and_honours_knowledge(seed, score) -> None:
    net = bnlab.load_example("insurance")
    df = bnlab.sample(net, 1500, seed=seed)
    knowledge = {
        "required": [["Age", "RiskAversion"]],
        "forbidden": [["Accident", "Age"], ["MakeModel", "SocioEcon"]],
        "tiers": [["Age", "SocioEcon"], ["RiskAversion", "GoodStudent"]],
    }
    kw = {"constraints": knowledge, "max_indegree": 2 + seed % 2, "return_info": True}
    hc = learn_structure(df, score, "hc", **kw)
    runs = [
        learn_structure(df, score, "hc", tree_start=True, **kw),
        learn_structure(df, score, "tabu", **kw),  # the tree start is on by default
        learn_structure(df, score, "tabu", tree_start=False, **kw),
    ]
    cons = Constraints.from_dict(knowledge)
    for r in runs:
        assert r.score >= hc.score - 1e-6
        assert r.score == pytest.approx(structure_score(r.structure, df, score), rel=1e-10)
        assert cons.satisfied_by(r.structure.edges)
        assert max(len(ps) for ps in r.structure.parents.values()) <= kw["max_indegree"]
        assert not has_cycle(adjacency(r.structure))


def test_tree_start_default_is_on_for_tabu_only() -> None:
    """``tree_start=None`` means on for tabu, off for hc (hc stays plain hill climbing)."""
    net = bnlab.load_example("alarm")
    df = bnlab.sample(net, 1000, seed=42)
    hc = learn_structure(df, "bic", "hc", return_info=True)
    hc_off = learn_structure(df, "bic", "hc", tree_start=False, return_info=True)
    assert hc.structure.edges == hc_off.structure.edges and hc.score == hc_off.score
    tabu = learn_structure(df, "bic", "tabu", return_info=True)
    tabu_on = learn_structure(df, "bic", "tabu", tree_start=True, return_info=True)
    assert tabu.structure.edges == tabu_on.structure.edges and tabu.score == tabu_on.score
    # on these rows (the benchmark's ALARM 1k BIC case) the tree start finds a better graph
    plain = learn_structure(df, "bic", "tabu", tree_start=False, return_info=True)
    assert tabu.score > plain.score + 1.0


@pytest.mark.parametrize("method", ["hc", "tabu"])
def test_numpy_fast_path_finds_the_compiled_search_graph(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small data in a fresh process search with numpy alone (no numba load); the graph and
    score are the compiled kernels' to the last move."""
    from bnlab.learn import core

    net = bnlab.load_example("alarm")
    df = bnlab.sample(net, n=2_000, seed=3)
    found = {}
    for engine in ("numpy", "numba"):
        monkeypatch.setattr(core, "counting_engine", lambda shape, e=engine: e)
        found[engine] = learn_structure(df, "bic", method, return_info=True)
    assert found["numpy"].structure.edges == found["numba"].structure.edges
    assert found["numpy"].score == pytest.approx(found["numba"].score, rel=1e-12)


def test_small_data_search_in_a_fresh_process_loads_no_numba() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bnlab\n"
        "df = bnlab.sample(bnlab.load_example('asia'), n=1000, seed=0)\n"
        "bnlab.learn_structure(df, 'bic', 'hc')\n"
        "print('numba' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
