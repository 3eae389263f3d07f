"""The effect size of a CI test: CMI interval against independent computations.

* the interval equals a root search on SciPy's non-central chi-square distribution
  (``scipy.stats.ncx2``, a different code path from the ``scipy.special`` routine used);
* over tables drawn from a small joint whose CMI is known by enumeration, the 90% interval
  covers the true CMI in about 90% of draws, and an independence that holds has lower end 0
  in at least 90% of draws (seeded);
* the entropy bound equals ``min(H(X|Z), H(Y|Z))`` by enumeration.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import ncx2

from bnlab.errors import BNError
from bnlab.evaluate.citests import (
    cell_statistics,
    conditional_entropy_bound,
    effect_interval,
    table_cells,
)


def _scipy_lambda(g2: float, dof: int, upper_tail: float) -> float:
    """Non-centrality at which P(G² >= g2) = upper_tail (0 when lam = 0 already exceeds)."""
    if ncx2.sf(g2, dof, 1e-12) >= upper_tail:
        return 0.0
    return float(brentq(lambda lam: ncx2.sf(g2, dof, lam) - upper_tail, 1e-12, 10 * g2 + 100))


@pytest.mark.parametrize(
    "g2,dof,n", [(5.0, 1, 500), (150.0, 100, 1000), (1000.0, 10, 20000), (3.0, 4, 300)]
)
def test_interval_equals_root_search_on_scipy_ncx2(g2: float, dof: int, n: int) -> None:
    point, lower, upper = effect_interval(g2, dof, n, interval=0.9)
    for got, tail in ((lower, 0.05), (point, 0.5), (upper, 0.95)):
        assert float(got) == pytest.approx(_scipy_lambda(g2, dof, tail) / (2 * n), abs=1e-9)
    assert lower <= point <= upper


def test_large_statistics_use_the_normal_approximation_within_1e3() -> None:
    for g2, dof in ((2e5, 50), (8000.0, 300), (3e6, 8)):
        point, lower, upper = effect_interval(g2, dof, 10**6, interval=0.9)
        for got, tail in ((lower, 0.05), (point, 0.5), (upper, 0.95)):
            assert float(got) == pytest.approx(_scipy_lambda(g2, dof, tail) / 2e6, rel=1e-3)


def test_interval_edge_cases() -> None:
    point, lower, upper = effect_interval(np.array([0.0, 7.0, 3.0]), np.array([3, 0, 2]), 100)
    assert np.all(point[:2] == 0) and np.all(lower[:2] == 0) and np.all(upper[:2] == 0)
    assert lower[2] == 0 < point[2] < upper[2]
    with pytest.raises(BNError, match="interval"):
        effect_interval(1.0, 1, 10, interval=1.0)


def _joint(strength: float) -> np.ndarray:
    """P(z, x, y) with x, y binary given a 3-state z; strength 0 = independent given z."""
    pz = np.array([0.5, 0.3, 0.2])
    px = np.array([0.3, 0.6, 0.8])
    joint = np.zeros((3, 2, 2))
    for z in range(3):
        for x in range(2):
            py1 = np.clip(0.4 + strength * (x - 0.5) * (1 + z / 2), 0.01, 0.99)
            joint[z, x] = pz[z] * (px[z] if x else 1 - px[z]) * np.array([1 - py1, py1])
    return joint


def _true_cmi(joint: np.ndarray) -> float:
    pz = joint.sum((1, 2), keepdims=True)
    pxz = joint.sum(2, keepdims=True)
    pyz = joint.sum(1, keepdims=True)
    ok = joint > 0
    return float(np.sum(joint[ok] * np.log((joint * pz / (pxz * pyz))[ok])))


@pytest.mark.parametrize("strength,n", [(0.12, 2000), (0.3, 1000), (0.0, 1500)])
def test_interval_covers_the_enumerated_cmi(strength: float, n: int) -> None:
    joint = _joint(strength)
    truth = _true_cmi(joint)
    rng = np.random.default_rng(11)
    draws = 400
    tables = rng.multinomial(n, joint.ravel(), size=draws).reshape(draws, *joint.shape)
    covered = zero_lower = 0
    for t in tables:
        cells = table_cells(t, 1)
        g2, _, dof = cell_statistics(cells)
        point, lower, upper = effect_interval(g2[0], dof[0], n, 0.9)
        assert lower <= point <= upper
        covered += bool(lower <= truth <= upper)
        zero_lower += bool(lower == 0)
    if strength == 0:
        assert truth == pytest.approx(0, abs=1e-15)
        assert zero_lower / draws >= 0.9  # a holding independence: lower end 0 (one-sided 5%)
    else:
        assert 0.1 < truth < 0.2 or 0.005 < truth < 0.1
        assert 0.86 <= covered / draws <= 0.94, covered / draws


def test_entropy_bound_by_enumeration() -> None:
    joint = _joint(0.3)
    table = np.round(joint * 1000).astype(np.int64)
    p = table / table.sum()
    pz = p.sum((1, 2))
    hxz = -np.sum(p.sum(2) * np.log(p.sum(2) / pz[:, None]))
    hyz = -np.sum(p.sum(1) * np.log(p.sum(1) / pz[:, None]))
    assert conditional_entropy_bound(table_cells(table, 1)) == pytest.approx(min(hxz, hyz))
    # CMI never exceeds it
    g2, _, _ = cell_statistics(table_cells(table, 1))
    assert g2[0] / (2 * table.sum()) <= min(hxz, hyz)
