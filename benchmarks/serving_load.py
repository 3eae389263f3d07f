"""The load test of ``benchmarks/serving.py --mode load``: ``bnlab serve`` at fixed rates.

Clients are asyncio keep-alive HTTP/1.1 connections on 127.0.0.1 (raw streams: a client
library would cost the shared 2 cores more than the server it measures).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import bnlab


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def bnlab_served(model: Path, folder: Path, name: str, *flags: str) -> Iterator[int]:
    """Run ``bnlab serve MODEL`` on a free loopback port until ready; yield the port."""
    port = free_port()
    cmd = [sys.executable, "-m", "bnlab.cli", "serve", str(model), "--port", str(port),
           "--log-level", "warning", *flags]  # fmt: skip
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "JAX_PLATFORMS": "cpu"}
    with (folder / f"{name}.log").open("w") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 600
        while not _ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / f"{name}.log").read_text()[-3000:])
            time.sleep(0.5)
        yield port
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _ready(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
            return int(r.status) == 200
    except OSError:
        return False


def http_request(body: bytes) -> bytes:
    """The bytes of a ``POST /invocations`` with a JSON body."""
    head = (
        "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """Send one request on a keep-alive connection; return the status code."""
    writer.write(raw)
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def _load(
    port: int, requests: list[bytes], clients: int, seconds: float, max_requests: int,
    rate: float | None,
) -> dict[str, float]:  # fmt: skip
    """Closed loop (``rate`` None: clients send back to back) or open loop at ``rate``/s."""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    free: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    stop_at = start + seconds

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        reader, writer = await free.get()
        try:
            status = await _exchange(reader, writer, requests[i % len(requests)])
        finally:
            free.put_nowait((reader, writer))
        latencies.append(time.perf_counter() - scheduled)
        errors += status != 200

    if rate is None:
        counter = iter(range(max_requests))

        async def client() -> None:
            for i in counter:
                if time.perf_counter() > stop_at:
                    return
                await one(i, time.perf_counter())

        await asyncio.gather(*(client() for _ in range(clients)))
    else:
        tasks = []
        n = min(max_requests, int(rate * seconds))
        for i in range(n):
            at = start + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, at)))
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, w in conns:
        w.close()
    lat = np.asarray(latencies) * 1e3
    return {
        "n": float(lat.size),
        "rps": lat.size / elapsed,
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "p99": float(np.percentile(lat, 99)),
        "errors": float(errors),
    }


def delta_accuracy(post: bnlab.Posterior, rows: pd.DataFrame, target: str) -> dict[str, float]:
    """Largest and mean |delta - sampled| of mean, lower and upper over evidence rows."""
    import jax

    with jax.enable_x64(True):
        engine = bnlab.Engine(post, draws=1000, seed=0)
        sampled = engine.query(target, rows, interval=0.9)
        delta = engine.query(target, rows, interval=0.9, method="delta")
    out = {}
    for col in ("mean", "lower", "upper"):
        d = np.abs(sampled[col].to_numpy() - delta[col].to_numpy())
        out[f"{col}_max"], out[f"{col}_mean"] = float(d.max()), float(d.mean())
    width = (sampled["upper"] - sampled["lower"]).to_numpy()
    out["sampled_width_mean"] = float(width.mean())
    return out


def run_load_test(
    args: Any, target: str, evidence: Callable[[bnlab.BayesNet, int, int], pd.DataFrame]
) -> None:
    """Fit, save, serve unbatched and batched, drive both; print Markdown tables."""
    import bnlab.mlflow

    started, load_before = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()
    net = bnlab.load_example("alarm")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=args.rows, seed=0), ess=args.ess)
    rows = evidence(net, 2000, 1)
    cols = list(rows.columns)
    bodies = {
        method: [
            http_request(json.dumps({
                "dataframe_split": {"columns": cols, "data": [[None if pd.isna(v) else v
                                                               for v in row]]},
                "params": {"interval_method": method},
            }).encode())
            for row in rows.itertuples(index=False)
        ]
        for method in ("sampled", "delta")
    }  # fmt: skip
    accuracy = delta_accuracy(post, evidence(net, args.accuracy_rows, 2), target)
    results: list[tuple[str, str, str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="bnlab-load-") as tmp:
        folder = Path(tmp)
        model = folder / "model"
        bnlab.mlflow.save_model(post, model, targets=[target], draws=args.draws)
        for label, flags in (("unbatched", ["--no-batching"]), ("batched", [])):
            with bnlab_served(model, folder, label, *flags) as port:
                for method in ("sampled", "delta"):
                    print(f"{label} {method}: closed loop ...", file=sys.stderr, flush=True)
                    run = (port, bodies[method], args.concurrency, args.seconds)
                    asyncio.run(_load(*run, min(args.max_requests, 200), None))  # warm-up
                    top = asyncio.run(_load(*run, args.max_requests, None))
                    results.append((label, method, f"closed, {args.concurrency} clients", top))
                    half = top["rps"] / 2
                    print(f"{label} {method}: open loop at {half:.0f}/s ...", file=sys.stderr)
                    at_half = asyncio.run(_load(*run, args.max_requests, half))
                    results.append((label, method, f"open, offered {half:.0f}/s", at_half))
    load = os.getloadavg()
    print(f"command: {' '.join(['python', *sys.argv])}; started {started}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average before {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}, after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"alarm, BDeu({args.ess:g}), target {target}, {args.draws} posterior draws, 90% "
          f"intervals, one row per request, {args.seconds:g} s per run\n")  # fmt: skip
    print("| server | intervals | load | requests | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, method, how, r in results:
        print(f"| {label} | {method} | {how} | {r['n']:.0f} | {r['rps']:.0f} | {r['p50']:.1f} | "
              f"{r['p95']:.1f} | {r['p99']:.1f} | {r['errors']:.0f} |")  # fmt: skip
    by = {(lab, m): r["rps"] for lab, m, how, r in results if how.startswith("closed")}
    for m in ("sampled", "delta"):
        print(f"\n{m}: batched/unbatched max rate x{by[('batched', m)] / by[('unbatched', m)]:.2f}")
    print(f"\ndelta vs sampled intervals on {args.accuracy_rows} rows (|difference|, max / mean): "
          + ", ".join(f"{c} {accuracy[c + '_max']:.4f} / {accuracy[c + '_mean']:.4f}"
                      for c in ("mean", "lower", "upper"))
          + f"; mean sampled interval width {accuracy['sampled_width_mean']:.4f}")  # fmt: skip
