"""``bnlab convert IN OUT``: read a network file and write it in another format."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _convert(args: argparse.Namespace) -> int:
    from bnlab.io.convert import convert

    net = convert(
        args.source,
        args.target,
        source_format=args.source_format,
        target_format=args.target_format,
        on_unsupported="drop" if args.drop_unsupported else "error",
    )
    print(
        f"bnlab: wrote {args.target} ({len(net.variables)} variables, {len(net.edges)} edges)",
        file=sys.stderr,
    )
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``convert``."""
    p = subparsers.add_parser(
        "convert",
        help="convert a network file (.bif .json .xml .xmlbif .bifxml .net .uai .xdsl .dsl, + .gz)",
    )
    p.add_argument("source", help="network file to read (format from its suffix)")
    p.add_argument("target", help="file to write (format from its suffix)")
    p.add_argument("--from", dest="source_format", default=None, help="format of SOURCE")
    p.add_argument("--to", dest="target_format", default=None, help="format of TARGET")
    p.add_argument(
        "--drop-unsupported",
        action="store_true",
        help="drop decision, utility and continuous nodes (with a warning) instead of failing",
    )
    p.set_defaults(func=_convert)
