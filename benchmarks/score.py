"""Batch scoring of Parquet: ``bnlab.score`` vs the pyfunc loop a user writes (issue 28).

Writes ALARM data (default 10,000,000 rows in 40 Parquet files, once, into ``--data`` or a
temp folder) and a model folder (the conjugate posterior of 20,000 other rows, exported
with :func:`bnlab.mlflow.save_model`), then times, each in a fresh subprocess so that peak
resident memory (ru_maxrss) is its own:

- ``point``: ``bnlab score`` with the posterior-mean network (point answers), one process;
- ``point-dask``: the same on a 2-worker LocalCluster (peak RSS of each worker reported);
- ``draws``: 200 posterior draws with 90% intervals, one process;
- ``draws-dask``: the same on the 2-worker LocalCluster;
- ``hand``: the loop a user writes today: ``mlflow.pyfunc.load_model(folder)`` and, for each
  partition, ``predict`` on chunks of 1,000 rows (a whole 250,000-row partition of 200 draws
  would need 200 x 250,000 x 105 float64 marginals, 42 GB) and ``to_parquet``; timed on the
  first ``--hand-rows`` rows only, as its rate is constant.

Every row of generated data is complete, so ``bnlab.score`` answers by the Markov-blanket
closed form; the pyfunc runs the engine. Both give the same numbers (to 1e-12; checked on
the hand loop's rows here).

Run: ``uv run python benchmarks/score.py [--rows 10000000] [--partitions 40] [--draws 200]``
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
from typing import Any

import numpy as np

TARGET = "LVFAILURE"


def write_data(folder: Path, rows: int, partitions: int) -> None:
    import bnlab

    net = bnlab.load_example("alarm")
    per = rows // partitions
    for i in range(partitions):
        path = folder / f"part-{i:03d}.parquet"
        if not path.exists():
            frame = bnlab.sample(net, n=per, seed=1000 + i)
            frame.insert(0, "record_id", np.arange(i * per, (i + 1) * per, dtype=np.int64))
            bnlab.write_parquet(frame, path)


def write_model(folder: Path, draws: int) -> None:
    import bnlab
    from bnlab.mlflow import save_model

    if folder.exists():
        return
    net = bnlab.load_example("alarm")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=20_000, seed=7), prior="bdeu", ess=1.0)
    save_model(post, folder, targets=[TARGET], draws=draws, seed=0)
    bnlab.write_network(post.mean(), folder.parent / "mean.json")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_score(mode: str, data: str, model: str, out: str, draws: int) -> dict[str, Any]:
    import bnlab
    from bnlab.ops.scoring.cluster import dask_client

    point = mode.startswith("point")
    chosen = bnlab.read_network(Path(model).parent / "mean.json") if point else model
    workers = 2 if mode.endswith("dask") else None
    import pandas as pd

    warm_data = Path(out).parent / f"warm-{Path(out).name}"
    warm_data.mkdir(exist_ok=True)
    head = pd.read_parquet(sorted(Path(data).glob("*.parquet"))[0]).iloc[:500]
    for i in range(4):  # a few tiny files, so that every worker gets one
        head.to_parquet(warm_data / f"w{i}.parquet")
    with dask_client(workers=workers) as client:
        # warm-up: imports, model files, one engine per worker (reported apart)
        t0 = time.perf_counter()
        bnlab.score(chosen, warm_data, [TARGET], draws=draws, client=client)
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = bnlab.score(
            chosen, data, [TARGET], out=out, draws=draws, client=client, id_column="record_id"
        )
        seconds = time.perf_counter() - t0
        worker_mib = []
        if client is not None:
            got = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            worker_mib = sorted(got.values())
    return {
        "rows": result.rows,
        "seconds": seconds,
        "rows_per_s": result.rows / seconds,
        "warm_up_s": warm,
        "peak_mib": peak_mib(),
        "worker_peak_mib": worker_mib,
    }


def run_hand(data: str, model: str, out: str, rows: int) -> dict[str, Any]:
    import mlflow.pyfunc
    import pandas as pd

    pyfunc = mlflow.pyfunc.load_model(model)
    files = sorted(Path(data).glob("*.parquet"))
    t0 = time.perf_counter()
    done = 0
    answers = []
    for i, f in enumerate(files):  # the loop a user writes today
        part = pd.read_parquet(f)
        if done + len(part) > rows:
            part = part.iloc[: rows - done]
        chunks = [
            pyfunc.predict(part.iloc[s : s + 1000].drop(columns="record_id").astype(str))
            for s in range(0, len(part), 1000)
        ]
        scored = pd.concat([part[["record_id"]].reset_index(drop=True),
                            pd.concat(chunks, ignore_index=True)], axis=1)  # fmt: skip
        scored.to_parquet(Path(out) / f"part-{i:03d}.parquet")
        answers.append(scored)
        done += len(part)
        if done >= rows:
            break
    seconds = time.perf_counter() - t0
    pd.concat(answers).to_parquet(Path(out) / "all.parquet")
    return {"rows": done, "seconds": seconds, "rows_per_s": done / seconds, "peak_mib": peak_mib()}


def child(args: argparse.Namespace) -> None:
    if args.mode == "hand":
        got = run_hand(args.data, args.model, args.out, args.hand_rows)
    else:
        got = run_score(args.mode, args.data, args.model, args.out, args.draws)
    print(json.dumps(got))


def spawn(mode: str, args: argparse.Namespace, model: Path, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, "--data", str(args.data), "--model",
           str(model), "--out", str(out), "--draws", str(args.draws),
           "--hand-rows", str(args.hand_rows)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def check_hand(out: Path) -> float:
    """Largest difference between the hand loop's means and bnlab.score's on its rows."""
    import pandas as pd

    hand = pd.read_parquet(out / "hand" / "all.parquet")
    ours = pd.concat(pd.read_parquet(p) for p in sorted((out / "draws").glob("part-*")))
    ours = ours.set_index("record_id").loc[hand["record_id"]]
    cols = [c for c in hand.columns if c.endswith(("_mean", "_lower", "_upper"))]
    return float(np.abs(ours[cols].to_numpy() - hand[cols].to_numpy()).max())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--partitions", type=int, default=40)
    p.add_argument("--draws", type=int, default=200)
    p.add_argument("--hand-rows", type=int, default=2_000)
    p.add_argument("--data", type=Path, default=None, help="data folder (kept; reused)")
    p.add_argument("--modes", default="point,point-dask,draws,draws-dask,hand")
    p.add_argument("--child", dest="mode", default=None, help=argparse.SUPPRESS)
    p.add_argument("--model", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode is not None:
        child(args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bnlab-score-bench-"))
    args.data = args.data or tmp / "data"
    args.data.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write_data(args.data, args.rows, args.partitions)
    model = tmp / "model" / "alarm"
    write_model(model, args.draws)
    took = time.perf_counter() - t0
    print(f"data: {args.rows:,} ALARM rows in {args.partitions} files ({took:.0f} s)")
    results = {}
    for mode in args.modes.split(","):
        out = tmp / mode
        if mode == "hand":
            out.mkdir(exist_ok=True)
        results[mode] = got = spawn(mode, args, model, out)
        workers = got.get("worker_peak_mib") or []
        extra = f", worker peaks {[round(w) for w in workers]} MiB" if workers else ""
        if "warm_up_s" in got:
            extra += f" (warm-up {got['warm_up_s']:.0f} s before)"
        print(
            f"{mode:>11}: {got['rows']:>11,} rows in {got['seconds']:7.1f} s = "
            f"{got['rows_per_s']:>10,.0f} rows/s, peak {got['peak_mib']:.0f} MiB{extra}"
        )
    if "hand" in results and "draws" in results:
        hand, ours = results["hand"]["rows_per_s"], results["draws"]["rows_per_s"]
        print(f"200-draw intervals: bnlab.score / hand loop = {ours / hand:,.0f}x (one process)")
        if "draws-dask" in results:
            print(f"  with 2 Dask workers: {results['draws-dask']['rows_per_s'] / hand:,.0f}x")
        print(f"max |difference| of the hand loop's answers: {check_hand(tmp):.2e}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
