"""Time to the first answer, in fresh processes: bnlab beside pyAgrum where pyAgrum has the step.

Each step is a whole new Python process, timed from start to exit (what a user waits for
at a shell or in a pipeline stage), best of ``--repeats``. Steps:

- ``help``: ``bnlab --help`` (target <= 0.3 s);
- ``marginals``: read ALARM, build the engine, all marginals given 3 observed variables
  (target <= 1.5 s); pyAgrum: ``loadBN`` + ``LazyPropagation`` + every posterior;
- ``posterior``: the same with the conjugate posterior and 1,000 CPT draws (bnlab only);
- ``learn``: hill climbing with BIC on SACHS, 5,000 rows read from CSV (target within 2x
  pyAgrum's fresh process); pyAgrum: ``BNLearner(csv).useGreedyHillClimbing()``;
- ``serve``: ``bnlab serve`` on a model folder, from process start to ``/ready`` and from
  ``/ready`` to the first answered request (target <= 0.2 s).

JAX keeps compiled programs in a persistent cache (on by default); ``--cold`` points it at a
new empty folder for every run, so the figures include compiling. Usage::

    uv run python benchmarks/first_answer.py              # warm caches (the usual case)
    uv run python benchmarks/first_answer.py --cold       # compile every time
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SACHS = ROOT / "tests" / "data" / "networks" / "sachs.bif.gz"

BNLAB_MARGINALS = """
import bnlab
net = bnlab.load_example("alarm")
m = bnlab.Engine(net).marginals([{"HR": "HIGH", "BP": "LOW", "SAO2": "LOW"}])
assert abs(float(m["LVFAILURE"].sum()) - 1.0) < 1e-5
"""

PYAGRUM_MARGINALS = """
import gzip, os, tempfile
import pyagrum as gum
path = os.path.join(tempfile.mkdtemp(), "alarm.bif")
open(path, "wb").write(gzip.open({alarm!r}).read())
bn = gum.loadBN(path)
ie = gum.LazyPropagation(bn)
ie.setEvidence({{"HR": "HIGH", "BP": "LOW", "SAO2": "LOW"}})
ie.makeInference()
post = [ie.posterior(n) for n in bn.names()]
"""

BNLAB_POSTERIOR = """
import bnlab
net = bnlab.load_example("alarm")
post = bnlab.fit(net.structure, bnlab.sample(net, n=5_000, seed=0))
q = bnlab.Engine(post, draws=1000, seed=0).query("LVFAILURE", [{"HR": "HIGH", "BP": "LOW"}])
assert len(q) == 2
"""

BNLAB_LEARN = """
import bnlab
s = bnlab.learn_structure({csv!r}, score="bic", method="hc")  # the file, read without pandas
assert len(s.variables) == 11
"""

PYAGRUM_LEARN = """
import pyagrum as gum
learner = gum.BNLearner({csv!r})
learner.useGreedyHillClimbing()
learner.useScoreBIC()
dag = learner.learnDAG()  # the structure alone, as bnlab.learn_structure returns
assert dag.size() == 11
"""


def fresh(code: str, env: dict[str, str], repeats: int) -> float:
    """Best wall time of ``python -c code`` in new processes."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def command(args: list[str], env: dict[str, str], repeats: int) -> float:
    """Best wall time of a command in new processes."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_times(folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from process start to /ready, and from /ready to the first answer."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "bnlab"), "serve", str(folder), "--port", str(port), "--log-level", "error"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the server did not become ready")
            time.sleep(0.02)
        ready = time.perf_counter()
        body = json.dumps(
            {"dataframe_split": {"columns": ["HR", "BP"], "data": [["HIGH", "LOW"]]}}
        ).encode()
        request = urllib.request.Request(
            f"{base}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=300) as r:
            r.read()
        answered = time.perf_counter()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return ready - t0, answered - ready


def main() -> None:
    """Run every step and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="empty JAX cache for every run")
    args = parser.parse_args()

    import bnlab
    import bnlab.mlflow

    work = Path(tempfile.mkdtemp(prefix="bnlab-first-"))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BNLAB_JAX_CACHE": str(work / "jax-cache"),
    }
    sachs = bnlab.read_network(SACHS)
    csv = work / "sachs.csv"
    bnlab.sample(sachs, n=5_000, seed=0).to_csv(csv, index=False)
    alarm = bnlab.load_example("alarm")
    post = bnlab.fit(alarm.structure, bnlab.sample(alarm, n=5_000, seed=0))
    bnlab.mlflow.save_model(post, work / "model", targets=["LVFAILURE"], draws=1000)
    alarm_path = ROOT / "bnlab" / "examples" / "alarm.bif.gz"

    def run_env() -> dict[str, str]:
        if not args.cold:
            return env
        return {**env, "BNLAB_JAX_CACHE": tempfile.mkdtemp(dir=work)}

    if not args.cold:  # fill the caches once (JAX programs, numba kernels)
        fresh(BNLAB_MARGINALS, env, 1)
        fresh(BNLAB_POSTERIOR, env, 1)
        fresh(BNLAB_LEARN.format(csv=str(csv)), env, 1)
        serve_times(work / "model", env)

    rows: list[tuple[str, float, float | None, str]] = []
    rows.append(
        (
            "bnlab --help",
            command([str(BIN / "bnlab"), "--help"], env, args.repeats),
            None,
            "<= 0.3 s",
        )
    )
    rows.append((
        "ALARM: engine + first all-marginals",
        min(fresh(BNLAB_MARGINALS, run_env(), 1) for _ in range(args.repeats)),
        fresh(PYAGRUM_MARGINALS.format(alarm=str(alarm_path)), env, args.repeats),
        "<= 1.5 s",
    ))  # fmt: skip
    rows.append((
        "ALARM: fit + 1,000-draw posterior query",
        min(fresh(BNLAB_POSTERIOR, run_env(), 1) for _ in range(args.repeats)),
        None,
        "",
    ))  # fmt: skip
    rows.append((
        "SACHS 5k CSV: first hill climbing (BIC)",
        fresh(BNLAB_LEARN.format(csv=str(csv)), env, args.repeats),
        fresh(PYAGRUM_LEARN.format(csv=str(csv)), env, args.repeats),
        "<= 2x pyAgrum",
    ))  # fmt: skip
    served = [serve_times(work / "model", run_env()) for _ in range(args.repeats)]
    rows.append(("serve: start to /ready", min(s[0] for s in served), None, ""))
    rows.append(("serve: /ready to first answer", min(s[1] for s in served), None, "<= 0.2 s"))

    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load {os.getloadavg()[0]:.2f}, {'cold' if args.cold else 'warm'} caches, "
          f"best of {args.repeats}")  # fmt: skip
    print("| step | bnlab | pyAgrum | ratio | target |")
    print("|---|---|---|---|---|")
    for name, ours, peer, target in rows:
        theirs = f"{peer:.2f} s" if peer is not None else "—"
        ratio = f"{ours / peer:.1f}x" if peer else "—"
        print(f"| {name} | {ours:.2f} s | {theirs} | {ratio} | {target} |")


if __name__ == "__main__":
    main()
