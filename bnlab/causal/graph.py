"""Causal graphs with latent confounders: acyclic directed mixed graphs (ADMGs).

A :class:`CausalGraph` has observed nodes, directed edges among them and bidirected edges
``a <-> b``, each standing for an unobserved common cause of ``a`` and ``b``. It is built
from a :class:`bnlab.Structure` (or a network) plus ``latent``: names of variables of the
structure that are not observed (projected out: Verma & Pearl's latent projection) and/or
pairs ``(a, b)`` declaring a confounder that is not in the structure at all.

Separation statements (m-separation) are answered on the canonical DAG of the ADMG, where
each bidirected edge becomes an explicit latent root; the algorithms of
:mod:`bnlab.causal.adjustment` and :mod:`bnlab.causal.identify` use only the operations
here (ancestors, descendants, districts, induced subgraphs, edge cutting).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bnlab.causal.errors import CausalGraphError
from bnlab.network import BayesNet, Structure, reachable

#: ``latent`` argument: variable names and/or ``(a, b)`` pairs of confounded variables.
Latent = Iterable[str | tuple[str, str]]


@dataclass(frozen=True)
class CausalGraph:
    """An ADMG over observed variables.

    Attributes
    ----------
    nodes
        Observed variables, in a topological order of the directed edges.
    parents
        Directed parents of each node (observed only).
    bidirected
        Unordered pairs of nodes sharing an unobserved common cause.
    """

    nodes: tuple[str, ...]
    parents: Mapping[str, frozenset[str]]
    bidirected: frozenset[frozenset[str]]

    # -- basic relations -------------------------------------------------------------------
    def children(self, node: str) -> frozenset[str]:
        """Directed children of ``node``."""
        return frozenset(v for v in self.nodes if node in self.parents[v])

    def ancestors(self, nodes: Iterable[str]) -> frozenset[str]:
        """The nodes and their ancestors (directed edges only)."""
        return frozenset(reachable(self.parents, nodes))

    def descendants(self, nodes: Iterable[str]) -> frozenset[str]:
        """The nodes and their descendants (directed edges only)."""
        kids: dict[str, list[str]] = {v: [] for v in self.nodes}
        for v in self.nodes:
            for p in self.parents[v]:
                kids[p].append(v)
        return frozenset(reachable(kids, nodes))

    def districts(self, nodes: Iterable[str] | None = None) -> list[frozenset[str]]:
        """C-components: classes of ``nodes`` connected by bidirected edges among them."""
        keep = set(self.nodes if nodes is None else nodes)
        seen: set[str] = set()
        out = []
        for start in self.nodes:
            if start not in keep or start in seen:
                continue
            comp = {start}
            stack = [start]
            while stack:
                a = stack.pop()
                for pair in self.bidirected:
                    if a in pair:
                        (b,) = pair - {a}
                        if b in keep and b not in comp:
                            comp.add(b)
                            stack.append(b)
            seen |= comp
            out.append(frozenset(comp))
        return out

    # -- derived graphs --------------------------------------------------------------------
    def subgraph(self, nodes: Iterable[str]) -> CausalGraph:
        """The graph induced on ``nodes``."""
        keep = set(nodes)
        return CausalGraph(
            tuple(v for v in self.nodes if v in keep),
            {v: self.parents[v] & keep for v in self.nodes if v in keep},
            frozenset(p for p in self.bidirected if p <= keep),
        )

    def cut_incoming(self, nodes: Iterable[str]) -> CausalGraph:
        """``G_{bar X}``: edges into ``nodes`` removed (directed and bidirected)."""
        cut = set(nodes)
        return CausalGraph(
            self.nodes,
            {v: frozenset() if v in cut else self.parents[v] for v in self.nodes},
            frozenset(p for p in self.bidirected if not p & cut),
        )

    def cut_outgoing(self, nodes: Iterable[str]) -> CausalGraph:
        """``G_{underline X}``: directed edges out of ``nodes`` removed."""
        cut = set(nodes)
        return CausalGraph(
            self.nodes,
            {v: self.parents[v] - cut for v in self.nodes},
            self.bidirected,
        )

    def without_edges(self, edges: Iterable[tuple[str, str]]) -> CausalGraph:
        """The graph without the given directed edges ``(parent, child)``."""
        drop: dict[str, set[str]] = {}
        for a, b in edges:
            drop.setdefault(b, set()).add(a)
        return CausalGraph(
            self.nodes,
            {v: self.parents[v] - drop.get(v, set()) for v in self.nodes},
            self.bidirected,
        )

    # -- separation ------------------------------------------------------------------------
    def m_separated(self, xs: Iterable[str], ys: Iterable[str], zs: Iterable[str] = ()) -> bool:
        """Whether ``xs`` and ``ys`` are m-separated given ``zs``.

        That is d-separation on the DAG with one explicit latent root per bidirected edge.
        """
        parents: dict[Any, set[Any]] = {v: set(self.parents[v]) for v in self.nodes}
        for pair in self.bidirected:
            u = ("latent", pair)  # a key no variable name can equal
            parents[u] = set()
            for v in pair:
                parents[v].add(u)
        return d_separated(parents, set(xs), set(ys), set(zs))


def d_separated(
    parents: Mapping[Any, Iterable[Any]], xs: set[Any], ys: set[Any], zs: set[Any]
) -> bool:
    """D-separation of ``xs`` and ``ys`` given ``zs`` in a DAG (reachability, "Bayes ball").

    Follows Koller & Friedman's Algorithm 3.1: the nodes reachable from ``xs`` by an active
    trail given ``zs``; separated when none of ``ys`` is reachable.
    """
    if xs & ys:
        return False
    children: dict[Any, list[Any]] = {v: [] for v in parents}
    for v, ps in parents.items():
        for p in ps:
            children[p].append(v)
    # ancestors of the conditioning set (a collider is open when it or a descendant is in zs)
    anc_z: set[Any] = set()
    stack = list(zs)
    while stack:
        v = stack.pop()
        if v not in anc_z:
            anc_z.add(v)
            stack.extend(parents[v])
    # (node, direction): "up" = reached from a child, "down" = reached from a parent
    todo = [(x, "up") for x in xs]
    visited: set[tuple[Any, str]] = set()
    while todo:
        v, d = todo.pop()
        if (v, d) in visited:
            continue
        visited.add((v, d))
        if v not in zs and v in ys:
            return False
        if d == "up" and v not in zs:
            todo.extend((p, "up") for p in parents[v])
            todo.extend((c, "down") for c in children[v])
        elif d == "down":
            if v not in zs:
                todo.extend((c, "down") for c in children[v])
            if v in anc_z:
                todo.extend((p, "up") for p in parents[v])
    return True


def causal_graph(structure: Structure | BayesNet | CausalGraph, latent: Latent = ()) -> CausalGraph:
    """The ADMG of a structure with latent variables and/or declared confounded pairs.

    Parameters
    ----------
    structure
        A :class:`bnlab.Structure` or :class:`bnlab.BayesNet` (its DAG is the causal
        diagram), or a :class:`CausalGraph` (returned with the extra ``latent`` pairs).
    latent
        Names of variables of the structure that are unobserved (projected out), and/or
        pairs ``(a, b)`` of observed variables that share an unobserved common cause.

    Returns
    -------
    CausalGraph
        Directed edge ``a -> b`` where the structure has a directed path from ``a`` to ``b``
        through latent variables only; ``a <-> b`` where a latent variable reaches both
        through latent variables only, or the pair was declared.

    Raises
    ------
    CausalGraphError
        A latent name that is not a variable, a pair naming an unknown or latent variable.

    Examples
    --------
    >>> from bnlab import Structure
    >>> s = Structure(["U", "X", "Y"], {v: ("0", "1") for v in "UXY"},
    ...               {"X": ["U"], "Y": ["X", "U"]})
    >>> g = causal_graph(s, latent=["U"])
    >>> g.nodes, sorted(tuple(sorted(p)) for p in g.bidirected)
    (('X', 'Y'), [('X', 'Y')])
    """
    names: set[str] = set()
    pairs: list[tuple[str, str]] = []
    for item in latent:
        if isinstance(item, str):
            names.add(item)
        else:
            pair = tuple(item)
            if len(pair) != 2 or not all(isinstance(v, str) for v in pair) or pair[0] == pair[1]:
                raise CausalGraphError(
                    f"latent entry {item!r} is neither a variable name nor a pair (a, b) of two "
                    "different variables sharing an unobserved cause."
                )
            pairs.append((pair[0], pair[1]))
    if isinstance(structure, CausalGraph):
        if names:
            raise CausalGraphError(
                f"latent names {sorted(names)} given with a CausalGraph, whose nodes are all "
                "observed; give confounders as pairs (a, b), or pass the structure instead."
            )
        base = structure
        return _project(base.nodes, dict(base.parents), set(), base.bidirected, pairs)
    s = structure.structure
    unknown = sorted(names - set(s.variables))
    if unknown:
        raise CausalGraphError(
            f"latent names {unknown} are not variables of the structure (its variables include "
            f"{list(s.variables[:8])}); declare a confounder that is not in the structure as a "
            "pair (a, b) of the variables it affects."
        )
    parents = {v: frozenset(s.parents[v]) for v in s.variables}
    return _project(s.variables, parents, names, frozenset(), pairs)


def _project(
    order: tuple[str, ...],
    parents: Mapping[str, frozenset[str]],
    hidden: set[str],
    bidirected: frozenset[frozenset[str]],
    pairs: list[tuple[str, str]],
) -> CausalGraph:
    """Latent projection of ``hidden`` out of a DAG/ADMG, plus the declared ``pairs``."""
    observed = tuple(v for v in order if v not in hidden)
    obs_set = set(observed)
    for a, b in pairs:
        for v in (a, b):
            if v not in obs_set:
                what = "latent" if v in hidden else "unknown"
                raise CausalGraphError(
                    f"latent pair ({a!r}, {b!r}) names the {what} variable {v!r}; a pair "
                    "declares a confounder of two observed variables of the structure."
                )
    # observed nodes reachable downward from each node through hidden nodes only
    kids: dict[str, list[str]] = {v: [] for v in order}
    for v in order:
        for p in parents[v]:
            kids[p].append(v)

    def reach(start: str) -> set[str]:
        out: set[str] = set()
        stack = list(kids[start])
        seen: set[str] = set()
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            if v in hidden:
                stack.extend(kids[v])
            else:
                out.add(v)
        return out

    new_parents: dict[str, set[str]] = {v: set() for v in observed}
    for a in observed:
        for b in reach(a):
            new_parents[b].add(a)
    bi = {p for p in bidirected if p <= obs_set}
    for u in order:
        if u not in hidden:
            continue
        # a hidden node confounds the observed nodes it reaches through hidden nodes
        hit = sorted(reach(u))
        bi |= {frozenset((a, b)) for i, a in enumerate(hit) for b in hit[i + 1 :]}
    bi |= {frozenset(p) for p in pairs}
    return CausalGraph(
        observed,
        {v: frozenset(new_parents[v]) for v in observed},
        frozenset(bi),
    )
