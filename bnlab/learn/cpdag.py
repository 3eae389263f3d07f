"""Equivalence classes: CPDAG of a DAG, Meek's orientation rules, and DAG extension.

Graphs here are boolean ``(p, p)`` matrices ``g``: ``g[a, b] and not g[b, a]`` is a directed
edge ``a -> b``, ``g[a, b] and g[b, a]`` an undirected edge ``a - b``. A DAG is a matrix with
no undirected edges and no directed cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bnlab.network import Structure


def adjacency(structure: Structure, variables: Sequence[str] | None = None) -> NDArray[np.bool_]:
    """Adjacency matrix ``g[parent, child]`` of a structure (in ``variables`` order)."""
    order = list(structure.variables if variables is None else variables)
    idx = {v: i for i, v in enumerate(order)}
    g = np.zeros((len(order), len(order)), dtype=bool)
    for a, b in structure.edges:
        g[idx[a], idx[b]] = True
    return g


def v_structures(dag: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Edges of a DAG that take part in a v-structure ``a -> c <- b`` (a, b non-adjacent)."""
    skel = dag | dag.T
    keep = np.zeros_like(dag)
    for c in range(dag.shape[0]):
        pa = np.flatnonzero(dag[:, c])
        if len(pa) < 2:
            continue
        sub = skel[np.ix_(pa, pa)]
        nonadj = ~sub
        np.fill_diagonal(nonadj, False)
        involved = nonadj.any(axis=1)
        keep[pa[involved], c] = True
    return keep


def meek_rules(g: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Apply Meek's rules R1-R3 until no undirected edge can be oriented further."""
    g = g.copy()
    skel = g | g.T
    changed = True
    while changed:
        changed = False
        und = g & g.T
        directed = g & ~g.T
        for a, b in zip(*np.nonzero(np.triu(und)), strict=True):
            for x, y in ((a, b), (b, a)):
                if not (g[x, y] and g[y, x]):
                    break
                # R1: z -> x - y, z and y non-adjacent  =>  x -> y
                r1 = directed[:, x] & ~skel[:, y]
                r1[y] = False
                # R2: x -> z -> y and x - y  =>  x -> y
                r2 = directed[x, :] & directed[:, y]
                # R3: x - z1 -> y, x - z2 -> y, z1, z2 non-adjacent  =>  x -> y
                z = np.flatnonzero(und[x, :] & directed[:, y])
                r3 = False
                if len(z) >= 2:
                    sub = skel[np.ix_(z, z)]
                    r3 = bool((~sub & ~np.eye(len(z), dtype=bool)).any())
                if r1.any() or r2.any() or r3:
                    g[y, x] = False
                    changed = True
                    und = g & g.T
                    directed = g & ~g.T
                    break
    return g


def cpdag(dag: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Return the CPDAG (essential graph): v-structures, closed under Meek's rules."""
    skel = dag | dag.T
    v = v_structures(dag)
    g = skel & ~v.T  # v-structure edges keep one direction, every other edge is undirected
    return meek_rules(g)


def has_cycle(dag: NDArray[np.bool_]) -> bool:
    """Whether the directed part of ``dag`` has a directed cycle."""
    d = (dag & ~dag.T).astype(np.int64)
    indeg = d.sum(axis=0)
    stack = list(np.flatnonzero(indeg == 0))
    seen = 0
    while stack:
        v = stack.pop()
        seen += 1
        for c in np.flatnonzero(d[v]):
            indeg[c] -= 1
            if indeg[c] == 0:
                stack.append(c)
    return bool(seen < d.shape[0])


def dag_extension(pdag: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], bool]:
    """Return a DAG with the PDAG's skeleton and orientations (Dor & Tarsi 1992).

    Returns ``(dag, exact)``. When the PDAG admits no consistent extension (possible for
    PC's output on finite data), the remaining undirected edges are oriented along a
    topological order of the directed part, conflicting directed edges that close a cycle
    are dropped, and ``exact`` is False.
    """
    g = pdag.copy()
    p = g.shape[0]
    out = g & ~g.T
    alive = np.ones(p, dtype=bool)
    while alive.any():
        found = False
        for x in np.flatnonzero(alive):
            sub_dir_out = g[x] & ~g[:, x] & alive
            if sub_dir_out.any():
                continue  # not a sink among the remaining nodes
            und_nb = np.flatnonzero(g[x] & g[:, x] & alive)
            adj_nb = np.flatnonzero((g[x] | g[:, x]) & alive)
            ok = True
            for y in und_nb:
                others = adj_nb[adj_nb != y]
                if not np.all(g[y, others] | g[others, y]):
                    ok = False
                    break
            if ok:
                for y in und_nb:
                    out[y, x] = True
                    out[x, y] = False
                alive[x] = False
                found = True
                break
        if not found:
            break
    if not alive.any():
        return out, True
    # fallback: orient the rest along a topological order of the directed edges
    d = out.copy()
    while has_cycle(d):
        d = _drop_one_cycle_edge(d)
    order = _topo(d)
    pos = np.empty(p, dtype=np.int64)
    pos[order] = np.arange(p)
    und = pdag & pdag.T
    for a, b in zip(*np.nonzero(np.triu(und)), strict=True):
        if d[a, b] or d[b, a]:
            continue
        if pos[a] < pos[b]:
            d[a, b] = True
        else:
            d[b, a] = True
    return d, False


def _topo(d: NDArray[np.bool_]) -> list[int]:
    indeg = d.sum(axis=0).astype(np.int64)
    ready = sorted(np.flatnonzero(indeg == 0).tolist())
    order: list[int] = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for c in np.flatnonzero(d[v]):
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(int(c))
    return order


def _drop_one_cycle_edge(d: NDArray[np.bool_]) -> NDArray[np.bool_]:
    p = d.shape[0]
    colour = np.zeros(p, dtype=np.int64)
    d2 = d.copy()

    def visit(v: int) -> tuple[int, int] | None:
        colour[v] = 1
        for c in np.flatnonzero(d2[v]):
            if colour[c] == 1:
                return (v, int(c))
            if colour[c] == 0:
                hit = visit(int(c))
                if hit is not None:
                    return hit
        colour[v] = 2
        return None

    for v in range(p):
        if colour[v] == 0:
            hit = visit(v)
            if hit is not None:
                d2[hit] = False
                return d2
    return d2


def edge_lists(g: NDArray[np.bool_], variables: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """``{"directed": [(a, b), ...], "undirected": [(a, b), ...]}`` of a PDAG matrix."""
    directed = [(variables[a], variables[b]) for a, b in zip(*np.nonzero(g & ~g.T), strict=True)]
    und = g & g.T
    undirected = [
        (variables[a], variables[b]) for a, b in zip(*np.nonzero(np.triu(und)), strict=True)
    ]
    return {"directed": directed, "undirected": undirected}
