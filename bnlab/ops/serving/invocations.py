"""``POST /invocations`` with batching, limits and backpressure, in MLflow's JSON protocol.

Reads the ``dataframe_split``, ``dataframe_records``, ``inputs`` and ``instances`` bodies of
MLflow's scoring server (with ``params``) and answers ``{"predictions": [{column: value}]}``
like it, but:

- a body over ``max_request_bytes`` or with more than ``max_request_rows`` rows gets 413 at
  once, naming the limit;
- requests are gathered by :class:`~bnlab.ops.serving.batcher.Batcher` into shared engine calls;
  a full queue gets 429 with ``Retry-After`` at once, a missed deadline 504;
- every 4xx is ``{"error_code": ..., "message": ...}`` whose message names the problem and
  the fix (an unknown column names itself and every column the model knows).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bnlab.errors import BNError, ImpossibleEvidenceError
from bnlab.ops.serving.batcher import Batcher, DeadlineExceeded, QueueFull
from bnlab.ops.serving.predict import BatchPredictor, EvidenceRows
from bnlab.ops.serving.settings import ServeSettings

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
QUEUE_WAIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
REQUEST_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")


class RequestError(Exception):
    """An HTTP error answer: status, MLflow-style error code, message, extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass(frozen=True)
class BatchMetrics:
    """Prometheus metrics of batching and backpressure (in the server's registry)."""

    batch_requests: Any
    queue_wait: Any
    queue_rows: Any
    rejected: Any

    @classmethod
    def create(cls, registry: Any) -> BatchMetrics:
        """Register the metrics in ``registry``."""
        from prometheus_client import Counter, Gauge, Histogram

        return cls(
            batch_requests=Histogram(
                "bnlab_batch_requests", "requests answered per engine call",
                buckets=REQUEST_BUCKETS, registry=registry,
            ),
            queue_wait=Histogram(
                "bnlab_batch_queue_wait_seconds", "time from arrival to the start of its batch",
                buckets=QUEUE_WAIT_BUCKETS, registry=registry,
            ),
            queue_rows=Gauge(
                "bnlab_queue_rows", "evidence rows queued or running", registry=registry
            ),
            rejected=Counter(
                "bnlab_rejected_requests", "requests refused before any work, by reason",
                ["reason"], registry=registry,
            ),
        )  # fmt: skip


def _cell(value: Any) -> Any:
    """A JSON cell as evidence: null/NaN unobserved, anything else its text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value if isinstance(value, str) else str(value)


def parse_body(body: bytes) -> tuple[EvidenceRows, dict[str, Any] | None]:
    """The evidence cells and params of an MLflow JSON scoring request.

    Raises
    ------
    RequestError
        400 for a body that is not JSON or not one of the scoring formats.
    """
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise RequestError(
            400, "MALFORMED_REQUEST",
            f"the request body is not valid JSON ({err}); send a JSON object such as "
            '{"dataframe_split": {"columns": [...], "data": [[...]]}}.',
        ) from None  # fmt: skip
    fmts = [k for k in FORMATS if isinstance(doc, dict) and k in doc]
    if len(fmts) != 1:
        raise RequestError(
            400, "BAD_REQUEST",
            f"the request must hold exactly one of {list(FORMATS)} (got keys "
            f"{sorted(doc) if isinstance(doc, dict) else type(doc).__name__}); e.g. "
            '{"dataframe_split": {"columns": ["HR"], "data": [["HIGH"]]}}.',
        )  # fmt: skip
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise RequestError(400, "BAD_REQUEST", '"params" must be a JSON object of names.')
    data = doc[fmts[0]]
    try:
        if fmts[0] == "dataframe_split":
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                raise ValueError('"dataframe_split" needs "columns" and "data" (a list of rows)')
            columns = [str(c) for c in data.get("columns") or []]
            rows = [[_cell(v) for v in row] for row in data["data"]]
            if any(len(r) != len(columns) for r in rows):
                raise ValueError(f"every row of 'data' must have {len(columns)} values")
            if len(set(columns)) != len(columns):
                twice = sorted(c for c, n in Counter(columns).items() if n > 1)
                raise ValueError(f"column(s) {twice} appear more than once; send each once")
            table = EvidenceRows(columns, rows)
        elif isinstance(data, dict):  # inputs/instances as {column: [values]}
            frame = pd.DataFrame(
                {str(k): [_cell(v) for v in (vs if isinstance(vs, list) else [vs])]
                 for k, vs in data.items()},
                dtype=object,
            )  # fmt: skip
        else:
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise ValueError(f'"{fmts[0]}" must be a list of {{column: value}} records')
            records = [{str(k): _cell(v) for k, v in r.items()} for r in data]
            frame = pd.DataFrame.from_records(records).astype(object)
            frame = frame.where(frame.notna(), None)
        if fmts[0] != "dataframe_split":
            table = EvidenceRows.from_frame(frame)
    except ValueError as err:
        raise RequestError(400, "BAD_REQUEST", f"cannot read the evidence: {err}.") from None
    if len(table) == 0:
        raise RequestError(
            400, "BAD_REQUEST", "the request holds no evidence rows; send one or more."
        )
    return table, params


def records(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """``{column: values}`` as JSON-ready records, one per row."""
    names = list(columns)
    values = [np.asarray(v).tolist() for v in columns.values()]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


class Invocations:
    """The ``POST /invocations`` ASGI endpoint over a batcher.

    Parameters
    ----------
    pyfunc
        The served :class:`bnlab.pyfunc.BNPyfunc`.
    settings
        Limits and batching.
    metrics
        The server's :class:`bnlab.ops.serve.ServiceMetrics` (rows, errors, batch sizes).
    """

    def __init__(self, pyfunc: Any, settings: ServeSettings, metrics: Any) -> None:
        self.settings = settings
        self.metrics = metrics
        self.batch_metrics = BatchMetrics.create(metrics.registry)
        self.predictor = BatchPredictor(pyfunc)
        self.batcher = Batcher(self.predictor.run, settings, self._observe)

    def warm_up(self) -> None:
        """Answer one empty row per interval method, so that no request pays a compile."""
        self.predictor.warm_up()

    def _observe(self, requests: int, rows: int, waits: Sequence[float]) -> None:
        self.metrics.batch_rows.observe(rows)
        self.batch_metrics.batch_requests.observe(requests)
        for w in waits:
            self.batch_metrics.queue_wait.observe(max(w, 0.0))

    async def _body(self, scope: Message, receive: Receive) -> bytes:
        limit = self.settings.max_request_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = RequestError(
            413, "REQUEST_TOO_LARGE",
            f"the request body exceeds the limit of {limit} bytes; split it into several "
            "requests (or raise --max-request-bytes).",
        )  # fmt: skip
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestError(400, "BAD_REQUEST", "the client disconnected.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def answer(self, scope: Message, receive: Receive) -> dict[str, Any]:
        """The JSON answer of one request (raises :class:`RequestError`)."""
        reject = self.batch_metrics.rejected
        try:
            body = await self._body(scope, receive)
        except RequestError as err:
            if err.status == 413:
                reject.labels("too_large").inc()
            raise
        table, params = parse_body(body)
        rows = len(table)
        limit = self.settings.max_request_rows
        if rows > limit:
            reject.labels("too_large").inc()
            raise RequestError(
                413, "REQUEST_TOO_LARGE",
                f"the request holds {rows} rows; the limit is {limit} rows per request. "
                f"Split it into requests of at most {limit} rows (or raise --max-request-rows).",
            )  # fmt: skip
        self.metrics.rows.inc(rows)
        try:
            prepared = self.predictor.prepare(table, params)
        except BNError as err:
            self.metrics.prediction_errors.labels(type(err).__name__).inc()
            raise RequestError(400, "INVALID_PARAMETER_VALUE", str(err)) from None
        try:
            result = await self.batcher.submit(self.predictor.key(prepared), prepared, rows)
        except QueueFull as err:
            reject.labels("queue_full").inc()
            raise RequestError(
                429, "RESOURCE_EXHAUSTED", str(err), {"retry-after": str(err.retry_after)}
            ) from None
        except DeadlineExceeded as err:
            reject.labels("deadline").inc()
            raise RequestError(504, "DEADLINE_EXCEEDED", str(err)) from None
        finally:
            self.batch_metrics.queue_rows.set(self.batcher.queued_rows)
        if isinstance(result, BaseException):
            self.metrics.prediction_errors.labels(type(result).__name__).inc()
            if isinstance(result, ImpossibleEvidenceError):
                self.metrics.impossible_rows.inc(len(result.rows))
            if isinstance(result, BNError):
                raise RequestError(400, "INVALID_PARAMETER_VALUE", str(result))
            raise result
        return {"predictions": records(result)}

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        """Answer one ``POST /invocations``."""
        try:
            status, doc, extra = 200, await self.answer(scope, receive), {}
        except RequestError as err:
            status, extra = err.status, err.headers
            doc = {"error_code": err.code, "message": err.message}
        body = json.dumps(doc).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
