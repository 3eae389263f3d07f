"""Classifier structures: naive Bayes, TAN and Chow-Liu trees from (conditional) mutual information.

- naive Bayes: the class is the only parent of every feature;
- Chow-Liu (Chow & Liu 1968): the maximum spanning tree of pairwise mutual information over
  all variables (class included), directed away from the class;
- TAN (Friedman, Geiger & Goldszmidt 1997): the maximum spanning tree of mutual information
  conditional on the class over the features, directed away from the first feature, plus the
  class as a parent of every feature.

Information is empirical (plug-in, nats) on the rows where the variables involved are
observed; codes are integers with -1 = missing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def mutual_information(
    x: NDArray[np.integer], y: NDArray[np.integer], z: NDArray[np.integer] | None = None
) -> float:
    """Empirical (conditional) mutual information ``I(x; y | z)`` in nats.

    Rows where any of the variables is missing (``-1``) are left out.
    """
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    zz = np.zeros_like(x) if z is None else np.asarray(z, dtype=np.int64)
    keep = (x >= 0) & (y >= 0) & (zz >= 0)
    x, y, zz = x[keep], y[keep], zz[keep]
    n = x.size
    if n == 0:
        return 0.0
    cx, cy, cz = int(x.max()) + 1, int(y.max()) + 1, int(zz.max()) + 1
    joint = np.bincount((zz * cx + x) * cy + y, minlength=cz * cx * cy).reshape(cz, cx, cy)
    joint = joint.astype(np.float64)
    pz = joint.sum(axis=(1, 2), keepdims=True)
    pxz = joint.sum(axis=2, keepdims=True)
    pyz = joint.sum(axis=1, keepdims=True)
    nz = joint > 0
    ratio = np.ones_like(joint)
    ratio[nz] = (joint * pz)[nz] / (pxz * pyz)[nz]
    return float(np.sum(joint[nz] * np.log(ratio[nz])) / n)


def information_matrix(
    codes: NDArray[np.integer], given: NDArray[np.integer] | None = None
) -> NDArray[np.float64]:
    """Symmetric matrix of ``I(X_i; X_j [| given])`` over the columns of ``codes``.

    Every pairwise table comes from one product of one-hot matrices (per state of ``given``),
    so all pairs cost about one pass over the data; each pair uses the rows where both (and
    ``given``) are observed, as :func:`mutual_information` does.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n, k = codes.shape
    cards = np.maximum(codes.max(axis=0, initial=-1) + 1, 1) if n else np.ones(k, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(cards)])
    z = np.zeros(n, dtype=np.int64) if given is None else np.asarray(given, dtype=np.int64)
    width = int(offsets[-1])
    joint = np.zeros((int(z.max(initial=0)) + 1, width, width))
    for c in range(joint.shape[0]):
        rows = codes[z == c]
        hot = np.zeros((rows.shape[0], width))
        r, j = np.nonzero(rows >= 0)
        hot[r, offsets[j] + rows[r, j]] = 1.0
        joint[c] = hot.T @ hot
    # per (class, state a, block j): rows with state a whose partner column j is observed
    starts = offsets[:-1]
    block = np.repeat(np.arange(k), cards)
    by_block = np.add.reduceat(joint, starts, axis=2)  # (C, W, k)
    pair_class = np.add.reduceat(by_block, starts, axis=1)  # (C, k, k)
    pxz = by_block[:, :, block]  # [c, a, b] -> count of a given b's column observed
    pyz = pxz.transpose(0, 2, 1)
    pz = pair_class[:, block][:, :, block]
    nz = joint > 0
    terms = np.zeros_like(joint)
    terms[nz] = joint[nz] * np.log(joint[nz] * pz[nz] / (pxz[nz] * pyz[nz]))
    summed = np.add.reduceat(np.add.reduceat(terms.sum(axis=0), starts, axis=0), starts, axis=1)
    totals = pair_class.sum(axis=0)
    out = np.divide(summed, totals, out=np.zeros((k, k)), where=totals > 0)
    np.fill_diagonal(out, 0.0)
    result: NDArray[np.float64] = out
    return result


def maximum_spanning_tree(weights: NDArray[np.floating]) -> list[tuple[int, int]]:
    """Edges ``(i, j)``, ``i < j``, of a maximum spanning tree (Kruskal; ties by index)."""
    k = weights.shape[0]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    pairs.sort(key=lambda e: (-float(weights[e]), e))
    root = list(range(k))

    def find(a: int) -> int:
        while root[a] != a:
            root[a] = root[root[a]]
            a = root[a]
        return a

    tree: list[tuple[int, int]] = []
    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            root[ri] = rj
            tree.append((i, j))
    return sorted(tree)


def orient_tree(edges: Sequence[tuple[int, int]], k: int, root: int) -> dict[int, int]:
    """``{child: parent}`` of an undirected tree (or forest) directed away from ``root``."""
    nbrs: dict[int, list[int]] = {i: [] for i in range(k)}
    for i, j in edges:
        nbrs[i].append(j)
        nbrs[j].append(i)
    parent: dict[int, int] = {}
    seen = {root}
    stack = [root]
    for start in [root, *range(k)]:
        if start not in seen:
            seen.add(start)
            stack.append(start)
        while stack:
            a = stack.pop()
            for b in sorted(nbrs[a]):
                if b not in seen:
                    seen.add(b)
                    parent[b] = a
                    stack.append(b)
    return parent


def classifier_parents(
    codes: NDArray[np.integer], names: Sequence[str], target: str, kind: str
) -> dict[str, tuple[str, ...]]:
    """Parents of every variable of a naive Bayes, TAN or Chow-Liu classifier.

    Parameters
    ----------
    codes
        ``(rows, variables)`` integer codes, -1 = missing, columns in ``names`` order.
    names
        Variable names; ``target`` is one of them.
    target
        The class variable.
    kind
        ``"naive_bayes"``, ``"tan"`` or ``"chow_liu"``.
    """
    t = list(names).index(target)
    features = [i for i in range(len(names)) if i != t]
    parents: dict[str, tuple[str, ...]] = {n: () for n in names}
    if kind == "naive_bayes":
        for i in features:
            parents[names[i]] = (target,)
        return parents
    if kind == "chow_liu":
        tree = maximum_spanning_tree(information_matrix(codes))
        for child, par in orient_tree(tree, len(names), t).items():
            parents[names[child]] = (names[par],)
        return parents
    if kind != "tan":
        raise ValueError(f"unknown classifier structure {kind!r}")
    sub = codes[:, features]
    tree = maximum_spanning_tree(information_matrix(sub, codes[:, t]))
    for i in features:
        parents[names[i]] = (target,)
    for child, par in orient_tree(tree, len(features), 0).items():
        parents[names[features[child]]] = (target, names[features[par]])
    return parents
