"""Adaptive batching: concurrent requests with the same key answered by one call.

A request joins the group of its key (model, targets, settings). One worker runs one batch at
a time in a thread: it takes the oldest group once that group holds ``max_batch_rows`` rows or
its first request has waited ``max_wait_ms`` — so while the engine is busy, groups fill up on
their own, and an idle server answers a lone request after at most ``max_wait_ms``. The
answers are split back to the waiting requests. This is Triton's dynamic batcher and
MLServer's adaptive batching, with a bound on what may wait:

- rows waiting or running never exceed ``max_queue_rows``: a request beyond that is refused
  at once (:class:`QueueFull`, HTTP 429 with ``Retry-After``) instead of queueing;
- a request still waiting at its deadline gets :class:`DeadlineExceeded` (HTTP 504) and is
  not computed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bnlab.ops.serving.settings import ServeSettings

#: ``run(key, payloads) -> one result or exception per payload``, called in a worker thread.
RunBatch = Callable[[Hashable, Sequence[Any]], Sequence[Any]]
#: ``observe(requests, rows, waits_s)`` after each batch (metrics).
ObserveBatch = Callable[[int, int, Sequence[float]], None]


class QueueFull(Exception):
    """The queue holds ``max_queue_rows`` already; retry after ``retry_after`` seconds."""

    def __init__(self, queued: int, limit: int, retry_after: int) -> None:
        super().__init__(
            f"the server is at capacity ({queued} rows queued, limit {limit}); retry after "
            f"{retry_after} s, send fewer concurrent requests, or add replicas."
        )
        self.retry_after = retry_after


class DeadlineExceeded(Exception):
    """The request was not answered within its deadline."""


@dataclass(eq=False)  # compared by identity
class _Pending:
    payload: Any
    rows: int
    arrived: float
    deadline: float
    future: asyncio.Future[Any] = field(repr=False)


class Batcher:
    """Gather requests by key, run each batch in one worker thread, split the answers.

    Parameters
    ----------
    run
        Answers a batch: called with the key and the payloads, returns one result (or an
        exception instance, returned to that request alone) per payload, in order.
    settings
        ``batching``, ``max_wait_ms``, ``max_batch_rows``, ``max_queue_rows``, ``deadline_ms``.
    observe
        Called after each batch with its request count, row count and queue waits.
    """

    def __init__(
        self, run: RunBatch, settings: ServeSettings, observe: ObserveBatch | None = None
    ) -> None:
        self.run = run
        self.settings = settings
        self.observe = observe
        self.queued_rows = 0
        self.batches = 0
        self._groups: OrderedDict[Hashable, list[_Pending]] = OrderedDict()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bnlab-batch")
        self._rows_per_s = 0.0  # recent throughput, for Retry-After
        self.flush_now = False  # set while draining: no waiting for batches to fill

    def retry_after(self) -> int:
        """Whole seconds until the rows queued now are likely answered (at least 1)."""
        if self._rows_per_s <= 0:
            return 1
        return max(1, math.ceil(self.queued_rows / self._rows_per_s))

    async def submit(self, key: Hashable, payload: Any, rows: int) -> Any:
        """Queue ``payload`` (``rows`` evidence rows) under ``key``; return its answer.

        The answer is what ``run`` gave for it: a result or an exception instance.

        Raises
        ------
        QueueFull
            At once, when the queue cannot take ``rows`` more rows.
        DeadlineExceeded
            When no answer came within ``deadline_ms``.
        """
        s = self.settings
        if self.queued_rows + rows > s.max_queue_rows:
            raise QueueFull(self.queued_rows, s.max_queue_rows, self.retry_after())
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._work())
        now = time.monotonic()
        item = _Pending(payload, rows, now, now + s.deadline_ms / 1e3, loop.create_future())
        self.queued_rows += rows
        self._groups.setdefault(key, []).append(item)
        if self._wake is not None:
            self._wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(item.future), s.deadline_ms / 1e3)
        except TimeoutError:
            raise DeadlineExceeded(
                f"no answer within the deadline of {s.deadline_ms:g} ms (the server is "
                "overloaded or the request is large); retry later or send fewer rows."
            ) from None

    def _due(self, now: float) -> tuple[Hashable | None, float]:
        """The key of the group to run now (oldest first), else the time until one is due."""
        s = self.settings
        wait = 0.0 if (self.flush_now or not s.batching) else s.max_wait_ms / 1e3
        best: Hashable | None = None
        best_at = math.inf
        for key, items in self._groups.items():
            full = sum(i.rows for i in items) >= s.max_batch_rows
            due_at = items[0].arrived + wait
            if full or due_at <= now:
                if items[0].arrived < best_at:
                    best, best_at = key, items[0].arrived
        if best is not None:
            return best, 0.0
        soonest = min((items[0].arrived + wait for items in self._groups.values()), default=None)
        return None, (math.inf if soonest is None else max(soonest - now, 0.0))

    def _take(self, key: Hashable) -> list[_Pending]:
        """Up to ``max_batch_rows`` rows of a group (one request when batching is off)."""
        items = self._groups[key]
        taken: list[_Pending] = []
        rows = 0
        while items:
            nxt = items[0]
            if taken and (
                not self.settings.batching or rows + nxt.rows > self.settings.max_batch_rows
            ):
                break
            taken.append(items.pop(0))
            rows += nxt.rows
        if not items:
            del self._groups[key]
        return taken

    async def _work(self) -> None:
        wake = self._wake = self._wake or asyncio.Event()
        loop = asyncio.get_running_loop()
        while True:
            key, delay = self._due(time.monotonic())
            if key is None:
                wake.clear()
                try:
                    timeout = None if math.isinf(delay) else delay
                    await asyncio.wait_for(wake.wait(), timeout)
                except TimeoutError:
                    pass
                continue
            taken = self._take(key)
            now = time.monotonic()
            live = [i for i in taken if not i.future.done() and i.deadline > now]
            for item in taken:
                if item not in live:
                    self.queued_rows -= item.rows
                    if not item.future.done():
                        item.future.set_exception(DeadlineExceeded("deadline passed in queue"))
            if not live:
                continue
            start = time.monotonic()
            try:
                results: Sequence[Any] = await loop.run_in_executor(
                    self._pool, self.run, key, [i.payload for i in live]
                )
            except Exception as err:  # noqa: BLE001 - the batch's requests get the error
                results = [err] * len(live)
            took = max(time.monotonic() - start, 1e-6)
            rows = sum(i.rows for i in live)
            rate = rows / took
            self._rows_per_s = (
                rate if self._rows_per_s == 0 else 0.8 * self._rows_per_s + 0.2 * rate
            )
            self.batches += 1
            if self.observe is not None:
                self.observe(len(live), rows, [start - i.arrived for i in live])
            for item, result in zip(live, results, strict=True):
                self.queued_rows -= item.rows
                if not item.future.done():  # an error is an answer too: the caller reads it
                    item.future.set_result(result)

    @property
    def idle(self) -> bool:
        """Nothing queued or running."""
        return self.queued_rows == 0

    def close(self) -> None:
        """Stop the worker thread (after the last batch)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
