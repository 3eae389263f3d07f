"""Shared builders for the export/registry/serving tests (no tests of its own).

An "experiment folder" here is what the pipeline leaves under ``experiments/<name>/``: a real
fitted posterior, a real :class:`~bnlab.evaluate.Verdict` from :func:`bnlab.evaluate.vet`,
the configuration, a report and provenance.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

import bnlab
from bnlab.evaluate import vet

TARGET = "dysp"
#: Environment for MLflow child processes: no telemetry, no unpickling allowed.
CHILD_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
    "JAX_PLATFORMS": "cpu",
}


def fit_asia(rows: int = 3000, seed: int = 0) -> tuple[bnlab.BayesNet, bnlab.Posterior]:
    """The asia network and a conjugate posterior fitted to rows sampled from it."""
    net = bnlab.load_example("asia")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=rows, seed=seed), prior="bdeu", ess=1.0)
    return net, post


def verdict(passed: bool) -> Any:
    """A real verdict from the gate: calibration error of the target, 90% coverage."""
    return vet(calibration={TARGET: {"ece": 0.01 if passed else 0.2}}, coverage={0.9: 0.9})


def write_experiment(folder: Path, post: bnlab.Posterior, passed: bool, layout: str) -> Path:
    """Write an experiment folder as the pipeline leaves it; return the folder.

    ``layout="dvc"``: ``dvc repro``'s ``experiments/<name>/`` (training data under ``data/``,
    configuration in ``params.yaml`` and the report in ``reports/<name>/`` at the project
    root, two levels up); ``"run"``: a ``bnlab-experiment`` run folder (``config.yaml``,
    ``report.html`` and ``provenance.json`` inside).
    """
    folder.mkdir(parents=True)
    post.save(folder / "posterior.nc")
    bnlab.write_network(post.mean(), folder / "network.json")
    verdict(passed).save(folder / "verdict.json")
    config = {"name": folder.name, "dataset": {"name": "asia"}, "export": {"target": TARGET}}
    if layout == "dvc":
        root = folder.parents[1]
        (root / "params.yaml").write_text(yaml.safe_dump(config))
        (root / "reports" / folder.name).mkdir(parents=True)
        (root / "reports" / folder.name / "index.html").write_text("<html>dvc report</html>")
        (folder / "data").mkdir()
        train = bnlab.sample(bnlab.load_example("asia"), n=50, seed=3)
        train.to_parquet(folder / "data" / "train.parquet", index=False)
    else:
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
        (folder / "report.html").write_text("<html><body>asia report</body></html>")
        (folder / "provenance.json").write_text(json.dumps({"data_hash": "d" * 16}))
    return folder


def evidence_frame(net: bnlab.BayesNet, rows: int, seed: int = 1) -> pd.DataFrame:
    """Evidence rows over the non-target variables, about half of the cells unobserved."""
    df = bnlab.sample(net, n=rows, seed=seed).drop(columns=[TARGET]).astype(object)
    rng = np.random.default_rng(seed)
    return df.mask(rng.random(df.shape) < 0.5, None)


def engine_answer(post: bnlab.Posterior, evidence: pd.DataFrame, interval: float = 0.9) -> Any:
    """Mean, lower and upper of P(TARGET | evidence) from bnlab.Engine, each (rows, states)."""
    q = bnlab.Engine(post, draws=1000, seed=0).query(TARGET, evidence, interval=interval)
    card = len(post.structure.states[TARGET])
    return tuple(q[c].to_numpy().reshape(-1, card) for c in ("mean", "lower", "upper"))


def served_columns(frame: pd.DataFrame, states: tuple[str, ...]) -> Any:
    """The pyfunc's mean, lower and upper columns of TARGET, each (rows, states)."""
    return tuple(
        frame[[f"P({TARGET}={s})_{stat}" for s in states]].to_numpy(dtype=float)
        for stat in ("mean", "lower", "upper")
    )


def bnlab_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``bnlab`` console script of this venv in a fresh process."""
    exe = Path(sys.executable).with_name("bnlab")
    env = {**os.environ, **CHILD_ENV}
    return subprocess.run(
        [str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_json(url: str, payload: dict[str, Any], timeout: float = 120.0) -> tuple[int, Any]:
    """POST JSON; return the status and the decoded body (text when it is not JSON)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        body = err.read().decode(errors="replace")
        return err.code, body


def split_payload(frame: pd.DataFrame, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``dataframe_split`` request body of MLflow's scoring server (None = unobserved)."""
    rows = [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]
    body: dict[str, Any] = {"dataframe_split": {"columns": list(frame.columns), "data": rows}}
    if params:
        body["params"] = params
    return body


@contextlib.contextmanager
def running_server(
    cmd: list[str],
    env: dict[str, str],
    root: Path,
    is_up: Callable[[], bool],
    poll_s: float = 0.5,
    timeout_s: float = 300.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process in ``root`` (output in ``root/server.log``), wait until ``is_up()``.

    ``is_up`` is polled every ``poll_s`` seconds; an ``OSError`` from it (connection refused,
    an HTTP error status) counts as "not yet". The process exiting early, or not being up
    within ``timeout_s``, raises ``RuntimeError`` with the log's tail. On exit the server and
    its workers (its whole process group) are always stopped.
    """
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(root / 'server.log').read_text()[-3000:]}")
            try:
                if is_up():
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up: {(root / 'server.log').read_text()[-3000:]}")
            time.sleep(poll_s)
        yield proc
    finally:  # always stop the server (and its workers: the whole process group)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
