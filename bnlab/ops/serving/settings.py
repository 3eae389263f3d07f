"""The knobs of ``bnlab serve``: batching, request limits, deadlines and shutdown.

Defaults live in :class:`ServeSettings`; ``conf/serve/default.yaml`` holds the same keys and
``bnlab serve --settings FILE`` reads such a file, flags on the command line override it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from bnlab.errors import BNError


@dataclass(frozen=True)
class ServeSettings:
    """Batching, limits and lifecycle of the model server.

    Attributes
    ----------
    batching
        Gather concurrent requests with the same params into one engine call; ``False``
        answers each request with an engine call of its own.
    max_wait_ms
        Longest a request waits for others to join its batch (a busy engine makes batches
        form without waiting).
    max_batch_rows
        Evidence rows per engine call at most (a larger request runs alone).
    max_queue_rows
        Rows waiting or running at most; a request beyond this gets 429 with ``Retry-After``.
    max_request_rows, max_request_bytes
        Size of one request at most (413 beyond).
    deadline_ms
        A request not answered this long after it arrived gets 504.
    drain_seconds
        After SIGTERM, ``/ready`` answers 503 this long while requests are still served (so
        that the load balancer stops routing to the pod), then the server stops accepting.
    shutdown_timeout_s
        In-flight requests then get this long to finish before the process exits.
    """

    batching: bool = True
    max_wait_ms: float = 2.0
    max_batch_rows: int = 256
    max_queue_rows: int = 4096
    max_request_rows: int = 2048
    max_request_bytes: int = 4 * 1024 * 1024
    deadline_ms: float = 10_000.0
    drain_seconds: float = 5.0
    shutdown_timeout_s: float = 20.0

    def __post_init__(self) -> None:
        """Refuse settings that cannot work, naming the key and the fix."""
        positive = ("max_batch_rows", "max_queue_rows", "max_request_rows", "max_request_bytes")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise BNError(
                    f"serve setting {name} must be at least 1, got {getattr(self, name)}."
                )
        for name in ("max_wait_ms", "drain_seconds", "shutdown_timeout_s"):
            if float(getattr(self, name)) < 0:
                raise BNError(f"serve setting {name} must be >= 0, got {getattr(self, name)}.")
        if float(self.deadline_ms) <= 0:
            raise BNError(f"serve setting deadline_ms must be > 0, got {self.deadline_ms}.")
        if self.max_request_rows > self.max_queue_rows:
            raise BNError(
                f"serve setting max_request_rows ({self.max_request_rows}) exceeds "
                f"max_queue_rows ({self.max_queue_rows}): such a request could never be "
                "queued; lower max_request_rows or raise max_queue_rows."
            )

    @property
    def grace_seconds(self) -> float:
        """Longest time from SIGTERM to exit: drain, then the shutdown timeout."""
        return float(self.drain_seconds) + float(self.shutdown_timeout_s)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ServeSettings:
        """Settings from a mapping of keys (unknown keys and bad values are refused)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise BNError(f"unknown serve settings {unknown}; the keys are {sorted(known)}.")
        typed: dict[str, Any] = {}
        for key, value in values.items():
            kind = type(getattr(cls(), key))
            if kind is bool and not isinstance(value, bool):
                raise BNError(f"serve setting {key} must be true or false, got {value!r}.")
            try:
                typed[key] = kind(value)
            except (TypeError, ValueError):
                raise BNError(
                    f"serve setting {key} must be a {kind.__name__}, got {value!r}."
                ) from None
        return cls(**typed)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ServeSettings:
        """Settings from a YAML file of keys (``conf/serve/default.yaml`` has every key)."""
        import yaml

        file = Path(path)
        if not file.is_file():
            raise BNError(
                f"serve settings file {file} does not exist; see conf/serve/default.yaml."
            )
        doc = yaml.safe_load(file.read_text()) or {}
        if not isinstance(doc, dict):
            raise BNError(f"{file} must hold a mapping of serve settings; see conf/serve/.")
        return cls.from_mapping(doc)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain mapping."""
        return asdict(self)


#: Command-line flag -> (setting, help).
FLAGS = {
    "--max-wait-ms": ("max_wait_ms", "longest a request waits for its batch to fill"),
    "--max-batch-rows": ("max_batch_rows", "evidence rows per engine call at most"),
    "--max-queue-rows": ("max_queue_rows", "rows queued or running before 429"),
    "--max-request-rows": ("max_request_rows", "rows per request before 413"),
    "--max-request-bytes": ("max_request_bytes", "bytes per request body before 413"),
    "--deadline-ms": ("deadline_ms", "a request unanswered this long gets 504"),
    "--drain-seconds": ("drain_seconds", "after SIGTERM, /ready is 503 this long before closing"),
    "--shutdown-timeout": ("shutdown_timeout_s", "then in-flight requests get this long"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--settings``, ``--no-batching`` and one flag per numeric setting."""
    defaults = ServeSettings()
    parser.add_argument(
        "--settings", default=None, help="YAML of serve settings (conf/serve/default.yaml)"
    )
    parser.add_argument(
        "--batching", action=argparse.BooleanOptionalAction, default=None,
        help="gather concurrent requests into one engine call (default on)",
    )  # fmt: skip
    for flag, (key, text) in FLAGS.items():
        kind = type(getattr(defaults, key))
        parser.add_argument(
            flag, dest=key, type=kind, default=None,
            help=f"{text} (default {getattr(defaults, key)})",
        )  # fmt: skip


def from_args(args: argparse.Namespace) -> ServeSettings:
    """The settings of a parsed ``bnlab serve`` command line (file, then flags)."""
    path = getattr(args, "settings", None)
    base = ServeSettings.from_file(path) if path else ServeSettings()
    overrides: dict[str, Any] = {}
    if getattr(args, "batching", None) is not None:
        overrides["batching"] = bool(args.batching)
    for key, _ in FLAGS.values():
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    return replace(base, **overrides) if overrides else base
