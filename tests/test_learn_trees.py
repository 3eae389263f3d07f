"""TAN and Chow-Liu trees equal a brute-force maximum spanning tree of (conditional) MI."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from bnlab.learn.trees import (
    classifier_parents,
    information_matrix,
    maximum_spanning_tree,
    mutual_information,
)


def sample_codes(seed: int, n: int = 300, k: int = 5) -> np.ndarray:
    """Dependent categorical columns: each column copies a random earlier one with noise."""
    rng = np.random.default_rng(seed)
    cols = [rng.integers(0, 3, n)]
    for j in range(1, k):
        src = cols[rng.integers(0, j)]
        noise = rng.random(n) < rng.uniform(0.2, 0.7)
        cols.append(np.where(noise, rng.integers(0, 3, n), src))
    return np.stack(cols, axis=1)


def oracle_cmi(x: np.ndarray, y: np.ndarray, z: np.ndarray | None) -> float:
    if z is None:
        return float(mutual_info_score(x, y))
    return float(
        sum(np.mean(z == v) * mutual_info_score(x[z == v], y[z == v]) for v in np.unique(z))
    )


def find(root: list[int], a: int) -> int:
    while root[a] != a:
        a = root[a]
    return a


def brute_force_tree(w: np.ndarray) -> set[frozenset[int]]:
    k = w.shape[0]
    best, best_edges = -np.inf, None
    for edges in itertools.combinations(itertools.combinations(range(k), 2), k - 1):
        root = list(range(k))
        ok = True
        for i, j in edges:
            ri, rj = find(root, i), find(root, j)
            if ri == rj:
                ok = False
                break
            root[ri] = rj
        total = sum(w[e] for e in edges)
        if ok and total > best:
            best, best_edges = total, edges
    assert best_edges is not None
    return {frozenset(e) for e in best_edges}


@pytest.mark.parametrize("seed", range(4))
def test_mutual_information_equals_sklearn(seed: int) -> None:
    c = sample_codes(seed)
    assert mutual_information(c[:, 0], c[:, 1]) == pytest.approx(oracle_cmi(c[:, 0], c[:, 1], None))
    assert mutual_information(c[:, 1], c[:, 2], c[:, 0]) == pytest.approx(
        oracle_cmi(c[:, 1], c[:, 2], c[:, 0])
    )


@pytest.mark.parametrize("seed", range(6))
def test_chow_liu_equals_brute_force(seed: int) -> None:
    c = sample_codes(seed)
    k = c.shape[1]
    w = np.array(
        [
            [oracle_cmi(c[:, i], c[:, j], None) if i != j else 0.0 for j in range(k)]
            for i in range(k)
        ]
    )
    names = [f"v{i}" for i in range(k)]
    parents = classifier_parents(c, names, "v0", "chow_liu")
    edges = {frozenset((names.index(p), names.index(v))) for v, ps in parents.items() for p in ps}
    assert edges == brute_force_tree(w)
    assert parents["v0"] == ()  # rooted at the class


@pytest.mark.parametrize("seed", range(6))
def test_tan_equals_brute_force_of_conditional_mi(seed: int) -> None:
    c = sample_codes(seed, k=6)
    target = 2
    feats = [i for i in range(6) if i != target]
    w = np.array(
        [
            [oracle_cmi(c[:, i], c[:, j], c[:, target]) if i != j else 0.0 for j in feats]
            for i in feats
        ]
    )
    names = [f"v{i}" for i in range(6)]
    parents = classifier_parents(c, names, "v2", "tan")
    assert parents["v2"] == ()
    tree = set()
    for f in feats:
        ps = parents[f"v{f}"]
        assert ps[0] == "v2" and len(ps) <= 2
        if len(ps) == 2:
            tree.add(frozenset((feats.index(f), feats.index(int(ps[1][1:])))))
    assert tree == brute_force_tree(w)


def test_brute_force_disagrees_with_a_wrong_tree() -> None:
    w = np.array([[0, 3, 1], [3, 0, 2], [1, 2, 0]], dtype=float)
    assert {frozenset(e) for e in maximum_spanning_tree(w)} == {
        frozenset((0, 1)),
        frozenset((1, 2)),
    }
    assert brute_force_tree(w) != {frozenset((0, 2)), frozenset((1, 2))}


def test_naive_bayes_parents() -> None:
    c = sample_codes(0, k=3)
    assert classifier_parents(c, ["a", "b", "c"], "b", "naive_bayes") == {
        "a": ("b",),
        "b": (),
        "c": ("b",),
    }


def test_information_matrix_equals_pairwise_with_missing_values() -> None:
    c = sample_codes(7, k=4)
    c[::7, 1] = -1
    c[::5, 2] = -1
    z = sample_codes(8, k=1)[:, 0]
    m = information_matrix(c, z)
    for i in range(4):
        for j in range(4):
            if i != j:
                assert m[i, j] == pytest.approx(mutual_information(c[:, i], c[:, j], z), abs=1e-12)
