"""``bnlab serve`` under load: batching, limits, backpressure and draining, over loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_registry_helpers import CHILD_ENV, TARGET, evidence_frame, fit_asia, free_port
from test_serve_metrics import scrape, total

import bnlab
import bnlab.mlflow
from bnlab.ops.serve import INVOCATIONS_PATH, READY_PATH

# two server processes (~30-60 s each on 2 cores); the module's tests on one xdist worker
# (`--dist loadgroup`), so that its server starts once
pytestmark = [pytest.mark.slow(expected_s=150), pytest.mark.xdist_group("serve-batching")]

#: A request waits this long for others (long enough for a test to fill the queue).
WAIT_MS = 400
QUEUE_ROWS = 64
REQUEST_ROWS = 32
REQUEST_BYTES = 20_000


def call(url: str, body: dict[str, Any] | bytes, timeout: float = 120) -> tuple[int, Any, Any]:
    """POST JSON; the status, the decoded body and the response headers."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return int(r.status), json.loads(r.read()), r.headers
    except urllib.error.HTTPError as err:
        return int(err.code), json.loads(err.read()), err.headers


def payload(frame: pd.DataFrame, params: dict[str, Any] | None = None) -> dict[str, Any]:
    rows = [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]
    body: dict[str, Any] = {"dataframe_split": {"columns": list(frame.columns), "data": rows}}
    if params:
        body["params"] = params
    return body


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def start_server(root: Path, model: Any, *flags: str) -> tuple[subprocess.Popen[bytes], str]:
    """Save ``model`` to a folder and serve it with ``bnlab serve``; wait until ready."""
    folder = root / "model"
    bnlab.mlflow.save_model(model, folder, targets=[TARGET])
    port = free_port()
    cmd = [sys.executable, "-m", "bnlab.cli", "serve", str(folder), "--port", str(port), *flags]
    with (root / "server.log").open("w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            cmd, env={**os.environ, **CHILD_ENV}, cwd=root, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {(root / 'server.log').read_text()[-3000:]}")
        try:
            if status_of(base + READY_PATH) == 200:
                return proc, base
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"server not up: {(root / 'server.log').read_text()[-3000:]}")
        time.sleep(0.25)


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """asia's conjugate posterior served with small limits and a long batching window."""
    root = tmp_path_factory.mktemp("serve-batching")
    net, post = fit_asia()
    proc, base = start_server(
        root, post, "--max-wait-ms", str(WAIT_MS), "--max-batch-rows", "64",
        "--max-queue-rows", str(QUEUE_ROWS), "--max-request-rows", str(REQUEST_ROWS),
        "--max-request-bytes", str(REQUEST_BYTES),
    )  # fmt: skip
    try:
        yield {"base": base, "url": base + INVOCATIONS_PATH, "net": net, "post": post}
    finally:
        stop(proc)


@pytest.mark.parametrize("method", ["sampled", "delta"])
def test_batched_answers_equal_unbatched_exactly(server: dict[str, Any], method: str) -> None:
    url, n = server["url"], 12
    rows = evidence_frame(server["net"], n, seed=7)
    bodies = [payload(rows.iloc[[i]], {"interval_method": method}) for i in range(n)]
    before = scrape(server["base"])
    with ThreadPoolExecutor(n) as pool:  # all at once: they share engine calls
        together = list(pool.map(lambda b: call(url, b), bodies))
    mid = scrape(server["base"])
    alone = [call(url, b) for b in bodies[:4]]  # one at a time: each its own engine call
    after = scrape(server["base"])
    assert all(s == 200 for s, _, _ in together + alone), together
    for (_, got, _), (_, want, _) in zip(together, alone, strict=False):
        assert got == want  # bit for bit: JSON floats round-trip exactly

    def grew(a: Any, b: Any, name: str) -> float:
        return total(b, name) - total(a, name)

    # 12 concurrent requests: fewer engine calls than requests; 4 sequential: 4 calls
    calls = grew(before, mid, "bnlab_batch_requests_count")
    assert 1 <= calls < n and grew(before, mid, "bnlab_batch_requests_sum") == n
    assert grew(mid, after, "bnlab_batch_requests_count") == 4
    assert grew(before, mid, "bnlab_prediction_batch_rows_sum") == n
    assert grew(before, after, "bnlab_batch_queue_wait_seconds_count") == n + 4
    # and the answers are the engine's (sampled: over 1000 draws; delta: its own method)
    q = bnlab.Engine(server["post"], draws=1000, seed=0)
    first = together[0][1]["predictions"][0]
    states = server["net"].states[TARGET]
    if method == "sampled":
        import jax

        with jax.enable_x64(True):
            q = bnlab.Engine(server["post"], draws=1000, seed=0)
            want = q.query(TARGET, rows.iloc[[0]].dropna(axis=1), interval=0.9)
    else:
        want = q.query(TARGET, rows.iloc[[0]].dropna(axis=1), interval=0.9, method="delta")
    for k, s in enumerate(states):
        assert first[f"P({TARGET}={s})_mean"] == pytest.approx(want["mean"][k], abs=1e-5)
        assert first[f"P({TARGET}={s})_upper"] == pytest.approx(want["upper"][k], abs=1e-5)


def test_delta_intervals_differ_from_sampled_but_agree_roughly(server: dict[str, Any]) -> None:
    row = evidence_frame(server["net"], 1, seed=3)
    _, sampled, _ = call(server["url"], payload(row))
    _, delta, _ = call(server["url"], payload(row, {"interval_method": "delta"}))
    a, b = sampled["predictions"][0], delta["predictions"][0]
    assert a != b
    for col in a:
        assert a[col] == pytest.approx(b[col], abs=0.05)
    status, body, _ = call(server["url"], payload(row, {"interval_method": "laplace"}))
    assert status == 400 and "interval_method" in body["message"]


def test_a_full_queue_is_refused_at_once_with_retry_after(server: dict[str, Any]) -> None:
    url = server["url"]
    big = evidence_frame(server["net"], REQUEST_ROWS, seed=11)
    # two 32-row requests with different seeds: two groups that wait WAIT_MS to fill
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(call, url, payload(big, {"seed": s})) for s in (1, 2)]
        time.sleep(WAIT_MS / 1e3 / 4)
        start = time.monotonic()
        status, body, headers = call(url, payload(big.iloc[[0]]))
        took = time.monotonic() - start
        assert [f.result()[0] for f in held] == [200, 200]
    assert status == 429, body
    assert took < WAIT_MS / 1e3 / 2  # refused at once, not after waiting
    assert int(headers["Retry-After"]) >= 1
    assert "capacity" in body["message"] and str(QUEUE_ROWS) in body["message"]
    assert total(scrape(server["base"]), "bnlab_rejected_requests_total", reason="queue_full") >= 1


def test_oversized_requests_get_413_with_the_limit(server: dict[str, Any]) -> None:
    url = server["url"]
    rows = evidence_frame(server["net"], REQUEST_ROWS + 1, seed=5)
    status, body, _ = call(url, payload(rows))
    assert status == 413 and f"limit is {REQUEST_ROWS} rows" in body["message"]
    padded = {**payload(rows.iloc[[0]]), "pad": "x" * REQUEST_BYTES}
    status, body, _ = call(url, padded)
    assert status == 413 and f"{REQUEST_BYTES} bytes" in body["message"]
    assert total(scrape(server["base"]), "bnlab_rejected_requests_total", reason="too_large") >= 2


def test_every_4xx_names_the_problem_and_the_fix(server: dict[str, Any]) -> None:
    url = server["url"]
    status, body, _ = call(url, payload(pd.DataFrame({"smoke": ["yes"], "colour": ["red"]})))
    assert status == 400
    assert "['colour']" in body["message"] and "'smoke'" in body["message"]  # knows these
    assert all(f"'{v}'" in body["message"] for v in server["net"].variables)
    status, body, _ = call(url, payload(pd.DataFrame({"smoke": ["maybe"]})))
    assert status == 400 and "not a state" in body["message"]
    status, body, _ = call(url, b"{not json")
    assert status == 400 and "not valid JSON" in body["message"]
    # a bad request fails alone, also when it shared an engine call with a good one
    wrong = pd.DataFrame({"smoke": ["maybe"]})
    fine = evidence_frame(server["net"], 1, seed=9)
    with ThreadPoolExecutor(2) as pool:
        bad, good = pool.map(lambda f: call(url, payload(f)), [wrong, fine])
    assert bad[0] == 400 and "not a state of 'smoke'" in bad[1]["message"]
    assert good[0] == 200


def test_sigterm_drains_in_flight_requests_and_exits(tmp_path: Path) -> None:
    net, post = fit_asia()
    drain, timeout = 2.0, 10.0
    proc, base = start_server(
        tmp_path, post, "--max-wait-ms", "1000", "--drain-seconds", str(drain),
        "--shutdown-timeout", str(timeout),
    )  # fmt: skip
    try:
        url = base + INVOCATIONS_PATH
        rows = evidence_frame(net, 4, seed=2)
        with ThreadPoolExecutor(4) as pool:
            # in flight: each waits up to 1 s for its batch to fill
            flying = [pool.submit(call, url, payload(rows.iloc[[i]])) for i in range(4)]
            time.sleep(0.3)
            sent = time.monotonic()
            os.kill(proc.pid, signal.SIGTERM)
            time.sleep(0.3)
            assert status_of(base + READY_PATH) == 503  # draining: no new traffic, please
            late = call(url, payload(rows.iloc[[0]]))  # still served while draining
            assert [f.result()[0] for f in flying] == [200] * 4
        assert late[0] == 200
        code = proc.wait(timeout=drain + timeout + 10)
        assert time.monotonic() - sent < drain + timeout
        assert code == 0
    finally:
        if proc.poll() is None:
            stop(proc)
