"""PC-stable: conditional-independence tests to a skeleton, then a CPDAG and a DAG extension.

Skeleton search follows Colombo & Maathuis (2014): at each conditioning-set size ``l`` the
adjacencies are frozen first, so the result does not depend on the variable order. For one
pair, the contingency tables of all its candidate conditioning sets are counted in a single
``np.bincount`` (flat indices stacked with offsets). Tests are G² (likelihood ratio) or
Pearson's X², with degrees of freedom ``sum_s (r_x(s) - 1)(r_y(s) - 1)`` over the strata ``s``
that were observed, ``r_x(s)`` counting the states of ``x`` seen in stratum ``s`` (empty rows
and columns are not free parameters). Rows missing a value of ``x``, ``y`` or the
conditioning set are left out of that test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray
from scipy.special import xlogy
from scipy.stats import chi2

from bnlab.errors import StructureError
from bnlab.learn.constraints import Constraints, Edge
from bnlab.learn.cpdag import dag_extension, edge_lists, meek_rules

TESTS = ("g2", "x2")


@dataclass(frozen=True)
class PCResult:
    """Output of :func:`pc_stable` (index-level; ``core`` adds names)."""

    skeleton: NDArray[np.bool_]
    cpdag: NDArray[np.bool_]
    dag: NDArray[np.bool_]
    exact_extension: bool
    sepsets: dict[tuple[int, int], tuple[int, ...]]
    n_tests: int
    cpdag_edges: dict[str, list[Edge]]


def ci_statistics(
    tables: NDArray[np.number], test: str = "g2"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Statistic and adjusted degrees of freedom of tables shaped ``(m, strata, rx, ry)``."""
    t = tables.astype(np.float64)
    nxs = t.sum(axis=3, keepdims=True)
    nys = t.sum(axis=2, keepdims=True)
    ns = t.sum(axis=(2, 3), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(ns > 0, nxs * nys / np.where(ns > 0, ns, 1.0), 0.0)
    if test == "g2":
        ratio = np.where(expected > 0, t / np.where(expected > 0, expected, 1.0), 1.0)
        stat = 2.0 * xlogy(t, ratio).sum(axis=(1, 2, 3))
    else:
        diff2 = np.where(expected > 0, (t - expected) ** 2 / np.where(expected > 0, expected, 1), 0)
        stat = diff2.sum(axis=(1, 2, 3))
    rx = (nxs[..., 0] > 0).sum(axis=2)  # (m, strata)
    ry = (nys[..., 0, :] > 0).sum(axis=2)
    dof = (np.maximum(rx - 1, 0) * np.maximum(ry - 1, 0)).sum(axis=1)
    return np.maximum(stat, 0.0), dof.astype(np.float64)


def ci_pvalues(
    codes_t: NDArray[np.int64],
    cards: NDArray[np.int64],
    x: int,
    y: int,
    sets: Sequence[Sequence[int]],
    test: str = "g2",
) -> NDArray[np.float64]:
    """p-values of ``x _||_ y | S`` for every ``S`` in ``sets``, counted in one bincount."""
    rx, ry = int(cards[x]), int(cards[y])
    base = codes_t[x] * ry + codes_t[y]
    miss = (codes_t[x] < 0) | (codes_t[y] < 0)
    pieces = []
    qs = []
    offset = 0
    for s in sets:
        q = 1
        idx = np.zeros_like(base)
        m = miss.copy()
        for v in s:
            idx = idx * cards[v] + codes_t[v]
            q *= int(cards[v])
            m |= codes_t[v] < 0
        flat = idx * (rx * ry) + base + offset
        flat[m] = -1
        pieces.append(flat)
        qs.append(q)
        offset += q * rx * ry
    flat_all = np.concatenate(pieces)
    flat_all[flat_all < 0] = offset
    counts = np.bincount(flat_all, minlength=offset + 1)[:offset]
    out = np.empty(len(sets))
    start = 0
    for i, q in enumerate(qs):
        size = q * rx * ry
        tab = counts[start : start + size].reshape(1, q, rx, ry)
        start += size
        stat, dof = ci_statistics(tab, test)
        out[i] = 1.0 if dof[0] <= 0 else float(chi2.sf(stat[0], dof[0]))
    return out


def pc_stable(
    codes: NDArray[np.integer],
    cards: Sequence[int],
    variables: Sequence[str],
    *,
    alpha: float = 0.05,
    test: str = "g2",
    constraints: Constraints | None = None,
    max_cond: int | None = None,
) -> PCResult:
    """PC-stable skeleton, v-structures, Meek's rules and a consistent DAG extension.

    Expert knowledge acts as background knowledge: required edges are never removed and
    are oriented as given, forbidden pairs (both directions forbidden) are never adjacent,
    an edge allowed in one direction only is oriented that way before Meek's rules.
    """
    if test not in TESTS:
        raise StructureError(f"unknown test {test!r}; choose one of {list(TESTS)}.")
    if not 0 < alpha < 1:
        raise StructureError(f"alpha must lie in (0, 1), got {alpha!r}.")
    cons = constraints or Constraints()
    allowed, required = cons.masks(variables)
    codes_t = np.ascontiguousarray(np.asarray(codes).T, dtype=np.int64)
    cardv = np.asarray(cards, dtype=np.int64)
    p = len(variables)
    must = required | required.T
    adj = (allowed | allowed.T) | must
    np.fill_diagonal(adj, False)
    sepsets: dict[tuple[int, int], tuple[int, ...]] = {}
    n_tests = 0
    level = 0
    limit = p if max_cond is None else int(max_cond)
    while level <= limit:
        frozen = adj.copy()
        any_pair = False
        for x in range(p):
            for yy in np.flatnonzero(adj[x]):
                y = int(yy)
                if not adj[x, y] or must[x, y]:
                    continue
                nb = [int(v) for v in np.flatnonzero(frozen[x]) if v != y]
                if len(nb) < level:
                    continue
                any_pair = True
                sets = list(combinations(nb, level))
                pv = ci_pvalues(codes_t, cardv, x, y, sets, test)
                n_tests += len(sets)
                hit = np.flatnonzero(pv > alpha)
                if len(hit):
                    adj[x, y] = adj[y, x] = False
                    sepsets[(x, y)] = sepsets[(y, x)] = tuple(sets[int(hit[0])])
        if not any_pair:
            break
        level += 1
    skeleton = adj.copy()
    g = adj.copy()
    # background knowledge: one-way edges
    one_way = adj & allowed & ~allowed.T
    g[one_way.T] = False
    g[required.T & adj] = False
    g[required & adj] = True
    # v-structures x -> z <- y for non-adjacent x, y with z not in their separating set
    for z in range(p):
        for i, j in combinations(np.flatnonzero(adj[z]).tolist(), 2):
            if adj[i, j]:
                continue
            sep = sepsets.get((int(i), int(j)), ())
            if z in sep:
                continue
            # orient unless an edge already points out of z (first orientation wins)
            if g[i, z] and g[j, z] and not (required[z, i] or required[z, j]):
                g[z, i] = g[z, j] = False
    g = meek_rules(g)
    dag, exact = dag_extension(g)
    # the extension must honour the knowledge: drop any edge it forbids
    dag &= allowed | required
    return PCResult(skeleton, g, dag, exact, sepsets, n_tests, edge_lists(g, list(variables)))
