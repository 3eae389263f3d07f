"""A layered (Sugiyama-style) drawing layout for a DAG, computed without graphviz.

Steps: each node's layer is its longest-path depth from a root; an edge spanning several
layers is split by dummy points, one per crossed layer; the order within each layer is
refined by alternating down/up barycentre sweeps (each node moves to the mean position of its
neighbours in the adjacent layer), keeping the order with the fewest crossings seen. Positions
are ``x`` = the cumulative width of the layer up to the node (a node 1, a dummy point
``dummy_width``), centred, and ``y`` = minus the layer, so roots are on top.
Everything is a deterministic function of the structure (ties break by topological order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bnlab.network import BayesNet, Structure, as_structure


@dataclass(frozen=True)
class Layout:
    r"""Node positions and edge routes of a layered drawing.

    Attributes
    ----------
    positions
        ``node -> (x, y)``; ``y`` is minus the layer (roots at ``y = 0``).
    layers
        Nodes of each layer in drawing order (real nodes and dummy points ``("parent", "child",
        k)`` named as strings ``"\\x00parent\\x00child\\x00k"``, which never clash with variables).
    routes
        ``(parent, child) -> list of (x, y)`` from the parent through its dummy points to the
        child.
    crossings
        Number of edge crossings between adjacent layers in the final order.
    """

    positions: Mapping[str, tuple[float, float]]
    layers: tuple[tuple[str, ...], ...]
    routes: Mapping[tuple[str, str], list[tuple[float, float]]]
    crossings: int


def node_layers(structure: Structure | BayesNet) -> dict[str, int]:
    """Return the layer of each node: its longest-path depth from a root.

    A root is then moved down to just above its highest child (so a root whose children are
    deep does not stretch long edges across the drawing); parentless, childless nodes stay in
    layer 0.
    """
    s = as_structure(structure)
    depth: dict[str, int] = {}
    for v in s.variables:  # topological order: parents come first
        depth[v] = 1 + max((depth[p] for p in s.parents[v]), default=-1)
    children = s.children
    for v in s.variables:  # a root sits just above its highest child: shorter edges
        if not s.parents[v] and children[v]:
            depth[v] = min(depth[c] for c in children[v]) - 1
    return depth


def _dummy(parent: str, child: str, k: int) -> str:
    return f"\x00{parent}\x00{child}\x00{k}"


def count_crossings(
    upper: Sequence[str], lower: Sequence[str], links: Sequence[tuple[str, str]]
) -> int:
    """Count crossing pairs of ``links`` (upper node, lower node) between two ordered layers."""
    pu = {v: i for i, v in enumerate(upper)}
    pl = {v: i for i, v in enumerate(lower)}
    pairs = sorted((pu[a], pl[b]) for a, b in links if a in pu and b in pl)
    ends = np.array([b for _, b in pairs], dtype=np.int64)
    starts = np.array([a for a, _ in pairs], dtype=np.int64)
    total = 0
    for i in range(len(pairs)):  # O(E^2) per layer pair: small graphs only, clear and exact
        later = slice(i + 1, None)
        total += int(np.sum((starts[later] > starts[i]) & (ends[later] < ends[i])))
    return total


def _sweep(
    layers: list[list[str]], neighbours: Mapping[str, list[str]], downward: bool
) -> list[list[str]]:
    out = [list(layer) for layer in layers]
    indices = range(1, len(out)) if downward else range(len(out) - 2, -1, -1)
    for i in indices:
        ref = out[i - 1] if downward else out[i + 1]
        pos = {v: k for k, v in enumerate(ref)}
        current = {v: k for k, v in enumerate(out[i])}

        def key(v: str, pos: dict[str, int] = pos, current: dict[str, int] = current) -> float:
            near = [pos[u] for u in neighbours[v] if u in pos]
            return float(np.mean(near)) if near else float(current[v])

        out[i] = sorted(out[i], key=lambda v: (key(v), current[v]))
    return out


def layered_layout(
    structure: Structure | BayesNet, sweeps: int = 12, dummy_width: float = 0.3
) -> Layout:
    """Compute a layered drawing of the DAG of ``structure``.

    Parameters
    ----------
    structure
        A structure or network (only the graph is used).
    sweeps
        Number of down-and-up barycentre passes.
    dummy_width
        Horizontal room of a dummy point, as a share of a node's.

    Returns
    -------
    Layout
        Positions of the variables, edge routes through dummy points, and the crossings left.

    Examples
    --------
    >>> from bnlab import Structure
    >>> s = Structure(variables=["a", "b"], states={"a": ["0", "1"], "b": ["0", "1"]},
    ...               parents={"b": ["a"]})
    >>> layered_layout(s).positions["b"]
    (0.0, -1.0)
    """
    s = as_structure(structure)
    depth = node_layers(s)
    n_layers = 1 + max(depth.values(), default=0)
    layers: list[list[str]] = [[] for _ in range(n_layers)]
    for v in s.variables:
        layers[depth[v]].append(v)
    links: list[tuple[str, str]] = []  # unit-length segments (upper, lower)
    chains: dict[tuple[str, str], list[str]] = {}
    for p, c in s.edges:
        chain = [p]
        for k, level in enumerate(range(depth[p] + 1, depth[c])):
            d = _dummy(p, c, k)
            layers[level].append(d)
            chain.append(d)
        chain.append(c)
        chains[(p, c)] = chain
        links.extend(zip(chain[:-1], chain[1:], strict=True))
    neighbours: dict[str, list[str]] = {v: [] for layer in layers for v in layer}
    for a, b in links:
        neighbours[a].append(b)
        neighbours[b].append(a)

    def total(order: list[list[str]]) -> int:
        return sum(count_crossings(order[i], order[i + 1], links) for i in range(n_layers - 1))

    best, best_cross = layers, total(layers)
    current = layers
    for _ in range(sweeps):
        for downward in (True, False):
            current = _sweep(current, neighbours, downward)
            crossings = total(current)
            if crossings < best_cross:
                best, best_cross = current, crossings
    positions: dict[str, tuple[float, float]] = {}
    for i, layer in enumerate(best):
        # a dummy point takes a fraction of a node's width, so long edges do not widen layers
        widths = [dummy_width if v.startswith("\x00") else 1.0 for v in layer]
        centres = np.cumsum(widths) - np.asarray(widths) / 2.0
        centres -= (centres[0] + centres[-1]) / 2.0 if len(layer) else 0.0
        for c, v in zip(centres, layer, strict=True):
            positions[v] = (float(c), float(-i))
    routes = {edge: [positions[v] for v in chain] for edge, chain in chains.items()}
    return Layout(
        positions={v: positions[v] for v in s.variables},
        layers=tuple(tuple(layer) for layer in best),
        routes=routes,
        crossings=best_cross,
    )
