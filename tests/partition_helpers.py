"""Shared builders of the partitioned-data tests (no tests of its own): Parquet partitions
written from a sampled frame, and a real 2-process ``dask.distributed`` LocalCluster."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import bnlab


def write_parts(df: pd.DataFrame, folder: Path, n_parts: int) -> Path:
    """Write ``df`` as ``n_parts`` consecutive Parquet files ``part-00.parquet``, ... in
    ``folder`` (created if needed); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, rows in enumerate(np.array_split(np.arange(len(df)), n_parts)):
        df.iloc[rows].to_parquet(folder / f"part-{i:02d}.parquet")
    return folder


def write_renamed_pair(folder: Path, column: str, renames: dict[str, str], seed: int) -> None:
    """``a.parquet`` and ``b.parquet``: 200 asia rows each, ``b``'s ``column`` with its
    categories renamed (``renames``), so the two files disagree on that column's states."""
    df = bnlab.sample(bnlab.load_example("asia"), n=200, seed=seed)
    df.to_parquet(folder / "a.parquet")
    odd = df.copy()
    odd[column] = odd[column].cat.rename_categories(renames)
    odd.to_parquet(folder / "b.parquet")


@contextlib.contextmanager
def local_cluster() -> Iterator[tuple[Any, Any]]:
    """A real LocalCluster of 2 single-threaded worker processes on 127.0.0.1, and a client
    of it: yields ``(cluster, client)`` and closes both."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # loopback, any free port: 8787 may be taken
        ) as cluster,
        Client(cluster) as client,
    ):
        yield cluster, client
