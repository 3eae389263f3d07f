"""Serving ALARM: a load test of ``bnlab serve``, and MLflow's server vs the pyfunc in-process.

Load test (the default, ``--mode load``; issue 27)::

    uv run python benchmarks/serving.py [--seconds 8] [--concurrency 32] [--max-requests 20000]

Fits the same ALARM posterior as below, saves it as a model folder and serves it twice on
free 127.0.0.1 ports with ``bnlab serve``: unbatched (``--no-batching``: one engine call per
request) and batched (adaptive batching, default settings). For each server and each
interval method (``sampled`` over 1,000 posterior draws, ``delta``), ``--concurrency``
keep-alive clients send one-row requests back to back for ``--seconds`` (closed loop: the
maximum rate), then requests arrive at a fixed offered rate of half that maximum (open loop;
latency counts from the scheduled arrival, so queueing is not hidden). Every run is bounded
by ``--seconds`` and ``--max-requests``. Printed: throughput, p50/p95/p99 and errors side by
side, and the accuracy of delta-method intervals against sampled ones on ``--accuracy-rows``
evidence rows.

In-process comparison (``--mode inprocess``, issue 9)::

    uv run python benchmarks/serving.py --mode inprocess [--singles 1000] [--batches 20]

Fits a conjugate BDeu posterior (``--ess``, default 10) on ``--rows`` rows sampled from
ALARM, registers it through the vetting gate (a passing verdict) in a SQLite registry in a
temp folder, promotes it to ``champion``, starts ``mlflow models serve -m
models:/bnlab-alarm@champion --env-manager local`` on a free 127.0.0.1 port (one worker) and
measures, after a warm-up:

- latency of ``--singles`` single-row ``POST /invocations`` requests (p50/p95/p99, ms);
- throughput of ``--batches`` requests of ``--batch-rows`` evidence rows (rows/s);

and the same calls on ``mlflow.pyfunc.load_model("models:/...@champion").predict`` in this
process, alternating the two paths call by call so that both run under the same load.
Evidence rows observe about half of the non-target variables; the target is LVFAILURE, with
``--draws`` posterior draws (default 1000) and a 90% interval. The server is always stopped.

Why ess 10 and not bnlab's default 1: with BDeu(1) on ALARM the pseudo-counts of unseen
parent configurations are ~1e-3, and some of the 1,000 Dirichlet draws then hold CPT entries
that are exactly 0.0 in float64; a sampled evidence row that needs such an entry is impossible
under that draw, and the engine refuses the whole 1,000-row request (ImpossibleEvidenceError).
The prior changes no cost that is measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import bnlab

TARGET = "LVFAILURE"
NAME = "bnlab-alarm"


def evidence(net: bnlab.BayesNet, rows: int, seed: int) -> pd.DataFrame:
    """Rows sampled from the network, target dropped, about half the cells unobserved."""
    df = bnlab.sample(net, n=rows, seed=seed).drop(columns=[TARGET]).astype(object)
    return df.mask(np.random.default_rng(seed).random(df.shape) < 0.5, None)


def payload(frame: pd.DataFrame) -> bytes:
    """The ``dataframe_split`` body of MLflow's scoring server."""
    rows = [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]
    return json.dumps({"dataframe_split": {"columns": list(frame.columns), "data": rows}}).encode()


def request(url: str, body: bytes) -> dict[str, Any]:
    """POST a JSON body, return the decoded answer (raises on HTTP errors)."""
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as response:
        return dict(json.loads(response.read()))


@contextmanager
def served(model_uri: str, tracking_uri: str, folder: Path) -> Iterator[str]:
    """Run ``mlflow models serve`` on a free loopback port; yield the invocations URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        # a 1,000-row request with 1,000 draws outlasts the scoring server's 60 s default
        "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "1800",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cmd = [str(bin_dir / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager",
           "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "server.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def timed_pair(
    first: Callable[[int], Any], second: Callable[[int], Any], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds of ``first(i)`` and ``second(i)`` for i < n, called alternately.

    Alternating puts both paths under the same machine load, which on a shared machine moves
    far more than the difference measured.
    """
    out = np.empty((2, n))
    for i in range(n):
        for j, fn in enumerate((first, second)):
            start = time.perf_counter()
            fn(i)
            out[j, i] = time.perf_counter() - start
    return out[0], out[1]


def summary(lat_s: np.ndarray, bat_s: np.ndarray, batch_rows: int) -> dict[str, float]:
    """Latency percentiles of singles (ms) and batch throughput (rows/s)."""
    lat = lat_s * 1e3
    return {
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "batch_s": float(np.median(bat_s)),
        "rows_per_s": batch_rows * bat_s.size / float(bat_s.sum()),
    }


def main() -> None:
    """Run the chosen benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["load", "inprocess"], default="load")
    p.add_argument("--rows", type=int, default=10_000, help="training rows")
    p.add_argument("--singles", type=int, default=1000)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-rows", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000, help="posterior draws per query")
    p.add_argument("--ess", type=float, default=10.0, help="BDeu equivalent sample size")
    p.add_argument("--seconds", type=float, default=8.0, help="length of each load run")
    p.add_argument("--concurrency", type=int, default=32, help="clients (connections)")
    p.add_argument("--max-requests", type=int, default=20_000, help="requests per run at most")
    p.add_argument("--accuracy-rows", type=int, default=200)
    args = p.parse_args()
    if args.mode == "load":
        from serving_load import run_load_test

        run_load_test(args, TARGET, evidence)
    else:
        inprocess(args)


def inprocess(args: argparse.Namespace) -> None:
    """MLflow's scoring server vs the pyfunc in-process (issue 9); print a Markdown table."""
    started, load_before = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")

    import mlflow.pyfunc

    from bnlab.evaluate import vet
    from bnlab.ops.registry import promote, register, using_store

    net = bnlab.load_example("alarm")
    posterior = bnlab.fit(net.structure, bnlab.sample(net, n=args.rows, seed=0), ess=args.ess)
    singles = evidence(net, args.singles, seed=1)
    batches = [evidence(net, args.batch_rows, seed=100 + b) for b in range(args.batches)]
    single_bodies = [payload(singles.iloc[[i]]) for i in range(args.singles)]
    batch_bodies = [payload(b) for b in batches]
    passed = vet(calibration={TARGET: {"ece": 0.01}}, coverage={0.9: 0.9})
    with tempfile.TemporaryDirectory(prefix="bnlab-serving-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        reg = register(
            posterior, NAME, passed, tracking_uri=uri, targets=[TARGET], draws=args.draws
        )
        promote(NAME, reg.version, tracking_uri=uri)
        model_uri = f"models:/{NAME}@champion"
        with using_store(uri):
            model = mlflow.pyfunc.load_model(model_uri)
        with served(model_uri, uri, Path(tmp)) as url:
            # warm-up of both paths (JIT compilation for both chunk shapes), and agreement
            model.predict(singles.iloc[[0]]), request(url, single_bodies[0])
            served_answer = pd.DataFrame(request(url, batch_bodies[0])["predictions"])
            local_answer = model.predict(batches[0])
            diff = float(np.abs(served_answer.to_numpy() - local_answer.to_numpy()).max())
            print("measuring singles, alternating the two paths ...", file=sys.stderr, flush=True)
            lat_local, lat_http = timed_pair(
                lambda i: model.predict(singles.iloc[[i]]),
                lambda i: request(url, single_bodies[i]),
                args.singles,
            )
            print("measuring batches, alternating the two paths ...", file=sys.stderr, flush=True)
            bat_local, bat_http = timed_pair(
                lambda b: model.predict(batches[b]),
                lambda b: request(url, batch_bodies[b]),
                args.batches,
            )
        local = summary(lat_local, bat_local, args.batch_rows)
        http = summary(lat_http, bat_http, args.batch_rows)
    load = os.getloadavg()
    print(f"command: {' '.join(['python', *sys.argv])}; started {started}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average before {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}, after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"alarm, BDeu({args.ess:g}), target {TARGET}, {args.draws} posterior draws, "
          f"90% intervals; "
          f"max |served - in-process| = {diff:.1e}")  # fmt: skip
    print(f"{args.singles} single-row requests, {args.batches} batches of {args.batch_rows} rows\n")
    print("| path | single p50 ms | p95 ms | p99 ms | batch median s | batch rows/s |")
    print("|---|---|---|---|---|---|")
    for label, m in (("mlflow models serve (HTTP, loopback)", http), ("pyfunc in-process", local)):
        print(f"| {label} | {m['p50_ms']:.1f} | {m['p95_ms']:.1f} | {m['p99_ms']:.1f} | "
              f"{m['batch_s']:.2f} | {m['rows_per_s']:.0f} |")  # fmt: skip
    print(f"\nHTTP/in-process: p50 x{http['p50_ms'] / local['p50_ms']:.2f}, "
          f"batch throughput x{http['rows_per_s'] / local['rows_per_s']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
