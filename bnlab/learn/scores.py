"""Decomposable scores of discrete Bayesian networks and a cached, batched family scorer.

A decomposable score is a sum of local scores, one per family (a child and its parents),
each a function of the family's counts ``N[j, k]`` (parent configuration ``j``, child state
``k``) alone:

- ``loglik``: ``sum_jk N_jk log(N_jk / N_j)``;
- ``bic``: ``loglik - log(N) / 2 * q (r - 1)``, ``N`` the rows used by the family;
- ``aic``: ``loglik - q (r - 1)``;
- ``k2``: ``sum_j [lgamma(r) - lgamma(N_j + r) + sum_k lgamma(N_jk + 1)]``;
- ``bdeu``: ``sum_j [lgamma(a_j) - lgamma(a_j + N_j) + sum_k (lgamma(a_jk + N_jk) -
  lgamma(a_jk))]`` with ``a_j = ess / q`` and ``a_jk = ess / (q r)``.

All are log-scale and larger is better (pgmpy's ``BIC``/``BDeu`` use the same sign; R
bnlearn's ``bic`` too). Missing values are handled complete-case per family: a row is used
by a family when the child and all its parents are observed.

:class:`FamilyScorer` is what structure search calls: it counts many candidate families in a
single ``np.bincount`` over stacked flat indices (all single-parent additions to a child at
once) and caches every local score it has computed by ``(child, parent set)``.

Local scores sum their cells one after another in the table's row-major order
(:func:`ordered_sum`), so cells that hold zero (padding, unobserved parent configurations)
never change a score's last bit. A family's score is then a function of its table and axis
order alone, whether it was counted here, in a batch of candidate additions, or from
partitioned data (:class:`bnlab.learn.source_scorer.SourceScorer`): in-memory and partitioned
searches take the same path and reach bit-identical scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln, xlogy

from bnlab.errors import BNError

SCORES: tuple[str, ...] = ("bic", "aic", "bdeu", "k2", "loglik")

# upper bound on the number of int64 indices materialised for one bincount (64 MiB)
_MAX_BATCH_ELEMENTS = 1 << 23
# lgamma lookup tables pay off while they are short (one per distinct prior count)
_MAX_LGAMMA_LUT_ROWS = 50_000


class ScoreError(BNError):
    """An unknown score name or an invalid score parameter (e.g. a non-positive ess)."""


def check_score(score: str, ess: float) -> str:
    """Normalise a score name and validate ``ess``; return the lower-case name."""
    name = str(score).lower()
    if name not in SCORES:
        raise ScoreError(f"unknown score {score!r}; choose one of {list(SCORES)}.")
    if name == "bdeu" and not (np.isfinite(ess) and ess > 0):
        raise ScoreError(f"BDeu needs an equivalent sample size ess > 0, got {ess!r}.")
    return name


def ordered_sum(values: NDArray[np.number]) -> NDArray[np.float64]:
    """Sum each ``values[i]`` over its cells in row-major order, strictly one after another.

    Unlike numpy's pairwise ``sum``, a sequential sum is unchanged by zeros anywhere in the
    table (``x + 0.0 == x``), so padded and unpadded tables of one family score the same.
    """
    m = values.shape[0]
    flat = np.asarray(values, dtype=np.float64).reshape(m, -1)
    if flat.shape[1] == 0:
        return np.zeros(m)
    return np.asarray(np.cumsum(flat, axis=1)[:, -1], dtype=np.float64)


def score_tables(
    tables: NDArray[np.number],
    q: NDArray[np.number],
    score: str,
    ess: float = 1.0,
    *,
    xlogx_lut: NDArray[np.float64] | None = None,
    lgamma_lut: Callable[[float], NDArray[np.float64]] | None = None,
) -> NDArray[np.float64]:
    """Local scores of a batch of families from their count tables.

    Parameters
    ----------
    tables
        Shape ``(m, Q, r)``: ``m`` families, ``Q`` parent configurations (padding rows of
        zeros are allowed), ``r`` child states.
    q
        Shape ``(m,)``: the true number of parent configurations of each family (used by
        the penalties and the BDeu prior; may exceed the observed configurations).
    score
        One of :data:`SCORES`.
    ess
        Equivalent sample size of BDeu.
    xlogx_lut
        Optional lookup table ``x log x`` for integer tables (speed only).
    lgamma_lut
        Optional ``a -> [lgamma(a + N) - lgamma(a) for N = 0, 1, ...]`` for integer tables
        (speed only).

    Returns
    -------
    numpy.ndarray
        Shape ``(m,)``, float64, larger is better.
    """
    m, _, r = tables.shape
    qf = np.asarray(q, dtype=np.float64)
    if score in ("loglik", "bic", "aic"):
        nj = tables.sum(axis=2)
        if xlogx_lut is not None and tables.dtype.kind in "iu":
            ll = ordered_sum(xlogx_lut[tables]) - ordered_sum(xlogx_lut[nj])
        else:
            t = tables.astype(np.float64, copy=False)
            njf = nj.astype(np.float64, copy=False)
            ll = ordered_sum(xlogy(t, t)) - ordered_sum(xlogy(njf, njf))
        if score == "loglik":
            return np.asarray(ll, dtype=np.float64)
        n_params = qf * (r - 1)
        if score == "aic":
            return np.asarray(ll - n_params, dtype=np.float64)
        n_used = nj.sum(axis=1).astype(np.float64)
        pen = 0.5 * np.log(np.maximum(n_used, 1.0)) * n_params
        return np.asarray(ll - pen, dtype=np.float64)
    if score == "k2":
        a_jk = np.ones(m)
        a_j = np.full(m, float(r))
    else:  # bdeu
        a_j = ess / qf
        a_jk = a_j / r
    if lgamma_lut is not None and tables.dtype.kind in "iu":
        nj_i = tables.sum(axis=2)
        res = np.zeros(m)
        # few distinct prior counts per batch (one per cardinality of the added parent)
        for a in np.unique(a_jk):
            sel = np.flatnonzero(a_jk == a)
            res[sel] += ordered_sum(lgamma_lut(float(a))[tables[sel]])
        for a in np.unique(a_j):
            sel = np.flatnonzero(a_j == a)
            res[sel] -= ordered_sum(lgamma_lut(float(a))[nj_i[sel]])
        return res
    flat = tables.reshape(m, -1)
    fam, pos = np.nonzero(flat)
    vals = flat[fam, pos].astype(np.float64)
    nj = tables.sum(axis=2)
    famj, posj = np.nonzero(nj)
    valsj = nj[famj, posj].astype(np.float64)
    term_k = gammaln(a_jk[fam] + vals) - gammaln(a_jk[fam])
    term_j = gammaln(a_j[famj]) - gammaln(a_j[famj] + valsj)
    out = np.bincount(fam, weights=term_k, minlength=m) + np.bincount(
        famj, weights=term_j, minlength=m
    )
    return np.asarray(out, dtype=np.float64)


def local_score_from_counts(counts: NDArray[np.number], score: str, ess: float = 1.0) -> float:
    """Local score of one family from its table of shape ``(*parent cards, card)``."""
    name = check_score(score, ess)
    arr = np.asarray(counts)
    r = arr.shape[-1]
    tab = arr.reshape(1, -1, r)
    return float(score_tables(tab, np.array([tab.shape[1]]), name, ess)[0])


def unique_rows(
    codes: NDArray[np.integer], weights: NDArray[np.floating] | None = None
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Distinct rows of ``codes`` and their multiplicities (or summed ``weights``).

    Rows are packed into as few int64 mixed-radix keys as needed and lex-sorted, which is
    much faster than ``np.unique(axis=0)``. Counts add over duplicate rows, so every
    count-based score is unchanged when the data are replaced by these weighted rows.
    """
    arr = np.asarray(codes, dtype=np.int64)
    n, p = arr.shape
    if n == 0 or p == 0:
        w0 = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        return arr, w0
    radix = arr.max(axis=0) + 2  # +1 shift makes the missing code -1 a digit too
    keys: list[NDArray[np.int64]] = []
    cur = np.zeros(n, dtype=np.int64)
    width = 0.0
    for j in range(p):
        bits = float(np.log2(float(radix[j])))
        if width + bits > 62 and width > 0:
            keys.append(cur)
            cur = np.zeros(n, dtype=np.int64)
            width = 0.0
        cur = cur * radix[j] + (arr[:, j] + 1)
        width += bits
    keys.append(cur)
    order = np.lexsort(keys[::-1])
    new = np.ones(n, dtype=bool)
    for k in keys:
        ks = k[order]
        new[1:] &= ks[1:] == ks[:-1]
    new = ~new
    new[0] = True
    group = np.cumsum(new) - 1
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    counts = np.bincount(group, weights=w[order])
    return arr[order[new]], counts


class FamilyScorer:
    """Cached local scores over integer codes, with batched scoring of candidate families.

    Parameters
    ----------
    codes
        Integer codes ``(rows, variables)``, ``-1`` = missing.
    cards
        Number of states of each column.
    score, ess
        The score (one of :data:`SCORES`) and BDeu's equivalent sample size.
    weights
        Optional non-negative row weights (bootstrap replicates); counts become sums of
        weights.
    compress
        Collapse duplicate rows into weighted distinct rows when that saves work (exact).
    """

    def __init__(
        self,
        codes: NDArray[np.integer],
        cards: Sequence[int],
        score: str = "bic",
        ess: float = 1.0,
        *,
        weights: NDArray[np.floating] | None = None,
        compress: bool = True,
    ) -> None:
        self.score_name = check_score(score, ess)
        self.ess = float(ess)
        codes = np.asarray(codes)
        n, self.p = codes.shape
        self.cards = np.asarray(cards, dtype=np.int64)
        self.maxc = int(self.cards.max()) if self.p else 1
        w: NDArray[np.float64] | None = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ScoreError(
                    f"weights must be finite, non-negative, of shape ({n},); got shape {w.shape}."
                )
        self.integer_counts = w is None or bool(np.all(w == np.round(w)))
        self.n_total = float(n if w is None else w.sum())
        if compress and n > 64:
            uniq, counts = unique_rows(codes, w)
            # a weighted bincount costs ~1.7x an unweighted one per element
            if len(uniq) < 0.6 * n:
                # a fixed shuffle: sorted rows hit the same bins back to back, which
                # serialises bincount's floating-point adds
                perm = np.random.default_rng(0).permutation(len(uniq))
                codes, w = uniq[perm], counts[perm]
        self.n_rows = codes.shape[0]
        self.weights = w
        self.codes_t = np.ascontiguousarray(codes.T, dtype=np.int64)
        missing = self.codes_t < 0
        self.col_missing = missing.any(axis=1)
        self.missing = missing if self.col_missing.any() else None
        self.lut: NDArray[np.float64] | None = None
        self._lgamma: dict[float, NDArray[np.float64]] = {}
        self.lgamma_lut: Callable[[float], NDArray[np.float64]] | None = None
        if self.integer_counts and self.n_total <= _MAX_LGAMMA_LUT_ROWS:
            self.lgamma_lut = self._lgamma_table
        if self.integer_counts:
            x = np.arange(int(round(self.n_total)) + 1, dtype=np.float64)
            self.lut = xlogy(x, x)
        # codes of variable x shifted into its own block of maxc bins (for add_scores)
        shift = (np.arange(self.p, dtype=np.int64) * self.maxc)[:, None]
        self._shifted_codes = self.codes_t + shift
        self._wide_weights: NDArray[np.float64] | None = None
        if w is not None and self.p * self.n_rows <= _MAX_BATCH_ELEMENTS:
            self._wide_weights = np.broadcast_to(w, (self.p, self.n_rows)).ravel()
        self.cache: dict[tuple[int, frozenset[int]], float] = {}
        self.n_dropped: dict[tuple[int, frozenset[int]], float] = {}
        self.n_counted = 0  # families counted from the data (for profiling and tests)

    def _lgamma_table(self, a: float) -> NDArray[np.float64]:
        """``lgamma(a + N) - lgamma(a)`` for ``N = 0 .. rows`` (cached per ``a``)."""
        got = self._lgamma.get(a)
        if got is None:
            got = gammaln(a + np.arange(int(round(self.n_total)) + 1)) - gammaln(a)
            self._lgamma[a] = got
        return got

    def _tables(self, counts: NDArray[np.number]) -> NDArray[np.number]:
        """Return counts as int64 when they are whole numbers (enables the x log x lookup)."""
        if self.integer_counts and counts.dtype.kind == "f":
            return np.rint(counts).astype(np.int64)
        return counts

    # -- indices ------------------------------------------------------------------------
    def _family_key(
        self, child: int, parents: Sequence[int]
    ) -> tuple[NDArray[np.int64], int, NDArray[np.bool_] | None]:
        """Flat index ``parent_config * r + child_state``, number of parent configs, valid."""
        r = int(self.cards[child])
        cols = list(parents)
        q = 1
        idx: NDArray[np.int64] | None = None
        for c in cols:
            q *= int(self.cards[c])
            if idx is None:
                idx = self.codes_t[c].copy()
            else:
                idx *= self.cards[c]
                idx += self.codes_t[c]
        valid = None
        if self.missing is not None and self.col_missing[[*cols, child]].any():
            valid = ~self.missing[[*cols, child]].any(axis=0)
        if idx is None:
            key = self.codes_t[child].copy()
        else:
            if q * r > 4 * self.n_rows + 4096:
                # many unobserved parent configurations: renumber the observed ones
                base = idx if valid is None else np.where(valid, idx, -1)
                uniq, inv = np.unique(base, return_inverse=True)
                idx = inv.astype(np.int64)
                q = len(uniq)
            key = idx * r + self.codes_t[child]
        return key, q, valid

    def _bincount(
        self, flat: NDArray[np.int64], size: int, m: int
    ) -> NDArray[np.int64] | NDArray[np.float64]:
        if self.weights is None:
            return np.bincount(flat.ravel(), minlength=size + 1)[:size]
        w = np.broadcast_to(self.weights, (m, self.n_rows)).ravel()
        return np.bincount(flat.ravel(), weights=w, minlength=size + 1)[:size]

    # -- scores ----------------------------------------------------------------------------
    def score(self, child: int, parents: Sequence[int]) -> float:
        """Local score of ``child`` given ``parents`` (cached)."""
        key = (child, frozenset(parents))
        got = self.cache.get(key)
        if got is not None:
            return got
        return float(self.score_sets(child, [tuple(parents)])[0])

    def score_sets(self, child: int, sets: Sequence[Sequence[int]]) -> NDArray[np.float64]:
        """Local scores of ``child`` under each parent set (cached; missing ones batched)."""
        out = np.empty(len(sets))
        todo: list[int] = []
        for i, s in enumerate(sets):
            got = self.cache.get((child, frozenset(s)))
            if got is None:
                todo.append(i)
            else:
                out[i] = got
        if not todo:
            return out
        r = int(self.cards[child])
        pieces: list[NDArray[np.int64]] = []
        sizes: list[int] = []
        qs: list[int] = []
        offset = 0
        for i in todo:
            key, q, valid = self._family_key(child, sets[i])
            flat = key + offset
            if valid is not None:
                flat = np.where(valid, flat, -1)
            pieces.append(flat)
            sizes.append(q * r)
            qs.append(int(np.prod(self.cards[list(sets[i])])) if len(sets[i]) else 1)
            offset += q * r
        flat_all = np.stack(pieces)
        flat_all[flat_all < 0] = offset  # the dump bin for rows missing in a family
        counts = self._tables(self._bincount(flat_all, offset, len(todo)))
        self.n_counted += len(todo)
        start = 0
        for i, size, q_true in zip(todo, sizes, qs, strict=True):
            tab = counts[start : start + size].reshape(1, -1, r)
            start += size
            val = float(
                score_tables(
                    tab,
                    np.array([q_true]),
                    self.score_name,
                    self.ess,
                    xlogx_lut=self.lut,
                    lgamma_lut=self.lgamma_lut,
                )[0]
            )
            fk = (child, frozenset(sets[i]))
            self.cache[fk] = val
            self.n_dropped[fk] = self._total() - float(tab.sum())
            out[i] = val
        return out

    def _total(self) -> float:
        return self.n_total

    def prefetch(self, requests: Sequence[tuple[int, tuple[int, ...]]]) -> None:
        """Nothing to do: in memory, families are counted when first scored.

        (A :class:`bnlab.learn.source_scorer.SourceScorer` counts the announced families of
        a move in one pass over partitioned data.)
        """

    def add_scores(
        self, child: int, parents: Sequence[int], candidates: NDArray[np.integer]
    ) -> NDArray[np.float64]:
        """Local scores of ``child`` given ``parents + {x}`` for every ``x`` in ``candidates``.

        All candidate families are counted in one pass: with ``key`` the family's flat index
        (parent configuration, child state) and ``G[x] = codes[x] + x * maxcard``, the flat
        indices ``key * p * maxcard + G`` of every variable are packed into one
        ``np.bincount`` (chunked over rows for very large data).
        """
        cand = np.asarray(candidates, dtype=np.int64)
        out = np.empty(len(cand))
        if len(cand) == 0:
            return out
        base = frozenset(parents)
        todo_mask = np.array([(child, base | {int(x)}) not in self.cache for x in cand])
        for i in np.flatnonzero(~todo_mask):
            out[i] = self.cache[(child, base | {int(cand[i])})]
        todo = cand[todo_mask]
        if len(todo) == 0:
            return out
        r = int(self.cards[child])
        key, q_obs, valid = self._family_key(child, parents)
        q_true = int(np.prod(self.cards[list(parents)])) if len(parents) else 1
        p, mc = self.p, self.maxc
        size = q_obs * r * p * mc
        if size > _MAX_BATCH_ELEMENTS:
            res = np.concatenate(
                [self._add_scores_loop(child, parents, todo[i : i + 1]) for i in range(len(todo))]
            )
        else:
            counts = self._joint_counts(key, q_obs * r, valid, 0)
            tabs = counts.reshape(q_obs, r, p, mc).transpose(2, 0, 3, 1)[todo]
            tabs = tabs.reshape(len(todo), q_obs * mc, r)
            qs = q_true * self.cards[todo]
            res = score_tables(
                tabs, qs, self.score_name, self.ess, xlogx_lut=self.lut, lgamma_lut=self.lgamma_lut
            )
            used = tabs.sum(axis=(1, 2))
            total = self._total()
            for j, x in enumerate(todo):
                fk = (child, base | {int(x)})
                self.cache[fk] = float(res[j])
                self.n_dropped[fk] = total - float(used[j])
            self.n_counted += len(todo)
        out[todo_mask] = res
        return out

    def _joint_counts(
        self, key: NDArray[np.int64], n_keys: int, valid: NDArray[np.bool_] | None, lo: int
    ) -> NDArray[np.number]:
        """Count ``(key, x, state of x)`` for every variable ``x >= lo`` in one bincount.

        Returns shape ``(n_keys, p - lo, maxcard)``; rows missing in the key (``valid``
        False) or in ``x`` are left out of that ``x``'s block.
        """
        width = (self.p - lo) * self.maxc
        size = n_keys * width
        dump = size
        scaled = key * width - lo * self.maxc
        if valid is not None:
            scaled[~valid] = dump + width  # past the dump bin; clipped below
        step = max(1, _MAX_BATCH_ELEMENTS // max(self.p - lo, 1))
        counts: NDArray[np.number] = np.zeros(size)
        for a in range(0, self.n_rows, step):
            flat = self._shifted_codes[lo:, a : a + step] + scaled[None, a : a + step]
            if self.missing is not None:
                np.minimum(flat, dump, out=flat)
                flat[self.missing[lo:, a : a + step]] = dump
            w = None
            if self.weights is not None:
                if self._wide_weights is not None and step >= self.n_rows:
                    w = self._wide_weights[: flat.size]
                else:
                    w = np.broadcast_to(self.weights[a : a + step], flat.shape).ravel()
            part = np.bincount(flat.ravel(), weights=w, minlength=size + 1)[:size]
            counts = part if a == 0 else counts + part
        return self._tables(counts).reshape(n_keys, self.p - lo, self.maxc)

    def precompute_pairs(self) -> None:
        """Score every one-parent family ``y | {x}`` (fills the cache), pairs counted once.

        The table of a pair ``(x, y)`` serves both ``y | {x}`` and ``x | {y}``, so this costs
        half of scoring each empty family's additions separately.
        """
        p = self.p
        for y in range(p - 1):
            ry = int(self.cards[y])
            valid = None if self.missing is None else ~self.missing[y]
            key = self.codes_t[y] if valid is None else np.where(valid, self.codes_t[y], 0)
            counts = self._joint_counts(key, ry, valid, y + 1)  # (ry, p-y-1, mc)
            xs = np.arange(y + 1, p)
            # child y, parent x: configs = states of x
            tabs = counts.transpose(1, 2, 0)
            res = score_tables(
                tabs,
                self.cards[xs],
                self.score_name,
                self.ess,
                xlogx_lut=self.lut,
                lgamma_lut=self.lgamma_lut,
            )
            used = tabs.sum(axis=(1, 2))
            for j, x in enumerate(xs):
                fk = (y, frozenset((int(x),)))
                self.cache[fk] = float(res[j])
                self.n_dropped[fk] = self.n_total - float(used[j])
            # child x, parent y: configs = states of y, child states = states of x
            for c in np.unique(self.cards[xs]):
                sel = np.flatnonzero(self.cards[xs] == c)
                tabs_x = counts[:, sel, : int(c)].transpose(1, 0, 2)
                res_x = score_tables(
                    tabs_x,
                    np.full(len(sel), ry),
                    self.score_name,
                    self.ess,
                    xlogx_lut=self.lut,
                    lgamma_lut=self.lgamma_lut,
                )
                used_x = tabs_x.sum(axis=(1, 2))
                for j, s in enumerate(sel):
                    fk = (int(xs[s]), frozenset((y,)))
                    self.cache[fk] = float(res_x[j])
                    self.n_dropped[fk] = self.n_total - float(used_x[j])
            self.n_counted += 2 * len(xs)

    def _add_scores_loop(
        self, child: int, parents: Sequence[int], todo: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Fallback for huge parent sets: score each extended family on its own."""
        return self.score_sets(child, [(*parents, int(x)) for x in todo])

    def dropped(self, child: int, parents: Sequence[int]) -> int:
        """Rows (or total weight) the family ``child | parents`` left out for missing values."""
        self.score(child, parents)
        return int(round(self.n_dropped[(child, frozenset(parents))]))
