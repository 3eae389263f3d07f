"""Expert knowledge for structure learning: required / forbidden edges, tiers, start graph.

Knowledge is written as YAML (see ``conf/structure/*.yaml``)::

    method: hc            # hc | tabu | pc
    score: bic            # bic | aic | bdeu | k2 | loglik
    required: [[Smoker, LungCancer], "Tuberculosis -> Either"]
    forbidden: [[Dyspnea, Smoker]]
    tiers: [[VisitAsia, Smoker], [Tuberculosis, LungCancer, Bronchitis], [Either], [XRay, Dyspnea]]
    no_parents: [VisitAsia]
    no_children: [Dyspnea]
    start: [[Smoker, Bronchitis]]     # the expert DAG that search refines (hybrid mode)
    max_indegree: 3

Edges are ``[parent, child]`` pairs or ``"parent -> child"`` strings. A tier list is a
temporal order: no edge may point from a later tier into an earlier one. Validation raises
:class:`ConstraintError` (a :class:`bnlab.errors.StructureError`) naming the offending edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import StructureError
from bnlab.network import _find_cycle

Edge = tuple[str, str]

#: Keys a structure YAML file may hold: search options, then knowledge.
OPTION_KEYS = (
    "method",
    "score",
    "ess",
    "alpha",
    "test",
    "restarts",
    "tabu_length",
    "seed",
    "max_indegree",
    "perturb",
    "tree_start",
)
KNOWLEDGE_KEYS = ("required", "forbidden", "tiers", "no_parents", "no_children", "start")
#: Keys the pipeline's Hydra group ``conf/structure`` adds (where the graph comes from);
#: accepted and ignored here.
PIPELINE_KEYS = ("description", "source", "network", "edges")


class ConstraintError(StructureError):
    """Expert knowledge that is inconsistent or names unknown variables."""

    def __init__(self, message: str, edges: Sequence[Edge] = ()) -> None:
        self.edges = list(edges)
        super().__init__(message)


class RequiredCycleError(ConstraintError):
    """Required edges that form a directed cycle (the cycle is named)."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        path = " -> ".join([*cycle, cycle[0]])
        edges = [(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))]
        super().__init__(
            f"the required edges form a directed cycle: {path}. Drop one of these edges "
            "from `required` (or require its reverse).",
            edges,
        )


def _fmt(edges: Iterable[Edge]) -> str:
    return ", ".join(f"{a} -> {b}" for a, b in edges)


def parse_edge(item: Any, where: str) -> Edge:
    """Parse ``[a, b]``, ``(a, b)`` or ``"a -> b"`` into an edge."""
    if isinstance(item, str) and "->" in item:
        a, _, b = item.partition("->")
        return (a.strip(), b.strip())
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return (str(item[0]), str(item[1]))
    raise ConstraintError(
        f"{where}: cannot read {item!r} as an edge; write it as [parent, child] or "
        "'parent -> child'."
    )


def _edges(items: Any, where: str) -> tuple[Edge, ...]:
    if items is None:
        return ()
    if isinstance(items, Mapping):  # {child: [parents]} form
        return tuple((str(p), str(c)) for c, ps in items.items() for p in (ps or ()))
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ConstraintError(f"{where} must be a list of edges, got {items!r}.")
    return tuple(parse_edge(it, where) for it in items)


def _names(items: Any, where: str) -> tuple[str, ...]:
    if items is None:
        return ()
    if isinstance(items, str) or not isinstance(items, Iterable):
        raise ConstraintError(f"{where} must be a list of variable names, got {items!r}.")
    return tuple(str(v) for v in items)


@dataclass(frozen=True)
class Constraints:
    """Expert knowledge a structure search must honour.

    Attributes
    ----------
    required, forbidden
        Edges ``(parent, child)`` that must / must not appear.
    tiers
        Ordered groups of variables; no edge from a later tier into an earlier one.
    no_parents, no_children
        Variables that may have no parents (roots) / no children (leaves).
    start
        Edges of the start graph that search refines (``None``: the required edges only).
    """

    required: tuple[Edge, ...] = ()
    forbidden: tuple[Edge, ...] = ()
    tiers: tuple[tuple[str, ...], ...] = ()
    no_parents: tuple[str, ...] = ()
    no_children: tuple[str, ...] = ()
    start: tuple[Edge, ...] | None = None
    source: str = field(default="constraints", compare=False)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], source: str = "constraints") -> Constraints:
        """Build from a mapping with the YAML keys (other keys are ignored)."""
        tiers_raw = spec.get("tiers") or ()
        if isinstance(tiers_raw, str) or not isinstance(tiers_raw, Iterable):
            raise ConstraintError(f"{source}: `tiers` must be a list of lists of variables.")
        tiers = tuple(_names(t, f"{source}: tier {i + 1}") for i, t in enumerate(tiers_raw))
        start = spec.get("start")
        return cls(
            required=_edges(spec.get("required"), f"{source}: `required`"),
            forbidden=_edges(spec.get("forbidden"), f"{source}: `forbidden`"),
            tiers=tiers,
            no_parents=_names(spec.get("no_parents"), f"{source}: `no_parents`"),
            no_children=_names(spec.get("no_children"), f"{source}: `no_children`"),
            start=None if start is None else _edges(start, f"{source}: `start`"),
            source=source,
        )

    def tier_of(self) -> dict[str, int]:
        """Tier index of every variable placed in a tier."""
        out: dict[str, int] = {}
        for i, tier in enumerate(self.tiers):
            for v in tier:
                if v in out:
                    raise ConstraintError(
                        f"{self.source}: variable {v!r} is in tier {out[v] + 1} and tier "
                        f"{i + 1}; put each variable in one tier."
                    )
                out[v] = i
        return out

    def violations(self, edges: Iterable[Edge]) -> list[tuple[Edge, str]]:
        """Edges of a graph that this knowledge forbids, each with the reason."""
        tier = self.tier_of()
        forb = set(self.forbidden)
        nop, noc = set(self.no_parents), set(self.no_children)
        bad: list[tuple[Edge, str]] = []
        for a, b in edges:
            if (a, b) in forb:
                bad.append(((a, b), "forbidden"))
            elif a in tier and b in tier and tier[a] > tier[b]:
                bad.append(((a, b), f"from tier {tier[a] + 1} into earlier tier {tier[b] + 1}"))
            elif b in nop:
                bad.append(((a, b), f"{b} may have no parents"))
            elif a in noc:
                bad.append(((a, b), f"{a} may have no children"))
        return bad

    def validate(self, variables: Sequence[str], max_indegree: int | None = None) -> None:
        """Check the knowledge against the variables and for internal consistency.

        Raises
        ------
        ConstraintError
            Unknown variables, an edge both required and forbidden, a required edge that
            breaks a tier / no-parents / no-children rule, or too many required parents.
        RequiredCycleError
            Required edges that form a directed cycle.
        """
        known = set(variables)
        src = self.source
        for name, edges in (
            ("required", self.required),
            ("forbidden", self.forbidden),
            ("start", self.start or ()),
        ):
            unknown = [e for e in edges if e[0] not in known or e[1] not in known]
            if unknown:
                names = sorted({v for e in unknown for v in e if v not in known})
                raise ConstraintError(
                    f"{src}: `{name}` edges {_fmt(unknown)} name unknown variable(s) {names}; "
                    f"known variables include {list(variables)[:10]}.",
                    unknown,
                )
            loops = [e for e in edges if e[0] == e[1]]
            if loops:
                raise ConstraintError(f"{src}: `{name}` has self-loops {_fmt(loops)}.", loops)
        for name, group in (
            ("tiers", [v for t in self.tiers for v in t]),
            ("no_parents", self.no_parents),
            ("no_children", self.no_children),
        ):
            unknown_v = sorted(set(group) - known)
            if unknown_v:
                raise ConstraintError(
                    f"{src}: `{name}` names unknown variable(s) {unknown_v}; known variables "
                    f"include {list(variables)[:10]}."
                )
        both = sorted(set(self.required) & set(self.forbidden))
        if both:
            raise ConstraintError(
                f"{src}: edge(s) {_fmt(both)} are both required and forbidden; remove each "
                "from one of the two lists.",
                both,
            )
        parents: dict[str, tuple[str, ...]] = {v: () for v in variables}
        for a, b in self.required:
            parents[b] = (*parents[b], a)
        cycle = _find_cycle(list(variables), parents)
        if cycle:
            raise RequiredCycleError(cycle)
        bad = [e for e in self.violations(self.required) if e[1] != "forbidden"]
        if bad:
            raise ConstraintError(
                f"{src}: required edge(s) break other knowledge: "
                + "; ".join(f"{a} -> {b} ({why})" for (a, b), why in bad)
                + ". Move the variables to other tiers or drop the edge.",
                [e for e, _ in bad],
            )
        if max_indegree is not None:
            over = {b: ps for b, ps in parents.items() if len(ps) > max_indegree}
            if over:
                raise ConstraintError(
                    f"{src}: variables {sorted(over)} have more required parents than "
                    f"max_indegree={max_indegree}; raise max_indegree or require fewer edges."
                )
        if self.start is not None:
            start_parents: dict[str, tuple[str, ...]] = {v: () for v in variables}
            for a, b in set(self.start) | set(self.required):
                start_parents[b] = (*start_parents[b], a)
            cyc = _find_cycle(list(variables), start_parents)
            if cyc:
                path = " -> ".join([*cyc, cyc[0]])
                raise ConstraintError(
                    f"{src}: the start graph (with the required edges) has a cycle {path}; "
                    "the start graph must be a DAG."
                )
            bad_start = self.violations(self.start)
            if bad_start:
                raise ConstraintError(
                    f"{src}: start-graph edge(s) break the knowledge: "
                    + "; ".join(f"{a} -> {b} ({why})" for (a, b), why in bad_start),
                    [e for e, _ in bad_start],
                )

    def masks(self, variables: Sequence[str]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Return ``(allowed, required)``: boolean ``(p, p)`` matrices in ``variables`` order."""
        idx = {v: i for i, v in enumerate(variables)}
        p = len(variables)
        allowed = np.ones((p, p), dtype=bool)
        np.fill_diagonal(allowed, False)
        for a, b in self.forbidden:
            allowed[idx[a], idx[b]] = False
        tier = self.tier_of()
        if tier:
            t = np.array([tier.get(v, -1) for v in variables])
            placed = t >= 0
            later = (t[:, None] > t[None, :]) & placed[:, None] & placed[None, :]
            allowed &= ~later
        for v in self.no_parents:
            allowed[:, idx[v]] = False
        for v in self.no_children:
            allowed[idx[v], :] = False
        required = np.zeros((p, p), dtype=bool)
        for a, b in self.required:
            required[idx[a], idx[b]] = True
        return allowed, required

    def satisfied_by(self, edges: Iterable[Edge]) -> bool:
        """Whether a graph's edges honour this knowledge."""
        es = list(edges)
        return not self.violations(es) and set(self.required) <= set(es)


def load_structure_config(path: str | Path) -> dict[str, Any]:
    """Read a structure YAML file into keyword arguments of :func:`bnlab.learn_structure`.

    Returns a dict with the search options present in the file (``method``, ``score``,
    ``ess``, ``alpha``, ``restarts``, ``tabu_length``, ``max_indegree``, ...) and
    ``constraints``, a :class:`Constraints`.

    Raises
    ------
    ConstraintError
        If the file is not a YAML mapping, has unknown keys, or malformed edges.
    """
    import yaml  # only here: learning without a config file does not load it

    p = Path(path)
    try:
        spec = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConstraintError(f"{p}: not valid YAML ({err}).") from err
    except OSError as err:
        raise ConstraintError(f"cannot read structure config {p}: {err}.") from err
    return structure_config_from_dict(spec or {}, source=str(p))


def structure_config_from_dict(spec: Any, source: str = "structure config") -> dict[str, Any]:
    """As :func:`load_structure_config`, from an already-parsed mapping (e.g. Hydra's)."""
    if not isinstance(spec, Mapping):
        raise ConstraintError(f"{source}: expected a mapping of keys, got {type(spec).__name__}.")
    allowed = {*OPTION_KEYS, *KNOWLEDGE_KEYS, *PIPELINE_KEYS}
    unknown = sorted(str(k) for k in set(spec) - allowed)
    if unknown:
        raise ConstraintError(
            f"{source}: unknown key(s) {unknown}; allowed keys are {sorted(allowed)}."
        )
    out: dict[str, Any] = {k: spec[k] for k in OPTION_KEYS if spec.get(k) is not None}
    out["constraints"] = Constraints.from_dict(spec, source=source)
    return out
