"""``bnlab serve``: the served model over HTTP: MLflow scoring, Prometheus metrics, probes."""

from __future__ import annotations

import logging
import os
from typing import Any

from bnlab.ops.serve import HOST, PORT, VERDICT_ENV, serve
from bnlab.ops.serving.settings import add_arguments, from_args


def run(args: Any) -> int:
    """``bnlab serve`` entry point."""
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    serve(
        args.model,
        host=args.host,
        port=args.port,
        tracking_uri=args.tracking_uri,
        verdict=args.drift_verdict or os.environ.get(VERDICT_ENV) or None,
        log_level=args.log_level,
        settings=from_args(args),
    )
    return 0


def add_parser(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    p = subparsers.add_parser(
        "serve", help="serve a bnlab model over HTTP with Prometheus metrics and probes"
    )
    p.add_argument("model", help="models:/NAME@ALIAS, runs:/RUN/PATH or a model folder")
    p.add_argument("--host", default=HOST, help=f"address to bind (default {HOST})")
    p.add_argument("--port", type=int, default=PORT, help=f"TCP port (default {PORT})")
    p.add_argument("--tracking-uri", default=None, help="MLflow registry URI for models:/ URIs")
    p.add_argument(
        "--drift-verdict",
        default=None,
        help=f"JSON written by `bnlab monitor --out`, exported as gauges (or ${VERDICT_ENV})",
    )
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    add_arguments(p)
    p.set_defaults(func=run)
