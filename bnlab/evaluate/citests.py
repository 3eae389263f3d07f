"""Conditional-independence tests on integer codes: G² and Pearson chi-square, stratified.

The stratified contingency table of ``x`` against ``y`` within each configuration of the
conditioning set ``z`` is built with one ``np.bincount`` (strata and ``y`` configurations
that never occur are compressed away first, so a large conditioning set costs memory in
proportion to the rows, not to the product of cardinalities). Statistics are summed over
strata; degrees of freedom are ``sum_s (kx_s - 1)(ky_s - 1)`` where ``kx_s``/``ky_s`` count
the values of ``x``/``y`` that occur in stratum ``s`` (the adjustment for empty rows, columns
and strata that keeps the test honest on sparse tables). Optional permutation p-values
permute ``x`` within strata, which keeps every margin and so the degrees of freedom.

The effect size is the conditional mutual information in nats. The plug-in ``G² / (2n)``
(``cmi_plugin``) is biased upwards by about ``dof / (2n)``, so the reported ``cmi`` and its
interval come from one confidence distribution instead: under a dependence of size ``CMI``,
``G²`` is approximately non-central chi-square with ``dof`` degrees of freedom and
non-centrality ``2n CMI`` (Agresti, *Categorical Data Analysis*, 3rd ed., sec. 6.6), so the
non-centralities at which the observed ``G²`` sits at the 95th, 50th and 5th percentile
give the lower end, the median-unbiased point and the upper end (each divided by ``2n``).
The point always lies inside its own interval, and for an independence that holds the
lower end is zero but in a share ``(1 - interval) / 2`` of data sets. :func:`effect_interval`
computes it; ``entropy`` (the smaller of the plug-in ``H(X | Z)`` and ``H(Y | Z)``, an upper
bound of the CMI) turns it into a share that a reader can judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.special import (  # scipy.stats costs ~0.7 s to import
    chdtr,
    chdtrc,
    chndtrinc,
)

from bnlab.errors import BNError

#: Above this G² the non-central chi-square quantile is found from its normal approximation
#: (mean dof + lam, variance 2 (dof + 2 lam); skewness below 0.04, relative error ~1e-3) in
#: closed form: the exact root search costs ~10 ms there, and the answer is far from zero.
NORMAL_G2 = 5000.0

#: Dense tables up to this many cells (or 4 cells per row) are counted with a plain bincount.
DENSE_CELLS = 1 << 20
_KEY_LIMIT = 1 << 40


class CITestResult(NamedTuple):
    """Outcome of one conditional-independence test."""

    statistic: float
    dof: int
    p: float
    cmi: float
    cmi_lower: float
    cmi_upper: float
    n: int
    cmi_plugin: float = float("nan")
    entropy: float = float("nan")


class Cells(NamedTuple):
    """The stratified table as a list of cells: every (x, y) pair possible in each stratum.

    A cell exists for each stratum ``s``, each ``x`` value seen in ``s`` and each ``y`` value
    seen in ``s``; ``counts`` may be zero. Margins of the cells define ``expected``.
    """

    counts: NDArray[np.int64]  # (m,)
    stratum: NDArray[np.int64]  # (m,) stratum id of each cell
    sx: NDArray[np.int64]  # (m,) id of the (stratum, x) group
    sy: NDArray[np.int64]  # (m,) id of the (stratum, y) group
    sx_stratum: NDArray[np.int64]  # stratum of each (stratum, x) group
    sy_stratum: NDArray[np.int64]  # stratum of each (stratum, y) group
    keys: NDArray[np.int64]  # sorted cell keys ((s * rx + x) * ry + y)
    rx: int
    ry: int
    n: int


def joint_key(
    codes: NDArray[np.integer], columns: Sequence[int], cards: Sequence[int]
) -> tuple[NDArray[np.int64], int]:
    """Row-major joint index of several columns, compressed when the product is too big.

    Returns the index of each row and the size of the index space. When the product of the
    cardinalities exceeds ``4 * rows`` the observed configurations are renumbered
    ``0..k-1`` (in sorted order), so the size never exceeds the number of rows by much.
    """
    n = codes.shape[0]
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for col, card in zip(columns, cards, strict=True):
        if size * int(card) > _KEY_LIMIT:
            uniq, key = np.unique(key, return_inverse=True)
            size = int(uniq.size)
        key = key * int(card) + codes[:, col]
        size *= int(card)
    if size > max(4 * n, 1):
        uniq, key = np.unique(key, return_inverse=True)
        size = int(uniq.size)
    return key.astype(np.int64, copy=False), size


def _present(key: NDArray[np.int64], size: int) -> NDArray[np.int64]:
    """Sorted distinct values of ``key`` (a bincount when the key space is small)."""
    if size <= max(DENSE_CELLS, 4 * key.size):
        return np.flatnonzero(np.bincount(key, minlength=size)).astype(np.int64)
    return np.unique(key)


def stratified_cells(
    codes: NDArray[np.integer],
    x: int,
    y: Sequence[int],
    z: Sequence[int],
    cards: Sequence[int],
) -> tuple[Cells, NDArray[np.int64]]:
    """Build the cell list of the test of column ``x`` against columns ``y`` given ``z``.

    Parameters
    ----------
    codes
        Integer codes ``(rows, variables)``; rows with a missing value (``-1``) in any of the
        involved columns are dropped.
    x, y, z
        Column indices.
    cards
        Cardinality of every column of ``codes``.

    Returns
    -------
    (cells, row_cell)
        The cells and, for each kept row, the index of its cell (used by permutations).
    """
    cols = [x, *y, *z]
    if codes.shape[0] and (codes[:, cols] < 0).any():
        codes = codes[(codes[:, cols] >= 0).all(axis=1)]
    n = int(codes.shape[0])
    s_id, n_strata = joint_key(codes, list(z), [cards[c] for c in z])
    y_id, ry = joint_key(codes, list(y), [cards[c] for c in y])
    rx = int(cards[x])
    xv = codes[:, x].astype(np.int64)
    sx_key = s_id * rx + xv
    sy_key = s_id * ry + y_id
    row_key = sx_key * ry + y_id
    sx_u = _present(sx_key, n_strata * rx)
    sy_u = _present(sy_key, n_strata * ry)
    sx_stratum = sx_u // rx
    sy_stratum = sy_u // ry
    # cross every (s, x) group with every (s, y) group of the same stratum
    ky = np.bincount(sy_stratum, minlength=n_strata)
    start_y = np.cumsum(ky) - ky
    reps = ky[sx_stratum]
    sx_idx = np.repeat(np.arange(sx_u.size), reps)
    within = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    sy_idx = start_y[sx_stratum[sx_idx]] + within
    keys = sx_u[sx_idx] * ry + (sy_u[sy_idx] - sy_stratum[sy_idx] * ry)
    dense = n_strata * rx * ry
    if dense <= max(DENSE_CELLS, 4 * n):
        counts = np.bincount(row_key, minlength=dense)[keys]
        lookup = np.full(dense, -1, dtype=np.int64)
        lookup[keys] = np.arange(keys.size)
        row_cell = lookup[row_key]
    else:
        row_cell = np.searchsorted(keys, row_key).astype(np.int64)
        counts = np.bincount(row_cell, minlength=keys.size)
    cells = Cells(
        counts=counts.astype(np.int64),
        stratum=sx_stratum[sx_idx],
        sx=sx_idx,
        sy=sy_idx.astype(np.int64),
        sx_stratum=sx_stratum,
        sy_stratum=sy_stratum,
        keys=keys,
        rx=rx,
        ry=ry,
        n=n,
    )
    return cells, row_cell


def table_cells(table: NDArray[np.integer], n_given: int) -> Cells:
    """The cell list of a dense contingency table with axes ``(*z, x, *y)``.

    Gives the same cells, in the same order, as :func:`stratified_cells` on the rows the
    table counts (strata row-major over ``z``, ``y`` configurations row-major over ``y``), so
    statistics from either are identical; used with tables from a counts source
    (:mod:`bnlab.counts.sources`), i.e. partitioned data.

    Parameters
    ----------
    table
        Counts, the ``n_given`` conditioning axes first, then ``x``, then the ``y`` axes.
    n_given
        Number of leading conditioning axes.
    """
    t = np.asarray(table, dtype=np.int64)
    if t.ndim < n_given + 2:
        raise BNError(
            f"a table of x, y given {n_given} variable(s) needs at least {n_given + 2} axes, "
            f"got shape {t.shape}."
        )
    shape = t.shape
    n_strata = int(np.prod(shape[:n_given], dtype=np.int64))
    rx = int(shape[n_given])
    ry = int(np.prod(shape[n_given + 1 :], dtype=np.int64))
    t3 = t.reshape(n_strata, rx, ry)
    x_seen = t3.sum(axis=2) > 0
    y_seen = t3.sum(axis=1) > 0
    sx_u = np.flatnonzero(x_seen).astype(np.int64)
    sy_u = np.flatnonzero(y_seen).astype(np.int64)
    flat = np.flatnonzero(x_seen[:, :, None] & y_seen[:, None, :]).astype(np.int64)
    s_of, rest = np.divmod(flat, rx * ry)
    x_of, y_of = np.divmod(rest, ry)
    return Cells(
        counts=t3.ravel()[flat],
        stratum=s_of,
        sx=np.searchsorted(sx_u, s_of * rx + x_of).astype(np.int64),
        sy=np.searchsorted(sy_u, s_of * ry + y_of).astype(np.int64),
        sx_stratum=sx_u // rx,
        sy_stratum=sy_u // ry,
        keys=flat,
        rx=rx,
        ry=ry,
        n=int(t3.sum()),
    )


def _grouped(counts: NDArray[np.floating], ids: NDArray[np.int64], k: int) -> NDArray[np.float64]:
    """Sum the last axis of ``counts`` (B, m) into ``k`` groups per row: (B, k)."""
    b = counts.shape[0]
    flat = (np.arange(b)[:, None] * k + ids[None, :]).ravel()
    return np.bincount(flat, weights=counts.ravel(), minlength=b * k).reshape(b, k)


def cell_statistics(
    cells: Cells, counts: NDArray[np.integer] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """G², Pearson chi-square and adjusted dof for one or many tables on the same cells.

    Parameters
    ----------
    cells
        Cell structure from :func:`stratified_cells`.
    counts
        Counts of shape ``(B, m)``; the observed counts when ``None``.

    Returns
    -------
    (g2, chi2, dof)
        Each of shape ``(B,)``.
    """
    c = (cells.counts[None, :] if counts is None else np.atleast_2d(counts)).astype(np.float64)
    k_s = int(cells.sx_stratum.max()) + 1 if cells.sx_stratum.size else 0
    n_s = _grouped(c, cells.stratum, k_s)
    n_sx = _grouped(c, cells.sx, cells.sx_stratum.size)
    n_sy = _grouped(c, cells.sy, cells.sy_stratum.size)
    num = n_sx[:, cells.sx] * n_sy[:, cells.sy]
    den = n_s[:, cells.stratum]
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        g_terms = np.where(c > 0, c * np.log(c / np.where(expected > 0, expected, 1.0)), 0.0)
        x_terms = np.where(
            expected > 0, (c - expected) ** 2 / np.where(expected > 0, expected, 1.0), 0.0
        )
    g2 = np.maximum(2.0 * g_terms.sum(axis=1), 0.0)
    chi2 = x_terms.sum(axis=1)
    kx = _grouped((n_sx > 0).astype(np.float64), cells.sx_stratum, k_s)
    ky = _grouped((n_sy > 0).astype(np.float64), cells.sy_stratum, k_s)
    dof = (np.maximum(kx - 1, 0) * np.maximum(ky - 1, 0)).sum(axis=1).astype(np.int64)
    return g2, chi2, dof


def permutation_pvalue(
    cells: Cells,
    row_cell: NDArray[np.int64],
    statistic: float,
    method: str,
    permutations: int,
    rng: np.random.Generator,
    *,
    chunk_cells: int = 1 << 22,
) -> float:
    """Share of within-stratum permutations of ``x`` whose statistic reaches the observed one.

    Returns ``(1 + #{T_perm >= T_obs}) / (1 + permutations)``.
    """
    n = row_cell.size
    if n == 0:
        return 1.0
    x_of_row = (cells.keys[row_cell] // cells.ry) % cells.rx
    s_of_row = cells.stratum[row_cell]
    base = np.argsort(s_of_row, kind="stable")
    m = cells.keys.size
    hits = 0
    per = max(1, min(permutations, chunk_cells // max(m, n, 1)))
    done = 0
    while done < permutations:
        b = min(per, permutations - done)
        order = np.argsort(s_of_row[None, :] + rng.random((b, n)), axis=1)
        xp = np.empty((b, n), dtype=np.int64)
        xp[:, base] = x_of_row[order]
        # the new cell of each row: same stratum and y, permuted x
        new_key = (cells.keys[row_cell] // (cells.rx * cells.ry) * cells.rx + xp) * cells.ry + (
            cells.keys[row_cell] % cells.ry
        )
        cell_idx = np.searchsorted(cells.keys, new_key)
        flat = (np.arange(b)[:, None] * m + cell_idx).ravel()
        counts = np.bincount(flat, minlength=b * m).reshape(b, m)
        g2, chi2, _ = cell_statistics(cells, counts)
        perm_stat = g2 if method == "g2" else chi2
        hits += int(np.count_nonzero(perm_stat >= statistic - 1e-9 * max(1.0, abs(statistic))))
        done += b
    return (1.0 + hits) / (1.0 + permutations)


def effect_interval(
    g2: NDArray[np.floating] | float,
    dof: NDArray[np.integer] | int,
    n: NDArray[np.integer] | int,
    interval: float = 0.9,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Median-unbiased CMI and its equal-tailed interval from ``G²``, ``dof`` and ``n``.

    ``G² ~ noncentral chi-square(dof, 2 n CMI)``: the non-centrality ``lam`` at which the
    observed ``G²`` is the ``1 - tail``, ``0.5`` and ``tail`` quantile gives the lower end,
    the point and the upper end (``lam / (2n)`` nats; ``0`` where even ``lam = 0`` puts
    ``G²`` below that quantile). Vectorised over its arguments.

    Parameters
    ----------
    g2, dof, n
        Likelihood-ratio statistic, its degrees of freedom, and the rows it was computed on.
    interval
        Probability mass of the interval, in (0, 1).

    Returns
    -------
    (point, lower, upper)
        In nats, arrays of the broadcast shape; all zero where ``dof`` or ``n`` is zero.
    """
    if not 0.0 < interval < 1.0:
        raise BNError(f"interval must lie strictly between 0 and 1, got {interval!r}.")
    from scipy.special import ndtri

    g, d, m = np.broadcast_arrays(
        np.asarray(g2, dtype=np.float64),
        np.asarray(dof, dtype=np.float64),
        np.asarray(n, dtype=np.float64),
    )
    tail = (1.0 - interval) / 2.0
    ok = (d > 0) & (m > 0) & (g > 0)
    out = []
    for cdf in (1.0 - tail, 0.5, tail):
        lam = np.zeros(g.shape)
        # where G² is below that quantile of the central chi-square, the non-centrality is 0
        need = ok & (chdtr(np.where(ok, d, 1.0), np.where(ok, g, 0.0)) > cdf)
        big = need & (g > NORMAL_G2)
        exact = need & ~big
        if exact.any():
            lam[exact] = chndtrinc(g[exact], d[exact], cdf)
        if big.any():
            # g = d + lam + z sqrt(2d + 4 lam): a quadratic in w = sqrt(2d + 4 lam)
            z = float(ndtri(cdf))
            w = 2.0 * (-z + np.sqrt(z * z + g[big] - d[big] / 2.0))
            lam[big] = np.maximum((w * w - 2.0 * d[big]) / 4.0, 0.0)
        lam = np.where(np.isfinite(lam) & (lam > 1e-300), lam, 0.0)
        out.append(np.where(ok, lam / (2.0 * np.where(m > 0, m, 1.0)), 0.0))
    return out[1], out[0], out[2]


def effect_pvalue(
    g2: NDArray[np.floating] | float,
    dof: NDArray[np.integer] | int,
    n: NDArray[np.integer] | int,
    min_effect: float,
) -> NDArray[np.float64]:
    """P-value of the null ``CMI <= min_effect`` (nats), vectorised.

    ``P(G² >= g2)`` at non-centrality ``2 n min_effect``, the least favourable point of
    that null. With ``min_effect = 0`` it is the usual chi-square p-value. Small where the
    dependence is both real and larger than ``min_effect``; Benjamini-Hochberg over these
    p-values is how the audit decides which violations count
    (:func:`bnlab.evaluate.audit.counting_violations`). 1 where ``dof`` or ``n`` is zero.
    """
    from scipy.special import chndtr, ndtr

    g, d, m = np.broadcast_arrays(
        np.asarray(g2, dtype=np.float64),
        np.asarray(dof, dtype=np.float64),
        np.asarray(n, dtype=np.float64),
    )
    lam = 2.0 * m * float(min_effect)
    ok = (d > 0) & (m > 0)
    out = np.ones(g.shape)
    big = ok & (g > NORMAL_G2)
    exact = ok & ~big
    if exact.any():
        if min_effect > 0:
            out[exact] = 1.0 - chndtr(g[exact], d[exact], lam[exact])
        else:
            out[exact] = chdtrc(d[exact], g[exact])
    if big.any():
        z = (g[big] - d[big] - lam[big]) / np.sqrt(2.0 * (d[big] + 2.0 * lam[big]))
        out[big] = ndtr(-z)
    return np.clip(out, 0.0, 1.0)


def conditional_entropy_bound(cells: Cells) -> float:
    """``min(H(X | Z), H(Y | Z))`` in nats (plug-in): the largest CMI the table allows."""
    c = cells.counts.astype(np.float64)[None, :]
    n = float(cells.n)
    if n <= 0:
        return 0.0
    k_s = int(cells.sx_stratum.max()) + 1 if cells.sx_stratum.size else 0
    n_s = _grouped(c, cells.stratum, k_s)[0]

    def h(groups: NDArray[np.int64], stratum_of: NDArray[np.int64]) -> float:
        g = _grouped(c, groups, stratum_of.size)[0]
        s = n_s[stratum_of]
        ok = g > 0
        return float(-(g[ok] * np.log(g[ok] / s[ok])).sum() / n)

    return min(h(cells.sx, cells.sx_stratum), h(cells.sy, cells.sy_stratum))


def ci_test(
    codes: NDArray[np.integer],
    x: int,
    y: Sequence[int] | int,
    z: Sequence[int],
    cards: Sequence[int],
    *,
    method: str = "g2",
    permutations: int = 0,
    bootstrap: int = 0,
    interval: float = 0.9,
    seed: int | np.random.Generator | None = 0,
) -> CITestResult:
    """Test ``x _||_ y | z`` on integer codes.

    Parameters
    ----------
    codes
        Integer codes ``(rows, variables)``, ``-1`` = missing (such rows are dropped).
    x, y, z
        Column indices (``y`` may name several columns, tested jointly).
    cards
        Cardinality of every column.
    method
        ``"g2"`` (likelihood ratio) or ``"chi2"`` (Pearson).
    permutations
        When > 0, the p-value is a within-stratum permutation p-value with this many draws.
    bootstrap
        Not used any more (the CMI interval is :func:`effect_interval`'s, computed always);
        accepted so that older calls keep working.
    interval
        Probability mass of the CMI interval.
    seed
        Seed or generator for permutations.

    Returns
    -------
    CITestResult
    """
    if method not in ("g2", "chi2"):
        raise BNError(f"unknown CI test method {method!r}; use 'g2' or 'chi2'.")
    ys = [y] if isinstance(y, (int, np.integer)) else list(y)
    cells, _ = stratified_cells(codes, int(x), ys, list(z), cards)
    return ci_test_cells(
        cells,
        method=method,
        permutations=permutations,
        bootstrap=bootstrap,
        interval=interval,
        seed=seed,
    )


def ci_test_cells(
    cells: Cells,
    *,
    method: str = "g2",
    permutations: int = 0,
    bootstrap: int = 0,
    interval: float = 0.9,
    seed: int | np.random.Generator | None = 0,
) -> CITestResult:
    """The test of :func:`ci_test` on a cell list (from rows or from a table).

    The result depends on the table alone, not on the order of the rows: permutations
    permute ``x`` over the rows listed cell by cell, so a table counted from partitioned data
    (:func:`table_cells`) gives exactly the in-memory result for the same seed.
    """
    if method not in ("g2", "chi2"):
        raise BNError(f"unknown CI test method {method!r}; use 'g2' or 'chi2'.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    g2, chi2, dof = cell_statistics(cells)
    stat = float(g2[0] if method == "g2" else chi2[0])
    d = int(dof[0])
    if d == 0:
        p = 1.0
    elif permutations > 0:
        row_cell = np.repeat(np.arange(cells.counts.size, dtype=np.int64), cells.counts)
        p = permutation_pvalue(cells, row_cell, stat, method, permutations, rng)
    else:
        p = float(chdtrc(d, stat))
    n = cells.n
    plugin = float(g2[0]) / (2.0 * n) if n else 0.0
    point, lo, hi = effect_interval(float(g2[0]), d, n, interval)
    return CITestResult(
        stat, d, p, float(point), float(lo), float(hi), n, plugin, conditional_entropy_bound(cells)
    )


def benjamini_hochberg(p: NDArray[np.floating] | Sequence[float]) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values); reject where ``q <= fdr``.

    NaN p-values stay NaN and do not count towards the number of tests.
    """
    pv = np.asarray(p, dtype=np.float64)
    q = np.full(pv.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(pv))
    m = ok.size
    if m == 0:
        return q
    order = ok[np.argsort(pv[ok], kind="stable")]
    ranked = pv[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q
