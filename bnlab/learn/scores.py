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

:class:`FamilyScorer` is what structure search calls: it counts all single-parent additions
to a child in one pass over the data and caches every local score it has computed by
``(child, parent set)``. The passes run in the compiled kernels of
:mod:`bnlab.learn.kernels` (bitsets and popcounts for frequent parent configurations,
row-by-row adds for rare ones, the candidates scored straight from the counts); the numpy
path (``engine="numpy"``, stacked flat indices in one ``np.bincount``) is their reference.

Local scores sum their cells one after another in the table's row-major order
(:func:`ordered_sum`), so cells that hold zero (padding, unobserved parent configurations)
never change a score's last bit. A family's score is then a function of its table and axis
order alone, whether it was counted here, in a batch of candidate additions, or from
partitioned data (:class:`bnlab.learn.source_scorer.SourceScorer`): in-memory and partitioned
searches take the same path and reach bit-identical scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bnlab.counts.memory import unique_rows
from bnlab.errors import BNError


def gammaln(x: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """``log Gamma(x)`` (SciPy's, imported on first use: BIC never needs SciPy)."""
    from scipy.special import gammaln as scipy_gammaln

    return np.asarray(scipy_gammaln(x))


def xlogy(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """``x * log(y)``, 0 where ``x == 0`` (as ``scipy.special.xlogy``, for counts)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    positive = x != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positive, x * np.log(np.where(positive, y, 1.0)), 0.0)


SCORES: tuple[str, ...] = ("bic", "aic", "bdeu", "k2", "loglik")

# upper bound on the number of int64 indices materialised for one bincount (64 MiB)
_MAX_BATCH_ELEMENTS = 1 << 23
# FamilyScorer._joint_counts interleaves the variables of each row when two consecutive
# indices of one variable's run hit the same bin with at least this probability (measured
# on alarm, child and insurance at 10k-100k rows: row-wise wins from ~0.24, loses at ~0.11)
_ROWWISE_MIN_COLLISION = 0.15
# cost of one 64-row bitset AND + popcount relative to adding one row's state into a count
# table (measured with the kernels on alarm, child and insurance at 10k-100k rows: 0.13-0.26
# ns vs 0.7-1.0 ns); a key value with fewer rows than this implies is counted row by row
_BIT_COST = 0.2
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


def _lgamma_sums(
    a: NDArray[np.float64],
    counts: NDArray[np.number],
    lut: Callable[[float, int], NDArray[np.float64]],
) -> NDArray[np.float64]:
    """Per family ``i``: :func:`ordered_sum` of ``lgamma(a[i] + N) - lgamma(a[i])`` over its cells.

    A batch holds few distinct ``a`` (one per cardinality of an added parent). Their
    tables are laid end to end and looked up in one gather, unless building the missing
    tables would cost more ``lgamma`` calls than evaluating every cell directly; both give
    the same bits (``a + N`` is the same float either way).
    """
    m = counts.shape[0]
    flat = counts.reshape(m, -1)
    if flat.shape[1] == 0:
        return np.zeros(m)
    uniq, inv = np.unique(a, return_inverse=True)
    need = np.zeros(len(uniq), dtype=np.int64)
    np.maximum.at(need, inv, flat.max(axis=1))
    need += 1
    if isinstance(lut, LgammaTables):
        to_build = sum(
            int(k) for u, k in zip(uniq, need, strict=True) if not lut.has(float(u), int(k))
        )
        if to_build > flat.size:
            direct = gammaln(a[:, None] + flat.astype(np.float64)) - gammaln(a)[:, None]
            return ordered_sum(direct)
    tables = [lut(float(u), int(k)) for u, k in zip(uniq, need, strict=True)]
    if len(tables) == 1:
        return ordered_sum(tables[0][flat])
    starts = np.cumsum([0, *(len(t) for t in tables[:-1])])
    return ordered_sum(np.concatenate(tables)[flat + starts[inv][:, None]])


def _finish_ic(
    ll: NDArray[np.float64], n_used: NDArray[np.number], qf: NDArray[np.float64], r: int, score: str
) -> NDArray[np.float64]:
    """``loglik`` / ``aic`` / ``bic`` from the log-likelihoods and rows used by each family."""
    if score == "loglik":
        return np.asarray(ll, dtype=np.float64)
    n_params = qf * (r - 1)
    if score == "aic":
        return np.asarray(ll - n_params, dtype=np.float64)
    pen = 0.5 * np.log(np.maximum(np.asarray(n_used, dtype=np.float64), 1.0)) * n_params
    return np.asarray(ll - pen, dtype=np.float64)


def score_tables(
    tables: NDArray[np.number],
    q: NDArray[np.number],
    score: str,
    ess: float = 1.0,
    *,
    xlogx_lut: NDArray[np.float64] | None = None,
    lgamma_lut: Callable[[float, int], NDArray[np.float64]] | None = None,
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
        Optional ``(a, n) -> [lgamma(a + N) - lgamma(a) for N = 0, 1, ...]`` (at least
        ``n`` entries) for integer tables (speed only), e.g. :class:`LgammaTables`.

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
        return _finish_ic(ll, nj.sum(axis=1), qf, r, score)
    if score == "k2":
        a_jk = np.ones(m)
        a_j = np.full(m, float(r))
    else:  # bdeu
        a_j = ess / qf
        a_jk = a_j / r
    if lgamma_lut is not None and tables.dtype.kind in "iu":
        nj_i = tables.sum(axis=2)
        return _lgamma_sums(a_jk, tables, lgamma_lut) - _lgamma_sums(a_j, nj_i, lgamma_lut)
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


def _collision(counts: NDArray[np.number]) -> float:
    """Probability that two draws from the distribution of ``counts`` are equal."""
    total = float(counts.sum())
    return float(np.sum((counts / total) ** 2)) if total > 0 else 0.0


class LgammaTables:
    """``lgamma(a + N) - lgamma(a)`` for ``N = 0, 1, ...``: one table per ``a``, grown on demand.

    Parameters
    ----------
    limit
        Largest ``N`` ever asked for (the number of rows).
    """

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self._tables: dict[float, NDArray[np.float64]] = {}

    def has(self, a: float, need: int) -> bool:
        """Whether the table of ``a`` already holds ``need`` entries."""
        got = self._tables.get(a)
        return got is not None and len(got) >= need

    def __call__(self, a: float, need: int) -> NDArray[np.float64]:
        """The table of ``a`` with at least ``need`` entries (at most ``limit + 1``)."""
        got = self._tables.get(a)
        if got is None or len(got) < need:
            size = min(max(need, 64, 0 if got is None else 2 * len(got)), self.limit + 1)
            # entries do not depend on the size: a + N is the same float either way
            got = gammaln(a + np.arange(size, dtype=np.float64)) - gammaln(a)
            self._tables[a] = got
        return got


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
        Collapse duplicate rows into weighted distinct rows when that saves work (exact;
        weighted rows, or the numpy engine: the kernels count unweighted rows by bitsets).
    engine
        ``"numba"``: count with the compiled kernels of :mod:`bnlab.learn.kernels`;
        ``"numpy"``: with ``np.bincount`` (the reference). Both give the same counts.
    """

    #: Families are counted when first scored; the search need not announce them.
    batches_requests = False

    def __init__(
        self,
        codes: NDArray[np.integer],
        cards: Sequence[int],
        score: str = "bic",
        ess: float = 1.0,
        *,
        weights: NDArray[np.floating] | None = None,
        compress: bool = True,
        engine: Literal["numba", "numpy"] = "numba",
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
        # the compiled kernels count unweighted rows by bitsets, which need no compression
        if compress and n > 64 and (w is not None or engine == "numpy"):
            uniq, counts = unique_rows(codes, w)
            # a weighted bincount costs ~1.1-1.25x an unweighted one per element (measured
            # on 27 x 10k-100k indices), so compressing pays below ~0.8 of the rows
            if len(uniq) < 0.8 * n:
                # a fixed shuffle: sorted rows hit the same bins back to back, which
                # serialises bincount's floating-point adds
                perm = np.random.default_rng(0).permutation(len(uniq))
                codes, w = uniq[perm], counts[perm]
        self.n_rows = codes.shape[0]
        self.weights = w
        self._codes = np.asarray(codes)
        self.col_missing = (self._codes < 0).any(axis=0)
        self.lut: NDArray[np.float64] | None = None
        self.lgamma_lut: LgammaTables | None = None
        if self.integer_counts and self.n_total <= _MAX_LGAMMA_LUT_ROWS:
            self.lgamma_lut = LgammaTables(int(round(self.n_total)))
        if self.integer_counts:
            x = np.arange(int(round(self.n_total)) + 1, dtype=np.float64)
            self.lut = xlogy(x, x)
        if engine not in ("numba", "numpy"):
            raise ScoreError(f"unknown counting engine {engine!r}; choose 'numba' or 'numpy'.")
        self.engine = engine
        self._scratch = np.empty(0, dtype=np.int64)
        self._state_collision: float | None = None
        self.cache: dict[tuple[int, frozenset[int]], float] = {}
        self.n_dropped: dict[tuple[int, frozenset[int]], float] = {}
        self.n_counted = 0  # families counted from the data (for profiling and tests)

    # -- numpy layouts (built on first use: the compiled kernels need none of them) -------
    @cached_property
    def codes_t(self) -> NDArray[np.int64]:
        """Codes variable by variable, ``(variables, rows)`` int64."""
        return np.ascontiguousarray(self._codes.T, dtype=np.int64)

    @cached_property
    def missing(self) -> NDArray[np.bool_] | None:
        """``(variables, rows)`` missing mask, or ``None`` when nothing is missing."""
        return self.codes_t < 0 if self.col_missing.any() else None

    @cached_property
    def _shifted_codes(self) -> NDArray[np.int64]:
        # codes of variable x shifted into its own block of maxc bins (for add_scores), laid
        # out variable by variable and row by row (see _joint_counts for which is used when)
        shift = np.arange(self.p, dtype=np.int64) * self.maxc
        return self.codes_t + shift[:, None]

    @cached_property
    def _shifted_rows(self) -> NDArray[np.int64]:
        return np.ascontiguousarray(self._shifted_codes.T)

    @cached_property
    def _missing_rows(self) -> NDArray[np.bool_] | None:
        return None if self.missing is None else np.ascontiguousarray(self.missing.T)

    @cached_property
    def _wide_weights(self) -> NDArray[np.float64] | None:
        w = self.weights
        if w is None or self.p * self.n_rows > _MAX_BATCH_ELEMENTS:
            return None
        return np.broadcast_to(w, (self.p, self.n_rows)).ravel()

    @cached_property
    def _wide_weights_rows(self) -> NDArray[np.float64] | None:
        w = self.weights
        if w is None or self.p * self.n_rows > _MAX_BATCH_ELEMENTS:
            return None
        return np.repeat(w, self.p)  # the weight of each (row, var)

    # -- compiled-kernel layout -----------------------------------------------------------
    @cached_property
    def _small_codes(self) -> NDArray[np.unsignedinteger]:
        """Row-major codes in the smallest unsigned type; a missing value is ``maxc``."""
        dtype = np.uint8 if self.maxc < 255 else np.uint16 if self.maxc < 65535 else np.uint32
        c = (
            np.where(self._codes < 0, self.maxc, self._codes)
            if self.col_missing.any()
            else self._codes
        )
        return np.ascontiguousarray(c, dtype=dtype)

    @cached_property
    def _small_codes_t(self) -> NDArray[np.unsignedinteger]:
        """:attr:`_small_codes` variable by variable, ``(variables, rows)``."""
        return np.ascontiguousarray(self._small_codes.T)

    @cached_property
    def _state_bitsets(self) -> tuple[NDArray[np.uint64], NDArray[np.int64], NDArray[np.int64]]:
        """Bitset of the rows of every (variable, state), and each bitset's variable and state."""
        from bnlab.learn import kernels

        offsets = np.concatenate([[0], np.cumsum(self.cards)[:-1]]).astype(np.int64)
        width = int(self.cards.sum())
        var_of = np.repeat(np.arange(self.p, dtype=np.int64), self.cards)
        state_of = np.arange(width, dtype=np.int64) - offsets[var_of]
        bits = kernels.state_bits(self._small_codes, offsets, width, self.maxc)
        return bits, var_of, state_of

    @cached_property
    def _kernel_weights(self) -> NDArray[np.int64] | NDArray[np.float64]:
        """Row weights in the counts' dtype: int64 for whole numbers, else float64."""
        if self.weights is None:
            return np.ones(self.n_rows, dtype=np.int64)
        if self.integer_counts:
            return self.weights.astype(np.int64)
        return self.weights

    def _tables(self, counts: NDArray[np.number]) -> NDArray[np.number]:
        """Return counts as int64 when they are whole numbers (enables the x log x lookup).

        Sums of whole-number weights are exact in float64, so the cast loses nothing.
        """
        if self.integer_counts and counts.dtype.kind == "f":
            return counts.astype(np.int64)
        return counts

    def _interleave(
        self, key: NDArray[np.int64], n_keys: int, valid: NDArray[np.bool_] | None
    ) -> bool:
        """Whether to count row by row: the chance that two rows share a bin is high.

        In a variable-by-variable run, rows fall into bins ``(key, state)`` with a collision
        probability of about ``sum_k P(key = k)^2 * mean_x sum_s P(x = s)^2``; when it is
        high, bincount's adds wait on each other and interleaving the variables pays.
        """
        w = self.weights
        if self._state_collision is None:
            per_var = []
            for x in range(self.p):
                seen = self.codes_t[x] >= 0
                n_x = np.bincount(self.codes_t[x][seen], weights=None if w is None else w[seen])
                per_var.append(_collision(n_x))
            self._state_collision = float(np.mean(per_var)) if per_var else 0.0
        # a strided sample of ~4k rows estimates it well enough, at ~1/p of a count's cost
        rows = slice(None, None, max(1, self.n_rows // 4096))
        k = key[rows]
        kw = None if w is None else w[rows]
        if valid is not None:
            k, kw = k[valid[rows]], None if kw is None else kw[valid[rows]]
        n_k = np.bincount(k, weights=kw, minlength=n_keys)
        return _collision(n_k) * self._state_collision >= _ROWWISE_MIN_COLLISION

    def _buffer(self, rows: int, cols: int) -> NDArray[np.int64]:
        """A reusable ``(rows, cols)`` int64 scratch array for flat indices."""
        if self._scratch.size < rows * cols:
            self._scratch = np.empty(max(rows * cols, rows * self.p), np.int64)
        return self._scratch[: rows * cols].reshape(rows, cols)

    # -- indices ------------------------------------------------------------------------
    def _family_key(
        self, child: int, parents: Sequence[int]
    ) -> tuple[NDArray[np.int64], int, NDArray[np.bool_] | None]:
        """Flat index ``parent_config * r + child_state``, number of parent configs, valid."""
        r = int(self.cards[child])
        cols = list(parents)
        q = int(np.prod(self.cards[cols])) if cols else 1
        if self.engine == "numba" and q * r <= 4 * self.n_rows + 4096:
            from bnlab.learn import kernels

            key = kernels.family_keys(
                self._small_codes_t, np.asarray(cols, dtype=np.int64), self.cards, child, self.maxc
            )
            return key, q, (key >= 0) if self.col_missing[[*cols, child]].any() else None
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
        qs = [int(np.prod(self.cards[list(sets[i])])) if len(sets[i]) else 1 for i in todo]
        if self.engine == "numba" and max(qs) * r <= 4 * self.n_rows + 4096:
            from bnlab.learn import kernels

            tables = [
                self._tables(
                    kernels.family_table(
                        self._small_codes_t,
                        np.asarray(sets[i], dtype=np.int64),
                        self.cards,
                        child,
                        self._kernel_weights,
                        self.maxc,
                    )
                )
                for i in todo
            ]
        else:
            tables = self._count_families(child, [sets[i] for i in todo])
        self.n_counted += len(todo)
        for i, flat, q_true in zip(todo, tables, qs, strict=True):
            tab = flat.reshape(1, -1, r)
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

    def _count_families(
        self, child: int, sets: Sequence[Sequence[int]]
    ) -> list[NDArray[np.number]]:
        """Flat tables of ``child`` under each parent set, counted in one ``np.bincount``."""
        r = int(self.cards[child])
        pieces: list[NDArray[np.int64]] = []
        sizes: list[int] = []
        offset = 0
        for ps in sets:
            key, q, valid = self._family_key(child, ps)
            flat = key + offset
            if valid is not None:
                flat = np.where(valid, flat, -1)
            pieces.append(flat)
            sizes.append(q * r)
            offset += q * r
        flat_all = np.stack(pieces)
        flat_all[flat_all < 0] = offset  # the dump bin for rows missing in a family
        counts = self._tables(self._bincount(flat_all, offset, len(sets)))
        bounds = np.cumsum([0, *sizes])
        return [counts[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

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
        if len(cand) == 0:
            return np.empty(0)
        base = tuple(parents)
        cache = self.cache
        xs = cand.tolist()
        keys = [(child, frozenset((*base, x))) for x in xs]
        known = [cache.get(k) for k in keys]
        if None not in known:
            return np.array(known)
        r = int(self.cards[child])
        key, q_obs, valid = self._family_key(child, parents)
        if q_obs * r * self.p * self.maxc > _MAX_BATCH_ELEMENTS:
            return self._add_scores_loop(child, parents, cand)
        q_true = int(np.prod(self.cards[list(parents)])) if len(parents) else 1
        counts = self._joint_counts(key, q_obs * r, valid, 0)
        fused = self._fused_add_scores(counts, cand, q_true, r)
        used_arr: NDArray[np.number]
        if fused is not None:
            res, used_arr = fused
        else:
            tabs = counts.reshape(q_obs, r, self.p, self.maxc).transpose(2, 0, 3, 1)[cand]
            tabs = tabs.reshape(len(cand), q_obs * self.maxc, r)
            res = score_tables(
                tabs,
                q_true * self.cards[cand],
                self.score_name,
                self.ess,
                xlogx_lut=self.lut,
                lgamma_lut=self.lgamma_lut,
            )
            used_arr = tabs.sum(axis=(1, 2))
        used = used_arr.tolist()
        out = res.tolist()
        total = self._total()
        dropped = self.n_dropped
        for j, fk in enumerate(keys):
            # a family scored before keeps its first value (scores are bit-stable per
            # table axis order, and another order may differ in the last bit)
            got = known[j]
            if got is None:
                cache[fk] = out[j]
                dropped[fk] = total - float(used[j])
            else:
                out[j] = got
        self.n_counted += len(cand)
        return np.array(out)

    def _fused_add_scores(
        self, counts: NDArray[np.number], cand: NDArray[np.int64], q_true: int, r: int
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
        """Scores and used rows of the candidate tables straight from the joint counts.

        The compiled :func:`~bnlab.learn.kernels.add_table_sums` (BDeu / K2: one lgamma
        table per prior count) adds the same lookups in the same order as
        :func:`score_tables` does on the gathered tables, so the scores are bit-identical;
        ``None`` where it does not apply (numpy engine, weighted counts, no lookup tables).
        """
        if self.engine != "numba" or counts.dtype != np.int64 or self.lut is None:
            return None
        name = self.score_name
        if name in ("bdeu", "k2") and self.lgamma_lut is None:
            return None
        from bnlab.learn import kernels

        c4 = np.asarray(counts, dtype=np.int64).reshape(-1, r, self.p, self.maxc)
        qf = np.asarray(q_true * self.cards[cand], dtype=np.float64)
        if name in ("loglik", "bic", "aic"):
            one = self.lut[None]
            group = np.zeros(len(cand), dtype=np.int64)
            cells, configs, used = kernels.add_table_sums(c4, cand, self.cards, one, one, group)
            return _finish_ic(cells - configs, used, qf, r, name), used
        per_config = c4.sum(axis=1)
        # the distinct counts present (a bincount is cheaper than np.unique on these)
        seen_cell = np.flatnonzero(np.bincount(c4.ravel()))
        seen_config = np.flatnonzero(np.bincount(per_config.ravel()))
        # one lgamma table per prior count, i.e. per cardinality of the added parent, with
        # the entries of the counts present (the kernel reads no other entry)
        cards_c = self.cards[cand]
        groups = np.unique(cards_c)
        if name == "k2":
            a_jk, a_j = np.ones(len(groups)), np.full(len(groups), float(r))
        else:
            a_j = self.ess / (q_true * groups).astype(np.float64)
            a_jk = a_j / r
        cell_lut = np.empty((len(groups), int(seen_cell[-1]) + 1))
        cell_lut[:, seen_cell] = (
            gammaln(a_jk[:, None] + seen_cell.astype(np.float64)) - gammaln(a_jk)[:, None]
        )
        config_lut = np.empty((len(groups), int(seen_config[-1]) + 1))
        config_lut[:, seen_config] = (
            gammaln(a_j[:, None] + seen_config.astype(np.float64)) - gammaln(a_j)[:, None]
        )
        cells, configs, used = kernels.add_table_sums(
            c4, cand, self.cards, cell_lut, config_lut, np.searchsorted(groups, cards_c)
        )
        return cells - configs, used

    def _joint_counts(
        self,
        key: NDArray[np.int64],
        n_keys: int,
        valid: NDArray[np.bool_] | None,
        lo: int,
        rowwise: bool | None = None,
    ) -> NDArray[np.number]:
        """Count ``(key, x, state of x)`` for every variable ``x >= lo`` in one bincount.

        Returns shape ``(n_keys, p - lo, maxcard)``; rows missing in the key (``valid``
        False) or in ``x`` are left out of that ``x``'s block. ``rowwise`` lays the flat
        indices out row by row (the variables of a row interleaved) instead of variable by
        variable: with few keys, runs of equal bins then no longer serialise bincount's
        adds; with many, the per-variable layout keeps each run's bins in cache. Default:
        by :meth:`_interleave`. The counts are the same either way (every bin still
        receives its rows in row order), and the same as the compiled kernel's, which counts
        when the engine is ``"numba"`` and no layout is asked for.
        """
        if self.engine == "numba" and rowwise is None:
            from bnlab.learn import kernels

            k = key if valid is None else np.where(valid, key, -1)
            fc: NDArray[np.number]
            if self.weights is None and lo == 0:
                bits, var_of, state_of = self._state_bitsets
                heavy_min = int(np.ceil(_BIT_COST * bits.size / max(self.p, 1)))
                fc = kernels.hybrid_joint_counts(
                    self._small_codes,
                    k,
                    n_keys,
                    bits,
                    var_of,
                    state_of,
                    self.maxc,
                    self.maxc,
                    heavy_min,
                )
            else:
                fc = kernels.joint_counts(
                    self._small_codes, k, self._kernel_weights, n_keys, self.maxc, lo, self.maxc
                )
            return self._tables(fc).reshape(n_keys, self.p - lo, self.maxc)
        if rowwise is None:
            rowwise = self._interleave(key, n_keys, valid)
        m = self.p - lo
        width = m * self.maxc
        size = n_keys * width
        dump = size
        scaled = key * width - lo * self.maxc
        if valid is not None:
            scaled[~valid] = dump + width  # past the dump bin; clipped below
        step = max(1, _MAX_BATCH_ELEMENTS // max(m, 1))
        counts: NDArray[np.number] = np.zeros(size)
        for a in range(0, self.n_rows, step):
            rows = min(step, self.n_rows - a)
            whole = a == 0 and rows == self.n_rows
            # one reused buffer: a fresh (rows, p) array per move costs page faults
            w: NDArray[np.float64] | None = None
            if rowwise:
                flat = np.add(
                    self._shifted_rows[a : a + rows, lo:],
                    scaled[a : a + rows, None],
                    out=self._buffer(rows, m),
                )
                miss = None if self._missing_rows is None else self._missing_rows[a : a + rows, lo:]
                if self.weights is not None:
                    if self._wide_weights_rows is not None and lo == 0 and whole:
                        w = self._wide_weights_rows
                    else:
                        w = np.broadcast_to(self.weights[a : a + rows, None], flat.shape).ravel()
            else:
                flat = np.add(
                    self._shifted_codes[lo:, a : a + rows],
                    scaled[None, a : a + rows],
                    out=self._buffer(m, rows),
                )
                miss = None if self.missing is None else self.missing[lo:, a : a + rows]
                if self.weights is not None:
                    if self._wide_weights is not None and whole:
                        w = self._wide_weights[: flat.size]
                    else:
                        w = np.broadcast_to(self.weights[a : a + rows], flat.shape).ravel()
            if miss is not None:
                np.minimum(flat, dump, out=flat)
                flat[miss] = dump
            part = np.bincount(flat.ravel(), weights=w, minlength=size + 1)[:size]
            counts = part if a == 0 else counts + part
        return self._tables(counts).reshape(n_keys, self.p - lo, self.maxc)

    def precompute_pairs(self) -> None:
        """Score every empty and one-parent family (fills the cache), pairs counted once.

        The table of a pair ``(x, y)`` (:meth:`gram`) is counted once and serves both
        ``y | {x}`` and ``x | {y}``; the families are then scored in a few batches, one per
        pair of cardinalities.
        """
        self._precompute_from_gram(self.gram())

    def gram(self) -> NDArray[np.number]:
        """Counts of every pair of states, shape (total states, total states).

        Block ``(x, y)`` (rows: states of ``x`` at ``offsets[x]``, columns: states of ``y``)
        is the table of ``x`` and ``y`` over the rows where both are observed; the diagonal
        of block ``(v, v)`` holds ``v``'s own counts. Each pair is counted once, the pairs
        of one ``x`` in a single batched ``np.bincount``, and the lower blocks are the
        transposes of the upper ones.
        """
        cards = self.cards
        offsets = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64)
        width = int(cards.sum())
        if self.engine == "numba":
            from bnlab.learn import kernels

            upper: NDArray[np.number]
            if self.weights is None:
                upper = kernels.bit_pair_counts(self._state_bitsets[0])
            else:
                upper = self._tables(
                    kernels.pair_counts(
                        self._small_codes, self._kernel_weights, offsets, width, self.maxc
                    )
                )
            both: NDArray[np.number] = upper + upper.T - np.diag(np.diagonal(upper))
            return both
        gram: NDArray[np.number] = np.zeros(
            (width, width), dtype=np.int64 if self.integer_counts else np.float64
        )
        # (variable, state) of every state in gram order, and its bin in a (maxc) block
        var = np.repeat(np.arange(self.p), cards)
        state = np.arange(width) - offsets[var]
        for x in range(self.p):
            rx = int(cards[x])
            valid = None if self.missing is None else ~self.missing[x]
            key = self.codes_t[x] if valid is None else np.where(valid, self.codes_t[x], 0)
            # variable by variable: the strided row-wise slices cost more than they save here
            counts = self._joint_counts(key, rx, valid, x, rowwise=False)  # (rx, p - x, maxc)
            ox = int(offsets[x])
            cols = slice(ox, width)  # the states of x, x + 1, ..., p - 1
            bins = (var[cols] - x) * self.maxc + state[cols]
            gram[ox : ox + rx, cols] = counts.reshape(rx, -1)[:, bins]
        # blocks (x, z >= x) are filled; the lower ones are their transposes, and the
        # diagonal blocks (diagonal matrices) must not be counted twice
        full: NDArray[np.number] = gram + gram.T - np.diag(np.diagonal(gram))
        return full

    def _precompute_from_gram(self, gram: NDArray[np.number]) -> None:
        """Score the empty and one-parent families from the pair counts of :meth:`gram`."""
        cards = self.cards
        offsets = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64)
        diag = np.diagonal(gram)
        for c in np.unique(cards):
            vs = np.flatnonzero(cards == c)
            tabs = diag[offsets[vs][:, None] + np.arange(c)[None, :]].reshape(len(vs), 1, int(c))
            self._store_batch([(int(v), frozenset()) for v in vs], tabs, np.ones(len(vs)))
        xs, ys = np.nonzero(~np.eye(self.p, dtype=bool))
        cx, cy = cards[xs], cards[ys]
        for a in np.unique(cx):
            for b in np.unique(cy):
                sel = np.flatnonzero((cx == a) & (cy == b))
                if not len(sel):
                    continue
                # family y | {x}: parent configurations = states of x (rows of block (x, y))
                r_idx = offsets[xs[sel]][:, None, None] + np.arange(a)[None, :, None]
                c_idx = offsets[ys[sel]][:, None, None] + np.arange(b)[None, None, :]
                keys = [(int(ys[i]), frozenset((int(xs[i]),))) for i in sel]
                self._store_batch(keys, gram[r_idx, c_idx], np.full(len(sel), float(a)))
        self.n_counted += self.p * self.p

    def _store_batch(
        self,
        keys: Sequence[tuple[int, frozenset[int]]],
        tables: NDArray[np.number],
        qs: NDArray[np.float64],
    ) -> None:
        """Score tables ``(m, Q, r)`` and cache them under ``keys`` (with dropped rows)."""
        res = score_tables(
            tables, qs, self.score_name, self.ess, xlogx_lut=self.lut, lgamma_lut=self.lgamma_lut
        )
        used = tables.sum(axis=(1, 2))
        for k, v, u in zip(keys, res.tolist(), used.tolist(), strict=True):
            self.cache[k] = v
            self.n_dropped[k] = self.n_total - u

    def _add_scores_loop(
        self, child: int, parents: Sequence[int], todo: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Fallback for huge parent sets: score each extended family on its own."""
        return self.score_sets(child, [(*parents, int(x)) for x in todo])

    def dropped(self, child: int, parents: Sequence[int]) -> int:
        """Rows (or total weight) the family ``child | parents`` left out for missing values."""
        self.score(child, parents)
        return int(round(self.n_dropped[(child, frozenset(parents))]))
