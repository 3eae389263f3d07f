"""Compiled counting kernels of structure search (numba, compiled on first use and cached).

The kernels read the data as small unsigned codes laid out row by row (``codes[i, x]``, a
missing value is the code ``missing``, at least every variable's number of states) and add
each row's weight into flat count arrays. Every bin receives its rows in row order, so
float sums are those of :func:`numpy.bincount` over the same rows, and integer counts are
exact whatever the order.

This module imports numba; :mod:`bnlab.learn.scores` imports it on the first count, so
``import bnlab`` does not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba as nb
import numpy as np
from numba import types
from numba.extending import intrinsic
from numpy.typing import NDArray


def _jit[F: Callable[..., Any]](fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, releasing the GIL."""
    return cast(F, nb.njit(cache=True, nogil=True)(fn))


@_jit
def family_keys(
    codes_t: NDArray[np.integer],
    parents: NDArray[np.int64],
    cards: NDArray[np.int64],
    child: int,
    missing: int,
) -> NDArray[np.int64]:  # pragma: no cover - compiled
    """Flat index ``parent_config * r + child_state`` of every row; ``-1`` if any is missing.

    ``codes_t`` holds the codes variable by variable, ``(variables, rows)``.
    """
    n = codes_t.shape[1]
    out = np.zeros(n, np.int64)
    any_missing = False
    for j in range(parents.shape[0] + 1):
        v = parents[j] if j < parents.shape[0] else child
        card = cards[v]
        col = codes_t[v]
        for i in range(n):
            c = col[i]
            any_missing |= c >= missing
            out[i] = out[i] * card + c
    if any_missing:
        for i in range(n):
            for j in range(parents.shape[0] + 1):
                v = parents[j] if j < parents.shape[0] else child
                if codes_t[v, i] >= missing:
                    out[i] = -1
                    break
    return out


@_jit
def family_table(
    codes_t: NDArray[np.integer],
    parents: NDArray[np.int64],
    cards: NDArray[np.int64],
    child: int,
    weights: NDArray[np.number],
    missing: int,
) -> NDArray[np.number]:  # pragma: no cover - compiled
    """Counts of one family, flat ``(parent configurations * child states)``."""
    key = family_keys(codes_t, parents, cards, child, missing)
    size = cards[child]
    for j in range(parents.shape[0]):
        size *= cards[parents[j]]
    out = np.zeros(size, weights.dtype)
    for i in range(key.shape[0]):
        if key[i] >= 0:
            out[key[i]] += weights[i]
    return out


@_jit
def joint_counts(
    codes: NDArray[np.integer],
    key: NDArray[np.int64],
    weights: NDArray[np.number],
    n_keys: int,
    maxc: int,
    lo: int,
    missing: int,
) -> NDArray[np.number]:  # pragma: no cover - compiled
    """Counts of ``(key, x, state of x)`` for every variable ``x >= lo``, flat.

    Shape ``n_keys * (p - lo) * maxc``; a row with ``key < 0`` is left out, a row missing
    ``x`` is left out of ``x``'s block. The counts have the dtype of ``weights``.
    """
    n, p = codes.shape
    m = p - lo
    width = m * maxc
    out = np.zeros(n_keys * width, weights.dtype)
    for i in range(n):
        k = key[i]
        if k < 0:
            continue
        base = k * width - lo * maxc
        w = weights[i]
        for x in range(lo, p):
            c = codes[i, x]
            if c < missing:
                out[base + x * maxc + c] += w
    return out


@_jit
def pair_counts(
    codes: NDArray[np.integer],
    weights: NDArray[np.number],
    offsets: NDArray[np.int64],
    width: int,
    missing: int,
) -> NDArray[np.number]:  # pragma: no cover - compiled
    """Counts of every pair of states ``(x, y)`` with ``x <= y``: the upper blocks of the gram.

    Block ``(x, y)`` holds the table of ``x`` and ``y`` over the rows where both are
    observed; block ``(x, x)`` holds ``x``'s counts on its diagonal.
    """
    n, p = codes.shape
    out = np.zeros((width, width), weights.dtype)
    for i in range(n):
        w = weights[i]
        for x in range(p):
            cx = codes[i, x]
            if cx >= missing:
                continue
            a = offsets[x] + cx
            out[a, a] += w
            for y in range(x + 1, p):
                cy = codes[i, y]
                if cy < missing:
                    out[a, offsets[y] + cy] += w
    return out


@intrinsic
def _popcount(typingctx, x):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Number of set bits of a uint64 (one ``popcnt`` instruction)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.ctpop(args[0])

    return sig, codegen


@_jit
def state_bits(
    codes: NDArray[np.integer], offsets: NDArray[np.int64], width: int, missing: int
) -> NDArray[np.uint64]:  # pragma: no cover - compiled
    """Bitsets ``(width, words)`` of the rows of each state.

    Bit ``i`` of row ``offsets[x] + s`` is set when row ``i`` has ``x = s``.
    """
    n, p = codes.shape
    words = (n + 63) // 64
    out = np.zeros((width, words), np.uint64)
    for i in range(n):
        word = i >> 6
        bit = np.uint64(1) << np.uint64(i & 63)
        for x in range(p):
            c = codes[i, x]
            if c < missing:
                out[offsets[x] + c, word] |= bit
    return out


@_jit
def hybrid_joint_counts(
    codes: NDArray[np.integer],
    key: NDArray[np.int64],
    n_keys: int,
    sbits: NDArray[np.uint64],
    var_of: NDArray[np.int64],
    state_of: NDArray[np.int64],
    maxc: int,
    missing: int,
    heavy_min: int,
) -> NDArray[np.int64]:  # pragma: no cover - compiled
    """:func:`joint_counts` of unweighted rows (``lo = 0``), frequent keys counted by bitsets.

    A key value held by at least ``heavy_min`` rows gets a bitset of its rows, and its
    counts are popcounts of that bitset and each state's (``sbits``, from
    :func:`state_bits`); the rows of the rarer key values are added one by one.
    """
    n, p = codes.shape
    words = sbits.shape[1]
    width = p * maxc
    per_key = np.zeros(n_keys, np.int64)
    for i in range(n):
        if key[i] >= 0:
            per_key[key[i]] += 1
    slot = np.full(n_keys, -1, np.int64)
    n_heavy = 0
    for k in range(n_keys):
        if per_key[k] >= heavy_min:
            slot[k] = n_heavy
            n_heavy += 1
    kbits = np.zeros((n_heavy, words), np.uint64)
    out = np.zeros(n_keys * width, np.int64)
    for i in range(n):
        k = key[i]
        if k < 0:
            continue
        h = slot[k]
        if h >= 0:
            kbits[h, i >> 6] |= np.uint64(1) << np.uint64(i & 63)
        else:
            base = k * width
            for x in range(p):
                c = codes[i, x]
                if c < missing:
                    out[base + x * maxc + c] += 1
    for k in range(n_keys):
        h = slot[k]
        if h < 0:
            continue
        kb = kbits[h]
        base = k * width
        for a in range(sbits.shape[0]):
            sb = sbits[a]
            acc = np.uint64(0)
            for w in range(words):
                acc += _popcount(kb[w] & sb[w])  # type: ignore[call-arg]
            out[base + var_of[a] * maxc + state_of[a]] = acc
    return out


@_jit
def bit_pair_counts(sbits: NDArray[np.uint64]) -> NDArray[np.int64]:  # pragma: no cover
    """Counts of every pair of states from bitsets, upper triangle (with the diagonal)."""
    width, words = sbits.shape
    out = np.zeros((width, width), np.int64)
    for a in range(width):
        sa = sbits[a]
        for b in range(a, width):
            sb = sbits[b]
            acc = np.uint64(0)
            for w in range(words):
                acc += _popcount(sa[w] & sb[w])  # type: ignore[call-arg]
            out[a, b] = acc
    return out


@_jit
def add_table_sums(
    counts: NDArray[np.number],
    cand: NDArray[np.int64],
    card_of: NDArray[np.int64],
    cell_lut: NDArray[np.float64],
    config_lut: NDArray[np.float64],
    group: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:  # pragma: no cover
    """Per candidate ``x``: sums of lookups over the table of ``child | parents + {x}``.

    ``counts`` has shape ``(configs, r, p, maxc)`` (:func:`joint_counts`); the table of
    candidate ``x`` is ``T[j, s, k] = counts[j, k, x, s]``. Candidate ``i`` looks its cells
    up in row ``group[i]`` of ``cell_lut`` and its parent configurations in row ``group[i]``
    of ``config_lut`` (BDeu / K2: one lgamma table per prior count, i.e. per cardinality of
    the added parent; one row for every candidate otherwise). Returns ``sum cell_lut[T]``
    over cells and ``sum config_lut[T.sum(k)]`` over parent configurations, each added one
    cell after another in the table's row-major order (as
    :func:`bnlab.learn.scores.ordered_sum`; padding cells add ``lut[0] = 0`` and are
    skipped), and the rows the table holds. Only the entries of counts present are read.
    """
    q, r = counts.shape[0], counts.shape[1]
    m = cand.shape[0]
    cells = np.zeros(m)
    configs = np.zeros(m)
    used = np.zeros(m, np.int64)
    for i in range(m):
        x = cand[i]
        g = group[i]
        acc_cells = 0.0
        acc_configs = 0.0
        total = 0
        for j in range(q):
            for s in range(card_of[x]):
                nj = 0
                for k in range(r):
                    c = counts[j, k, x, s]
                    acc_cells += cell_lut[g, c]
                    nj += c
                acc_configs += config_lut[g, nj]
                total += nj
        cells[i] = acc_cells
        configs[i] = acc_configs
        used[i] = total
    return cells, configs, used


@_jit
def best_move(
    adj: NDArray[np.bool_],
    reach: NDArray[np.bool_],
    add: NDArray[np.float64],
    dele: NDArray[np.float64],
    local: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    required: NDArray[np.bool_],
    max_in: int,
    tabu: NDArray[np.bool_],
    tie: float,
) -> tuple[float, int, int, int]:  # pragma: no cover - compiled
    """Best legal move ``(gain, kind, x, y)`` as ``_Search.best(_Search.deltas(tabu))``.

    Kinds: 0 add, 1 delete, 2 reverse ``x -> y``; ``tabu[kind, x, y]`` forbids a move.
    Gains within ``tie`` of the best go to the first kind, then the first pair (row-major).
    """
    p = adj.shape[0]
    neg = -np.inf
    indeg = np.zeros(p, np.int64)
    for x in range(p):
        for y in range(p):
            if adj[x, y]:
                indeg[y] += 1
    d = np.full((3, p, p), neg)
    for x in range(p):
        for y in range(p):
            if adj[x, y]:
                if required[x, y]:
                    continue
                gain_del = dele[x, y] - local[y]
                if not tabu[1, x, y]:
                    d[1, x, y] = gain_del
                if tabu[2, x, y] or not allowed[y, x] or indeg[x] >= max_in:
                    continue
                other = False
                for z in range(p):
                    if adj[x, z] and reach[z, y]:
                        other = True
                        break
                if not other:
                    d[2, x, y] = gain_del + (add[y, x] - local[x])
            elif (
                not adj[y, x]
                and allowed[x, y]
                and not reach[y, x]
                and indeg[y] < max_in
                and not tabu[0, x, y]
            ):
                d[0, x, y] = add[x, y] - local[y]
    top = d.max()
    if top == neg:
        return top, 0, 0, 0
    for kind in range(3):
        for x in range(p):
            for y in range(p):
                if d[kind, x, y] >= top - tie:
                    return d[kind, x, y], kind, x, y
    return top, 0, 0, 0
