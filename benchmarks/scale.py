"""Counting partitioned data: in memory vs chunked vs Dask LocalCluster (issue 10).

Writes ALARM data (default 10,000,000 rows) as 20 Parquet files, then times, each in a
fresh subprocess so that peak resident memory (ru_maxrss) is its own:

- in-memory: read every file into one DataFrame, encode, count;
- chunked: :class:`bnlab.counts.sources.ParquetCounts` (streamed record batches);
- dask: :class:`bnlab.counts.dask.DaskCounts` on a 2-worker LocalCluster (the peak
  of the client process and of the workers are reported separately);
- pgmpy: ``DiscreteMLE`` fit of all CPTs from the in-memory DataFrame
  (on a subsample when the full data would take too long; the row count is printed).

Run: ``uv run python benchmarks/scale.py [--rows 10000000] [--files 20]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import bnlab


def write_parts(folder: Path, rows: int, files: int, seed: int) -> None:
    net = bnlab.load_example("alarm")
    per = rows // files
    for i in range(files):
        df = bnlab.sample(net, n=per, seed=seed + i)
        df.to_parquet(folder / f"part-{i:03d}.parquet")


def run_method(method: str, folder: str, pgmpy_rows: int) -> dict[str, float]:
    import pandas as pd

    from bnlab.counts import family_counts
    from bnlab.counts.dask import DaskCounts
    from bnlab.counts.sources import ParquetCounts, family_tables
    from bnlab.data import encode

    net = bnlab.load_example("alarm")
    t0 = time.perf_counter()
    out: dict[str, float] = {}
    if method == "in-memory":
        df = pd.concat([pd.read_parquet(f) for f in sorted(Path(folder).glob("*.parquet"))])
        counts = {v: fc.counts for v, fc in family_counts(encode(df, net), net).items()}
    elif method == "chunked":
        with ParquetCounts(folder, net, batch_rows=500_000) as source:
            counts = family_tables(source, net.parents)
    elif method == "dask":
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
            ) as cluster,
            Client(cluster) as client,
        ):
            t0 = time.perf_counter()
            with DaskCounts(folder, net, client=client, batch_rows=500_000) as source:
                counts = family_tables(source, net.parents)
            rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            out["worker_peak_mb"] = max(rss.values()) / 1024
    elif method == "pgmpy":
        from pgmpy.models import DiscreteBayesianNetwork
        from pgmpy.parameter_estimator import DiscreteMLE

        files = sorted(Path(folder).glob("*.parquet"))
        df = pd.read_parquet(files[0]).head(pgmpy_rows).astype(str)
        t0 = time.perf_counter()
        model = DiscreteBayesianNetwork(net.edges)
        model.add_nodes_from(net.variables)
        model.fit(df, estimator=DiscreteMLE())
        counts = {}
        out["rows"] = float(len(df))
    else:
        raise SystemExit(f"unknown method {method}")
    out["seconds"] = time.perf_counter() - t0
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["total"] = float(sum(int(c.sum()) for c in counts.values()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--pgmpy-rows", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.method:
        print(json.dumps(run_method(args.method, args.folder, args.pgmpy_rows)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_parts(Path(tmp), args.rows, args.files, args.seed)
        size = sum(f.stat().st_size for f in Path(tmp).glob("*.parquet")) / 2**20
        print(
            f"ALARM, {args.rows:,} rows in {args.files} Parquet files ({size:.0f} MiB on disk), "
            f"written in {time.perf_counter() - t0:.1f} s"
        )
        results: dict[str, dict[str, float]] = {}
        for method in ("in-memory", "chunked", "dask", "pgmpy"):
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--method",
                    method,
                    "--folder",
                    tmp,
                    "--pgmpy-rows",
                    str(args.pgmpy_rows),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(f"{method}: failed\n{proc.stderr[-2000:]}")
                continue
            results[method] = json.loads(proc.stdout.strip().splitlines()[-1])
        base = results.get("in-memory", {}).get("seconds", np.nan)
        print(f"{'method':<10} {'seconds':>9} {'x in-mem':>9} {'peak MiB':>9}  note")
        for method, r in results.items():
            note = ""
            if "worker_peak_mb" in r:
                note = f"workers' peak {r['worker_peak_mb']:.0f} MiB each at most"
            if method == "pgmpy":
                note = f"on {int(r['rows']):,} rows only"
            print(
                f"{method:<10} {r['seconds']:9.2f} {r['seconds'] / base:9.2f} "
                f"{r['peak_mb']:9.0f}  {note}"
            )
        totals = {m: r["total"] for m, r in results.items() if m != "pgmpy"}
        print(f"equal totals across methods: {len(set(totals.values())) == 1} {totals}")


if __name__ == "__main__":
    main()
