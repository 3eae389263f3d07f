"""A progress line on stderr: rows done, rows per second, time left.

Plain text lines (no terminal control codes, no extra dependency), at most one every
``every`` seconds plus a last one, so logs of batch jobs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``42s``."""
    s = int(round(max(seconds, 0.0)))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class Progress:
    """Counts rows and prints ``bnlab score: 1,000 / 5,000 rows (20.0%), 950 rows/s, ETA 4s``.

    Parameters
    ----------
    total
        Rows to score in all (rows of partitions skipped on resume are not counted);
        ``None`` when unknown.
    stream
        Where lines go (``None``: print nothing).
    every
        Fewest seconds between two lines.
    """

    def __init__(
        self, total: int | None, stream: TextIO | None = sys.stderr, every: float = 2.0
    ) -> None:
        self.total = None if total is None else int(total)
        self.done = 0
        self.stream = stream
        self.every = float(every)
        self.start = time.perf_counter()
        self._last = -float("inf")

    @staticmethod
    def stream_default() -> TextIO:
        """Standard error (looked up at call time, so captured streams work)."""
        return sys.stderr

    def line(self) -> str:
        """The current progress line."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total is None:  # a Dask DataFrame: its length is not known in advance
            return f"bnlab score: {self.done:,} rows, {rate:,.0f} rows/s"
        share = 100.0 * self.done / self.total if self.total else 100.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = duration(left) if left == left else "?"
        return (
            f"bnlab score: {self.done:,} / {self.total:,} rows ({share:.1f}%), "
            f"{rate:,.0f} rows/s, ETA {eta}"
        )

    def add(self, rows: int) -> None:
        """Count ``rows`` more rows done; print a line if ``every`` seconds have passed."""
        self.done += int(rows)
        now = time.perf_counter()
        if self.stream is not None and now - self._last >= self.every:
            self._last = now
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        """Print the last line (with the total time)."""
        if self.stream is not None:
            took = duration(time.perf_counter() - self.start)
            print(f"{self.line()} - done in {took}", file=self.stream, flush=True)
