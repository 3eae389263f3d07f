"""Adjustment sets: back-door, front-door and the generalized adjustment criterion.

For a treatment ``X`` and an outcome ``Y`` of a causal graph with latent confounders:

- a **back-door set** ``Z`` (Pearl 1993) has no descendant of ``X`` and m-separates ``X``
  from ``Y`` once the edges out of ``X`` are cut; then
  ``P(y | do(x)) = sum_z P(y | x, z) P(z)``;
- a **front-door set** ``Z`` intercepts every directed path from ``X`` to ``Y``, has no
  open back-door path from ``X`` to any of its members, and every back-door path from a
  member to ``Y`` is blocked by ``X``; then
  ``P(y | do(x)) = sum_z P(z | x) sum_x' P(y | x', z) P(x')``;
- a **valid adjustment set** (Shpitser, VanderWeele & Robins 2010; Perkovic et al. 2018)
  is any ``Z`` for which the adjustment formula holds in every model of the graph: it avoids
  the descendants of the nodes on proper causal paths and blocks every proper non-causal
  path. Every back-door set is one; the criterion is complete.

Sets are enumerated by increasing size over the observed candidates, skipping supersets of
sets already found, so the lists hold the sets minimal under inclusion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import combinations

from bnlab.causal.errors import CausalGraphError
from bnlab.causal.graph import CausalGraph, Latent, causal_graph
from bnlab.network import BayesNet, Structure

#: Most candidate variables whose subsets are enumerated (2**18 separation tests at worst).
MAX_CANDIDATES = 18

GraphLike = Structure | BayesNet | CausalGraph


def _node(g: CausalGraph, name: str, role: str) -> str:
    if name not in g.parents:
        raise CausalGraphError(
            f"{role} {name!r} is not an observed variable of the causal graph (observed: "
            f"{list(g.nodes[:10])}{' ...' if len(g.nodes) > 10 else ''}); a latent variable "
            "cannot be a treatment, an outcome or an adjustment variable."
        )
    return name


def _names(g: CausalGraph, names: str | Iterable[str], role: str) -> frozenset[str]:
    items = [names] if isinstance(names, str) else list(names)
    if not items:
        raise CausalGraphError(f"{role} is empty; name at least one variable.")
    return frozenset(_node(g, str(v), role) for v in items)


def _pair(
    structure: GraphLike, treatment: str, outcome: str, latent: Latent
) -> tuple[CausalGraph, str, str]:
    g = causal_graph(structure, latent)
    x, y = _node(g, treatment, "treatment"), _node(g, outcome, "outcome")
    if x == y:
        raise CausalGraphError(f"treatment and outcome are both {x!r}; give two variables.")
    return g, x, y


def _backdoor_ok(g: CausalGraph, cut: CausalGraph, x: str, y: str, z: frozenset[str]) -> bool:
    return cut.m_separated({x}, {y}, z)


def _backdoor_candidates(g: CausalGraph, x: str, y: str) -> list[str]:
    """Observed ancestors of ``{x, y}`` that are not descendants of ``x``.

    Minimal back-door sets lie among them: a minimal separator consists of ancestors of the
    separated sets.
    """
    pool = g.ancestors({x, y}) - g.descendants({x}) - {y}
    return [v for v in g.nodes if v in pool]


def _minimal_sets(
    candidates: list[str], valid: Callable[[frozenset[str]], bool], what: str
) -> list[frozenset[str]]:
    if len(candidates) > MAX_CANDIDATES:
        raise CausalGraphError(
            f"{len(candidates)} candidate variables for {what} sets are too many to enumerate "
            f"every minimal set (at most {MAX_CANDIDATES}); use minimal_backdoor_set() for "
            "one set, or pass a smaller graph (the ancestors of treatment and outcome)."
        )
    found: list[frozenset[str]] = []
    for size in range(len(candidates) + 1):
        for combo in combinations(candidates, size):
            z = frozenset(combo)
            if any(f <= z for f in found):
                continue
            if valid(z):
                found.append(z)
    return sorted(found, key=lambda s: (len(s), sorted(s)))


def backdoor_sets(
    structure: GraphLike, treatment: str, outcome: str, latent: Latent = ()
) -> list[frozenset[str]]:
    """All back-door adjustment sets of ``treatment`` on ``outcome`` that are minimal.

    Parameters
    ----------
    structure
        The causal diagram: a :class:`bnlab.Structure`, a network or a
        :class:`~bnlab.causal.graph.CausalGraph`.
    treatment, outcome
        Observed variables.
    latent
        Unobserved variables of the structure and/or confounded pairs ``(a, b)``.

    Returns
    -------
    list of frozenset
        Sets minimal under inclusion, sorted by size then names; ``[frozenset()]`` when no
        adjustment is needed, ``[]`` when no observed set satisfies the criterion.

    Examples
    --------
    >>> from bnlab import Structure
    >>> s = Structure(list("ZXY"), {v: ("0", "1") for v in "ZXY"},
    ...               {"X": ["Z"], "Y": ["X", "Z"]})
    >>> backdoor_sets(s, "X", "Y")
    [frozenset({'Z'})]
    """
    g, x, y = _pair(structure, treatment, outcome, latent)
    cut = g.cut_outgoing({x})
    return _minimal_sets(
        _backdoor_candidates(g, x, y), lambda z: _backdoor_ok(g, cut, x, y, z), "back-door"
    )


def minimal_backdoor_set(
    structure: GraphLike, treatment: str, outcome: str, latent: Latent = ()
) -> frozenset[str] | None:
    """A smallest back-door set, or ``None`` when there is none.

    With at most :data:`MAX_CANDIDATES` candidates this is the first set of
    :func:`backdoor_sets` (smallest size, then names); beyond, it starts from all observed
    non-descendant ancestors (valid whenever any set is) and drops variables while the set
    stays valid, which leaves a set minimal under inclusion.
    """
    g, x, y = _pair(structure, treatment, outcome, latent)
    cut = g.cut_outgoing({x})
    candidates = _backdoor_candidates(g, x, y)
    if len(candidates) <= MAX_CANDIDATES:
        sets = _minimal_sets(candidates, lambda z: _backdoor_ok(g, cut, x, y, z), "back-door")
        return sets[0] if sets else None
    z = frozenset(candidates)
    if not _backdoor_ok(g, cut, x, y, z):
        return None
    for v in reversed(candidates):
        if _backdoor_ok(g, cut, x, y, z - {v}):
            z = z - {v}
    return z


def is_valid_backdoor(
    structure: GraphLike, treatment: str, outcome: str, adjust: Iterable[str], latent: Latent = ()
) -> bool:
    """Whether ``adjust`` satisfies the back-door criterion for ``treatment`` on ``outcome``."""
    g, x, y = _pair(structure, treatment, outcome, latent)
    z = frozenset(_node(g, str(v), "adjustment variable") for v in adjust)
    if z & {x, y} or z & g.descendants({x}):
        return False
    return _backdoor_ok(g, g.cut_outgoing({x}), x, y, z)


def frontdoor_sets(
    structure: GraphLike, treatment: str, outcome: str, latent: Latent = ()
) -> list[frozenset[str]]:
    """All front-door sets of ``treatment`` on ``outcome`` that are minimal under inclusion.

    Returns
    -------
    list of frozenset
        Sorted by size then names; ``[]`` when there is none (always so when no directed
        path leads from the treatment to the outcome).
    """
    g, x, y = _pair(structure, treatment, outcome, latent)
    if y not in g.descendants({x}):
        return []
    on_paths = (g.descendants({x}) & g.ancestors({y})) - {x, y}
    cut_x = g.cut_outgoing({x})
    # (ii) no open back-door path from x to z; (iii) x blocks the back-door paths z ... y
    usable = [
        z
        for z in g.nodes
        if z in on_paths
        and cut_x.m_separated({x}, {z})
        and g.cut_outgoing({z}).m_separated({z}, {y}, {x})
    ]

    def intercepts(z: frozenset[str]) -> bool:
        rest = g.subgraph(v for v in g.nodes if v not in z)
        return y not in rest.descendants({x})

    return _minimal_sets(usable, intercepts, "front-door")


def is_valid_frontdoor(
    structure: GraphLike, treatment: str, outcome: str, adjust: Iterable[str], latent: Latent = ()
) -> bool:
    """Whether ``adjust`` satisfies the front-door criterion for ``treatment`` on ``outcome``."""
    g, x, y = _pair(structure, treatment, outcome, latent)
    z = frozenset(_node(g, str(v), "adjustment variable") for v in adjust)
    if not z or z & {x, y} or y not in g.descendants({x}):
        return False
    rest = g.subgraph(v for v in g.nodes if v not in z)
    if y in rest.descendants({x}):
        return False
    cut_x = g.cut_outgoing({x})
    return all(
        cut_x.m_separated({x}, {v}) and g.cut_outgoing({v}).m_separated({v}, {y}, {x}) for v in z
    )


def proper_causal_nodes(g: CausalGraph, xs: frozenset[str], ys: frozenset[str]) -> frozenset[str]:
    """Nodes other than ``xs`` on proper causal paths from ``xs`` to ``ys``."""
    return (g.cut_incoming(xs).descendants(xs) - xs) & g.cut_outgoing(xs).ancestors(ys)


def is_valid_adjustment(
    structure: GraphLike,
    treatment: str | Iterable[str],
    outcome: str | Iterable[str],
    adjust: Iterable[str],
    latent: Latent = (),
) -> bool:
    """Whether ``P(y | do(x)) = sum_z P(y | x, z) P(z)`` holds in every model of the graph.

    The generalized adjustment criterion (complete for DAGs with latent variables): ``adjust``
    holds no descendant of a node on a proper causal path from the treatment to the outcome
    (nor a treatment variable), and m-separates treatment and outcome once the first edge of
    every proper causal path is removed.

    Parameters
    ----------
    structure
        The causal diagram (structure, network or causal graph).
    treatment, outcome
        A variable or a collection of variables each.
    adjust
        The candidate set (observed variables).
    latent
        Unobserved variables and/or confounded pairs, as in :func:`backdoor_sets`.

    Raises
    ------
    CausalGraphError
        A name that is not an observed variable; treatment and outcome overlapping.
    """
    g = causal_graph(structure, latent)
    xs = _names(g, treatment, "treatment")
    ys = _names(g, outcome, "outcome")
    if xs & ys:
        raise CausalGraphError(
            f"{sorted(xs & ys)} are both treatment and outcome; give disjoint sets."
        )
    z = frozenset(_node(g, str(v), "adjustment variable") for v in adjust)
    if z & (xs | ys):
        return False
    cn = proper_causal_nodes(g, xs, ys)
    forbidden = g.descendants(cn) | xs
    if z & forbidden:
        return False
    first_edges = [(x, v) for v in cn for x in g.parents[v] & xs]
    return g.without_edges(first_edges).m_separated(xs, ys, z)
