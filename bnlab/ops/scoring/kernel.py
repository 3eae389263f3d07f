"""Answers for a block of evidence codes: ``P(T = s | the row's other columns)`` per target.

For each target ``T`` a row's evidence is every observed column but ``T``'s own (as the
pyfunc answers). Rows are answered on two paths:

- **closed form** (``method="auto"``, rows observing every variable but ``T``): only the
  factors that mention ``T`` depend on it, so ``P(T | row)`` is a table look-up over ``T``'s
  Markov blanket (the formula and arithmetic of :func:`bnlab.infer.blanket.blanket_predictive`,
  bit for bit, on the engine's own CPT draws). Rows are first reduced to their distinct
  blanket configurations, so a partition costs one gather per distinct configuration and
  draw plus a few passes over its rows.
- **engine** (any other row, or every row with ``method="engine"``): the distinct evidence
  rows go through the engine in calls of exactly one full engine chunk per device (padded
  with empty rows). XLA compiles one program per chunk shape, and programs of different
  shapes may differ in the last bit; a full chunk is the shape every large engine call
  (a pyfunc call on a whole partition, say) runs, so a row's answer equals its answer
  there, bit for bit, whichever rows share its call.

With posterior draws the mean and the equal-tailed interval over the draws are those of the
pyfunc (:func:`bnlab.infer.intervals.sampled_interval`). A row whose evidence has probability
zero (under any draw) is answered NaN and flagged; it does not stop the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnlab.ops.scoring.model import Scorer

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Answers:
    """Per-row answers for one target: ``(rows, states)`` statistics and impossible flags."""

    mean: Floats
    lower: Floats
    upper: Floats
    impossible: NDArray[np.bool_]


@dataclass(frozen=True)
class BlanketTables:
    """What the closed form needs for one target, computed once per scorer."""

    blanket: tuple[int, ...]  # columns of the Markov blanket (sorted)
    cpts: dict[str, Floats]  # the engine's CPTs (with a leading draw axis over draws)
    zero_checks: tuple[tuple[tuple[int, ...], NDArray[np.bool_]], ...]  # (columns, zero mask)


def distinct_rows(
    block: NDArray[Any], cards: Sequence[int] | None = None
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """First position of each distinct row of ``block`` and, per row, its distinct row.

    With the columns' cardinalities (codes ``-1 .. card - 1``) whose mixed-radix product
    fits in an int64, rows are keyed by one integer each (a fast 1-D sort); otherwise by
    their bytes.
    """
    if block.shape[0] == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    if block.shape[1] == 0:  # no columns: every row is the same row
        return np.zeros(1, dtype=np.intp), np.zeros(block.shape[0], dtype=np.intp)
    if cards is not None and float(np.prod([c + 1.0 for c in cards])) < 2.0**62:
        keys: NDArray[Any] = np.zeros(block.shape[0], dtype=np.int64)
        for j, card in enumerate(cards):
            keys *= card + 1
            keys += block[:, j].astype(np.int64) + 1
    else:
        packed = np.ascontiguousarray(block)
        keys = packed.view(np.dtype((np.void, packed.dtype.itemsize * packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first.astype(np.intp), inverse.reshape(-1).astype(np.intp)


def blanket_tables(scorer: Scorer, target: str) -> BlanketTables:
    """The closed form's tables for ``target`` (cached on the scorer)."""
    cache: dict[str, BlanketTables] = scorer.__dict__.setdefault("_blanket", {})
    if target in cache:
        return cache[target]
    s = scorer.engine.structure
    draws = scorer.engine.n_draws is not None
    cpts = {v: np.asarray(a, dtype=np.float64) for v, a in scorer.engine.cpt_arrays().items()}
    members = {target, *s.parents[target]}
    for c in s.children[target]:
        members |= {c, *s.parents[c]}
    members.discard(target)
    checks = []
    for v in s.variables:
        if v == target or v in s.children[target]:
            continue
        zero = cpts[v] == 0
        if draws:
            zero = zero.any(axis=0)
        if zero.any():  # a factor without zeros cannot make a row impossible
            cols = tuple(s.index[p] for p in s.parents[v]) + (s.index[v],)
            checks.append((cols, zero))
    tables = BlanketTables(
        blanket=tuple(sorted(s.index[v] for v in members)), cpts=cpts, zero_checks=tuple(checks)
    )
    cache[target] = tables
    return tables


def _blanket_probs(scorer: Scorer, target: str, rows: NDArray[Any], draws: bool) -> Floats:
    """``P(target | row)`` for complete rows, exactly as ``blanket_predictive`` computes it."""
    s = scorer.engine.structure
    cpts = blanket_tables(scorer, target).cpts
    lead = (slice(None),) if draws else ()
    k = s.cards[target]
    n = rows.shape[0]
    states = np.arange(k)[None, :]

    def column(v: str) -> NDArray[np.intp]:
        return np.asarray(rows[:, s.index[v]], dtype=np.intp)[:, None]

    own = tuple(column(p) for p in s.parents[target]) + (states,)
    weight = cpts[target][lead + own]
    for c in s.children[target]:
        idx = tuple(states if p == target else column(p) for p in s.parents[c])
        weight = weight * cpts[c][lead + idx + (column(c),)]
    weight = np.broadcast_to(weight, weight.shape[:-2] + (n, k))
    total = weight.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, weight / np.where(total > 0, total, 1.0), np.nan)


def _impossible_elsewhere(tables: BlanketTables, rows: NDArray[Any]) -> NDArray[np.bool_]:
    """Rows that a factor not mentioning the target gives probability zero."""
    bad = np.zeros(rows.shape[0], dtype=bool)
    for cols, zero in tables.zero_checks:
        bad |= zero[tuple(np.asarray(rows[:, c], dtype=np.intp) for c in cols)]
    return bad


def _summarise(p: Floats, interval: float, draws: bool) -> Answers:
    """Mean, lower, upper over the draws (NaN and flagged where any draw is impossible)."""
    from bnlab.infer.intervals import sampled_interval

    bad = np.isnan(p).any(axis=(0, 2) if draws else 1)
    n, k = p.shape[-2], p.shape[-1]
    if not draws:
        mean = np.where(bad[:, None], np.nan, p)
        return Answers(mean, mean, mean, bad)
    mean, lower, upper = (np.full((n, k), np.nan) for _ in range(3))
    ok = np.flatnonzero(~bad)
    if ok.size:
        m, lo, hi = sampled_interval(p[:, ok], interval)
        mean[ok], lower[ok], upper[ok] = m, lo, hi
    return Answers(mean, lower, upper, bad)


def _engine_answers(scorer: Scorer, target: str, rows: NDArray[Any]) -> Answers:
    import jax

    from bnlab.infer.devices import row_devices

    engine = scorer.engine
    draws = engine.n_draws is not None
    # the engine's own chunk rule for a large call: a full chunk on every device
    devices = len(row_devices()) if engine.jit else 1
    size = engine.chunk_rows("marginals") * devices
    parts: list[Answers] = []
    for start in range(0, rows.shape[0], size):
        block = rows[start : start + size]
        real = block.shape[0]
        padded = np.full((size, rows.shape[1]), -1, dtype=rows.dtype)
        padded[:real] = block
        with jax.enable_x64(True):
            m = engine.marginals(padded, variables=[target], on_impossible="nan")
        p = np.asarray(m[target], dtype=np.float64)[..., :real, :]
        bad = np.asarray(m.impossible).reshape(-1, size)[:, :real].any(axis=0)
        p[..., bad, :] = np.nan
        parts.append(_summarise(p, scorer.settings.interval, draws))
    k = engine.structure.cards[target]
    if not parts:
        empty = np.zeros((0, k))
        return Answers(empty, empty, empty, np.zeros(0, dtype=bool))
    return Answers(
        mean=np.concatenate([a.mean for a in parts]),
        lower=np.concatenate([a.lower for a in parts]),
        upper=np.concatenate([a.upper for a in parts]),
        impossible=np.concatenate([a.impossible for a in parts]),
    )


def target_answers(scorer: Scorer, codes: NDArray[Any], target: str) -> Answers:
    """Answers for ``target`` on every row of ``codes`` (``(rows, variables)``, -1 = unset)."""
    s = scorer.engine.structure
    j = s.index[target]
    k = s.cards[target]
    n = codes.shape[0]
    evidence = codes.copy()
    evidence[:, j] = -1
    draws = scorer.engine.n_draws is not None
    mean, lower, upper = (np.full((n, k), np.nan) for _ in range(3))
    impossible = np.zeros(n, dtype=bool)
    if scorer.settings.method == "auto":
        complete = (evidence >= 0).sum(axis=1) == evidence.shape[1] - 1
    else:
        complete = np.zeros(n, dtype=bool)
    closed = np.flatnonzero(complete)
    if closed.size:
        tables = blanket_tables(scorer, target)
        rows = evidence[closed]
        cols = list(tables.blanket)
        first, inverse = distinct_rows(rows[:, cols], [s.cards[s.variables[c]] for c in cols])
        got = _summarise(
            _blanket_probs(scorer, target, rows[first], draws), scorer.settings.interval, draws
        )
        elsewhere = _impossible_elsewhere(tables, rows)
        bad = got.impossible[inverse] | elsewhere
        mean[closed], lower[closed], upper[closed] = (
            got.mean[inverse], got.lower[inverse], got.upper[inverse]
        )  # fmt: skip
        for arr in (mean, lower, upper):
            arr[closed[elsewhere]] = np.nan
        impossible[closed] = bad
    rest = np.flatnonzero(~complete)
    if rest.size:
        rows = evidence[rest]
        first, inverse = distinct_rows(rows, [s.cards[v] for v in s.variables])
        got = _engine_answers(scorer, target, rows[first])
        mean[rest], lower[rest], upper[rest] = (
            got.mean[inverse], got.lower[inverse], got.upper[inverse]
        )  # fmt: skip
        impossible[rest] = got.impossible[inverse]
    return Answers(mean, lower, upper, impossible)
