"""On a real dask.distributed LocalCluster (2 worker processes): search, audit and bootstrap
on partitioned Parquet equal the in-memory results exactly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.counts.dask import DaskCounts
from bnlab.counts.sources import counts_source
from bnlab.errors import ConfigError
from bnlab.evaluate.audit import independence_audit
from bnlab.learn import bootstrap_strength, learn_structure
from tests.partition_helpers import local_cluster, write_parts

pytestmark = pytest.mark.xdist_group("dask")  # one LocalCluster at a time (see test_scoring_dask)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with local_cluster() as (_, c):
        yield c


@pytest.fixture(scope="module")
def asia(tmp_path_factory: pytest.TempPathFactory) -> tuple[bnlab.BayesNet, pd.DataFrame, Path]:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=3_000, seed=11, missing=0.05)
    return net, df, write_parts(df, tmp_path_factory.mktemp("asia_dask"), 4)


@pytest.mark.parametrize(("score", "method"), [("bic", "hc"), ("bdeu", "tabu")])
def test_search_on_dask_equals_in_memory(
    client: Any, asia: tuple[bnlab.BayesNet, pd.DataFrame, Path], score: str, method: str
) -> None:
    net, df, folder = asia
    expected = learn_structure(df, score, method, return_info=True)
    source = DaskCounts(folder, net, client=client, batch_rows=400)
    got = learn_structure(source, score, method, return_info=True)
    assert got.structure.edges == expected.structure.edges
    assert got.score == expected.score
    assert got.local_scores == expected.local_scores
    assert got.n_dropped == expected.n_dropped
    source.close()
    assert client.status == "running"  # a caller's client is left open


def test_audit_on_dask_equals_in_memory(
    client: Any, asia: tuple[bnlab.BayesNet, pd.DataFrame, Path]
) -> None:
    net, df, folder = asia
    expected = independence_audit(net, df, permutations=30, bootstrap=10)
    source = counts_source(folder, net, compute="dask", client=client)
    assert isinstance(source, DaskCounts)
    got = independence_audit(net, source, permutations=30, bootstrap=10)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_bootstrap_on_dask_equals_local(
    client: Any, asia: tuple[bnlab.BayesNet, pd.DataFrame, Path]
) -> None:
    net, df, folder = asia
    local = bootstrap_strength(df, 4, seed=5, score="bic")
    on_dask = bootstrap_strength(df, 4, seed=5, score="bic", client=client)
    np.testing.assert_array_equal(on_dask.arcs, local.arcs)
    # Parquet in, distinct rows counted per file on the workers: the same replicates
    from_parquet = bootstrap_strength(folder, 4, seed=5, score="bic", client=client)
    np.testing.assert_array_equal(from_parquet.arcs, local.arcs)
    assert from_parquet.variables == local.variables


def test_unreachable_scheduler_is_a_timely_config_error(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, _, folder = asia
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        DaskCounts(folder, net, address="tcp://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - start < 30


def test_stages_on_dask_equal_in_memory(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bnlab.cli.commands import compose_params
    from bnlab.cli.commands import main as bnlab_main
    from bnlab.posterior import load_posterior

    conf = Path(__file__).resolve().parents[1] / "conf"
    small = ["dataset=asia", "dataset.rows=1200", "structure=learned", "tracking.enabled=false"]
    monkeypatch.chdir(tmp_path)
    memory = compose_params(tmp_path / "memory.yaml", small, config_dir=conf)
    address = client.scheduler.address
    on_dask = compose_params(
        tmp_path / "dask.yaml",
        [*small, "compute=dask", f"compute.scheduler_address={address}"],
        config_dir=conf,
    )
    train = str(tmp_path / "train.parquet")  # absolute: the workers read it
    prep = ["stage", "prepare", "--params", str(memory), "--train", train, "--test", "test.parquet"]
    assert bnlab_main(prep) == 0
    for tag, params in (("memory", memory), ("dask", on_dask)):
        common = ["--params", str(params), "--train", train, "--structure", f"{tag}.json"]
        assert bnlab_main(["stage", "learn", *common]) == 0
        fit = [*common, "--posterior", f"{tag}.nc", "--network", f"{tag}_net.json"]
        assert bnlab_main(["stage", "fit", *fit]) == 0
    assert Path("memory.json").read_text() == Path("dask.json").read_text()
    a, b = load_posterior("memory.nc"), load_posterior("dask.nc")
    for v in a.structure.variables:
        np.testing.assert_array_equal(a.alpha[v], b.alpha[v])


def test_large_batches_reach_the_workers(client: Any, tmp_path: Path) -> None:
    # every pair of ALARM's 37 variables: a request of > 100 kB, which client.map would
    # have turned into a task of its own (and failed to schedule)
    from bnlab.counts.sources import ArrayCounts

    net = bnlab.load_example("alarm")
    df = bnlab.sample(net, n=400, seed=0)
    df.iloc[:200].to_parquet(tmp_path / "a.parquet")
    df.iloc[200:].to_parquet(tmp_path / "b.parquet")
    pairs = [(a, b) for i, a in enumerate(net.variables) for b in net.variables[i + 1 :]] * 8
    got = DaskCounts(tmp_path, net, client=client).table_counts(pairs)
    expected = ArrayCounts(bnlab.encode(df, net), net).table_counts(pairs)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)
