"""Dirichlet priors: BDeu, K2, uniform, user pseudo-counts, and every invalid parameter."""

from __future__ import annotations

import numpy as np
import pytest

from bnlab.errors import PriorError
from bnlab.network import Structure
from bnlab.priors import describe_prior, prior_alpha


def _structure() -> Structure:
    # c has parents (a, b): q = 2 * 3 = 6 configurations, r = 4 states
    return Structure(
        ["a", "b", "c"],
        {"a": ("0", "1"), "b": ("0", "1", "2"), "c": ("0", "1", "2", "3")},
        {"c": ("a", "b")},
    )


def test_bdeu_spreads_the_equivalent_sample_size_over_each_family() -> None:
    alpha = prior_alpha(_structure(), "bdeu", ess=12.0)
    assert alpha["c"].shape == (2, 3, 4)
    np.testing.assert_allclose(alpha["c"], 12.0 / (6 * 4))
    np.testing.assert_allclose(alpha["a"], [6.0, 6.0])
    for v, a in alpha.items():  # every family's pseudo-counts add up to ess
        assert a.sum() == pytest.approx(12.0), v


def test_k2_uniform_and_case_insensitive_names() -> None:
    assert (prior_alpha(_structure(), "K2")["c"] == 1.0).all()
    assert (prior_alpha(_structure(), "uniform", alpha=0.25)["b"] == 0.25).all()


def test_user_pseudo_counts_scalar_or_array() -> None:
    given = {"a": [1.0, 2.0], "b": 0.5, "c": np.full((2, 3, 4), 3.0)}
    alpha = prior_alpha(_structure(), given)
    np.testing.assert_array_equal(alpha["a"], [1.0, 2.0])
    np.testing.assert_array_equal(alpha["b"], [0.5, 0.5, 0.5])
    assert alpha["c"].shape == (2, 3, 4)
    assert describe_prior(given, 1.0, 1.0) == {"prior": "custom"}
    assert describe_prior("bdeu", 2, 1.0) == {"prior": "bdeu", "ess": 2.0}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"prior": "bdeu", "ess": 0},
            r"ess \(the BDeu equivalent sample size\) must be a positive",
        ),
        ({"prior": "bdeu", "ess": -1.0}, "got -1.0; try ess=1.0"),
        ({"prior": "bdeu", "ess": float("nan")}, "positive finite number, got nan"),
        ({"prior": "bdeu", "ess": "big"}, "must be a positive number, got 'big'"),
        ({"prior": "uniform", "alpha": 0.0}, r"alpha \(the uniform pseudo-count\) must be"),
        ({"prior": "dirichlet"}, r"unknown prior 'dirichlet'; choose one of \['bdeu', 'k2'"),
        ({"prior": {"a": 1.0, "b": 1.0}}, r"no pseudo-counts for variable\(s\) \['c'\]"),
        ({"prior": {"a": 1, "b": 1, "c": 1, "d": 1}}, r"unknown variable\(s\) \['d'\]"),
        (
            {"prior": {"a": 1, "b": 1, "c": np.ones((3, 2, 4))}},
            r"pseudo-counts of 'c' have shape \(3, 2, 4\), expected \(2, 3, 4\) \(parents",
        ),
        (
            {"prior": {"a": [1, 0], "b": 1, "c": 1}},
            r"'a' must be finite and > 0, found 0.0 at index \(1,\)",
        ),
        ({"prior": {"a": ["x", "y"], "b": 1, "c": 1}}, "pseudo-counts of 'a' are not numbers"),
    ],
)
def test_invalid_priors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(PriorError, match=match):
        prior_alpha(_structure(), **kwargs)  # type: ignore[arg-type]
