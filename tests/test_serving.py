"""``mlflow models serve`` on the registered champion answers like the engine, over HTTP."""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_registry_helpers import (
    CHILD_ENV,
    TARGET,
    engine_answer,
    evidence_frame,
    fit_asia,
    free_port,
    post_json,
    running_server,
    served_columns,
    split_payload,
    verdict,
)

from bnlab.ops.registry import promote, register

# starts a server process: ~30-60 s on 2 cores; the module's tests on one xdist worker
# (`--dist loadgroup`), so that the server starts once
pytestmark = [pytest.mark.slow(expected_s=120), pytest.mark.xdist_group("serving")]

NAME = "asia-served"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A champion in a SQLite registry, served by a real ``mlflow models serve`` process."""
    root = tmp_path_factory.mktemp("serve")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    net, post = fit_asia()
    reg = register(post, NAME, verdict(True), tracking_uri=uri, targets=[TARGET])
    promote(NAME, reg.version, tracking_uri=uri)
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        **CHILD_ENV,
        "MLFLOW_TRACKING_URI": uri,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
    }
    cmd = [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", f"models:/{NAME}@champion",
           "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def is_up() -> bool:
        with urllib.request.urlopen(f"{base}/ping", timeout=5) as r:
            return bool(r.status == 200)

    with running_server(cmd, env, root, is_up, poll_s=0.5):
        yield {"url": f"{base}/invocations", "net": net, "post": post}


def _frame(body: Any) -> pd.DataFrame:
    return pd.DataFrame(body["predictions"])


def test_single_rows_over_http_equal_the_engine(server: dict[str, Any]) -> None:
    net, post = server["net"], server["post"]
    evidence = evidence_frame(net, 3)
    for i in range(3):
        row = evidence.iloc[[i]]
        status, body = post_json(server["url"], split_payload(row, {"interval": 0.8}))
        assert status == 200, body
        got = served_columns(_frame(body), net.states[TARGET])
        for g, w in zip(got, engine_answer(post, row, 0.8), strict=True):
            np.testing.assert_allclose(g, w, atol=1e-6, rtol=0)


def test_a_1000_row_batch_is_answered_in_one_request(server: dict[str, Any]) -> None:
    net, post = server["net"], server["post"]
    evidence = evidence_frame(net, 1000, seed=5)
    status, body = post_json(server["url"], split_payload(evidence))
    assert status == 200, body
    out = _frame(body)
    assert len(out) == 1000
    for g, w in zip(
        served_columns(out, net.states[TARGET]), engine_answer(post, evidence), strict=True
    ):
        np.testing.assert_allclose(g, w, atol=1e-6, rtol=0)


def test_explain_over_http_equals_bnlab_explain(server: dict[str, Any]) -> None:
    import json

    from bnlab import explain

    post = server["post"]
    row = pd.DataFrame({"smoke": ["yes"], "xray": ["yes"], "either": [None]})
    status, body = post_json(server["url"], split_payload(row, {"explain": True, "explain_top": 3}))
    assert status == 200, body
    assert "NaN" not in json.dumps(body)  # standard JSON: an empty slot is null, not NaN
    out, pre = _frame(body), f"explain({TARGET})_"
    state = out.loc[0, pre + "state"]
    want = explain.evidence_contributions(post, TARGET, state, row, draws=1000, seed=0)
    assert out.loc[0, pre + "baseline"] == pytest.approx(want.attrs["p_none"], abs=1e-6)
    assert out.loc[0, f"P({TARGET}={state})_mean"] == pytest.approx(want.attrs["p_all"], abs=1e-6)
    assert len(want) == 2 and out.loc[0, pre + "method"] == "exact"
    for k, w in enumerate(want.itertuples(), start=1):
        assert (out.loc[0, f"{pre}{k}_variable"], out.loc[0, f"{pre}{k}_state"]) == (
            w.variable,
            w.state,
        )
        for col in ("shapley", "lower", "upper"):
            got = out.loc[0, f"{pre}{k}_{col}"]
            assert got == pytest.approx(getattr(w, col), abs=1e-6), (k, col)
    assert out.loc[0, f"{pre}3_variable"] is None and out.loc[0, f"{pre}3_shapley"] == 0.0


def test_bad_requests_are_refused_with_the_reason(server: dict[str, Any]) -> None:
    status, body = post_json(server["url"], split_payload(pd.DataFrame({"smoke": ["maybe"]})))
    assert status >= 400 and "not a state" in str(body)
    status, body = post_json(
        server["url"], split_payload(pd.DataFrame({"smoke": ["yes"]}), {"interval": 2.0})
    )
    assert status >= 400 and "interval" in str(body)
