"""The serving batcher in process: grouping by key, the per-request deadline, a full queue."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import pytest

from bnlab.ops.serving.batcher import Batcher, DeadlineExceeded, QueueFull
from bnlab.ops.serving.settings import ServeSettings


def held_run() -> tuple[threading.Event, Callable[[Hashable, Sequence[Any]], list[Any]]]:
    """A batch run that answers only once the returned event is set (at most 5 s)."""
    release = threading.Event()

    def slow(key: Hashable, payloads: Sequence[Any]) -> list[Any]:
        release.wait(5.0)
        return list(payloads)

    return release, slow


def test_requests_are_grouped_by_key_into_one_run() -> None:
    runs: list[tuple[Hashable, list[Any]]] = []

    def run(key: Hashable, payloads: Sequence[Any]) -> list[Any]:
        runs.append((key, list(payloads)))
        return [f"{key}:{p}" for p in payloads]

    async def main() -> list[Any]:
        batcher = Batcher(run, ServeSettings(max_wait_ms=50.0))
        try:
            jobs = [batcher.submit(k, p, 1) for k, p in [("a", 1), ("b", 2), ("a", 3)]]
            return list(await asyncio.gather(*jobs))
        finally:
            batcher.close()

    assert asyncio.run(main()) == ["a:1", "b:2", "a:3"]
    assert sorted(runs) == [("a", [1, 3]), ("b", [2])]  # one run per key


def test_a_request_past_its_deadline_gets_deadline_exceeded() -> None:
    release, slow = held_run()

    async def main() -> float:
        batcher = Batcher(slow, ServeSettings(max_wait_ms=0.0, deadline_ms=100.0))
        start = time.monotonic()
        try:
            with pytest.raises(DeadlineExceeded, match="deadline of 100 ms"):
                await batcher.submit("k", 1, 1)
            return time.monotonic() - start
        finally:
            release.set()
            batcher.close()

    took = asyncio.run(main())
    assert 0.09 <= took < 2.0  # answered at the deadline, not when the run ends


def test_a_full_queue_refuses_at_once_with_a_retry_time() -> None:
    release, slow = held_run()

    async def main() -> None:
        batcher = Batcher(
            slow, ServeSettings(max_wait_ms=0.0, max_queue_rows=4, max_request_rows=4)
        )
        try:
            first = asyncio.ensure_future(batcher.submit("k", 1, 3))
            await asyncio.sleep(0.05)
            start = time.monotonic()
            with pytest.raises(QueueFull) as refused:
                await batcher.submit("k", 2, 2)  # 3 + 2 rows > 4
            assert time.monotonic() - start < 0.05
            assert refused.value.retry_after >= 1
            release.set()
            assert await first == 1
        finally:
            release.set()
            batcher.close()

    asyncio.run(main())
