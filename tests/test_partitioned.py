from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.counts import family_counts
from bnlab.counts.dask import DaskCounts, connect
from bnlab.counts.parquet import check_partitions, parquet_files
from bnlab.counts.sources import ParquetCounts, family_tables
from bnlab.data import encode
from bnlab.errors import ConfigError, DataError
from tests.partition_helpers import local_cluster, write_parts, write_renamed_pair


@pytest.fixture(scope="module")
def asia_parts(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[bnlab.BayesNet, pd.DataFrame, Path]:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=5_000, seed=3, missing=0.1)
    return net, df, write_parts(df, tmp_path_factory.mktemp("asia_parts"), 4)


def in_memory(net: bnlab.BayesNet, df: pd.DataFrame) -> dict[str, np.ndarray]:
    return {v: fc.counts for v, fc in family_counts(encode(df, net), net).items()}


def test_chunked_counts_equal_in_memory(
    asia_parts: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, df, folder = asia_parts
    expected = in_memory(net, df)
    for batch_rows in (97, 1_000_000):  # many small batches, and one batch per file
        got = chunked_family_counts(folder, net, batch_rows=batch_rows)
        assert set(got) == set(expected)
        for v in expected:
            np.testing.assert_array_equal(got[v], expected[v])


def test_chunked_counts_of_requested_families(
    asia_parts: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, df, folder = asia_parts
    families = {"dysp": ("smoke", "asia"), "xray": ()}
    got = chunked_family_counts(str(folder / "*.parquet"), net, families=families, batch_rows=500)
    expected = family_counts(encode(df, net), net, variables=families, parents=families)
    for v in families:
        np.testing.assert_array_equal(got[v], expected[v].counts)


def test_string_columns_are_counted_like_categoricals(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=300, seed=1)
    df.astype(object).to_parquet(tmp_path / "plain.parquet")
    got = chunked_family_counts(tmp_path, net)
    for v, counts in in_memory(net, df).items():
        np.testing.assert_array_equal(got[v], counts)


def test_partition_with_other_categories_is_named(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    write_renamed_pair(tmp_path, "smoke", {"yes": "si"}, seed=2)
    with pytest.raises(DataError, match=r"b\.parquet differs from .*a\.parquet in column 'smoke'"):
        check_partitions(parquet_files(tmp_path), net)
    with pytest.raises(DataError, match="b.parquet"):
        chunked_family_counts(tmp_path, net)


def test_partition_missing_a_column_is_named(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=50, seed=2)
    df.to_parquet(tmp_path / "a.parquet")
    df.drop(columns=["xray"]).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"b\.parquet has no column for \['xray'\]"):
        chunked_family_counts(tmp_path, net)


def test_no_files_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no Parquet files found"):
        parquet_files(tmp_path / "nothing-*.parquet")


def test_unreachable_scheduler_fails_fast() -> None:
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        connect("tcp://127.0.0.1:9", timeout=2)


def assert_same_posterior(a: bnlab.Posterior, b: bnlab.Posterior) -> None:
    assert a.n_rows == b.n_rows
    assert dict(a.n_dropped) == dict(b.n_dropped)
    for v in a.structure.variables:
        np.testing.assert_array_equal(a.alpha[v], b.alpha[v])


def test_fit_on_parquet_glob_equals_in_memory_fit(
    asia_parts: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, df, folder = asia_parts
    expected = bnlab.fit(net.structure, df, prior="bdeu", ess=2.0)
    got = bnlab.fit(
        net.structure, str(folder / "part-*.parquet"), prior="bdeu", ess=2.0, batch_rows=333
    )
    assert_same_posterior(got, expected)


@pytest.mark.xdist_group("dask")  # one LocalCluster at a time (see test_scoring_dask)
def test_dask_local_cluster_equals_in_memory(
    asia_parts: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    import dask.dataframe as dd

    net, df, folder = asia_parts
    expected = bnlab.fit(net.structure, df)
    with local_cluster() as (cluster, client):
        got = dask_family_counts(folder, net, client=client, batch_rows=700)
        post = bnlab.fit(net.structure, folder, compute="dask", scheduler=cluster.scheduler_address)
        frame_post = bnlab.fit(net.structure, dd.read_parquet(str(folder)))
    for v, counts in in_memory(net, df).items():
        np.testing.assert_array_equal(got[v], counts)
        assert got[v].dtype == np.int64
    assert_same_posterior(post, expected)
    assert_same_posterior(frame_post, expected)


def chunked_family_counts(
    source: object,
    net: bnlab.BayesNet,
    families: dict[str, tuple[str, ...]] | None = None,
    batch_rows: int = 1_000_000,
) -> dict[str, np.ndarray]:
    with ParquetCounts(source, net, batch_rows=batch_rows) as src:  # type: ignore[arg-type]
        return family_tables(src, families if families is not None else net.parents)


def dask_family_counts(
    source: object, net: bnlab.BayesNet, client: object, batch_rows: int
) -> dict[str, np.ndarray]:
    with DaskCounts(source, net, client=client, batch_rows=batch_rows) as src:  # type: ignore[arg-type]
        return family_tables(src, net.parents)
