"""Point and interval of the same quantity: the metric bootstrap and the interval checker."""

from __future__ import annotations

import math

import numpy as np
import pytest
from interval_checks import interval_violations

from bnlab.evaluate import calibration_metrics as cm


def _predictions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([2.0, 1.0, 0.5], size=n)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    return probs, labels


@pytest.mark.parametrize("n,seed", [(40, 0), (300, 1), (2000, 2)])
def test_bootstrap_interval_contains_its_own_metric(n: int, seed: int) -> None:
    probs, labels = _predictions(n, seed)
    out = cm.metric_bootstrap(probs, labels, bins=10, interval=0.9, resamples=100, seed=seed)
    point = cm.metric_table(probs, labels, 10)
    assert set(out) == set(cm.METRICS)
    for name, band in out.items():
        assert band["value"] == point[name]  # the same quantity, not a mean over anything
        assert band["lower"] <= band["value"] <= band["upper"], name
        low, high = cm.METRIC_RANGES[name]
        assert low <= band["lower"] and band["upper"] <= high


def test_bootstrap_sd_matches_the_closed_form_of_a_mean() -> None:
    # log loss and Brier are row means: their bootstrap sd is sd(row terms) / sqrt(n)
    probs, labels = _predictions(3000, 4)
    out = cm.metric_bootstrap(probs, labels, resamples=400, seed=1)
    rows = np.arange(labels.size)
    terms = {
        "log_loss": -np.log(probs[rows, labels]),
        "brier": ((probs - np.eye(3)[labels]) ** 2).sum(axis=1),
    }
    for name, t in terms.items():
        expected = t.std(ddof=1) / math.sqrt(t.size)
        assert out[name]["sd"] == pytest.approx(expected, rel=0.12), name


def test_brier_sums_over_classes() -> None:
    # Brier (1950): sum over classes; for two classes twice scikit-learn's brier_score_loss
    probs = np.array([[0.8, 0.2], [0.3, 0.7]])
    labels = np.array([0, 0])
    sklearn_style = np.mean((probs[:, 1] - (labels == 1)) ** 2)
    assert cm.brier(probs, labels) == pytest.approx(2 * sklearn_style)


def test_interval_checker_fails_on_a_point_outside() -> None:
    good = {"a": 0.4, "a_lower": 0.3, "a_upper": 0.5, "b_draws_mean": 1.0,
            "b_draws_lower": 0.9, "b_draws_upper": 1.1, "c": float("nan"),
            "c_lower": float("nan"), "c_upper": float("nan")}  # fmt: skip
    assert interval_violations(good) == []
    # the case: log loss 0.436 shown with [0.487, 0.524] (per-draw metrics)
    bad = {"log_loss": 0.436, "log_loss_lower": 0.487, "log_loss_upper": 0.524}
    assert interval_violations(bad) == ["log_loss: 0.436 outside [0.487, 0.524]"]
    assert interval_violations({"d_lower": 0.1, "d_upper": 0.2}) == ["d: no point or no upper end"]
