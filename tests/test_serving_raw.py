"""A model fitted on raw data, registered and served by ``mlflow models serve``, answers
requests that carry raw numbers (binned by the model's own schema) like the engine does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_registry_helpers import CHILD_ENV, free_port, post_json, split_payload, verdict

import bnlab
from bnlab.ops.registry import promote, register

# starts a server process: ~30-60 s on 2 cores; the module's tests on one xdist worker
# (`--dist loadgroup`), so that the server starts once
pytestmark = [pytest.mark.slow(expected_s=90), pytest.mark.xdist_group("serving-raw")]

NAME = "raw-served"
TARGET = "insured"


def raw_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 63, n)
    income = rng.normal(50, 10, n) + (age > 40) * 10
    region = rng.choice(["north", "south"], n)
    insured = np.where(age + rng.normal(0, 5, n) > 40, "yes", "no")
    return pd.DataFrame({"age": age, "income": income, "region": region, TARGET: insured})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("serve_raw")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    df = raw_frame(1500, 0)
    schema = bnlab.infer_schema(df, target=TARGET)
    post = bnlab.fit(bnlab.learn_structure(df, schema=schema), df, schema=schema)
    reg = register(post, NAME, verdict(True), tracking_uri=uri, targets=[TARGET])
    promote(NAME, reg.version, tracking_uri=uri)
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, **CHILD_ENV, "MLFLOW_TRACKING_URI": uri,
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}  # fmt: skip
    cmd = [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", f"models:/{NAME}@champion",
           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(root / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up: {(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"url": f"{base}/invocations", "post": post, "schema": schema}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        log.close()


def test_raw_numbers_over_http_equal_the_engine_on_binned_states(server: dict[str, Any]) -> None:
    rows = pd.DataFrame({"age": [25, 58, 33], "income": [41.5, 72.0, 50.25],
                         "region": ["north", "south", None]})  # fmt: skip
    status, body = post_json(server["url"], split_payload(rows))
    assert status == 200, body
    got = pd.DataFrame(body["predictions"])
    # the oracle: states from the schema's bins, then the engine on those states
    states = server["schema"].encode(rows, partial=True).astype(object)
    states = states.where(states.notna(), None)
    q = bnlab.Engine(server["post"], draws=1000, seed=0).query(TARGET, states, interval=0.9)
    for s in server["post"].structure.states[TARGET]:
        want = q[q["state"] == s]["mean"].to_numpy()
        np.testing.assert_allclose(got[f"P({TARGET}={s})_mean"], want, atol=1e-6, rtol=0)
    assert not np.allclose(got[f"P({TARGET}=yes)_mean"].iloc[0], got[f"P({TARGET}=yes)_mean"][1])


def test_text_where_a_number_belongs_is_refused(server: dict[str, Any]) -> None:
    status, body = post_json(server["url"], split_payload(pd.DataFrame({"age": ["old"]})))
    assert status >= 400
