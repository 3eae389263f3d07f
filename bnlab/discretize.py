"""Discretizers: cut points of a numeric column, fitted on training rows only.

A discretizer returns :class:`Bins`: sorted interior cut points ``c_1 < ... < c_{k-1}`` and
the training range ``[low, high]``. Bin ``i`` holds ``c_i <= x < c_{i+1}`` (the last bin is
closed), exactly as :func:`numpy.histogram` bins; its state label reads ``[18, 30)``. A value
below ``low`` or above ``high`` goes to the edge bin and is counted as out of range; a missing
value stays missing.

Methods (``METHODS``):

- ``"quantile"``: cut points at the ``1/k, ..., (k-1)/k`` quantiles (:func:`numpy.quantile`,
  linear interpolation), repeated cut points merged;
- ``"uniform"`` (equal width): ``k`` bins of equal width over ``[low, high]``
  (the interior edges of :func:`numpy.histogram_bin_edges`);
- ``"kmeans"``: 1-D k-means (Lloyd's iterations from quantile centres); cut points halfway
  between neighbouring centres;
- ``"mdlp"``: supervised, Fayyad & Irani (1993): recursive minimum-entropy binary cuts against
  a target, each accepted only when its information gain passes the MDL criterion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import BNError

METHODS = ("quantile", "uniform", "kmeans", "mdlp")
_ALIASES = {"equal_width": "uniform", "equal-width": "uniform", "k-means": "kmeans"}


class DiscretizeError(BNError):
    """A discretizer asked for something it cannot do (unknown method, no target, no data)."""


@dataclass(frozen=True)
class Bins:
    """Fitted bins of one numeric column.

    Attributes
    ----------
    cuts
        Sorted interior cut points (``k - 1`` of them for ``k`` bins).
    low, high
        Training range; values outside it go to the edge bins and are counted.
    method
        The discretizer that chose the cut points.
    integer
        Whether the training values were integers (labels then print without decimals).
    """

    cuts: tuple[float, ...]
    low: float
    high: float
    method: str
    integer: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        """Readable state labels ``[a, b)``; the last bin is closed ``[a, b]``."""
        edges = [self.low, *self.cuts, self.high]
        for digits in range(4, 18):
            text = [_number(e, digits, self.integer) for e in edges]
            if len(set(text[1:-1])) == len(self.cuts):
                break
        k = len(edges) - 1
        return tuple(f"[{text[i]}, {text[i + 1]}{']' if i == k - 1 else ')'}" for i in range(k))

    def assign(self, values: NDArray[np.floating]) -> tuple[NDArray[np.int64], int]:
        """Bin index of each value (-1 where missing) and the number out of range."""
        x = np.asarray(values, dtype=np.float64)
        finite = ~np.isnan(x)
        codes = np.full(x.shape, -1, dtype=np.int64)
        codes[finite] = np.searchsorted(np.asarray(self.cuts), x[finite], side="right")
        outside = int(np.count_nonzero(finite & ((x < self.low) | (x > self.high))))
        return codes, outside

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "cuts": [float(c) for c in self.cuts],
            "low": float(self.low),
            "high": float(self.high),
            "method": self.method,
            "integer": bool(self.integer),
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Bins:
        """Inverse of :meth:`to_dict`."""
        return cls(
            cuts=tuple(float(c) for c in doc["cuts"]),
            low=float(doc["low"]),
            high=float(doc["high"]),
            method=str(doc["method"]),
            integer=bool(doc.get("integer", False)),
        )


def _number(x: float, digits: int, integer: bool) -> str:
    if integer and float(x).is_integer():
        return str(int(x))
    return f"{x:.{digits}g}"


def method_name(method: str) -> str:
    """Canonical name of a discretizer (``equal_width`` -> ``uniform``).

    Raises
    ------
    DiscretizeError
        If the method is unknown.
    """
    name = _ALIASES.get(str(method).lower(), str(method).lower())
    if name not in METHODS:
        raise DiscretizeError(
            f"unknown discretizer {method!r}; choose one of {list(METHODS)} "
            "(equal_width is an alias of uniform)."
        )
    return name


def quantile_cuts(x: NDArray[np.floating], n_bins: int) -> NDArray[np.float64]:
    """Interior cut points at the ``i / n_bins`` quantiles, duplicates merged."""
    qs = np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    cuts = np.unique(qs)
    return cuts[(cuts > x.min()) & (cuts <= x.max())]


def uniform_cuts(x: NDArray[np.floating], n_bins: int) -> NDArray[np.float64]:
    """Interior edges of ``n_bins`` equal-width bins over ``[min, max]``."""
    if x.min() == x.max():
        return np.empty(0)
    return np.histogram_bin_edges(x, bins=n_bins)[1:-1]


def kmeans_cuts(x: NDArray[np.floating], n_bins: int, iterations: int = 100) -> NDArray[np.float64]:
    """Cut points halfway between the centres of a 1-D k-means (Lloyd's) clustering."""
    values = np.unique(x)
    if values.size <= n_bins:
        return (values[1:] + values[:-1]) / 2.0
    xs = np.sort(x)
    centres = np.unique(np.quantile(xs, (np.arange(n_bins) + 0.5) / n_bins))
    for _ in range(iterations):
        cuts = (centres[1:] + centres[:-1]) / 2.0
        idx = np.searchsorted(cuts, xs, side="right")
        sums = np.bincount(idx, weights=xs, minlength=centres.size)
        sizes = np.bincount(idx, minlength=centres.size)
        keep = sizes > 0
        new = sums[keep] / sizes[keep]
        if new.size == centres.size and np.allclose(new, centres, rtol=0, atol=0):
            break
        centres = new
    out: NDArray[np.float64] = (centres[1:] + centres[:-1]) / 2.0
    return out


def _entropy(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Entropy in bits of each row of class counts."""
    total = counts.sum(axis=-1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    out: NDArray[np.float64] = -(p * logs).sum(axis=-1)
    return out


def _mdlp_split(xs: NDArray[np.float64], ys: NDArray[np.int64], n_classes: int) -> list[float]:
    """Accepted cut points of one (sorted) interval, recursively (Fayyad & Irani 1993)."""
    n = xs.size
    if n < 2:
        return []
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), ys] = 1.0
    left = np.cumsum(onehot, axis=0)[:-1]  # left[i]: counts of xs[: i + 1]
    total = left[-1] + onehot[-1]
    boundary = np.flatnonzero(xs[1:] > xs[:-1])  # cut between i and i + 1
    if boundary.size == 0:
        return []
    lc, rc = left[boundary], total - left[boundary]
    n_left = lc.sum(axis=1)
    ent = (n_left * _entropy(lc) + (n - n_left) * _entropy(rc)) / n
    best = int(np.argmin(ent))
    i = int(boundary[best])
    ent_s = float(_entropy(total))
    gain = ent_s - float(ent[best])
    k = int(np.count_nonzero(total))
    k1, k2 = int(np.count_nonzero(lc[best])), int(np.count_nonzero(rc[best]))
    e1, e2 = float(_entropy(lc[best])), float(_entropy(rc[best]))
    delta = math.log2(3**k - 2) - (k * ent_s - k1 * e1 - k2 * e2)
    if gain <= (math.log2(n - 1) + delta) / n:
        return []
    cut = float((xs[i] + xs[i + 1]) / 2.0)
    return [
        *_mdlp_split(xs[: i + 1], ys[: i + 1], n_classes),
        cut,
        *_mdlp_split(xs[i + 1 :], ys[i + 1 :], n_classes),
    ]


def mdlp_cuts(x: NDArray[np.floating], target: NDArray[np.integer]) -> NDArray[np.float64]:
    """Supervised MDLP cut points of ``x`` against integer class labels ``target``.

    Parameters
    ----------
    x
        Finite values.
    target
        Class index (``>= 0``) of each value.

    Returns
    -------
    numpy.ndarray
        Sorted accepted cut points, each halfway between two neighbouring distinct values;
        empty if no cut passes the MDL criterion.
    """
    order = np.argsort(x, kind="stable")
    ys = np.asarray(target, dtype=np.int64)[order]
    cuts = _mdlp_split(np.asarray(x, dtype=np.float64)[order], ys, int(ys.max()) + 1)
    return np.asarray(sorted(cuts), dtype=np.float64)


def fit_bins(
    values: NDArray[np.floating],
    method: str = "quantile",
    n_bins: int = 5,
    target: NDArray[np.integer] | None = None,
    cuts: tuple[float, ...] | list[float] | None = None,
) -> Bins:
    """Fit the bins of one numeric column on its training values.

    Parameters
    ----------
    values
        Training values; NaN (missing) values are ignored.
    method
        One of :data:`METHODS` (``"equal_width"`` is accepted for ``"uniform"``).
    n_bins
        Bins wanted (the quantile, uniform and k-means methods; repeated cut points merge).
    target
        Class index per value (``-1`` = missing), needed by ``"mdlp"``.
    cuts
        Declared cut points: used as they are (``method`` is then recorded as ``"declared"``).

    Returns
    -------
    Bins

    Raises
    ------
    DiscretizeError
        No finite value, an unknown method, fewer than 2 bins, or ``"mdlp"`` without target.
    """
    x = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(x)
    if not keep.any():
        raise DiscretizeError("cannot fit bins: the column has no non-missing value.")
    xs = x[keep]
    integer = bool(np.all(np.mod(xs, 1.0) == 0))
    low, high = float(xs.min()), float(xs.max())
    if cuts is not None:
        chosen = np.unique(np.asarray(cuts, dtype=np.float64))
        return Bins(
            tuple(float(c) for c in chosen),
            min(low, chosen[0]) if chosen.size else low,
            max(high, chosen[-1]) if chosen.size else high,
            "declared",
            integer,
        )
    name = method_name(method)
    if name != "mdlp" and int(n_bins) < 2:
        raise DiscretizeError(f"n_bins must be 2 or more, got {n_bins}.")
    if name == "quantile":
        found = quantile_cuts(xs, int(n_bins))
    elif name == "uniform":
        found = uniform_cuts(xs, int(n_bins))
    elif name == "kmeans":
        found = kmeans_cuts(xs, int(n_bins))
    else:
        if target is None:
            raise DiscretizeError(
                "the mdlp discretizer is supervised: pass target= (infer_schema(df, "
                "target='column')) or choose quantile, uniform or kmeans."
            )
        t = np.asarray(target)[keep]
        labelled = t >= 0
        found = mdlp_cuts(xs[labelled], t[labelled]) if labelled.any() else np.empty(0)
    if integer and name != "mdlp":  # whole-number data: whole-number cut points bin alike
        found = np.unique(np.ceil(found))
        found = found[(found > low) & (found <= high)]
    return Bins(tuple(float(c) for c in found), low, high, name, integer)
