"""Stratified G2 / chi-square tests against scipy, BH against scipy, CMI against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bnlab.errors import BNError
from bnlab.evaluate.citests import benjamini_hochberg, ci_test


def scipy_stratified(codes, x, y, z, cards, lambda_):
    """Sum over strata of scipy.stats.chi2_contingency on the table without empty rows/cols."""
    stat, dof = 0.0, 0
    zkeys = {tuple(r) for r in codes[:, z]} if z else {()}
    for key in zkeys:
        mask = (
            np.all(codes[:, z] == np.array(key, dtype=int), axis=1)
            if z
            else np.ones(len(codes), bool)
        )
        tab = np.zeros((cards[x], cards[y]))
        np.add.at(tab, (codes[mask, x], codes[mask, y]), 1)
        tab = tab[tab.sum(1) > 0][:, tab.sum(0) > 0]
        if tab.shape[0] < 2 or tab.shape[1] < 2:
            continue
        res = stats.chi2_contingency(tab, correction=False, lambda_=lambda_)
        stat += res.statistic
        dof += res.dof
    p = float(stats.chi2.sf(stat, dof)) if dof else 1.0
    return stat, dof, p


@pytest.mark.parametrize("method,lambda_", [("g2", "log-likelihood"), ("chi2", None)])
@pytest.mark.parametrize("seed", range(6))
def test_equals_scipy_per_stratum(method: str, lambda_: str | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cards = [3, 4, 2, 3]
    n = int(rng.integers(15, 200))
    codes = np.column_stack([rng.integers(0, c, n) for c in cards]).astype(np.int8)
    z = [2, 3] if seed % 2 else [2]
    r = ci_test(codes, 0, 1, z, cards, method=method)
    stat, dof, p = scipy_stratified(codes.astype(int), 0, 1, z, cards, lambda_)
    assert r.dof == dof
    assert r.statistic == pytest.approx(stat, rel=1e-10, abs=1e-10)
    assert r.p == pytest.approx(p, rel=1e-9, abs=1e-12)
    assert r.n == n


def test_unconditional_and_empty_cells() -> None:
    # a 3x3 table whose middle row never occurs: dof (2-1)*(3-1) = 2, not 4
    codes = np.array([[0, 0], [0, 1], [2, 2], [2, 0], [0, 2], [2, 1], [0, 0]], dtype=np.int8)
    r = ci_test(codes, 0, 1, [], [3, 3])
    res = stats.chi2_contingency(
        np.array([[2, 1, 1], [1, 1, 1]]), correction=False, lambda_="log-likelihood"
    )
    assert r.dof == 2
    assert r.statistic == pytest.approx(res.statistic)


def test_missing_rows_are_dropped() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 3, (300, 3)).astype(np.int8)
    holed = codes.copy()
    holed[:40, 1] = -1
    a = ci_test(holed, 0, 1, [2], [3, 3, 3])
    b = ci_test(codes[40:], 0, 1, [2], [3, 3, 3])
    assert a[:4] == b[:4]
    assert a.n == b.n == 260


def test_cmi_and_its_interval() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    z = rng.integers(0, 2, n)
    x = (rng.random(n) < np.where(z == 1, 0.8, 0.3)).astype(int)
    y = (rng.random(n) < np.where(x == z, 0.7, 0.4)).astype(int)
    codes = np.column_stack([x, y, z]).astype(np.int8)
    r = ci_test(codes, 0, 1, [2], [2, 2, 2], seed=0)
    joint = np.zeros((2, 2, 2))
    np.add.at(joint, (z, x, y), 1)
    p = joint / n
    pz = p.sum((1, 2), keepdims=True)
    pxz = p.sum(2, keepdims=True)
    pyz = p.sum(1, keepdims=True)
    cmi = float(np.sum(p * np.log(p * pz / (pxz * pyz))))
    assert r.cmi_plugin == pytest.approx(cmi, rel=1e-12)
    # the median-unbiased point sits below the plug-in by about dof / 2n, inside its interval
    assert r.cmi == pytest.approx(cmi - r.dof / (2 * n), abs=3e-4)
    assert r.cmi_lower < r.cmi < r.cmi_upper
    assert r.p < 1e-10


def test_joint_y_set_equals_combined_column() -> None:
    # testing x against (y1, y2) jointly equals testing x against the product variable
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, (500, 4)).astype(np.int8)
    combined = np.column_stack([codes, codes[:, 1] * 3 + codes[:, 2]])
    a = ci_test(codes, 0, [1, 2], [3], [3, 3, 3, 3])
    b = ci_test(combined, 0, 4, [3], [3, 3, 3, 3, 9])
    assert a.statistic == pytest.approx(b.statistic)
    assert a.dof == b.dof


def test_permutation_pvalue_calibrated_and_powerful() -> None:
    rng = np.random.default_rng(4)
    n = 150
    cards = [3, 3, 4]
    null_p = []
    for _ in range(40):
        codes = np.column_stack([rng.integers(0, c, n) for c in cards]).astype(np.int8)
        null_p.append(ci_test(codes, 0, 1, [2], cards, permutations=199, seed=rng).p)
    null_p = np.array(null_p)
    # exact-test validity: under the null the p-value is (super-)uniform
    assert np.mean(null_p <= 0.1) <= 0.2
    assert 0.3 < np.mean(null_p) < 0.7
    x = rng.integers(0, 3, n)
    y = np.where(rng.random(n) < 0.6, x, rng.integers(0, 3, n))
    codes = np.column_stack([x, y, rng.integers(0, 4, n)]).astype(np.int8)
    assert ci_test(codes, 0, 1, [2], cards, permutations=199, seed=0).p == pytest.approx(0.005)


def test_permutation_pvalue_agrees_with_asymptotic_on_large_table() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    x = rng.integers(0, 2, n)
    y = np.where(rng.random(n) < 0.06, x, rng.integers(0, 2, n))
    codes = np.column_stack([x, y]).astype(np.int8)
    asym = ci_test(codes, 0, 1, [], [2, 2]).p
    perm = ci_test(codes, 0, 1, [], [2, 2], permutations=2000, seed=1).p
    assert 0.001 < asym < 0.2
    assert perm == pytest.approx(asym, abs=0.02)


def test_benjamini_hochberg_equals_scipy() -> None:
    rng = np.random.default_rng(6)
    p = np.concatenate([rng.random(50), rng.random(10) * 1e-3])
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p), rtol=1e-12)
    with_nan = np.array([0.01, np.nan, 0.04])
    np.testing.assert_allclose(benjamini_hochberg(with_nan), [0.02, np.nan, 0.04])


def test_bad_method() -> None:
    with pytest.raises(BNError, match="unknown CI test method"):
        ci_test(np.zeros((3, 2), dtype=np.int8), 0, 1, [], [2, 2], method="fisher")
