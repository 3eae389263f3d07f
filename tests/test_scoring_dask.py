"""``bnlab.score`` on a real dask.distributed LocalCluster (2 worker processes), and its memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import bnlab

# under `--dist loadgroup` one worker runs every LocalCluster test, so two clusters never
# start at once
pytestmark = pytest.mark.xdist_group("dask")

TARGET = "lung"
DRAWS, SEED = 40, 3


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from bnlab.ops.scoring.cluster import dask_client

    with dask_client(workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def asia(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, pd.DataFrame, Path]:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=9_000, seed=2, missing=0.1)
    post = bnlab.fit(net.structure, df, prior="bdeu", ess=1.0)
    root = tmp_path_factory.mktemp("asia_dask_parts")
    for i, rows in enumerate(np.array_split(np.arange(len(df)), 4)):
        df.iloc[rows].to_parquet(root / f"in-{i}.parquet", index=False)
    return post, df, root


def test_cluster_listens_on_localhost_only(client: Any) -> None:
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert all(w.startswith("tcp://127.0.0.1:") for w in client.scheduler_info()["workers"])


@pytest.mark.parametrize("method", ["auto", "engine"])
def test_dask_partitions_equal_local_ones_bit_for_bit(
    client: Any, asia: tuple[Any, pd.DataFrame, Path], tmp_path: Path, method: str
) -> None:
    post, df, folder = asia
    kw: dict[str, Any] = {"draws": DRAWS, "seed": SEED, "method": method}
    local = bnlab.score(post, folder, [TARGET], out=tmp_path / "local", **kw)
    remote = bnlab.score(post, folder, [TARGET], out=tmp_path / "dask", client=client, **kw)
    assert remote.rows == local.rows == len(df)
    for i in range(4):
        name = f"part-0000{i}.parquet"
        assert pq.read_table(remote.out / name).equals(pq.read_table(local.out / name))
    # and both equal the in-memory answers (the engine, or its closed form on complete rows)
    memory = bnlab.score(post, df, [TARGET], **kw)
    got = pd.concat([pd.read_parquet(remote.out / f"part-0000{i}.parquet") for i in range(4)])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), memory, check_exact=True)


def test_dask_dataframe_lazy_and_written(
    client: Any, asia: tuple[Any, pd.DataFrame, Path], tmp_path: Path
) -> None:
    import dask.dataframe as dd

    post, df, _ = asia
    frame = dd.from_pandas(df, npartitions=3)
    expected = bnlab.score(post, df, [TARGET], draws=DRAWS, seed=SEED)
    lazy = bnlab.score(post, frame, [TARGET], draws=DRAWS, seed=SEED)
    pd.testing.assert_frame_equal(lazy.compute(), expected, check_exact=True)
    written = bnlab.score(
        post, frame, [TARGET], out=tmp_path / "dd", draws=DRAWS, seed=SEED, client=client
    )
    assert (written.partitions, written.rows) == (3, len(df))
    got = pd.concat([pd.read_parquet(p) for p in sorted(written.out.glob("part-*"))])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_exact=True)


def test_bad_partition_on_a_worker_is_a_typed_error(
    client: Any, asia: tuple[Any, pd.DataFrame, Path], tmp_path: Path
) -> None:
    post, df, _ = asia
    data = tmp_path / "data"
    data.mkdir()
    df.iloc[:50].to_parquet(data / "a.parquet", index=False)
    bad = df.iloc[50:100].astype({"xray": str})
    bad.iloc[7, bad.columns.get_loc("xray")] = "maybe"
    bad.to_parquet(data / "b.parquet", index=False)
    out = tmp_path / "out"
    with pytest.raises(bnlab.BNError, match=r"b\.parquet, row 7: column 'xray' holds 'maybe'"):
        bnlab.score(post, data, [TARGET], out=out, client=client, draws=DRAWS)
    assert not any(p.name.startswith(".part-") for p in out.glob(".*"))
    assert not (out / "part-00001.parquet").exists()


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, sys, tracemalloc
    import pyarrow as pa
    import bnlab
    from bnlab.ops.scoring.model import resolve_model  # warm imports before measuring
    model, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
    net = bnlab.read_network(model)
    bnlab.score(net, data + "/part-0.parquet", ["lung"], batch_rows=5_000)  # warm caches
    tracemalloc.start()
    pool = pa.default_memory_pool()
    base = pool.max_memory()
    keep = bnlab.score(net, data, ["lung"], out=None if out == "-" else out, batch_rows=5_000)
    peak_numpy = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"numpy": peak_numpy, "arrow": pool.max_memory() - base}))
    """
)


def peak_bytes(tmp: Path, files: int, out: str) -> int:
    """Peak NumPy (tracemalloc) plus Arrow-pool bytes of a scoring run in a fresh process."""
    net = bnlab.load_example("asia")
    data = tmp / f"data{files}"
    if not data.exists():
        data.mkdir()
        for i in range(files):
            bnlab.sample(net, n=120_000, seed=i).to_parquet(data / f"part-{i}.parquet")
    model = tmp / "asia.json"
    bnlab.write_network(net, model)
    script = tmp / "measure.py"
    script.write_text(MEMORY_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(model), str(data), out],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return int(got["numpy"]) + int(got["arrow"])


# three fresh processes (about 2 minutes on the loaded 2-core machine)
@pytest.mark.slow(expected_s=120)
def test_memory_follows_the_batch_not_the_data(tmp_path: Path) -> None:
    one = peak_bytes(tmp_path, 1, str(tmp_path / "out1"))
    six = peak_bytes(tmp_path, 6, str(tmp_path / "out6"))
    # six times the rows (720k), the same peak: bounded by batch_rows, not the data
    assert six < 1.3 * one
    # the measurement sees data-sized memory: answers kept in memory grow with the rows
    in_memory = peak_bytes(tmp_path, 6, "-")
    assert in_memory > 3 * six
