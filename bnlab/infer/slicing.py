"""Slicing: exact inference in bounded memory, one variable assignment at a time.

When a plan's largest intermediate exceeds the memory budget, a few variables ``S`` are
*sliced*: the network polynomial is summed over their joint states outside the plan,

    Z = sum_s Z_s,    Z_s = Z with every tensor indexed at S = s,

and each ``Z_s`` is contracted by a plan over the same elimination order in which the
sliced variables have one state, so no intermediate carries their axes. Marginals follow
by weighting each slice's normalised marginals with ``Z_s / Z`` (a log-sum-exp per row);
a sliced variable's marginal is the total weight of the slices that fix it to each state,
and the MPE is the best of the slices' MPEs. Memory falls by the product of the sliced
cardinalities at the largest step; flops rise to the slice count times the sliced plan's.

The sliced variables are chosen greedily (as cotengra does for contraction trees): each
round slices the variable of the current largest intermediate that leaves the fewest total
flops, until the largest intermediate fits. The steps keep their index sets when a variable
is sliced (only its size drops to 1), so candidates are priced on the plan's steps without
re-planning; the sliced plan is built once, over the same elimination order. Slices run on the host
(:mod:`bnlab.infer.eager`, no compilation).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from math import prod
from typing import Any

import numpy as np

from bnlab.infer import eager
from bnlab.infer.layout import cpt_offsets, split_cpts
from bnlab.infer.plan import Plan, plan_from_steps, steps_in_order
from bnlab.network import Structure

#: Sliced variables the greedy search may add before it gives up (each one at least
#: doubles the number of slices).
MAX_SLICED = 24
#: Candidates (variables of the largest intermediate, largest cardinality first) whose
#: sliced plan is priced in each round of the search.
CANDIDATES = 6


@dataclass(frozen=True, eq=False)
class Slicing:
    """A sliced execution of a plan.

    Attributes
    ----------
    plan
        The plan over the same elimination order, with the sliced variables at one state.
    variables
        Plan indices of the sliced variables.
    cards
        Their cardinalities in the full network.
    """

    plan: Plan
    variables: tuple[int, ...]
    cards: tuple[int, ...]

    @property
    def n_slices(self) -> int:
        """Number of slices: the product of the sliced cardinalities."""
        return int(prod(self.cards))

    @property
    def flops(self) -> float:
        """Multiply-adds per row over all slices (the log evidence, one forward pass each)."""
        return self.plan.flops * self.n_slices

    @property
    def largest(self) -> int:
        """Entries of the largest intermediate of one slice, per row."""
        return self.plan.largest


def elimination_order(plan: Plan) -> list[int]:
    """The variables in the order a plan sums them out."""
    return [v for st in plan.steps for v in st.summed if v >= 0]


def sliced_structure(structure: Structure, sliced: Sequence[str]) -> Structure:
    """``structure`` with each variable of ``sliced`` reduced to one state."""
    states = {
        v: (("<slice>",) if v in sliced else structure.states[v]) for v in structure.variables
    }
    return Structure(structure.variables, states, structure.parents)


def _sliced_plan(plan: Plan, structure: Structure, sliced: Sequence[int]) -> Plan:
    """The plan of ``plan``'s elimination order with ``sliced`` at one state."""
    s = sliced_structure(structure, [plan.variables[i] for i in sliced])
    steps = steps_in_order(s, elimination_order(plan))
    return plan_from_steps(s, steps, f"{plan.order_method}, sliced")


def choose_slicing(plan: Plan, structure: Structure, max_largest: float) -> Slicing | None:
    """Slice variables until the largest intermediate has at most ``max_largest`` entries.

    Parameters
    ----------
    plan
        The unsliced plan of ``structure``.
    structure
        The network structure the plan was made for.
    max_largest
        Entries per row the largest intermediate of one slice may have.

    Returns
    -------
    Slicing or None
        ``None`` when no slicing of at most ``MAX_SLICED`` variables fits.
    """
    if max_largest < 1:
        return None  # one entry per row is the least any plan holds
    sliced: list[int] = []
    # the steps every sliced plan will have (a greedy-path plan regrouped by its order)
    base = _sliced_plan(plan, structure, [])
    largest = base.largest
    steps = [(set(st.out) | set(st.summed), set(st.out)) for st in base.steps]
    while largest > max_largest:
        if len(sliced) >= MAX_SLICED:
            return None
        big = max(steps, key=lambda st: _size(st[1], plan.cards, sliced))
        candidates = sorted(
            (ix for ix in big[1] if ix >= 0 and ix not in sliced and plan.cards[ix] > 1),
            key=lambda ix: -plan.cards[ix],
        )[:CANDIDATES]
        if not candidates:
            return None
        priced = []
        for ix in candidates:
            trial = [*sliced, ix]
            slices = prod(plan.cards[i] for i in trial)
            flops = sum(_size(union, plan.cards, trial) for union, _ in steps)
            size = max(_size(out, plan.cards, trial) for _, out in steps)
            priced.append((flops * slices, size, ix))
        _, largest, ix = min(priced)
        sliced.append(ix)
    # no variable sliced: the order regrouped into elimination steps fits by itself
    return Slicing(
        _sliced_plan(plan, structure, sliced),
        tuple(sliced),
        tuple(plan.cards[i] for i in sliced),
    )


def _size(indices: set[int], cards: tuple[int, ...], sliced: Sequence[int]) -> int:
    """Entries per row of a tensor over ``indices`` with the sliced variables fixed."""
    return prod(1 if ix == -1 or ix in sliced else cards[ix] for ix in indices)


def slice_gathers(full: Plan, slicing: Slicing) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per slice, where its flat CPT vector and flat likelihood columns sit in the full ones.

    ``flat_cpts[..., cpt_index]`` and ``flat_liks[:, lik_columns]`` are the flat inputs of
    ``slicing.plan`` for that slice, in the order of ``itertools.product`` over the sliced
    cardinalities.
    """
    offsets = cpt_offsets(full)
    positions = [
        np.arange(offsets[i], offsets[i + 1]).reshape(shape)
        for i, shape in enumerate(full.cpt_shapes)
    ]
    out = []
    for states in itertools.product(*(range(c) for c in slicing.cards)):
        at = dict(zip(slicing.variables, states, strict=True))
        cpt_parts = []
        for pos, ixs in zip(positions, full.tensor_indices[: full.n], strict=True):
            key = tuple(slice(at[ix], at[ix] + 1) if ix in at else slice(None) for ix in ixs)
            cpt_parts.append(pos[key].ravel())
        lik_columns = [
            np.array([o + at[i]]) if i in at else np.arange(o, o + c)
            for i, (o, c) in enumerate(zip(full.lik_offsets, full.cards, strict=True))
        ]
        out.append((np.concatenate(cpt_parts), np.concatenate(lik_columns)))
    return out


class SlicedKernel:
    """``f(flat_cpts, flat_liks)`` of the full plan's layout, run slice by slice.

    Each slice gathers its flat inputs from the full ones and calls ``inner``, the flat
    kernel of ``slicing.plan`` (the host steps of :mod:`bnlab.infer.eager` or a jitted
    program of :func:`bnlab.infer.run.jitted`, compiled once for every slice); ``what`` is
    ``"marginals"`` (returns ``(log_z, flat marginals)``, NaN marginals where the evidence
    is impossible), ``"log_evidence"`` or ``"mpe"`` (``(codes, log_p)``, point CPTs only).
    """

    def __init__(self, full: Plan, slicing: Slicing, what: str, inner: Any) -> None:
        if what not in ("marginals", "log_evidence", "mpe"):
            raise ValueError(f"sliced execution runs marginals, log_evidence and mpe, not {what}")
        self.full = full
        self.slicing = slicing
        self.what = what
        self.inner = inner
        #: the sliced variables' states of every slice, and where its inputs sit
        self.states = list(itertools.product(*(range(c) for c in slicing.cards)))
        self.gathers = slice_gathers(full, slicing)
        #: slices can run in groups: host steps of marginals or log evidence
        self.grouped = isinstance(inner, eager.SegmentedKernel) and what != "mpe"
        sliced_set = set(slicing.variables)
        #: CPTs that index a sliced variable (the others are the same in every slice)
        self.touched = [
            i for i, ixs in enumerate(full.tensor_indices[: full.n]) if sliced_set & set(ixs)
        ]

    def _group(
        self, flat_cpts: np.ndarray, flat_liks: np.ndarray, members: range
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(log_z, marginals or None)`` of several slices, the slices on a leading axis."""
        sp = self.slicing.plan
        parts = [split_cpts(sp, flat_cpts[self.gathers[k][0]]) for k in members]
        cpts = list(parts[0])
        for i in self.touched:
            cpts[i] = np.stack([p[i] for p in parts])
        stacked = np.stack([flat_liks[:, self.gathers[k][1]] for k in members])
        liks = [stacked[..., o : o + c] for o, c in zip(sp.lik_offsets, sp.cards, strict=True)]
        if self.what == "log_evidence":
            return eager.forward(sp, cpts, liks, keep=False)[0], None
        return eager.marginals(sp, cpts, liks)

    def __call__(self, flat_cpts: Any, flat_liks: Any, group: int = 1) -> Any:
        """Run one chunk of rows (``flat_liks`` ``(rows, sum(cards))``) over every slice.

        On the host, point CPTs, ``group`` slices at a time run as one batch: the slices are
        a leading axis of the likelihoods and of the CPTs they index (the draw axis of
        :mod:`bnlab.infer.eager`), so a few rows over many slices pay the per-step dispatch
        once per group instead of once per slice.
        """
        flat_cpts = np.asarray(flat_cpts)
        flat_liks = np.asarray(flat_liks)
        acc = _Accumulator(self.full, self.slicing, self.what)
        states = self.states
        if self.grouped and group > 1 and flat_cpts.ndim == 1:
            for start in range(0, len(states), group):
                members = range(start, min(start + group, len(states)))
                log_z, marg = self._group(flat_cpts, flat_liks, members)
                for g, k in enumerate(members):
                    acc.add(log_z[g], None if marg is None else marg[g], states[k])
            return acc.result()
        for at, (cpt_index, lik_columns) in zip(states, self.gathers, strict=True):
            out = self.inner(flat_cpts[..., cpt_index], flat_liks[:, lik_columns])
            if self.what == "mpe":
                acc.add_mpe(at, *(np.asarray(o) for o in out))
            elif self.what == "log_evidence":
                acc.add(np.asarray(out), None, at)
            else:
                acc.add(np.asarray(out[0]), np.asarray(out[1]), at)
        return acc.result()


class _Accumulator:
    """Running log-sum-exp of the slices' evidence and their weighted marginals."""

    def __init__(self, full: Plan, slicing: Slicing, what: str) -> None:
        self.full, self.slicing, self.what = full, slicing, what
        self.log_z: np.ndarray | None = None
        self.weighted: np.ndarray | None = None  # sum_s exp(log_z_s - log_z) * marginals_s
        self.codes: np.ndarray | None = None
        # columns of the unsliced variables in the full and in the sliced flat marginals
        self.columns = _unsliced_columns(full, slicing.variables)
        self.sliced_columns = _unsliced_columns(slicing.plan, slicing.variables)

    def add(self, log_z: np.ndarray, marg: np.ndarray | None, states: tuple[int, ...]) -> None:
        if self.log_z is None:
            self.log_z = np.full(log_z.shape, -np.inf, dtype=log_z.dtype)
            if marg is not None:
                self.weighted = np.zeros((*log_z.shape, sum(self.full.cards)), log_z.dtype)
        new = np.logaddexp(self.log_z, log_z)
        if marg is not None:
            assert self.weighted is not None
            with np.errstate(invalid="ignore"):
                old_w = np.where(np.isfinite(new), np.exp(self.log_z - new), 0.0)
                w = np.where(np.isfinite(log_z), np.exp(log_z - new), 0.0)
            self.weighted *= old_w[..., None]
            self.weighted[..., self.columns] += w[..., None] * np.nan_to_num(
                marg[..., self.sliced_columns]
            )
            for v, s in zip(self.slicing.variables, states, strict=True):
                self.weighted[..., self.full.lik_offsets[v] + s] += w
        self.log_z = new

    def add_mpe(self, states: tuple[int, ...], codes: np.ndarray, log_p: np.ndarray) -> None:
        codes = np.asarray(codes).copy()
        log_p = np.asarray(log_p)
        for v, s in zip(self.slicing.variables, states, strict=True):
            codes[:, v] = s
        if self.codes is None or self.log_z is None:
            self.codes, self.log_z = codes, log_p
            return
        better = log_p > self.log_z
        self.codes = np.where(better[:, None], codes, self.codes)
        self.log_z = np.where(better, log_p, self.log_z)

    def result(self) -> Any:
        assert self.log_z is not None
        if self.what == "mpe":
            return self.codes, self.log_z
        if self.what == "log_evidence":
            return self.log_z
        assert self.weighted is not None
        finite = np.isfinite(self.log_z)
        return self.log_z, np.where(finite[..., None], self.weighted, np.nan)


def _unsliced_columns(plan: Plan, sliced: Sequence[int]) -> np.ndarray:
    """Columns of the variables not in ``sliced`` in ``plan``'s flat marginals layout."""
    return np.concatenate(
        [
            np.arange(o, o + c)
            for i, (o, c) in enumerate(zip(plan.lik_offsets, plan.cards, strict=True))
            if i not in sliced
        ]
        or [np.zeros(0, dtype=np.int64)]
    )


@cache
def sliced(full: Plan, slicing: Slicing, what: str, draws: bool, mode: str) -> SlicedKernel:
    """The sliced kernel ``what`` of a plan (cached per plan, slicing, draws and mode).

    ``mode`` runs each slice as ``"segmented"`` host steps (no compile) or as one jitted
    ``"program"`` (the MPE always on the host).
    """
    if mode == "program" and what != "mpe":
        from bnlab.infer.run import jitted

        return SlicedKernel(full, slicing, what, jitted(slicing.plan, what, draws))
    return SlicedKernel(full, slicing, what, eager.segmented(slicing.plan, what))
