"""Structure (variables, ordered states, parents) and BayesNet (a structure with CPTs).

Axis convention, used everywhere in bnlab: the CPT of a variable ``X`` with parents
``(P1, ..., Pk)`` is an array of shape ``(card(P1), ..., card(Pk), card(X))`` whose last
axis sums to one. Parent axes follow the order of ``parents[X]``; arrays that carry
posterior draws put the draw axis first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnlab.display.methods import Displayable
from bnlab.errors import CPTError, CycleError, StructureError

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.schema import Schema

#: Absolute tolerance on the sum of each CPT row (files in the bnlearn repository round to
#: 4-6 digits, so rows may sum to 1 +- 1e-4 at worst).
CPT_SUM_ATOL = 1e-3


def _find_cycle(variables: Iterable[str], parents: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Return one directed cycle (as a list of variables) or an empty list."""
    colour: dict[str, int] = {}
    stack_path: list[str] = []

    def visit(v: str) -> list[str]:
        colour[v] = 1
        stack_path.append(v)
        for p in parents[v]:
            if colour.get(p, 0) == 1:
                cycle = stack_path[stack_path.index(p) :]
                # parents point backwards: reverse so the cycle reads along edge direction
                return list(reversed(cycle))
            if colour.get(p, 0) == 0:
                found = visit(p)
                if found:
                    return found
        stack_path.pop()
        colour[v] = 2
        return []

    for v in variables:
        if colour.get(v, 0) == 0:
            found = visit(v)
            if found:
                return found
    return []


def topological_order(
    variables: Iterable[str], parents: Mapping[str, Iterable[str]]
) -> tuple[str, ...]:
    """Order variables so that every parent precedes its children.

    The order is stable: among variables whose parents are all placed, the one given
    first comes first, so a list already in topological order is returned unchanged.

    Raises
    ------
    CycleError
        If the parent sets contain a directed cycle (the cycle is named).
    """
    given = list(variables)
    parent_sets = {v: tuple(parents.get(v, ())) for v in given}
    placed: set[str] = set()
    order: list[str] = []
    remaining = list(given)
    while remaining:
        progressed = False
        still: list[str] = []
        for v in remaining:
            if all(p in placed for p in parent_sets[v]):
                order.append(v)
                placed.add(v)
                progressed = True
            else:
                still.append(v)
        if not progressed:
            raise CycleError(_find_cycle(still, parent_sets))
        remaining = still
    return tuple(order)


def reachable(edges: Mapping[str, Iterable[str]], nodes: Iterable[str]) -> set[str]:
    """``nodes`` and every node reachable from them along ``edges`` (node -> next nodes).

    With ``edges`` mapping each node to its parents this is the ancestral set; mapping each
    node to its children, the descendants.
    """
    out = set(nodes)
    stack = list(out)
    while stack:
        for p in edges[stack.pop()]:
            if p not in out:
                out.add(p)
                stack.append(p)
    return out


class Structure(Displayable):
    """A DAG over discrete variables with ordered states; no probabilities.

    Parameters
    ----------
    variables
        Variable names, in any order; stored in a stable topological order.
    states
        Ordered state names per variable.
    parents
        Parent names per variable (variables without an entry have no parents).

    Examples
    --------
    >>> s = Structure(variables=["rain", "wet"], states={"rain": ("no", "yes"),
    ...               "wet": ("no", "yes")}, parents={"wet": ("rain",)})
    >>> s.edges
    [('rain', 'wet')]
    """

    __slots__ = ("__dict__", "_parents", "_states", "_variables")

    def __init__(
        self,
        variables: Iterable[str],
        states: Mapping[str, Iterable[str]],
        parents: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        names = [str(v) for v in variables]
        parents = parents or {}
        seen: set[str] = set()
        for v in names:
            if v in seen:
                raise StructureError(f"variable {v!r} is listed twice; give each variable once.")
            seen.add(v)
        for v in parents:
            if v not in seen:
                raise StructureError(
                    f"parents are given for {v!r}, which is not among the variables; "
                    "add it to `variables` or remove its entry."
                )
        norm_states: dict[str, tuple[str, ...]] = {}
        for v in names:
            if v not in states:
                raise StructureError(f"variable {v!r} has no states; give its ordered states.")
            st = tuple(str(s) for s in states[v])
            if not st:
                raise StructureError(
                    f"variable {v!r} has an empty state list; a discrete variable needs "
                    "at least one state."
                )
            if len(set(st)) != len(st):
                dup = sorted({s for s in st if st.count(s) > 1})
                raise StructureError(
                    f"variable {v!r} has duplicate states {dup}; state names must be unique."
                )
            norm_states[v] = st
        norm_parents: dict[str, tuple[str, ...]] = {}
        for v in names:
            ps = tuple(str(p) for p in parents.get(v, ()))
            for p in ps:
                if p not in seen:
                    raise StructureError(
                        f"variable {v!r} has unknown parent {p!r}; declare {p!r} as a "
                        "variable or remove it from the parents."
                    )
                if p == v:
                    raise CycleError([v])
            if len(set(ps)) != len(ps):
                raise StructureError(f"variable {v!r} lists a parent twice: {ps}.")
            norm_parents[v] = ps
        order = topological_order(names, norm_parents)
        self._variables: tuple[str, ...] = order
        self._states = MappingProxyType({v: norm_states[v] for v in order})
        self._parents = MappingProxyType({v: norm_parents[v] for v in order})

    # -- the public contract -------------------------------------------------------------
    @property
    def variables(self) -> tuple[str, ...]:
        """Variable names in topological order."""
        return self._variables

    @property
    def states(self) -> Mapping[str, tuple[str, ...]]:
        """Ordered state names per variable (read-only mapping)."""
        return self._states

    @property
    def parents(self) -> Mapping[str, tuple[str, ...]]:
        """Parents per variable, in CPT axis order (read-only mapping)."""
        return self._parents

    @property
    def structure(self) -> Structure:
        """The structure itself (so nets and structures can be used alike)."""
        return self

    @cached_property
    def edges(self) -> list[tuple[str, str]]:
        """Edges as ``(parent, child)`` pairs, children in topological order."""
        return [(p, v) for v in self._variables for p in self._parents[v]]

    @cached_property
    def children(self) -> Mapping[str, tuple[str, ...]]:
        """Children per variable, in topological order."""
        kids: dict[str, list[str]] = {v: [] for v in self._variables}
        for p, c in self.edges:
            kids[p].append(c)
        return MappingProxyType({v: tuple(k) for v, k in kids.items()})

    @cached_property
    def cards(self) -> Mapping[str, int]:
        """Number of states per variable."""
        return MappingProxyType({v: len(s) for v, s in self._states.items()})

    @cached_property
    def index(self) -> Mapping[str, int]:
        """Position of each variable in :attr:`variables`."""
        return MappingProxyType({v: i for i, v in enumerate(self._variables)})

    def ancestral_set(self, nodes: Iterable[str]) -> set[str]:
        """The given variables and all their ancestors."""
        return reachable(self._parents, nodes)

    def family_shape(self, variable: str) -> tuple[int, ...]:
        """Shape of the CPT of ``variable``: ``(*parent cards, card)``."""
        self._check_known(variable)
        return tuple(self.cards[p] for p in self._parents[variable]) + (self.cards[variable],)

    def n_parent_configs(self, variable: str) -> int:
        """Return the number of parent configurations of ``variable`` (1 for a root)."""
        return int(np.prod(self.family_shape(variable)[:-1], dtype=np.int64))

    def with_parents(self, parents: Mapping[str, Iterable[str]]) -> Structure:
        """Return a new structure with the same variables and states but new parent sets."""
        return Structure(self._variables, self._states, parents)

    def _check_known(self, variable: str) -> None:
        if variable not in self._states:
            raise StructureError(
                f"unknown variable {variable!r}; known variables include "
                f"{list(self._variables[:8])}{' ...' if len(self._variables) > 8 else ''}."
            )

    # -- value semantics -------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (
            self._variables,
            tuple(self._states[v] for v in self._variables),
            tuple(self._parents[v] for v in self._variables),
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not Structure:
            return NotImplemented
        return self._key() == other._key()

    @cached_property
    def _hash(self) -> int:
        return hash(self._key())

    def __hash__(self) -> int:
        # once per structure: caches keyed by a structure (plans, requisite programs, state
        # codes) look it up on every row
        return self._hash

    def __repr__(self) -> str:
        return f"Structure({len(self._variables)} variables, {len(self.edges)} edges)"


def _as_cpt(structure: Structure, variable: str, table: ArrayLike) -> NDArray[np.float64]:
    arr = np.array(table, dtype=np.float64)
    shape = structure.family_shape(variable)
    if arr.shape != shape:
        if arr.size == int(np.prod(shape)) and arr.ndim == 1:
            # a flat list in row-major (parent configurations, then states) order
            arr = arr.reshape(shape)
        else:
            ps = structure.parents[variable]
            raise CPTError(
                f"CPT of {variable!r} has shape {arr.shape}, expected {shape} "
                f"(parents {list(ps)} then the {shape[-1]} states of {variable!r}). "
                "Reorder or reshape the table to (*parent cards, card)."
            )
    if not np.all(np.isfinite(arr)):
        raise CPTError(f"CPT of {variable!r} contains NaN or infinite values.")
    if np.any(arr < 0):
        where = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise CPTError(
            f"CPT of {variable!r} has a negative entry at index {where}; "
            "probabilities must be >= 0."
        )
    sums = arr.sum(axis=-1)
    bad = np.abs(sums - 1.0) > CPT_SUM_ATOL
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CPTError(
            f"CPT of {variable!r}: the row for parent configuration {where} sums to "
            f"{float(sums[where]):.6g}, not 1 (tolerance {CPT_SUM_ATOL}). Normalise each "
            "row over the last axis."
        )
    arr.setflags(write=False)
    return arr


class BayesNet(Displayable):
    """A structure with one conditional probability table per variable.

    Parameters
    ----------
    variables, states, parents
        As for :class:`Structure`.
    cpts
        Per variable, an array of shape ``(*parent cards, card)`` whose last axis sums
        to one (within ``CPT_SUM_ATOL``), or the same numbers as a flat row-major list.
    structure
        Alternative to ``variables``/``states``/``parents``: an existing structure.
    schema
        The raw-data :class:`~bnlab.schema.Schema` the network was fitted with (or its
        ``to_dict()`` form), if any: how raw columns become its variables, bins included.
        It is saved in the network's JSON file and is not part of equality.

    Raises
    ------
    SchemaError
        A schema whose states differ from the network's for a shared variable.
    """

    __slots__ = ("_cpts", "_schema", "_structure")

    def __init__(
        self,
        variables: Iterable[str] | None = None,
        states: Mapping[str, Iterable[str]] | None = None,
        parents: Mapping[str, Iterable[str]] | None = None,
        cpts: Mapping[str, ArrayLike] | None = None,
        *,
        structure: Structure | None = None,
        schema: Schema | Mapping[str, Any] | None = None,
    ) -> None:
        if structure is None:
            if variables is None or states is None:
                raise StructureError("give either a `structure` or `variables` and `states`.")
            structure = Structure(variables, states, parents)
        cpts = cpts or {}
        missing = [v for v in structure.variables if v not in cpts]
        if missing:
            raise CPTError(f"no CPT given for {missing}; every variable needs one.")
        unknown = [v for v in cpts if v not in structure.states]
        if unknown:
            raise CPTError(f"CPTs given for unknown variables {unknown}.")
        self._structure = structure
        self._cpts = MappingProxyType(
            {v: _as_cpt(structure, v, cpts[v]) for v in structure.variables}
        )
        self._schema = None if schema is None else _check_schema(structure, schema)

    @property
    def structure(self) -> Structure:
        """The network's structure (no CPTs)."""
        return self._structure

    @property
    def variables(self) -> tuple[str, ...]:
        """Variable names in topological order."""
        return self._structure.variables

    @property
    def states(self) -> Mapping[str, tuple[str, ...]]:
        """Ordered state names per variable."""
        return self._structure.states

    @property
    def parents(self) -> Mapping[str, tuple[str, ...]]:
        """Parents per variable, in CPT axis order."""
        return self._structure.parents

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Edges as ``(parent, child)`` pairs."""
        return self._structure.edges

    @property
    def cards(self) -> Mapping[str, int]:
        """Number of states per variable."""
        return self._structure.cards

    @property
    def cpts(self) -> Mapping[str, NDArray[np.float64]]:
        """All CPTs (read-only arrays), keyed by variable."""
        return self._cpts

    def cpt(self, variable: str) -> NDArray[np.float64]:
        """CPT of ``variable``, shape ``(*parent cards, card)`` (read-only)."""
        self._structure._check_known(variable)
        return self._cpts[variable]

    @property
    def schema(self) -> Schema | None:
        """The raw-data schema carried with the network (``None`` if it has none)."""
        return self._schema

    def with_cpts(self, cpts: Mapping[str, ArrayLike]) -> BayesNet:
        """Return a new network with some CPTs replaced (the schema is kept)."""
        merged: dict[str, ArrayLike] = dict(self._cpts)
        merged.update(cpts)
        return BayesNet(cpts=merged, structure=self._structure, schema=self._schema)

    def with_schema(self, schema: Schema | Mapping[str, Any] | None) -> BayesNet:
        """Return the same network carrying ``schema`` (``None`` drops it)."""
        return BayesNet(cpts=self._cpts, structure=self._structure, schema=schema)

    def __eq__(self, other: object) -> bool:
        if type(other) is not BayesNet:
            return NotImplemented
        return self._structure == other._structure and all(
            np.array_equal(self._cpts[v], other._cpts[v]) for v in self.variables
        )

    def __hash__(self) -> int:
        return hash(self._structure)

    def __repr__(self) -> str:
        n_params = sum(int(np.prod(c.shape)) for c in self._cpts.values())
        return (
            f"BayesNet({len(self.variables)} variables, {len(self.edges)} edges, "
            f"{n_params} parameters)"
        )


def _check_schema(structure: Structure, schema: Schema | Mapping[str, Any]) -> Schema:
    """The schema as a :class:`~bnlab.schema.Schema`, its states checked against the net's."""
    from bnlab.schema import Schema, SchemaError

    sch = schema if isinstance(schema, Schema) else Schema.from_dict(schema)
    bad = [
        c.name
        for c in sch.columns
        if c.name in structure.states and tuple(structure.states[c.name]) != c.states
    ]
    if bad:
        v = bad[0]
        raise SchemaError(
            f"the schema's states of {bad[:5]} differ from the network's (e.g. {v!r}: "
            f"{list(sch.column(v).states)[:6]} vs {list(structure.states[v])[:6]}); pass the "
            "schema the network was fitted with."
        )
    return sch


def as_structure(obj: Structure | BayesNet) -> Structure:
    """Return the structure of a :class:`Structure` or :class:`BayesNet`."""
    if isinstance(obj, (Structure, BayesNet)):
        return obj.structure
    raise StructureError(
        f"expected a bnlab Structure or BayesNet, got {type(obj).__name__}; build one with "
        "bnlab.Structure(...) or read one with bnlab.read_network(path)."
    )
