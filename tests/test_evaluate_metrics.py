"""Calibration metrics against independent loops over a hand case and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import roc_auc_score

from bnlab.errors import DataError
from bnlab.evaluate import calibration_metrics as cal


def hand_ece(probs: np.ndarray, labels: np.ndarray, bins: int) -> tuple[float, float]:
    """Top-label ECE and MCE by an explicit loop over equal-width bins."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    total, worst = 0.0, 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (conf >= lo) & ((conf < hi) if b < bins - 1 else (conf <= hi))
        if inside.any():
            gap = abs(correct[inside].mean() - conf[inside].mean())
            total += inside.sum() / len(labels) * gap
            worst = max(worst, gap)
    return total, worst


@pytest.fixture
def case() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1.0, 2.0, 0.5], size=300)
    labels = np.array([rng.choice(3, p=p) for p in probs])
    return probs, labels


def test_tiny_hand_case() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    labels = np.array([0, 1, 1, 0])
    # top confidences 0.9, 0.8, 0.7, 0.55; correct 1, 0, 1, 0. Two bins: [0.5,1) holds all.
    assert cal.ece(probs, labels, bins=2) == pytest.approx(abs(0.5 - (0.9 + 0.8 + 0.7 + 0.55) / 4))
    brier = ((0.1**2 * 2) + (0.8**2 * 2) + (0.3**2 * 2) + (0.55**2 * 2)) / 4
    assert cal.brier(probs, labels) == pytest.approx(brier)
    assert cal.log_loss(probs, labels) == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.7, 0.45])))
    # positives (class 1) scores 0.2, 0.7 vs negatives 0.1, 0.55: 3 of 4 pairs ordered
    assert cal.auc(probs, labels) == pytest.approx(0.75)


def test_against_loops_and_sklearn(case: tuple[np.ndarray, np.ndarray]) -> None:
    probs, labels = case
    ece, mce = hand_ece(probs, labels, 10)
    assert cal.ece(probs, labels, bins=10) == pytest.approx(ece, abs=1e-12)
    assert cal.mce(probs, labels, bins=10) == pytest.approx(mce, abs=1e-12)
    assert cal.log_loss(probs, labels) == pytest.approx(
        sk_log_loss(labels, probs, labels=[0, 1, 2])
    )
    assert cal.auc(probs, labels) == pytest.approx(
        roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    )
    onehot = np.eye(3)[labels]
    assert cal.brier(probs, labels) == pytest.approx(np.mean(np.sum((probs - onehot) ** 2, axis=1)))
    # class-wise ECE: mean over classes of the binary ECE of p_k against 1[y == k]
    per_class = []
    for k in range(3):
        two = np.column_stack([1 - probs[:, k], probs[:, k]])
        y = (labels == k).astype(int)
        curve = cal.reliability_curve(two, y, bins=10, state=1)
        ok = curve["count"] > 0
        per_class.append(
            float(
                (curve["count"][ok] * (curve["frequency"] - curve["confidence"]).abs()[ok]).sum()
                / len(y)
            )
        )
    assert cal.ece(probs, labels, bins=10, kind="class") == pytest.approx(np.mean(per_class))


def test_equal_mass_bins(case: tuple[np.ndarray, np.ndarray]) -> None:
    probs, labels = case
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    order = np.argsort(conf, kind="stable")
    parts = np.array_split(order, 5)
    expected = sum(len(p) / len(conf) * abs(correct[p].mean() - conf[p].mean()) for p in parts)
    assert cal.ece(probs, labels, bins=5, strategy="mass") == pytest.approx(expected)
    curve = cal.reliability_curve(probs, labels, bins=5, strategy="mass")
    assert (curve["count"] == 60).all()


def test_reliability_curve_equals_sklearn() -> None:
    rng = np.random.default_rng(1)
    p1 = rng.random(500)
    y = (rng.random(500) < p1**1.5).astype(int)
    probs = np.column_stack([1 - p1, p1])
    curve = cal.reliability_curve(probs, y, bins=8, state=1)
    prob_true, prob_pred = calibration_curve(y, p1, n_bins=8, strategy="uniform")
    ok = curve["count"] > 0
    np.testing.assert_allclose(curve["frequency"][ok], prob_true, rtol=1e-12)
    np.testing.assert_allclose(curve["confidence"][ok], prob_pred, rtol=1e-12)


def test_distribution_over_draws(case: tuple[np.ndarray, np.ndarray]) -> None:
    probs, labels = case
    rng = np.random.default_rng(2)
    draws = np.stack([np.array([rng.dirichlet(50 * p + 0.1) for p in probs]) for _ in range(30)])
    dist = cal.metric_distribution(draws, labels, bins=10, interval=0.9)
    values = np.array([cal.brier(d, labels) for d in draws])
    assert dist["brier"]["mean"] == pytest.approx(values.mean())
    assert dist["brier"]["lower"] == pytest.approx(np.quantile(values, 0.05))
    assert dist["brier"]["upper"] == pytest.approx(np.quantile(values, 0.95))
    band = cal.reliability_band(draws, labels, bins=10)
    ok = band["count"] > 0
    assert (band.loc[ok, "confidence_lower"] <= band.loc[ok, "confidence_upper"]).all()


def test_bad_input() -> None:
    with pytest.raises(DataError, match="labels must lie"):
        cal.ece(np.array([[0.5, 0.5]]), np.array([2]))
    with pytest.raises(DataError, match="shape"):
        cal.brier(np.array([0.5, 0.5]), np.array([1]))
    with pytest.raises(DataError, match="strategy"):
        cal.ece(np.array([[0.5, 0.5]]), np.array([1]), strategy="quantile")


@pytest.mark.parametrize("seed", range(5))
def test_average_ranks_match_scipy_rankdata_with_ties(seed: int) -> None:
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=200).astype(float) / 5.0  # many ties
    np.testing.assert_array_equal(cal.average_ranks(x), rankdata(x))
