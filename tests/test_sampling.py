"""Forward sampling: frequencies match the CPTs, determinism, missingness, bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.counts import family_counts
from bnlab.errors import CPTError, DataError
from bnlab.network import BayesNet
from bnlab.sampling import sample

# A count of a state under a parent configuration with m rows is Binomial(m, p): we accept
# |count - m p| <= Z_TOL * sqrt(m p (1 - p)) (+1 for discreteness). Over the ~1,000 cells of
# ALARM the chance that any cell of a correct sampler exceeds 5 sigma is below 1e-3.
Z_TOL = 5.0


def _chain() -> BayesNet:
    # a -> b -> c, with a zero-probability state in c and a deterministic row in b
    return BayesNet(
        variables=["a", "b", "c"],
        states={"a": ("a0", "a1"), "b": ("b0", "b1", "b2"), "c": ("c0", "c1")},
        parents={"b": ("a",), "c": ("a", "b")},
        cpts={
            "a": [0.3, 0.7],
            "b": [[0.2, 0.5, 0.3], [0.0, 0.0, 1.0]],
            "c": [[[1.0, 0.0], [0.4, 0.6], [0.9, 0.1]], [[0.5, 0.5], [0.0, 1.0], [0.25, 0.75]]],
        },
    )


def _assert_frequencies_match(net: BayesNet, codes: np.ndarray) -> int:
    counts = family_counts(codes, net)
    n_cells = 0
    for v in net.variables:
        table = counts[v].counts.reshape(-1, net.cards[v]).astype(float)
        p = np.asarray(net.cpt(v)).reshape(-1, net.cards[v])
        m = table.sum(axis=1, keepdims=True)
        expected = m * p
        sigma = np.sqrt(m * p * (1 - p))
        excess = np.abs(table - expected) - (Z_TOL * sigma + 1.0)
        assert (excess <= 0).all(), f"{v}: frequencies off by more than {Z_TOL} sigma"
        assert (table[p == 0] == 0).all(), f"{v}: a zero-probability state was drawn"
        n_cells += table.size
    return n_cells


def test_chain_frequencies_and_zero_probability_states() -> None:
    net = _chain()
    codes = sample(net, 200_000, seed=1, as_codes=True)
    assert codes.dtype == np.int8 and codes.shape == (200_000, 3)
    _assert_frequencies_match(net, codes)
    # joint of (a, b) against the brute-force product of the CPTs
    joint = np.bincount(codes[:, 0] * 3 + codes[:, 1], minlength=6) / 200_000
    brute = (np.asarray(net.cpt("a"))[:, None] * np.asarray(net.cpt("b"))).ravel()
    np.testing.assert_allclose(joint, brute, atol=5 * np.sqrt(0.25 / 200_000))


@pytest.mark.parametrize("name", ["asia", "alarm"])
def test_frequencies_match_bnlearn_networks(name: str) -> None:
    net = bnlab.load_example(name)
    codes = sample(net, 300_000, seed=3, as_codes=True)
    assert _assert_frequencies_match(net, codes) > 0


def test_a_wrong_cpt_fails_the_frequency_check() -> None:
    # the check above can fail: data from one net do not match a perturbed net
    net = _chain()
    codes = sample(net, 200_000, seed=1, as_codes=True)
    other = net.with_cpts({"a": [0.32, 0.68]})
    with pytest.raises(AssertionError, match="frequencies off"):
        _assert_frequencies_match(other, codes)


def test_dataframe_has_ordered_categoricals() -> None:
    net = _chain()
    df = sample(net, 50, seed=0)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(net.variables)
    for v in net.variables:
        assert isinstance(df[v].dtype, pd.CategoricalDtype)
        assert list(df[v].cat.categories) == list(net.states[v])
    codes = sample(net, 50, seed=0, as_codes=True)
    np.testing.assert_array_equal(bnlab.encode(df, net), codes)


def test_deterministic_for_a_seed_and_different_for_another() -> None:
    net = _chain()
    a = sample(net, 1000, seed=7, as_codes=True)
    b = sample(net, 1000, seed=7, as_codes=True)
    c = sample(net, 1000, seed=8, as_codes=True)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    # a longer sample with the same seed does not change the generator's stream per variable
    pd.testing.assert_frame_equal(sample(net, 1000, seed=7), sample(net, 1000, seed=7))


def test_missing_completely_at_random() -> None:
    net = _chain()
    full = sample(net, 100_000, seed=2, as_codes=True)
    holed = sample(net, 100_000, seed=2, missing=0.2, as_codes=True)
    miss = holed == -1
    # same values where kept: missingness is a mask over the complete sample
    np.testing.assert_array_equal(holed[~miss], full[~miss])
    sd = np.sqrt(0.2 * 0.8 / 100_000)
    np.testing.assert_allclose(miss.mean(axis=0), 0.2, atol=5 * sd)
    df = sample(net, 1000, seed=2, missing={"b": 0.5})
    assert df["a"].notna().all() and df["c"].notna().all()
    assert 0.4 < df["b"].isna().mean() < 0.6


def test_empty_sample() -> None:
    df = sample(_chain(), 0)
    assert df.shape == (0, 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": -1}, DataError, "n must be a non-negative integer"),
        ({"n": 2.5}, DataError, "n must be a non-negative integer"),
        ({"n": 10, "seed": -3}, DataError, "seed must be a non-negative integer"),
        ({"n": 10, "missing": 1.5}, DataError, r"missing rate of 'a' is 1.5.*\[0, 1\]"),
        ({"n": 10, "missing": {"zz": 0.1}}, DataError, r"unknown variable\(s\) \['zz'\]"),
        ({"n": 10, "missing": {"a": "x"}}, DataError, "must be a number"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        sample(_chain(), **kwargs)  # type: ignore[arg-type]


def test_structure_without_cpts_is_refused() -> None:
    with pytest.raises(CPTError, match="sample needs a BayesNet with CPTs, got Structure"):
        sample(_chain().structure, 10)  # type: ignore[arg-type]
