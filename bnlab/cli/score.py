"""``bnlab score MODEL DATA --targets T --out DIR``: batch scoring from the command line.

Prints progress lines on stderr and a summary on stdout; bad input (a missing column, an
unknown state, an unreadable file, an output folder of another run) exits with code 2 and a
one-paragraph message, and leaves no half-written partition. Rerunning the same command
after an interruption scores only the partitions not yet written.
"""

from __future__ import annotations

import argparse
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from bnlab.ops.scoring.api import score
    from bnlab.ops.scoring.cluster import dask_client

    targets = [t.strip() for item in args.targets or [] for t in item.split(",") if t.strip()]
    with dask_client(args.scheduler, args.workers) as client:
        result = score(
            args.model,
            args.data,
            targets or None,
            out=args.out,
            interval=args.interval,
            draws=args.draws,
            seed=args.seed,
            client=client,
            id_column=args.id_column,
            method=args.method,
            batch_rows=args.batch_rows,
            progress=not args.quiet,
        )
    rate = result.rows / result.seconds if result.seconds > 0 else 0.0
    print(
        f"bnlab: scored {result.rows:,} rows in {result.scored} partition(s) "
        f"({result.skipped} already done) into {result.out} in {result.seconds:.1f} s "
        f"({rate:,.0f} rows/s)"
    )
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``score``."""
    p = subparsers.add_parser(
        "score", help="score partitioned data with a model; write scored Parquet partitions"
    )
    p.add_argument("model", help="model folder, posterior .nc, network file, or models:/NAME@ALIAS")
    p.add_argument("data", help="a Parquet file, folder or glob")
    p.add_argument(
        "--targets", "-t", action="append", help="target variable(s), comma-separated or repeated"
    )
    p.add_argument("--out", "-o", required=True, help="folder for the scored partitions")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786)")
    p.add_argument(
        "--workers", type=int, default=None, help="score on a LocalCluster of N processes"
    )
    p.add_argument("--interval", type=float, default=0.9, help="credible interval (0.9)")
    p.add_argument("--draws", type=int, default=None, help="posterior draws (model's default)")
    p.add_argument("--seed", type=int, default=None, help="seed of the draws (model's default)")
    p.add_argument("--id-column", default=None, help="copy only this input column to the output")
    p.add_argument(
        "--method", choices=("auto", "engine"), default="auto",
        help="auto: closed form for complete rows; engine: every row by the engine",
    )  # fmt: skip
    p.add_argument("--batch-rows", type=int, default=65_536, help="rows per record batch")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(func=_run)
