"""Exact variable elimination of the summed-out missing cells, compiled into a layered circuit.

:func:`~bnlab.backends.model_spec.pack` enumerates every joint state of a component of missing
variables: a term with ``K`` joint states and ``F`` families gathers ``K * F`` CPT entries
(ALARM, 5,000 rows, 20% missing: 3.6 million per log density, 1.7 million of them from 5
terms). Variable elimination sums the same terms out one variable at a time, so a term costs
the sizes of its intermediate factors instead (the result is the same number, exactly).

The elimination of every term is laid out as a *circuit* over one value vector ``buf``: it
starts as ``log theta`` (all CPTs, flat, :func:`~bnlab.backends.model_spec.pack`'s order) followed
by one ``0``; each *level* appends the entries of the intermediate factors whose inputs are
all on earlier levels. An entry of a new factor is ``logsumexp_x sum_{g in bucket} g[...]``
over the ``card`` states of the eliminated variable ``x``, so a level is a few groups of equal
``(card, fan-in)``: one gather of shape ``(n, card, fan-in)`` from ``buf``, a sum over the last
axis and a logsumexp over the middle one. Identical entries (same inputs, from different
terms or rows) are computed once. When a term's variables are all eliminated, its factors
are scalars (*roots*), and

``sum_terms w_t log P(observed part of t) = sum_roots weight[root] * buf[root]``.

The elimination order is greedy (smallest new factor first), once per block (its terms
share the component and families; only the observed context differs).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnlab.backends.model_spec import MissingBlock, ModelSpec, PackedLikelihood
from bnlab.errors import BackendError
from bnlab.network import Structure


class CircuitGroup(NamedTuple):
    """One group of a level: ``n`` new entries from ``(n, card, fan_in)`` inputs.

    The inputs are stored from ``start`` in :attr:`EliminationCircuit.node_index`.
    """

    card: int
    fan_in: int
    n: int
    start: int


class EliminationCircuit(NamedTuple):
    """The summed-out terms of a spec as a layered variable-elimination circuit.

    Attributes
    ----------
    n_params
        Length of the flat parameter vector (``buf`` starts with it, then one zero at
        ``n_params``).
    count_index, count_value
        Complete-family counts, as in :class:`~bnlab.backends.model_spec.PackedLikelihood`.
    node_index
        ``int32`` positions in ``buf`` of the inputs of every group, level by level.
    levels
        Per level, its groups (their new entries are appended to ``buf`` in this order).
    root_index, root_weight
        Positions in ``buf`` of every term's scalar factors, and the term's row count.
    """

    n_params: int
    count_index: NDArray[np.int32]
    count_value: NDArray[np.float64]
    node_index: NDArray[np.int32]
    levels: tuple[tuple[CircuitGroup, ...], ...]
    root_index: NDArray[np.int32]
    root_weight: NDArray[np.float64]

    @property
    def n_gathered(self) -> int:
        """Number of ``buf`` entries gathered per evaluation (roots included)."""
        return int(self.node_index.size + self.root_index.size)

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The data arrays, to pass to a compiled log density as arguments."""
        return {
            "count_index": self.count_index,
            "count_value": self.count_value,
            "node_index": self.node_index,
            "root_index": self.root_index,
            "root_weight": self.root_weight,
        }


class _Pending(NamedTuple):
    """A group's inputs before layout: ``inputs`` ``(n, card, fan_in)`` of node ids."""

    level: int
    card: int
    fan_in: int
    inputs: NDArray[np.int64]
    out: NDArray[np.int64]  # (n,) provisional ids of the new entries


class _Builder:
    """Collects the elimination of every block with provisional node ids, then lays out."""

    def __init__(self, n_params: int) -> None:
        self.base = n_params + 2  # provisional ids start here (buf: logp, 0, -inf)
        self.next_id = self.base
        self.pending: list[_Pending] = []
        self.roots: list[NDArray[np.int64]] = []
        self.root_weights: list[NDArray[np.float64]] = []

    def new_ids(self, shape: tuple[int, ...]) -> NDArray[np.int64]:
        n = math.prod(shape)
        ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64).reshape(shape)
        self.next_id += n
        return ids

    def layout(
        self, pad: str
    ) -> tuple[NDArray[np.int32], tuple[tuple[CircuitGroup, ...], ...], Any]:
        """Assign ``buf`` positions level by level, merging identical entries.

        ``pad``: ``"none"`` (one group per ``(card, fan-in)``), ``"fan_in"`` (one per card:
        short fan-ins padded with the zero slot ``n_params``) or ``"all"`` (one per level:
        also missing states padded with the ``-inf`` slot ``n_params + 1``).
        """
        final = np.full(self.next_id, -1, dtype=np.int64)
        final[: self.base] = np.arange(self.base)
        size = self.base
        zero, ninf = self.base - 2, self.base - 1
        index_parts: list[NDArray[np.int64]] = []
        levels: list[tuple[CircuitGroup, ...]] = []
        pos = 0
        by_level: dict[int, dict[tuple[int, int], list[_Pending]]] = {}
        for p in self.pending:
            by_level.setdefault(p.level, {}).setdefault((p.card, p.fan_in), []).append(p)
        for level in sorted(by_level):
            blocks: list[tuple[int, int, NDArray[np.int64]]] = []  # (card, fan_in, (n, c, f))
            for (card, fan_in), parts in sorted(by_level[level].items()):
                inputs = np.concatenate([final[p.inputs.reshape(len(p.out), -1)] for p in parts])
                out = np.concatenate([p.out for p in parts])
                # an entry's value does not depend on the order of its fan-in
                key = np.sort(inputs.reshape(-1, card, fan_in), axis=2).reshape(len(out), -1)
                uniq, inverse = np.unique(key, axis=0, return_inverse=True)
                final[out] = size + inverse.reshape(-1)
                size += int(uniq.shape[0])
                blocks.append((card, fan_in, uniq.reshape(-1, card, fan_in)))
            groups: list[CircuitGroup] = []
            for card, fan_in, arr in _padded(blocks, pad, zero, ninf):
                index_parts.append(arr.reshape(-1))
                groups.append(CircuitGroup(card, fan_in, int(arr.shape[0]), pos))
                pos += int(arr.size)
            levels.append(tuple(groups))
        node_index = np.concatenate([np.zeros(0, dtype=np.int64), *index_parts])
        if size >= np.iinfo(np.int32).max:
            raise BackendError(f"{size} circuit entries exceed int32 indices.")
        return node_index.astype(np.int32), tuple(levels), final


def _padded(
    blocks: list[tuple[int, int, NDArray[np.int64]]], pad: str, zero: int, ninf: int
) -> list[tuple[int, int, NDArray[np.int64]]]:
    """Merge a level's ``(card, fan_in, inputs)`` groups by padding (see ``layout``)."""
    if pad == "none" or not blocks:
        return blocks
    merged: dict[int, list[tuple[int, int, NDArray[np.int64]]]] = {}
    for card, fan_in, arr in blocks:
        merged.setdefault(card if pad == "fan_in" else 0, []).append((card, fan_in, arr))
    out = []
    for parts in merged.values():
        c = max(p[0] for p in parts)
        f = max(p[1] for p in parts)
        arrs = []
        for card, fan_in, arr in parts:
            full = np.full((arr.shape[0], c, f), zero, dtype=np.int64)
            full[:, card:, 0] = ninf
            full[:, :card, :fan_in] = arr
            arrs.append(full)
        out.append((c, f, np.concatenate(arrs)))
    return out


def _factor_tables(
    s: Structure, block: MissingBlock, offsets: dict[str, int]
) -> list[tuple[tuple[str, ...], NDArray[np.int64]]]:
    """Each family of a block as a factor over its missing variables.

    Returns ``(scope, ids)`` pairs: ``ids`` ``(terms, *cards of scope)`` are global flat CPT
    indices (the block's full-grid index arrays, restricted to the scope's axes).
    """
    comp = block.missing
    cards = [s.cards[v] for v in comp]
    out = []
    for f, idx in zip(block.families, block.index, strict=True):
        family = {*s.parents[f], f}
        grid = idx.reshape(idx.shape[0], *cards) + offsets[f]
        take = tuple(slice(None) if v in family else 0 for v in comp)
        scope = tuple(v for v in comp if v in family)
        out.append((scope, grid[(slice(None), *take)]))
    return out


def _cost(s: Structure, x: str, scopes: list[tuple[str, ...]]) -> tuple[int, int]:
    """Greedy elimination cost of ``x``: size of the new factor, then its fan-in."""
    scope = {v for sc in scopes if x in sc for v in sc} - {x}
    return math.prod(s.cards[v] for v in scope), sum(x in sc for sc in scopes)


def _eliminate_block(
    b: _Builder, s: Structure, block: MissingBlock, offsets: dict[str, int]
) -> None:
    """Add one block's elimination (all its terms at once) to the builder."""
    factors = [(scope, ids, 0) for scope, ids in _factor_tables(s, block, offsets)]
    n_terms = int(block.weight.size)
    left = list(block.missing)
    while left:
        x = min(left, key=lambda v: _cost(s, v, [f[0] for f in factors]))
        left.remove(x)
        bucket = [f for f in factors if x in f[0]]
        factors = [f for f in factors if x not in f[0]]
        new_scope = tuple(v for v in block.missing if v != x and any(v in f[0] for f in bucket))
        axes = (*new_scope, x)
        shape = (n_terms, *(s.cards[v] for v in axes))
        stacked = []
        for scope, ids, _ in bucket:
            # broadcast (terms, *scope) onto (terms, *new_scope, x)
            order = [scope.index(v) for v in axes if v in scope]
            moved = np.transpose(ids, [0, *(1 + i for i in order)])
            expand = [n_terms] + [s.cards[v] if v in scope else 1 for v in axes]
            stacked.append(np.broadcast_to(moved.reshape(expand), shape))
        inputs = np.stack(stacked, axis=-1)  # (terms, *new, card, fan_in)
        level = 1 + max(lv for _, _, lv in bucket)
        out = b.new_ids(shape[:-1])
        card, fan_in = s.cards[x], len(bucket)
        b.pending.append(
            _Pending(level, card, fan_in, inputs.reshape(-1, card, fan_in), out.reshape(-1))
        )
        factors.append((new_scope, out, level))
    for scope, ids, _ in factors:
        assert not scope
        b.roots.append(ids.reshape(-1))
        b.root_weights.append(block.weight)


def build_circuit(
    spec: ModelSpec, packed: PackedLikelihood | None = None, pad: str = "all"
) -> EliminationCircuit:
    """Compile a spec's summed-out terms into an :class:`EliminationCircuit`."""
    packed = spec.packed if packed is None else packed
    b = _Builder(packed.n_params)
    for block in spec.blocks:
        _eliminate_block(b, spec.structure, block, packed.offsets)
    node_index, levels, final = b.layout(pad)
    roots = np.concatenate([np.zeros(0, dtype=np.int64), *b.roots])
    weights = np.concatenate([np.zeros(0), *b.root_weights]).astype(np.float64)
    return EliminationCircuit(
        packed.n_params,
        packed.count_index,
        packed.count_value,
        node_index,
        levels,
        final[roots].astype(np.int32),
        weights,
    )


def circuit_loglik(circuit: EliminationCircuit, logp: Any, data: Any, xp: Any, lse: Any) -> Any:
    """Evaluate the circuit: ``<counts, logp> + sum_roots weight * buf[root]``.

    ``xp`` is ``numpy`` or ``jax.numpy``; ``lse(x, axis)`` a logsumexp; ``data`` the arrays of
    :meth:`EliminationCircuit.arrays` (numpy or traced).
    """
    total = xp.dot(data["count_value"], logp[data["count_index"]])
    if circuit.root_index.size == 0:
        return total
    buf = xp.concatenate([logp, xp.asarray([0.0, -np.inf], dtype=logp.dtype)])
    idx = data["node_index"]
    for groups in circuit.levels:
        outs = []
        for g in groups:
            ix = idx[g.start : g.start + g.n * g.card * g.fan_in]
            x = xp.reshape(buf[ix], (g.n, g.card, g.fan_in))
            outs.append(lse(xp.sum(x, axis=2), 1))
        buf = xp.concatenate([buf, *outs])
    return total + xp.dot(data["root_weight"], buf[data["root_index"]])


def describe(circuit: EliminationCircuit) -> dict[str, int]:
    """Sizes of a circuit (for benchmarks): levels, groups, entries, gathered inputs."""
    return {
        "levels": len(circuit.levels),
        "groups": sum(len(g) for g in circuit.levels),
        "entries": sum(g.n for lv in circuit.levels for g in lv),
        "gathered_entries": circuit.n_gathered,
        "roots": int(circuit.root_index.size),
    }
