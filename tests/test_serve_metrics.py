"""``bnlab serve`` over loopback: Prometheus metrics move as requests arrive; probes answer."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_registry_helpers import (
    CHILD_ENV,
    TARGET,
    fit_asia,
    free_port,
    post_json,
    running_server,
    split_payload,
    verdict,
)

import bnlab
from bnlab.errors import BNError
from bnlab.monitor import drift
from bnlab.ops.registry import promote, register
from bnlab.ops.serve import HEALTH_PATH, INVOCATIONS_PATH, METRICS_PATH, READY_PATH, DriftCollector
from bnlab.ops.serving.settings import ServeSettings

#: the tests of the module's server on one xdist worker (`--dist loadgroup`): it starts once
pytestmark = pytest.mark.xdist_group("serve-metrics")
NAME = "asia-metrics"
#: asia's `either` is the deterministic OR of `tub` and `lung`: this row has probability 0
IMPOSSIBLE = pd.DataFrame({"tub": ["yes"], "either": ["no"]})

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base: str) -> Samples:
    """Every sample of ``/metrics``, keyed by (sample name, sorted labels)."""
    with urllib.request.urlopen(base + METRICS_PATH, timeout=30) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value (0 when the series does not exist yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= set(lab))


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def post_raw(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def serve_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bnlab.cli.commands", "serve", *args]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The asia network registered as champion, served by a real ``bnlab serve`` process,
    with the verdict of a real drift check (a shifted ``smoke``) as its drift file."""
    root = tmp_path_factory.mktemp("serve-metrics")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    net = bnlab.load_example("asia")
    reg = register(net, NAME, verdict(True), tracking_uri=uri, targets=[TARGET])
    promote(NAME, reg.version, tracking_uri=uri)
    _, post = fit_asia()
    shifted = bnlab.sample(net.with_cpts({"smoke": [0.95, 0.05]}), n=500, seed=2)
    report = drift(post, shifted, replicates=10)
    assert report.alert
    verdict_path = root / "drift.json"
    verdict_path.write_text(report.to_json())

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **CHILD_ENV}
    cmd = serve_cmd(f"models:/{NAME}@champion", "--port", str(port), "--tracking-uri", uri,
                    "--drift-verdict", str(verdict_path))  # fmt: skip
    ready_statuses: list[int] = []

    def is_up() -> bool:
        if get(base + HEALTH_PATH) == 200:
            ready_statuses.append(get(base + READY_PATH))
            return ready_statuses[-1] == 200
        return False

    with running_server(cmd, env, root, is_up, poll_s=0.25):
        yield {
            "base": base,
            "verdict_path": verdict_path,
            "report": json.loads(report.to_json()),
            "ready_statuses": ready_statuses,
            "net": net,
        }


@pytest.mark.slow(expected_s=120)  # a server process: ~30-60 s on 2 cores
def test_probes_answer(server: dict[str, Any]) -> None:
    base = server["base"]
    assert get(base + HEALTH_PATH) == 200
    assert get(base + READY_PATH) == 200
    # before the model was ready, readiness said 503 (never an error of another kind)
    assert set(server["ready_statuses"]) <= {200, 503}
    assert value(scrape(base), "bnlab_model_ready") == 1.0


@pytest.mark.slow(expected_s=120)  # a server process: ~30-60 s on 2 cores
def test_a_burst_of_requests_moves_the_counters(server: dict[str, Any]) -> None:
    base, net = server["base"], server["net"]
    url = base + INVOCATIONS_PATH
    evidence = bnlab.sample(net, n=20, seed=3).drop(columns=[TARGET]).astype(object)
    before = scrape(base)

    singles = 5
    for i in range(singles):
        status, body = post_json(url, split_payload(evidence.iloc[[i]]))
        assert status == 200, body
    status, body = post_json(url, split_payload(evidence))  # one batch of 20 rows
    assert status == 200 and len(body["predictions"]) == 20
    status, body = post_json(url, split_payload(IMPOSSIBLE))
    assert status == 400 and "probability zero" in str(body)
    assert post_raw(url, b"{this is not json") == 400

    after = scrape(base)
    ep = {"endpoint": INVOCATIONS_PATH}

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    requests = singles + 3
    assert delta("bnlab_http_requests_total", **ep) == requests
    assert delta("bnlab_http_requests_total", **ep, code="200") == singles + 1
    assert delta("bnlab_http_requests_total", **ep, code="400") == 2
    assert delta("bnlab_http_request_errors_total", **ep) == 2
    assert delta("bnlab_http_request_duration_seconds_count", **ep) == requests
    assert delta("bnlab_http_request_duration_seconds_sum", **ep) > 0
    # the malformed body never reaches the model: 7 prediction calls, 5 + 20 + 1 rows
    assert delta("bnlab_prediction_batch_rows_count") == singles + 2
    assert delta("bnlab_prediction_batch_rows_sum") == singles + 20 + 1
    assert delta("bnlab_prediction_batch_rows_bucket", le="1.0") == singles + 1
    assert delta("bnlab_prediction_batch_rows_bucket", le="10.0") == singles + 1
    assert delta("bnlab_prediction_batch_rows_bucket", le="20.0") == singles + 2
    assert delta("bnlab_prediction_rows_total") == singles + 20 + 1
    assert delta("bnlab_impossible_evidence_rows_total") == 1
    assert delta("bnlab_prediction_errors_total", error="ImpossibleEvidenceError") == 1
    # latency buckets are cumulative: +Inf holds every request
    assert delta("bnlab_http_request_duration_seconds_bucket", **ep, le="+Inf") == requests


@pytest.mark.slow(expected_s=120)  # a server process: ~30-60 s on 2 cores
def test_drift_gauges_follow_the_last_monitor_verdict(server: dict[str, Any]) -> None:
    base, report = server["base"], server["report"]
    got = scrape(base)
    assert value(got, "bnlab_drift_verdict_loaded") == 1.0
    assert value(got, "bnlab_drift_alert") == 1.0
    assert value(got, "bnlab_drift_reasons") == len(report["reasons"])
    assert value(got, "bnlab_drift_surprise_ppp") == pytest.approx(report["surprise_ppp"])
    for row in report["families"]:
        labels = {"variable": row["variable"]}
        assert value(got, "bnlab_drift_family_log_bf", **labels) == pytest.approx(row["score"])
        assert value(got, "bnlab_drift_family_drifted", **labels) == float(row["drifted"])
    for row in report["marginals"]:
        labels = {"variable": row["variable"]}
        assert value(got, "bnlab_drift_marginal_shifted", **labels) == float(row["shifted"])
    assert value(got, "bnlab_drift_marginal_shifted", variable="smoke") == 1.0
    for key, threshold in report["thresholds"].items():
        assert value(got, "bnlab_drift_threshold", check=key) == pytest.approx(threshold)

    # a new monitor run rewrites the file: the next scrape shows it
    calm = dict(report, alert=False, reasons=[], surprise_ppp=0.5)
    path: Path = server["verdict_path"]
    path.write_text(json.dumps(calm))
    os.utime(path, (time.time() + 5, time.time() + 5))  # a distinct mtime even on coarse clocks
    got = scrape(base)
    assert value(got, "bnlab_drift_alert") == 0.0
    assert value(got, "bnlab_drift_reasons") == 0.0
    assert value(got, "bnlab_drift_surprise_ppp") == 0.5


def test_drift_collector_without_a_readable_verdict(tmp_path: Path) -> None:
    def loaded(collector: DriftCollector) -> list[float]:
        families = list(collector.collect())
        assert [f.name for f in families] == ["bnlab_drift_verdict_loaded"]
        return [s.value for s in families[0].samples]

    assert loaded(DriftCollector(None)) == [0.0]
    assert loaded(DriftCollector(tmp_path / "absent.json")) == [0.0]
    (tmp_path / "bad.json").write_text("{not json")
    assert loaded(DriftCollector(tmp_path / "bad.json")) == [0.0]
    (tmp_path / "odd.json").write_text(json.dumps({"alert": "maybe", "families": [{"x": 1}]}))
    families = {f.name: f for f in DriftCollector(tmp_path / "odd.json").collect()}
    assert families["bnlab_drift_verdict_loaded"].samples[0].value == 1.0
    assert math.isnan(families["bnlab_drift_alert"].samples[0].value)
    assert families["bnlab_drift_family_log_bf"].samples == []


@pytest.mark.slow(expected_s=120)  # a server process: ~30-60 s on 2 cores
def test_bad_model_sources_exit_2_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, **CHILD_ENV}
    missing = subprocess.run(
        serve_cmd(str(tmp_path / "no-model"), "--port", str(free_port())),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 2 and "no MLmodel file" in missing.stderr
    assert "Traceback" not in missing.stderr
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    unknown = subprocess.run(
        serve_cmd("models:/nobody@champion", "--port", str(free_port()), "--tracking-uri", uri),
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert unknown.returncode == 2 and "cannot load model" in unknown.stderr, unknown.stderr
    assert "Traceback" not in unknown.stderr
    bad_port = subprocess.run(
        serve_cmd(str(tmp_path), "--port", "70000"),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad_port.returncode == 2 and "port" in bad_port.stderr
    # a port that is taken: uvicorn cannot bind, the command says so (before any model loads)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = subprocess.run(
            serve_cmd(str(tmp_path / "model"), "--port", str(held.getsockname()[1])),
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert busy.returncode == 2 and "cannot listen" in busy.stderr, busy.stderr
    assert "Traceback" not in busy.stderr


def test_settings_file_and_flags() -> None:
    conf = Path(__file__).resolve().parents[1] / "conf" / "serve" / "default.yaml"
    assert ServeSettings.from_file(conf) == ServeSettings()
    with pytest.raises(BNError, match="max_request_rows"):
        ServeSettings(max_request_rows=10, max_queue_rows=5)
    with pytest.raises(BNError, match="unknown serve settings"):
        ServeSettings.from_mapping({"max_wait": 1})
