"""Calibration metrics over predicted probabilities and true labels (pure array functions).

Predictions are ``probs`` of shape ``(n, K)`` (rows sum to one) and ``labels`` of shape
``(n,)`` with values in ``0..K-1``. With posterior draws, ``probs`` has a leading draw axis
``(S, n, K)`` and :func:`metric_distribution` / :func:`reliability_band` summarise each metric
over the draws (mean and equal-tailed interval): the spread of per-draw metrics, a quantity
of its own. The interval of a metric itself (of one set of predictions, e.g. the posterior
predictive) is :func:`metric_bootstrap`'s: resampling the held-out rows.

Definitions (Guo et al. 2017; Kull et al. 2019; Nixon et al. 2019):

* top-label ECE: ``sum_b |B_b|/n * |acc(B_b) - conf(B_b)|`` over bins of the top probability;
* class-wise ECE: the mean over classes of the ECE of ``p_k`` against ``1[label == k]``;
* bins: ``"width"`` (equal-width on [0, 1]) or ``"mass"`` (equal counts, after sorting);
* MCE: the largest per-bin gap (non-empty bins);
* Brier: ``mean_i sum_k (p_ik - 1[y_i = k])^2``, summed over classes as in Brier (1950),
  range [0, 2]; for two classes it is twice scikit-learn's ``brier_score_loss`` (which
  scores the positive class only);
* log loss: ``-mean_i log p_{i, y_i}``, probabilities clipped at 1e-15;
* AUC: one-vs-rest, macro-averaged over the classes that occur both as label and not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.errors import DataError

LOG_EPS = 1e-15

#: Range of each metric (bootstrap intervals are clipped to it).
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "ece": (0.0, 1.0),
    "ece_mass": (0.0, 1.0),
    "ece_classwise": (0.0, 1.0),
    "mce": (0.0, 1.0),
    "brier": (0.0, 2.0),
    "log_loss": (0.0, np.inf),
    "auc": (0.0, 1.0),
}


def _check(
    probs: NDArray[np.floating], labels: NDArray[np.integer]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    if p.ndim != 2:
        raise DataError(f"probs must have shape (n, classes), got {p.shape}.")
    if y.shape != (p.shape[0],):
        raise DataError(f"labels must have shape ({p.shape[0]},) to match probs, got {y.shape}.")
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise DataError(
            f"labels must lie in 0..{p.shape[1] - 1} (one per class of probs); found "
            f"[{y.min()}, {y.max()}]. Drop rows whose label is missing (-1) first."
        )
    return p, y.astype(np.int64)


def _bin_ids(values: NDArray[np.float64], bins: int, strategy: str) -> NDArray[np.int64]:
    if bins < 1:
        raise DataError(f"bins must be a positive integer, got {bins!r}.")
    if strategy == "width":
        return np.minimum((values * bins).astype(np.int64), bins - 1)
    if strategy == "mass":
        ids = np.empty(values.size, dtype=np.int64)
        order = np.argsort(values, kind="stable")
        ids[order] = np.arange(values.size) * bins // max(values.size, 1)
        return ids
    raise DataError(f"unknown binning strategy {strategy!r}; use 'width' or 'mass'.")


def _binned(
    conf: NDArray[np.float64], hit: NDArray[np.float64], bins: int, strategy: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per-bin counts, mean confidence and observed frequency (NaN for empty bins)."""
    ids = _bin_ids(conf, bins, strategy)
    count = np.bincount(ids, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(ids, weights=conf, minlength=bins) / count
        freq = np.bincount(ids, weights=hit, minlength=bins) / count
    return count, mean_conf, freq


def _gaps(
    conf: NDArray[np.float64], hit: NDArray[np.float64], bins: int, strategy: str
) -> tuple[float, float]:
    count, mean_conf, freq = _binned(conf, hit, bins, strategy)
    ok = count > 0
    gap = np.abs(freq[ok] - mean_conf[ok])
    n = count.sum()
    return float((count[ok] * gap).sum() / n) if n else 0.0, float(gap.max()) if ok.any() else 0.0


def _top(
    p: NDArray[np.float64], y: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    pred = np.argmax(p, axis=1)
    return p[np.arange(p.shape[0]), pred], (pred == y).astype(np.float64)


def ece(
    probs: NDArray[np.floating],
    labels: NDArray[np.integer],
    bins: int = 15,
    strategy: str = "width",
    kind: str = "top",
) -> float:
    """Return the expected calibration error.

    Parameters
    ----------
    probs, labels
        Predictions ``(n, K)`` and true classes ``(n,)``.
    bins
        Number of bins.
    strategy
        ``"width"`` (equal-width) or ``"mass"`` (equal-count) bins.
    kind
        ``"top"`` (top-label) or ``"class"`` (class-wise, averaged over classes).
    """
    p, y = _check(probs, labels)
    if kind == "top":
        conf, hit = _top(p, y)
        return _gaps(conf, hit, bins, strategy)[0]
    if kind == "class":
        k = p.shape[1]
        return float(
            np.mean(
                [_gaps(p[:, c], (y == c).astype(np.float64), bins, strategy)[0] for c in range(k)]
            )
        )
    raise DataError(f"unknown ECE kind {kind!r}; use 'top' or 'class'.")


def mce(
    probs: NDArray[np.floating],
    labels: NDArray[np.integer],
    bins: int = 15,
    strategy: str = "width",
) -> float:
    """Return the maximum calibration error (top-label, largest gap over non-empty bins)."""
    p, y = _check(probs, labels)
    conf, hit = _top(p, y)
    return _gaps(conf, hit, bins, strategy)[1]


def brier(probs: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """Return the multi-class Brier score ``mean_i sum_k (p_ik - 1[y_i = k])^2``."""
    p, y = _check(probs, labels)
    onehot = np.zeros_like(p)
    onehot[np.arange(p.shape[0]), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1))) if p.shape[0] else 0.0


def log_loss(probs: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """Return the mean negative log probability of the true class (clipped at 1e-15)."""
    p, y = _check(probs, labels)
    if not p.shape[0]:
        return 0.0
    return float(-np.mean(np.log(np.clip(p[np.arange(p.shape[0]), y], LOG_EPS, 1.0))))


def average_ranks(x: NDArray[np.floating]) -> NDArray[np.float64]:
    """1-based ranks of ``x``, ties given the mean of their ranks (``scipy.stats.rankdata``)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    mean_rank: NDArray[np.float64] = np.cumsum(counts) - (counts - 1) / 2.0
    return mean_rank[inverse]


def auc(probs: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """Return the one-vs-rest AUC, macro-averaged (NaN when no class is both seen and unseen).

    Each class's AUC is the Mann-Whitney statistic of its probability, ties counted half.
    """
    p, y = _check(probs, labels)
    scores = []
    for c in range(p.shape[1]):
        pos = y == c
        n_pos = int(pos.sum())
        n_neg = y.size - n_pos
        if n_pos == 0 or n_neg == 0:
            continue
        ranks = average_ranks(p[:, c])
        scores.append((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
    return float(np.mean(scores)) if scores else float("nan")


def reliability_curve(
    probs: NDArray[np.floating],
    labels: NDArray[np.integer],
    bins: int = 15,
    strategy: str = "width",
    state: int | None = None,
) -> pd.DataFrame:
    """Return the reliability-diagram data.

    Parameters
    ----------
    probs, labels
        Predictions ``(n, K)`` and true classes ``(n,)``.
    bins, strategy
        As for :func:`ece`.
    state
        Class whose probability is binned against ``1[label == state]``; the top label when
        ``None``.

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``bin, count, confidence`` (mean predicted probability) and
        ``frequency`` (observed frequency); NaN in empty bins.
    """
    p, y = _check(probs, labels)
    if state is None:
        conf, hit = _top(p, y)
    else:
        conf, hit = p[:, state], (y == state).astype(np.float64)
    count, mean_conf, freq = _binned(conf, hit, bins, strategy)
    return pd.DataFrame(
        {
            "bin": np.arange(bins),
            "count": count.astype(np.int64),
            "confidence": mean_conf,
            "frequency": freq,
        }
    )


#: name -> metric function of (probs, labels); what :func:`metric_table` computes.
METRICS: dict[str, Callable[..., float]] = {
    "ece": lambda p, y, bins: ece(p, y, bins, "width", "top"),
    "ece_mass": lambda p, y, bins: ece(p, y, bins, "mass", "top"),
    "ece_classwise": lambda p, y, bins: ece(p, y, bins, "width", "class"),
    "mce": lambda p, y, bins: mce(p, y, bins, "width"),
    "brier": lambda p, y, bins: brier(p, y),
    "log_loss": lambda p, y, bins: log_loss(p, y),
    "auc": lambda p, y, bins: auc(p, y),
}


def metric_table(
    probs: NDArray[np.floating], labels: NDArray[np.integer], bins: int = 15
) -> dict[str, float]:
    """Return every metric of :data:`METRICS` for one set of predictions."""
    return {name: fn(probs, labels, bins) for name, fn in METRICS.items()}


def metric_bootstrap(
    probs: NDArray[np.floating],
    labels: NDArray[np.integer],
    bins: int = 15,
    interval: float = 0.9,
    resamples: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Each metric of one set of predictions ``(n, K)`` with an interval from resampled rows.

    The interval is ``value -/+ z * sd`` (``z`` the normal quantile of ``interval``, ``sd``
    the standard deviation of the metric over ``resamples`` bootstrap resamples of the rows),
    clipped to the metric's range: an interval of the same quantity as ``value``, which it
    always contains (a percentile interval of a biased metric such as the ECE can miss it).

    Returns
    -------
    dict
        ``{metric: {"value", "lower", "upper", "sd"}}`` (NaN where the metric is undefined).
    """
    from scipy.special import ndtri

    p, y = _check(probs, labels)
    if not 0.0 < interval < 1.0:
        raise DataError(f"interval must lie strictly between 0 and 1, got {interval!r}.")
    point = metric_table(p, y, bins)
    rng = np.random.default_rng(seed)
    n = y.size
    boot = []
    for _ in range(resamples if n else 0):
        rows = rng.integers(0, n, size=n)
        boot.append(metric_table(p[rows], y[rows], bins))
    z = float(ndtri(0.5 + interval / 2.0))
    out: dict[str, dict[str, float]] = {}
    for name in METRICS:
        vals = np.array([b[name] for b in boot], dtype=np.float64)
        vals = vals[~np.isnan(vals)]
        value = float(point[name])
        sd = float(vals.std(ddof=1)) if vals.size > 1 else float("nan")
        low, high = METRIC_RANGES[name]
        if np.isnan(value) or np.isnan(sd):
            lo = hi = value if np.isnan(value) or resamples == 0 else float("nan")
        else:
            lo, hi = max(low, value - z * sd), min(high, value + z * sd)
        out[name] = {"value": value, "lower": float(lo), "upper": float(hi), "sd": sd}
    return out


def metric_distribution(
    probs: NDArray[np.floating], labels: NDArray[np.integer], bins: int = 15, interval: float = 0.9
) -> dict[str, dict[str, float]]:
    """Return each metric over posterior draws ``probs (S, n, K)``: mean, lower, upper.

    The interval is equal-tailed with mass ``interval``. Rows that are NaN in a draw (evidence
    impossible under that draw's CPTs) are left out of that draw's metrics.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 3:
        raise DataError(f"probs with draws must have shape (draws, n, classes), got {p.shape}.")
    y = np.asarray(labels)
    per_draw = []
    for s in range(p.shape[0]):
        ok = ~np.isnan(p[s]).any(axis=1)  # rows impossible under this draw are skipped
        per_draw.append(metric_table(p[s][ok], y[ok], bins))
    tail = (1.0 - interval) / 2.0
    out: dict[str, dict[str, float]] = {}
    for name in METRICS:
        vals = np.array([d[name] for d in per_draw])
        lo, hi = np.quantile(vals, [tail, 1.0 - tail])
        out[name] = {"mean": float(vals.mean()), "lower": float(lo), "upper": float(hi)}
    return out


def reliability_band(
    probs: NDArray[np.floating],
    labels: NDArray[np.integer],
    bins: int = 15,
    strategy: str = "width",
    state: int | None = None,
    interval: float = 0.9,
) -> pd.DataFrame:
    """Return the reliability curve over posterior draws with an equal-tailed band.

    Each draw's predictions are binned on their own; the table gives per bin the mean over
    draws of ``count``, ``confidence`` and ``frequency`` and the band of the last two
    (``confidence_lower/upper``, ``frequency_lower/upper``; draws with an empty bin skipped).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 3:
        raise DataError(f"probs with draws must have shape (draws, n, classes), got {p.shape}.")
    y = np.asarray(labels)
    curves = []
    for s in range(p.shape[0]):
        ok = ~np.isnan(p[s]).any(axis=1)
        curves.append(reliability_curve(p[s][ok], y[ok], bins, strategy, state))
    tail = (1.0 - interval) / 2.0
    out = pd.DataFrame({"bin": np.arange(bins)})
    out["count"] = np.mean([c["count"].to_numpy() for c in curves], axis=0)
    for col in ("confidence", "frequency"):
        vals = np.array([c[col].to_numpy() for c in curves])
        empty = np.all(np.isnan(vals), axis=0)
        safe = np.where(empty[None, :], 0.0, vals)
        out[col] = np.where(empty, np.nan, np.nanmean(safe, axis=0))
        lo = np.nanquantile(safe, tail, axis=0)
        hi = np.nanquantile(safe, 1.0 - tail, axis=0)
        out[f"{col}_lower"] = np.where(empty, np.nan, lo)
        out[f"{col}_upper"] = np.where(empty, np.nan, hi)
    return out
