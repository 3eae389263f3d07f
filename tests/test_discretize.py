"""Discretizers against numpy on the same data, and MDLP on cases where the right cut is known."""

from __future__ import annotations

import numpy as np
import pytest

from bnlab.discretize import Bins, DiscretizeError, fit_bins, kmeans_cuts, mdlp_cuts


@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_quantile_cuts_equal_numpy(k: int) -> None:
    x = np.random.default_rng(k).normal(size=501)
    bins = fit_bins(x, "quantile", k)
    expected = np.quantile(x, np.linspace(0, 1, k + 1)[1:-1])
    np.testing.assert_allclose(bins.cuts, expected, rtol=0, atol=0)
    codes, outside = bins.assign(x)
    assert outside == 0
    # each bin holds about n/k rows
    np.testing.assert_allclose(np.bincount(codes, minlength=k), len(x) / k, atol=2)


@pytest.mark.parametrize("k", [2, 4, 7])
def test_equal_width_bins_equal_numpy_histogram(k: int) -> None:
    x = np.random.default_rng(10 + k).exponential(size=300)
    bins = fit_bins(x, "equal_width", k)
    edges = np.histogram_bin_edges(x, bins=k)
    np.testing.assert_allclose(bins.cuts, edges[1:-1], rtol=0, atol=0)
    codes, _ = bins.assign(x)
    counts, _ = np.histogram(x, bins=k)
    np.testing.assert_array_equal(np.bincount(codes, minlength=k), counts)


def test_kmeans_finds_separated_clusters() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 0.1, 100), rng.normal(5, 0.1, 100), rng.normal(10, 0.1, 50)])
    cuts = kmeans_cuts(x, 3)
    assert len(cuts) == 2
    assert 0.5 < cuts[0] < 4.5 and 5.5 < cuts[1] < 9.5


def test_mdlp_cuts_where_the_class_changes() -> None:
    # class 0 on [0, 10), class 1 on [10, 20), class 0 again on [20, 30): two known cuts
    x = np.arange(0, 30, 0.25)
    y = ((x >= 10) & (x < 20)).astype(int)
    np.testing.assert_allclose(mdlp_cuts(x, y), [9.875, 19.875])


def test_mdlp_refuses_to_cut_noise() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    y = rng.integers(0, 2, size=400)
    assert mdlp_cuts(x, y).size == 0


def test_mdlp_needs_a_target() -> None:
    with pytest.raises(DiscretizeError, match="supervised"):
        fit_bins(np.arange(10.0), "mdlp")


def test_out_of_range_goes_to_edge_bins_and_is_counted() -> None:
    bins = fit_bins(np.arange(18, 63, dtype=float), "uniform", 3)
    codes, outside = bins.assign(np.array([0.0, 18, 62, 100, np.nan]))
    np.testing.assert_array_equal(codes, [0, 0, 2, 2, -1])
    assert outside == 2


def test_labels_are_readable_and_round_trip() -> None:
    bins = fit_bins(np.arange(18, 63, dtype=float), "uniform", 3)
    assert bins.labels == ("[18, 33)", "[33, 48)", "[48, 62]")
    assert Bins.from_dict(bins.to_dict()) == bins


def test_unknown_method_is_refused() -> None:
    with pytest.raises(DiscretizeError, match="unknown discretizer"):
        fit_bins(np.arange(10.0), "magic")
