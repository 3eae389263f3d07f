"""Drift monitoring on ALARM: time ``bnlab.monitor`` on a large new batch.

Usage::

    uv run python benchmarks/monitor.py [--rows 100000] [--missing 0.05] [--profile]

Fits a conjugate posterior on ``--train`` rows sampled from ALARM, then times, on a new
batch of ``--rows`` rows (a ``--missing`` share of cells blanked at random):

- ``Monitor(post)``: the one-off reference side (posterior draws, reference marginals);
- ``Monitor.check(batch)``: one drift check, the figure the issue budgets (< 10 s);
- ``drift(post, batch)``: both together, what ``bnlab monitor`` runs after loading.

Each timing is the best of ``--repeat`` runs after one warm-up (JIT compilation is reported
separately as the first run). ``--baseline`` also times, in the same process, the surprise
check as it was before (every record and every full-size replicate through the engine).
``--cli`` times ``bnlab monitor post.nc batch.parquet`` end to end in a fresh process (twice:
the first run fills JAX's on-disk compile cache). ``--profile`` prints the top functions of
one check by cumulative time (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """First run's wall seconds, best of ``repeat`` further runs (wall, and its process CPU
    seconds: all threads), and the last result."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    best, best_cpu = float("inf"), float("nan")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if wall < best:
            best, best_cpu = wall, cpu
    return first, best, best_cpu, out


def engine_surprise(monitor: Any, batch: Any) -> float:
    """The surprise statistic's work before issue 11: the engine on every record."""
    import numpy as np

    from bnlab.monitor import encode_batch
    from bnlab.sampling import sample_codes

    codes, _ = encode_batch(batch, monitor.post.structure)
    mean = float(np.mean(monitor.engine.log_prob(codes, point=True)))
    mask = codes < 0
    for r, net_r in enumerate(monitor.replicate_nets):
        rep = sample_codes(net_r, n=codes.shape[0], seed=monitor.seed + 1000 + r)
        rep[mask] = -1
        np.mean(monitor.engine.log_prob(rep, point=True))
    return mean


def monitor_codes(monitor: Any, batch: Any) -> Any:
    from bnlab.monitor import encode_batch

    return encode_batch(batch, monitor.post.structure)[0]


def cli_seconds(post: Any, batch: Any) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of ``bnlab monitor`` in a fresh process, twice."""
    import resource

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        post.save(f"{tmp}/post.nc")
        batch.to_parquet(f"{tmp}/batch.parquet")
        cmd = [sys.executable, "-m", "bnlab.cli.commands", "monitor", f"{tmp}/post.nc"]
        cmd += [f"{tmp}/batch.parquet", "--out", f"{tmp}/drift.json"]
        env = {**os.environ, "BNLAB_JAX_CACHE": f"{tmp}/jax"}
        for _ in range(2):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            out.append((wall, cpu))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--missing", type=float, default=0.05)
    parser.add_argument("--replicates", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--cli", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import bnlab
    from bnlab.monitor import Monitor, drift

    net = bnlab.load_example("alarm")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=args.train, seed=0))
    batch = bnlab.sample(net, n=args.rows, seed=1, missing=args.missing)
    print(
        f"alarm: {len(net.variables)} variables, batch {args.rows} rows, "
        f"{args.missing:.0%} cells missing; {os.cpu_count()} cores, {platform.processor()}"
    )

    line = "{:20s} first {:7.2f} s   best {:7.2f} s (CPU {:.2f} s)"
    first, best, cpu, monitor = best_of(
        lambda: Monitor(post, replicates=args.replicates, seed=0), args.repeat
    )
    print(line.format("Monitor(post)", first, best, cpu))
    first, best, cpu, report = best_of(lambda: monitor.check(batch), args.repeat)
    print(line.format("Monitor.check(batch)", first, best, cpu))
    first, best, cpu, _ = best_of(
        lambda: drift(post, batch, replicates=args.replicates, seed=0), args.repeat
    )
    print(line.format("drift(post, batch)", first, best, cpu))
    print(f"alert={report.alert} surprise ppp={report.surprise:.3f} reasons={report.reasons[:3]}")
    if args.baseline:
        t0 = time.perf_counter()
        monitor._surprise(monitor_codes(monitor, batch))
        new = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine_surprise(monitor, batch)
        old = time.perf_counter() - t0
        print(f"surprise check: now {new:6.2f} s, engine on every record {old:6.2f} s "
              f"({old / new:.1f}x)")  # fmt: skip
    if args.cli:
        (w1, c1), (w2, c2) = cli_seconds(post, batch)
        print(f"bnlab monitor (fresh process) first {w1:6.2f} s (CPU {c1:.2f} s)   "
              f"cached compile {w2:6.2f} s (CPU {c2:.2f} s)")  # fmt: skip

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        monitor.check(batch)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
