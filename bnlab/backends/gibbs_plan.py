"""The Gibbs backend's plan: flat CPT layout, the cells to impute, and exact conditionals.

Built once per structure and data set (:func:`build_plan`) and used by every sweep of
:mod:`bnlab.backends.gibbs_backend`. All arrays carry a leading chain axis, so one set of array
operations advances every chain. Conditionals are products of CPT entries gathered by flat
index (the Markov-blanket formula of :mod:`bnlab.infer.blanket`, batched over chains, and over
the joint states of a pair of targets); :func:`gibbs_conditional` exposes them for checking
against enumeration.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bnlab.counts import family_counts_array
from bnlab.network import Structure

Codes = NDArray[np.signedinteger]
Cpts = dict[str, NDArray[np.float64]]


def inverse_cdf(w: NDArray[np.float64], u: NDArray[np.float64]) -> NDArray[np.int64]:
    """Draw one state per cell from unnormalised weights by inverse CDF.

    Parameters
    ----------
    w
        ``(card, ...)`` non-negative weights, states on the FIRST axis (each state's
        weights are then contiguous, which keeps the running sums fast for small cards).
    u
        ``w.shape[1:]`` uniforms in ``[0, 1)``.

    Returns
    -------
    numpy.ndarray
        States ``#{k < card - 1 : w[0] + ... + w[k] <= u * total}``, or -1 where the
        weights are all zero (or not finite). A state of weight zero is never drawn.
    """
    total = w.sum(axis=0)
    threshold = u * total
    state = np.zeros(u.shape, dtype=np.int64)
    cum = np.zeros(u.shape)
    for k in range(w.shape[0] - 1):
        cum += w[k]
        state += cum <= threshold
    return np.where((total > 0) & np.isfinite(total), state, -1)


@dataclass(frozen=True)
class _Factor:
    """One CPT touching the targets: flat index ``offset + sum(code * stride) + state``."""

    offset: int
    columns: tuple[int, ...]  # the members of the family that are not targets
    strides: tuple[int, ...]
    state_offsets: NDArray[np.intp]  # per joint target state: its flat offset in this CPT
    active: NDArray[np.bool_] | None  # per update row: the factor applies (None: all rows)


@dataclass(frozen=True)
class _Update:
    """Missing cells redrawn together: one variable, or a pair sharing a family."""

    variables: tuple[str, ...]
    columns: tuple[int, ...]
    cards: tuple[int, ...]
    rows: NDArray[np.intp]  # rows where every target is missing (and not summed out)
    factors: tuple[_Factor, ...]  # the first variable's own CPT first


@dataclass(frozen=True)
class _Family:
    """Counts of one family: fixed part, and the rows recounted every sweep."""

    offset: int
    size: int
    columns: tuple[int, ...]
    strides: tuple[int, ...]
    fixed: NDArray[np.float64]
    rows: NDArray[np.intp]


@dataclass(frozen=True)
class GibbsPlan:
    """What a sweep needs, built once from the structure and the data codes.

    All CPTs of a chain live in one flat float64 vector: variables grouped by card (cards
    ascending, topological order within a card), each CPT flattened row-major, so the CPT
    rows of one card form a contiguous ``(rows, card)`` block for the Dirichlet draws.

    Attributes
    ----------
    structure
        The fitted structure.
    codes
        The data codes (``-1`` = missing); never modified.
    offsets
        Start of each variable's CPT in the flat vector.
    size
        Length of the flat vector (number of CPT entries).
    groups
        ``(card, start, stop)`` of each card's block.
    updates
        Per variable with missing cells (topological order): its rows and blanket factors.
    pairs
        Per pair of variables sharing a family, the rows where both are imputed: redrawn
        jointly after the single-cell updates (see :func:`build_plan`).
    families
        Per variable (topological order): its counts.
    """

    structure: Structure
    codes: Codes
    offsets: dict[str, int]
    size: int
    groups: tuple[tuple[int, int, int], ...]
    updates: tuple[_Update, ...]
    families: tuple[_Family, ...]
    pairs: tuple[_Update, ...] = ()

    @property
    def n_imputed_cells(self) -> int:
        """Number of missing cells that are imputed (the others are summed out)."""
        return int(sum(u.rows.size for u in self.updates))

    def flatten(self, cpts: Mapping[str, NDArray[np.float64]]) -> NDArray[np.float64]:
        """Per-variable arrays ``(..., *family shape)`` to the flat layout ``(..., size)``."""
        s = self.structure
        lead = np.asarray(cpts[s.variables[0]]).shape[: -len(s.family_shape(s.variables[0]))]
        out = np.empty((*lead, self.size))
        for v in s.variables:
            n = math.prod(s.family_shape(v))
            out[..., self.offsets[v] : self.offsets[v] + n] = np.reshape(cpts[v], (*lead, n))
        return out

    def unflatten(self, flat: NDArray[np.float64]) -> Cpts:
        """The flat layout ``(..., size)`` back to per-variable CPT arrays."""
        s = self.structure
        out: Cpts = {}
        for v in s.variables:
            shape = s.family_shape(v)
            o = self.offsets[v]
            out[v] = flat[..., o : o + math.prod(shape)].reshape(*flat.shape[:-1], *shape)
        return out


def _strides(s: Structure, v: str) -> dict[str, int]:
    """Row-major strides of the members of ``v``'s family in its flattened CPT."""
    members = (*s.parents[v], v)
    out, step = {}, 1
    for u in reversed(members):
        out[u] = step
        step *= s.cards[u]
    return out


def barren_cells(structure: Structure, codes: Codes) -> NDArray[np.bool_]:
    """Missing cells with no observed descendant in their row, ``(rows, variables)``.

    Such a cell, and every family it is the child of, sums out to one in the row's
    likelihood: the row tells nothing about those CPTs, and leaving the cells out of the
    state is exact (and removes near-deterministic couplings that slow single-site Gibbs).
    """
    s = structure
    barren = np.zeros(codes.shape, dtype=bool)
    for v in reversed(s.variables):
        j = s.index[v]
        cell = codes[:, j] < 0
        for c in s.children[v]:
            cell &= barren[:, s.index[c]]
        barren[:, j] = cell
    return barren


def build_plan(
    structure: Structure, codes: Codes, *, sum_out_barren: bool = True, pairs: bool = True
) -> GibbsPlan:
    """Lay out the CPTs, index the missing cells and count the fixed part of every family.

    With ``sum_out_barren`` the cells of :func:`barren_cells` are summed out (not imputed,
    not counted); otherwise every missing cell is imputed. With ``pairs``, two imputed
    cells of a row whose variables share a family (moral neighbours) are also redrawn
    jointly: single-cell moves cannot cross between two near-deterministic explanations
    of an observed child (co-parents ``(a, b)`` with ``(a0, b0)`` and ``(a1, b1)`` both
    likely, ``(a0, b1)`` and ``(a1, b0)`` not), a joint move can.
    """
    s = structure
    order = sorted(s.variables, key=lambda v: (s.cards[v], s.index[v]))
    offsets, groups, pos = {}, [], 0
    for r in sorted({s.cards[v] for v in s.variables}):
        start = pos
        for v in (v for v in order if s.cards[v] == r):
            offsets[v] = pos
            pos += math.prod(s.family_shape(v))
        groups.append((r, start, pos))
    is_missing = codes < 0
    has_missing = bool(is_missing.any())
    barren = barren_cells(s, codes) if sum_out_barren else np.zeros(codes.shape, dtype=bool)
    strides = {v: _strides(s, v) for v in s.variables}

    imputed = is_missing & ~barren

    def update(targets: tuple[str, ...], rows: NDArray[np.intp]) -> _Update:
        cards = tuple(s.cards[v] for v in targets)
        joint = np.indices(cards).reshape(len(targets), -1)  # (targets, joint states)
        fams = list(dict.fromkeys(f for v in targets for f in (v, *s.children[v])))
        factors = []
        for f in fams:
            st = strides[f]
            members = (*s.parents[f], f)
            others = [u for u in members if u not in targets]
            state_offsets = sum(
                (joint[i] * st[v] for i, v in enumerate(targets) if v in members),
                start=np.zeros(joint.shape[1], dtype=np.intp),
            )
            active = ~barren[rows, s.index[f]]
            factors.append(
                _Factor(
                    offsets[f],
                    tuple(s.index[u] for u in others),
                    tuple(st[u] for u in others),
                    state_offsets.astype(np.intp),
                    None if active.all() else active,
                )
            )
        return _Update(targets, tuple(s.index[v] for v in targets), cards, rows, tuple(factors))

    updates = []
    for v in s.variables:
        rows = np.flatnonzero(imputed[:, s.index[v]])
        if rows.size:
            updates.append(update((v,), rows))
    pair_updates = []
    if pairs:
        seen: set[tuple[str, str]] = set()
        for f in s.variables:
            fam = sorted((*s.parents[f], f), key=s.index.__getitem__)
            for a, b in itertools.combinations(fam, 2):
                rows = np.flatnonzero(imputed[:, s.index[a]] & imputed[:, s.index[b]])
                if (a, b) not in seen and rows.size:
                    seen.add((a, b))
                    pair_updates.append(update((a, b), rows))
    families = []
    for v in s.variables:
        members = (*s.parents[v], v)
        cols = [s.index[u] for u in members]
        fixed, _ = family_counts_array(
            codes, cols, [s.cards[u] for u in members], has_missing=has_missing
        )
        families.append(
            _Family(
                offsets[v],
                fixed.size,
                tuple(cols),
                tuple(strides[v][u] for u in members),
                fixed.reshape(-1).astype(np.float64),
                np.flatnonzero(is_missing[:, cols].any(axis=1) & ~barren[:, s.index[v]]),
            )
        )
    return GibbsPlan(
        s,
        codes,
        offsets,
        pos,
        tuple(groups),
        tuple(updates),
        tuple(families),
        tuple(pair_updates),
    )


def blanket_weights(
    update: _Update,
    theta: NDArray[np.float64],
    filled: NDArray[np.intp],
    *,
    own_only: bool = False,
) -> NDArray[np.float64]:
    """Unnormalised ``P(targets | Markov blanket)`` of the update's cells, for every chain.

    Parameters
    ----------
    update
        The target variable(s) and their rows.
    theta
        Flat CPTs ``(chains, size)``.
    filled
        Completed codes ``(variables, chains, rows)``.
    own_only
        Use ``P(v | parents)`` only (forward sampling of a single target ``v``).

    Returns
    -------
    numpy.ndarray
        ``(joint states, chains, rows)``: the product of every CPT touching the targets
        (one variable: ``theta_v[pa, t] * prod_children theta_c[.., t, ..]``), joint states
        row-major over the targets, first (see :func:`inverse_cdf`).
    """
    chains, size = theta.shape
    flat = theta.reshape(-1)
    chain_offset = (np.arange(chains, dtype=np.intp) * size)[:, None]

    def gather(f: _Factor) -> NDArray[np.float64]:
        base = np.broadcast_to(chain_offset + f.offset, (chains, update.rows.size))
        for col, stride in zip(f.columns, f.strides, strict=True):
            part = np.take(filled[col], update.rows, axis=1)
            part *= stride
            base = base + part
        return np.asarray(flat[base + f.state_offsets[:, None, None]], dtype=np.float64)

    weight = gather(update.factors[0])
    for f in () if own_only else update.factors[1:]:
        g = gather(f)
        weight *= g if f.active is None else np.where(f.active, g, 1.0)
    return weight


def gibbs_conditional(
    structure: Structure,
    cpts: Mapping[str, NDArray[np.float64]],
    codes: Codes,
    variable: str | tuple[str, str],
) -> NDArray[np.float64]:
    """The Gibbs conditional ``P(variable | every other column, cpts)`` used by a sweep.

    Parameters
    ----------
    structure
        The structure.
    cpts
        CPT per variable, ``(*parent cards, card)``.
    codes
        ``(rows, variables)`` codes; every column but ``variable``'s is observed.
    variable
        The variable whose cells are redrawn, or a pair sharing a family (redrawn jointly).

    Returns
    -------
    numpy.ndarray
        ``(rows, joint states)`` (row-major over a pair), rows summing to one (NaN for a
        row of probability zero).
    """
    targets = (variable,) if isinstance(variable, str) else tuple(variable)
    blank = np.array(codes, dtype=np.int64)
    blank[:, [structure.index[v] for v in targets]] = -1
    plan = build_plan(structure, blank, sum_out_barren=False)
    (update,) = (u for u in (*plan.updates, *plan.pairs) if u.variables == targets)
    filled = np.where(blank < 0, 0, blank).T[:, None, :].astype(np.intp)
    w = blanket_weights(update, plan.flatten(cpts)[None], filled)[:, 0].T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(w / w.sum(axis=-1, keepdims=True), dtype=np.float64)
