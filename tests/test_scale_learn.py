"""Structure search on partitioned Parquet: the same graph and score, bit for bit, as in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.counts.sources import ArrayCounts, ParquetCounts
from bnlab.errors import DataError, StructureError
from bnlab.learn import LearnResult, learn_structure, local_scores, structure_score
from tests.partition_helpers import write_parts


@pytest.fixture(scope="module")
def asia(tmp_path_factory: pytest.TempPathFactory) -> tuple[bnlab.BayesNet, pd.DataFrame, Path]:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=4_000, seed=5, missing=0.05)
    return net, df, write_parts(df, tmp_path_factory.mktemp("asia"), 3)


@pytest.fixture(scope="module")
def alarm(tmp_path_factory: pytest.TempPathFactory) -> tuple[bnlab.BayesNet, pd.DataFrame, Path]:
    net = bnlab.load_example("alarm")
    df = bnlab.sample(net, n=2_000, seed=1)
    return net, df, write_parts(df, tmp_path_factory.mktemp("alarm"), 4)


def assert_same(got: LearnResult, expected: LearnResult) -> None:
    assert got.structure.edges == expected.structure.edges
    assert got.score == expected.score  # exact: same tables, same summation order
    assert got.local_scores == expected.local_scores
    assert got.n_dropped == expected.n_dropped
    assert got.n_rows == expected.n_rows
    assert got.iterations == expected.iterations


@pytest.mark.parametrize(("score", "method"), [("bic", "hc"), ("bdeu", "tabu"), ("k2", "hc")])
def test_search_on_parquet_equals_in_memory(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Path], score: str, method: str
) -> None:
    net, df, folder = asia
    expected = learn_structure(df, score, method, return_info=True)
    source = ParquetCounts(folder, net.structure, batch_rows=333)  # many batches per file
    got = learn_structure(source, score, method, return_info=True)
    assert_same(got, expected)
    assert expected.n_dropped["xray"] > 0  # missing values take the complete-case path
    # one pass per batch of candidate families, not per family
    assert 0 < source.passes < got.iterations + 5


def test_alarm_tabu_with_options_on_a_glob(
    alarm: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, df, folder = alarm
    options = {
        "max_indegree": 3,
        "restarts": 1,
        "perturb": 3,
        "tabu_length": 5,
        "constraints": {"forbidden": [["HR", "CO"]], "required": [["LVFAILURE", "HISTORY"]]},
    }
    expected = learn_structure(df, "bic", "tabu", return_info=True, **options)
    # a glob without `structure=`: variables and states come from the files' categories
    got = learn_structure(
        str(folder / "part-*.parquet"), "bic", "tabu", return_info=True, **options
    )
    assert_same(got, expected)
    assert ("LVFAILURE", "HISTORY") in got.structure.edges


def test_in_memory_source_equals_codes(asia: tuple[bnlab.BayesNet, pd.DataFrame, Path]) -> None:
    net, df, _ = asia
    codes = bnlab.encode(df, net)
    expected = learn_structure(codes, "bdeu", "hc", structure=net, return_info=True)
    got = learn_structure(ArrayCounts(codes, net), "bdeu", "hc", return_info=True)
    assert_same(got, expected)


def test_scores_of_a_given_graph_on_parquet(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, df, folder = asia
    assert local_scores(net, folder, "bdeu", ess=3.0) == local_scores(net, df, "bdeu", ess=3.0)
    assert structure_score(net, folder) == structure_score(net, df)


def test_partitioned_search_refuses_what_needs_rows(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, df, folder = asia
    with pytest.raises(StructureError, match="method='pc' needs the data in memory"):
        learn_structure(folder, method="pc")
    with pytest.raises(StructureError, match="row weights need the data in memory"):
        learn_structure(folder, weights=np.ones(len(df)))
    other = bnlab.Structure(["a"], {"a": ["x", "y"]}, {})
    with pytest.raises(DataError, match="counts source"):
        learn_structure(ParquetCounts(folder, net), structure=other)


def test_bootstrap_from_parquet_equals_in_memory(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    from bnlab.learn import bootstrap_strength

    net, df, folder = asia
    expected = bootstrap_strength(df, 3, seed=2, bayesian=True)
    got = bootstrap_strength(folder, 3, seed=2, bayesian=True, batch_rows=500)
    np.testing.assert_array_equal(got.arcs, expected.arcs)
    assert got.states == expected.states
