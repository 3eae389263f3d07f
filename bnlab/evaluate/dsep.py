"""d-separation and the conditional independencies a DAG implies.

Two listings, as dagitty gives them (``impliedConditionalIndependencies``):

* ``"pairwise"`` (dagitty's ``missing.edge``): for every non-adjacent pair, one *minimal*
  separating set, found in the moral graph of the pair's ancestral set (Tian, Paz & Pearl,
  "Finding minimal d-separators", 1998);
* ``"local"`` (dagitty's ``basis.set``): the local Markov basis, each variable independent of
  its non-descendants that are not parents, given its parents.

Everything is a function of the structure alone, so the order of the listing is fixed: pairs
follow ``structure.variables`` (topological) order, sets are sorted in that order too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from bnlab.errors import StructureError
from bnlab.network import BayesNet, Structure, as_structure


class Independence(NamedTuple):
    """One implied statement ``x _||_ y | given`` (``y`` may hold several variables)."""

    x: str
    y: tuple[str, ...]
    given: tuple[str, ...]

    def statement(self) -> str:
        """Return the statement in dagitty's notation, e.g. ``"A _||_ B | C, D"``."""
        text = f"{self.x} _||_ {', '.join(self.y)}"
        return text + (f" | {', '.join(self.given)}" if self.given else "")


def _check(structure: Structure, names: Iterable[str]) -> list[str]:
    out = []
    for v in names:
        if v not in structure.states:
            raise StructureError(
                f"unknown variable {v!r} in a d-separation query; known variables include "
                f"{list(structure.variables[:8])}."
            )
        out.append(v)
    return out


def ancestors(structure: Structure, nodes: Iterable[str]) -> set[str]:
    """Return the given nodes and all their ancestors."""
    return structure.ancestral_set(nodes)


def descendants(structure: Structure, node: str) -> set[str]:
    """Return the strict descendants of ``node``."""
    seen: set[str] = set()
    stack = list(structure.children[node])
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(structure.children[v])
    return seen


def reachable(
    structure: Structure | BayesNet, sources: Iterable[str], given: Iterable[str]
) -> set[str]:
    """Nodes connected to ``sources`` by an active trail given ``given`` (Bayes ball).

    Follows Koller & Friedman, Algorithm 3.1. Nodes in ``given`` are never returned.
    """
    s = as_structure(structure)
    src = _check(s, sources)
    z = set(_check(s, given))
    anc_z = ancestors(s, z)
    # (node, direction): "up" = reached from a child, "down" = reached from a parent
    todo: list[tuple[str, bool]] = [(v, True) for v in src]
    visited: set[tuple[str, bool]] = set()
    found: set[str] = set()
    while todo:
        v, up = todo.pop()
        if (v, up) in visited:
            continue
        visited.add((v, up))
        if v not in z:
            found.add(v)
        if up and v not in z:
            todo.extend((p, True) for p in s.parents[v])
            todo.extend((c, False) for c in s.children[v])
        elif not up:
            if v not in z:
                todo.extend((c, False) for c in s.children[v])
            if v in anc_z:  # a collider that is, or has a descendant, in the given set
                todo.extend((p, True) for p in s.parents[v])
    return found - z


def is_d_separated(
    structure: Structure | BayesNet, x: Iterable[str], y: Iterable[str], given: Iterable[str]
) -> bool:
    """Whether every trail between ``x`` and ``y`` is blocked by ``given``.

    Examples
    --------
    >>> from bnlab import Structure
    >>> s = Structure(["a", "b", "c"], {v: ("0", "1") for v in "abc"}, {"c": ("a", "b")})
    >>> is_d_separated(s, ["a"], ["b"], []), is_d_separated(s, ["a"], ["b"], ["c"])
    (True, False)
    """
    s = as_structure(structure)
    xs, ys, zs = set(_check(s, x)), set(_check(s, y)), set(_check(s, given))
    if xs & ys:
        return False
    return not (reachable(s, xs, zs - xs) & (ys - zs))


def _moral_neighbours(structure: Structure, keep: set[str]) -> dict[str, set[str]]:
    nb: dict[str, set[str]] = {v: set() for v in keep}
    for v in keep:
        ps = [p for p in structure.parents[v] if p in keep]
        for i, p in enumerate(ps):
            nb[v].add(p)
            nb[p].add(v)
            for q in ps[i + 1 :]:
                nb[p].add(q)
                nb[q].add(p)
    return nb


def _touched(nb: dict[str, set[str]], start: str, blockers: set[str]) -> set[str]:
    """Blockers reached from ``start`` by paths whose interior avoids the blockers."""
    seen = {start}
    stack = [start]
    hit: set[str] = set()
    while stack:
        v = stack.pop()
        for w in nb[v]:
            if w in seen:
                continue
            seen.add(w)
            if w in blockers:
                hit.add(w)
            else:
                stack.append(w)
    return hit


def minimal_separator(structure: Structure | BayesNet, x: str, y: str) -> tuple[str, ...] | None:
    """Return a minimal set d-separating ``x`` and ``y``, or ``None`` when they are adjacent.

    Starts from the parents of the later of the two (in topological order), which separate
    it from its non-descendants, and prunes that set to a minimal one in the moral graph of
    the ancestral set of ``{x, y}``.
    """
    s = as_structure(structure)
    _check(s, [x, y])
    if x == y or x in s.parents[y] or y in s.parents[x]:
        return None
    later, earlier = (x, y) if s.index[x] > s.index[y] else (y, x)
    start = set(s.parents[later])
    nb = _moral_neighbours(s, ancestors(s, {x, y}))
    z1 = _touched(nb, earlier, start)
    z2 = _touched(nb, later, z1)
    return tuple(v for v in s.variables if v in z2)


def implied_independencies(
    structure: Structure | BayesNet, basis: str = "pairwise"
) -> list[Independence]:
    """List the conditional independencies implied by the graph, as dagitty lists them.

    Parameters
    ----------
    structure
        A structure or network.
    basis
        ``"pairwise"``: one statement per non-adjacent pair with a minimal separating set;
        ``"local"``: the local Markov basis (each variable against all its non-descendants
        that are not parents, given its parents).

    Returns
    -------
    list of Independence
        In a fixed order (topological order of the first variable, then of the second).
    """
    s = as_structure(structure)
    out: list[Independence] = []
    if basis == "pairwise":
        for i, a in enumerate(s.variables):
            for b in s.variables[i + 1 :]:
                sep = minimal_separator(s, a, b)
                if sep is not None:
                    out.append(Independence(a, (b,), sep))
    elif basis == "local":
        for v in s.variables:
            rest = set(s.variables) - descendants(s, v) - set(s.parents[v]) - {v}
            if rest:
                ys = tuple(u for u in s.variables if u in rest)
                out.append(Independence(v, ys, s.parents[v]))
    else:
        raise StructureError(f"unknown basis {basis!r}; use 'pairwise' or 'local'.")
    return out
