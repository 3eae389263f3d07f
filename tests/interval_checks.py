"""One meaning per number: every point the pipeline writes lies inside its own interval.

``metrics.json``: each ``<name>_lower`` / ``<name>_upper`` pair bounds ``<name>`` itself, or
``<name>_mean`` where the pair is a distribution's (``*_draws_lower`` goes with
``*_draws_mean``). ``audit.csv``: ``cmi`` and ``share`` inside their intervals. ``queries.csv``:
``mean`` inside ``lower``/``upper``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

TOL = 1e-12


def interval_violations(metrics: Mapping[str, float]) -> list[str]:
    """Names of the metrics whose point is missing or lies outside its interval."""
    bad = []
    for key in metrics:
        if not key.endswith("_lower"):
            continue
        base = key[: -len("_lower")]
        upper = metrics.get(f"{base}_upper")
        point = metrics.get(base, metrics.get(f"{base}_mean"))
        if upper is None or point is None:
            bad.append(f"{base}: no point or no upper end")
            continue
        lo, hi, x = float(metrics[key]), float(upper), float(point)
        if any(math.isnan(v) for v in (lo, hi, x)):
            if not all(math.isnan(v) for v in (lo, hi, x)):
                bad.append(f"{base}: NaN in part of ({x}, [{lo}, {hi}])")
            continue
        if not lo - TOL <= x <= hi + TOL:
            bad.append(f"{base}: {x} outside [{lo}, {hi}]")
    return bad


def table_violations(frame: pd.DataFrame, point: str, lower: str, upper: str) -> int:
    """Rows of ``frame`` whose ``point`` lies outside ``[lower, upper]``."""
    inside = (frame[lower] <= frame[point] + TOL) & (frame[point] <= frame[upper] + TOL)
    return int((~inside).sum())


def check_experiment_folder(folder: Path, metrics: Mapping[str, float]) -> None:
    """Assert point-in-interval for every metric written under an experiment folder."""
    assert any(k.endswith("_lower") for k in metrics), "no interval written at all"
    assert interval_violations(metrics) == []
    audit = pd.read_csv(folder / "audit.csv")
    assert len(audit) > 0
    assert table_violations(audit, "cmi", "cmi_lower", "cmi_upper") == 0
    assert table_violations(audit, "share", "share_lower", "share_upper") == 0
    queries = pd.read_csv(folder / "queries.csv", keep_default_na=False)
    assert table_violations(queries, "mean", "lower", "upper") == 0
