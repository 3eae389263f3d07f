"""``bnlab serve``: a scoring server for a bnlab model, with Prometheus metrics and probes.

The app speaks the ``/invocations`` protocol of ``mlflow models serve``. JSON requests are
answered by bnlab's batching server (below); anything else (CSV bodies) goes to MLflow's own
pyfunc scoring app (``mlflow.pyfunc.scoring_server.init``). Around both, a thin ASGI layer
adds

- :data:`METRICS_PATH` — Prometheus text format: requests, errors and latency per endpoint,
  rows per prediction call, rows with impossible evidence, model readiness, and gauges of
  the last ``bnlab monitor`` verdict (re-read when its file changes);
- :data:`HEALTH_PATH` — liveness: 200 while the process serves HTTP;
- :data:`READY_PATH` — readiness: 200 once the model is loaded and warmed up, else 503
  (also while draining after SIGTERM).

JSON ``POST /invocations`` requests are answered by :mod:`bnlab.ops.serving`: concurrent
requests with the same params share one engine call (adaptive batching), a full queue gets
429 with ``Retry-After``, an oversized request 413, a missed deadline 504 (settings:
:class:`bnlab.ops.serving.settings.ServeSettings`); other content types go to MLflow's app.
SIGTERM drains: ``/ready`` turns 503 for ``drain_seconds`` while requests are still served,
then the server stops accepting and gives in-flight requests ``shutdown_timeout_s``.

The server answers probes at once and loads the model in a background thread, so a slow
cold start (MLflow and JAX imports, the first compilation) is "alive, not ready" rather
than "dead". A model that cannot be loaded stops the server with a typed error (exit 2).
One process, one worker: metrics live in the process, so scale out with replicas.
MLServer's MLflow runtime was considered and not used: it resolves with the project's pins
only by pinning fastapi below 0.116 for the whole lock, and would need a custom runtime to
count impossible evidence or export drift gauges.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bnlab.errors import ArtifactError, BNError, ImpossibleEvidenceError
from bnlab.ops.serving.settings import ServeSettings

#: Address bound by default: loopback only (a container passes ``--host 0.0.0.0``).
HOST = "127.0.0.1"
#: Default TCP port (the container port of ``deploy/``).
PORT = 8080
METRICS_PATH = "/metrics"
HEALTH_PATH = "/health"
READY_PATH = "/ready"
INVOCATIONS_PATH = "/invocations"
#: Environment variable naming the monitor verdict JSON when ``--drift-verdict`` is not given.
VERDICT_ENV = "BNLAB_DRIFT_VERDICT"
#: Endpoints reported under their own label; any other path is ``other`` (bounded labels).
ENDPOINTS = (INVOCATIONS_PATH, METRICS_PATH, HEALTH_PATH, READY_PATH, "/ping", "/version")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000)

log = logging.getLogger("bnlab.ops.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class DriftCollector:
    """Gauges from the last ``bnlab monitor`` verdict JSON, re-read when the file changes.

    Parameters
    ----------
    path
        The verdict file (``bnlab monitor ... --out PATH``); ``None`` exports only
        ``bnlab_drift_verdict_loaded 0``.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self._stamp: tuple[float, int] | None = None
        self._doc: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def describe(self) -> list[Any]:
        """No fixed descriptions: the metrics depend on the file (read at scrape time)."""
        return []

    def _read(self) -> tuple[dict[str, Any] | None, float]:
        if self.path is None:
            return None, 0.0
        try:
            st = self.path.stat()
        except OSError:
            return None, 0.0
        with self._lock:
            stamp = (st.st_mtime, st.st_size)
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    doc = json.loads(self.path.read_text())
                    self._doc = doc if isinstance(doc, dict) else None
                except (OSError, ValueError) as err:
                    log.warning("cannot read the drift verdict %s: %s", self.path, err)
                    self._doc = None
            return self._doc, st.st_mtime

    def collect(self) -> Iterator[Any]:
        """Yield the drift gauge families (one sample per check and variable)."""
        from prometheus_client.core import GaugeMetricFamily

        doc, mtime = self._read()
        loaded = GaugeMetricFamily(
            "bnlab_drift_verdict_loaded", "1 when the last monitor verdict was read, else 0"
        )
        loaded.add_metric([], 1.0 if doc is not None else 0.0)
        yield loaded
        if doc is None:
            return

        def gauge(name: str, doc_text: str, value: Any) -> Any:
            g = GaugeMetricFamily(name, doc_text)
            g.add_metric([], _number(value))
            return g

        yield gauge(
            "bnlab_drift_verdict_timestamp_seconds", "modification time of the verdict", mtime
        )
        yield gauge("bnlab_drift_alert", "1 when the last monitor run alerted", doc.get("alert"))
        yield gauge(
            "bnlab_drift_surprise_ppp",
            "posterior-predictive p-value of the batch's mean log P(record)",
            doc.get("surprise_ppp"),
        )
        yield gauge(
            "bnlab_drift_mean_log_prob", "the batch's mean log P(record)", doc.get("mean_log_prob")
        )
        yield gauge("bnlab_drift_reasons", "number of alert reasons", len(doc.get("reasons", [])))
        thresholds = GaugeMetricFamily(
            "bnlab_drift_threshold", "thresholds the verdict used", labels=["check"]
        )
        for key, value in sorted(dict(doc.get("thresholds") or {}).items()):
            thresholds.add_metric([str(key)], _number(value))
        yield thresholds
        tables = (
            ("families", "score", "bnlab_drift_family_log_bf", "log Bayes factor of change"),
            ("families", "drifted", "bnlab_drift_family_drifted", "1 when the family drifted"),
            ("marginals", "score", "bnlab_drift_marginal_log_bf", "log Bayes factor of a shift"),
            ("marginals", "shifted", "bnlab_drift_marginal_shifted", "1 when the marginal moved"),
            ("quality", "missing_rate", "bnlab_drift_missing_rate", "share of missing cells"),
            ("quality", "unknown_rate", "bnlab_drift_unknown_rate", "share of unknown states"),
        )
        for table, column, name, text in tables:
            g = GaugeMetricFamily(name, text, labels=["variable"])
            for row in doc.get(table) or []:
                if isinstance(row, dict) and "variable" in row:
                    g.add_metric([str(row["variable"])], _number(row.get(column)))
            yield g


def _number(value: Any) -> float:
    """A gauge value: booleans as 0/1, anything unreadable as NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


@dataclass(frozen=True)
class ServiceMetrics:
    """The server's Prometheus metrics, in a registry of their own."""

    registry: Any
    requests: Any
    errors: Any
    latency: Any
    batch_rows: Any
    rows: Any
    prediction_errors: Any
    impossible_rows: Any
    ready: Any
    model_info: Any

    @classmethod
    def create(cls, verdict: str | os.PathLike[str] | None = None) -> ServiceMetrics:
        """New metrics (and process metrics) with the drift gauges of ``verdict``."""
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.process_collector import ProcessCollector

        reg = CollectorRegistry()
        ProcessCollector(registry=reg)
        reg.register(DriftCollector(verdict))
        return cls(
            registry=reg,
            requests=Counter(
                "bnlab_http_requests",
                "HTTP requests by endpoint, method and status code",
                ["endpoint", "method", "code"],
                registry=reg,
            ),
            errors=Counter(
                "bnlab_http_request_errors",
                "HTTP requests answered with a status of 400 or more",
                ["endpoint", "code"],
                registry=reg,
            ),
            latency=Histogram(
                "bnlab_http_request_duration_seconds",
                "time to answer a request",
                ["endpoint"],
                buckets=LATENCY_BUCKETS,
                registry=reg,
            ),
            batch_rows=Histogram(
                "bnlab_prediction_batch_rows",
                "evidence rows per prediction call",
                buckets=BATCH_BUCKETS,
                registry=reg,
            ),
            rows=Counter("bnlab_prediction_rows", "evidence rows received", registry=reg),
            prediction_errors=Counter(
                "bnlab_prediction_errors",
                "prediction calls that failed, by error type",
                ["error"],
                registry=reg,
            ),
            impossible_rows=Counter(
                "bnlab_impossible_evidence_rows",
                "evidence rows of probability zero under the model",
                registry=reg,
            ),
            ready=Gauge("bnlab_model_ready", "1 once the model is loaded", registry=reg),
            model_info=Gauge(
                "bnlab_model_info", "the served model (value 1)", ["model_uri"], registry=reg
            ),
        )

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus text format, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _bn_error(err: BaseException) -> BNError | None:
    """The first :class:`BNError` in an exception's cause/context chain."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, BNError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


class InstrumentedModel:
    """A pyfunc model whose ``predict`` counts rows, impossible evidence and errors.

    Exposes the ``metadata`` and ``predict(data, params=None)`` that MLflow's scoring server
    uses. A :class:`BNError` becomes an ``MlflowException`` (HTTP 400) carrying bnlab's
    message, instead of MLflow's generic "unexpected error" with a traceback.
    """

    def __init__(self, model: Any, metrics: ServiceMetrics) -> None:
        self.model = model
        self.metrics = metrics

    @property
    def metadata(self) -> Any:
        """The wrapped model's MLflow metadata (signature, flavors)."""
        return self.model.metadata

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Predict, recording the batch size, rows with impossible evidence and errors."""
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        m = self.metrics
        try:
            rows = len(data)
        except TypeError:
            rows = 1
        m.batch_rows.observe(rows)
        m.rows.inc(rows)
        try:
            out = self.model.predict(data, params=params)
        except Exception as err:
            bn = _bn_error(err)
            m.prediction_errors.labels(type(bn or err).__name__).inc()
            if isinstance(bn, ImpossibleEvidenceError):
                m.impossible_rows.inc(len(bn.rows))
            if bn is not None:
                raise MlflowException(str(bn), error_code=INVALID_PARAMETER_VALUE) from None
            raise
        mean_cols = [c for c in getattr(out, "columns", []) if str(c).endswith("_mean")]
        if mean_cols:  # rows answered with NaN (on_impossible="nan") are impossible too
            m.impossible_rows.inc(int(out[mean_cols].isna().all(axis=1).sum()))
        return out


def load_pyfunc(model_uri: str, tracking_uri: str | None = None) -> Any:
    """Load a bnlab model as an MLflow pyfunc, with typed errors.

    Raises
    ------
    ArtifactError
        The URI or folder holds no model, or not a bnlab one.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as err:
        message = " ".join(str(getattr(err, "message", err)).split())[:500]
        raise ArtifactError(
            f"cannot load model {model_uri!r}: {message}. Pass a model folder or "
            "models:/NAME@ALIAS with --tracking-uri (or MLFLOW_TRACKING_URI) set to its registry."
        ) from None
    if "bnlab" not in (model.metadata.flavors or {}):
        raise ArtifactError(f"{model_uri} is not a bnlab model (no 'bnlab' flavor in its MLmodel).")
    return model


def check_model_source(model_uri: str) -> None:
    """Refuse at once a model folder that does not exist (URIs are checked when loading)."""
    if "://" in model_uri or model_uri.startswith(("models:", "runs:")):
        return
    path = Path(model_uri)
    if not (path / "MLmodel").is_file():
        raise ArtifactError(
            f"{model_uri} is not a model folder (no MLmodel file); pass a folder written by "
            "bnlab.mlflow.save_model or a models:/NAME@ALIAS URI."
        )


class ServeApp:
    """The ASGI app: probes and metrics here, JSON invocations batched, the rest to MLflow's app.

    Parameters
    ----------
    metrics
        Where requests are recorded.
    settings
        Batching, limits and lifecycle (defaults of :class:`ServeSettings` when ``None``).
    """

    def __init__(self, metrics: ServiceMetrics, settings: ServeSettings | None = None) -> None:
        self.metrics = metrics
        self.settings = settings or ServeSettings()
        self.inner: ASGIApp | None = None
        self.invocations: ASGIApp | None = None
        self.error: BNError | None = None
        self.draining = False

    def set_model(self, model: Any, model_uri: str) -> None:
        """Serve ``model`` (a pyfunc) from now on; readiness turns 200."""
        from mlflow.pyfunc import PyFuncModel, scoring_server

        # init() only reads .metadata and calls .predict(data, params=...): duck-typed
        wrapped = cast("PyFuncModel", InstrumentedModel(model, self.metrics))
        inner = scoring_server.init(wrapped)
        impl = getattr(model, "_model_impl", None)
        if hasattr(impl, "model") and hasattr(impl, "_engine"):  # a bnlab pyfunc
            from bnlab.ops.serving.invocations import Invocations

            invocations = Invocations(impl, self.settings, self.metrics)
            invocations.warm_up()
            self.invocations = invocations
        self.inner = inner  # ready from here on
        self.metrics.model_info.labels(model_uri).set(1)
        self.metrics.ready.set(1)

    @property
    def ready(self) -> bool:
        """Whether the model is loaded and the server is not draining."""
        return self.inner is not None and not self.draining

    def start_draining(self) -> None:
        """Turn ``/ready`` to 503 and stop waiting for batches to fill; keep serving."""
        self.draining = True
        self.metrics.ready.set(0)
        batcher = getattr(self.invocations, "batcher", None)
        if batcher is not None:
            batcher.flush_now = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI connection."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = str(scope.get("path", ""))
        endpoint = path if path in ENDPOINTS else "other"
        method = str(scope.get("method", "GET"))
        start = time.perf_counter()
        status = 500
        captured: dict[str, int] = {}

        async def send_capturing(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = int(message["status"])
            await send(message)

        try:
            if path == HEALTH_PATH:
                status = 200
                await _respond(send, status, b"ok\n")
            elif path == READY_PATH:
                status = 200 if self.ready else 503
                text = (
                    b"ready\n" if self.ready else b"draining\n" if self.draining else b"loading\n"
                )
                await _respond(send, status, text)
            elif path == METRICS_PATH:
                body, content_type = self.metrics.exposition()
                status = 200
                await _respond(send, status, body, content_type)
            elif self.inner is None:
                status = 503
                await _respond(send, status, b"the model is loading; retry when /ready is 200\n")
            elif self.invocations is not None and _batched(scope, path, method):
                await self.invocations(scope, receive, send_capturing)
            else:
                await self.inner(scope, receive, send_capturing)
        finally:
            status = captured.get("status", status)
            m = self.metrics
            m.requests.labels(endpoint, method, str(status)).inc()
            if status >= 400:
                m.errors.labels(endpoint, str(status)).inc()
            m.latency.labels(endpoint).observe(time.perf_counter() - start)


def _batched(scope: Scope, path: str, method: str) -> bool:
    """A JSON ``POST /invocations``: answered by :mod:`bnlab.ops.serving` (batched)."""
    if path != INVOCATIONS_PATH or method != "POST":
        return False
    headers = dict(scope.get("headers") or [])
    return bytes(headers.get(b"content-type", b"")).startswith(b"application/json")


async def _respond(
    send: Send, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _warm_up(model: Any) -> None:
    """Predict one row with nothing observed, so that the first request finds the engine built."""
    import pandas as pd

    schema = model.metadata.get_input_schema()
    names = schema.input_names() if schema is not None else []
    if not names:
        return
    try:
        model.predict(pd.DataFrame({names[0]: pd.Series([None], dtype=object)}))
    except Exception as err:  # noqa: BLE001 - a failed warm-up only costs the first request time
        log.warning("warm-up prediction failed (%s); serving anyway", err)


def serve(
    model_uri: str,
    *,
    host: str = HOST,
    port: int = PORT,
    tracking_uri: str | None = None,
    verdict: str | os.PathLike[str] | None = None,
    log_level: str = "info",
    settings: ServeSettings | None = None,
) -> None:
    """Serve ``model_uri`` over HTTP until interrupted (SIGINT/SIGTERM).

    Parameters
    ----------
    model_uri
        ``models:/NAME@ALIAS``, ``runs:/...`` or a model folder.
    host, port
        Address to bind (loopback by default).
    tracking_uri
        MLflow tracking/registry URI for ``models:/`` (default: ``MLFLOW_TRACKING_URI``).
    verdict
        The ``bnlab monitor --out`` JSON whose checks are exported as gauges.
    log_level
        uvicorn's log level.
    settings
        Batching, request limits, deadline, drain and shutdown times.

    Raises
    ------
    BNError
        Bad port, a missing model folder, or a model that cannot be loaded.
    """
    import uvicorn

    if not 0 < int(port) < 65536:
        raise BNError(f"port must lie in 1..65535, got {port}.")
    check_model_source(model_uri)
    settings = settings or ServeSettings()
    app = ServeApp(ServiceMetrics.create(verdict), settings)
    config = uvicorn.Config(
        app, host=host, port=int(port), log_level=log_level, lifespan="on",
        timeout_graceful_shutdown=max(int(math.ceil(settings.shutdown_timeout_s)), 1),
    )  # fmt: skip
    server = _draining_server_class()(config, app)

    def load() -> None:
        try:
            model = load_pyfunc(model_uri, tracking_uri)
            _warm_up(model)
            app.set_model(model, model_uri)
            log.info("model %s loaded; ready", model_uri)
        except BNError as err:
            app.error = err
            server.should_exit = True
        except Exception as err:  # noqa: BLE001 - any load failure must stop the server
            app.error = ArtifactError(f"cannot load model {model_uri!r}: {err}")
            server.should_exit = True

    threading.Thread(target=load, name="bnlab-model-loader", daemon=True).start()
    try:
        server.run()
    except SystemExit as stop:  # uvicorn exits 1 when it cannot bind (logged above)
        if stop.code:
            raise BNError(
                f"cannot listen on {host}:{port} (in use or not an address of this machine); "
                "choose another --port or --host."
            ) from None
        raise
    if app.error is not None:
        raise app.error


def _draining_server_class() -> Any:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn's server whose first SIGTERM/SIGINT drains before shutting down."""

        def __init__(self, config: Any, app: ServeApp) -> None:
            super().__init__(config)
            self.app = app

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.app.draining:  # a second signal: stop now
                super().handle_exit(sig, frame)
                return
            delay = self.app.settings.drain_seconds
            log.info("signal %s: draining for %.1f s, then shutting down", sig, delay)
            self.app.start_draining()
            stop = threading.Timer(delay, lambda: setattr(self, "should_exit", True))
            stop.daemon = True
            stop.start()

    return DrainingServer
