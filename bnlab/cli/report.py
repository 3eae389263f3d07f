"""The ``bnlab report EXPERIMENT_DIR|runs:/RUN_ID[/PATH] [--out DIR]`` subcommand.

The source is an experiment folder, or the artifacts of an MLflow run (``runs:/<run id>``,
optionally with the artifact folder that holds the experiment files); those are downloaded
from the tracking server set by ``MLFLOW_TRACKING_URI`` (or ``--tracking-uri``) into a
temporary folder first.

``bnlab.cli.main`` registers it with :func:`add_parser`; ``python -m bnlab.cli.report`` runs
it alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bnlab.errors import ArtifactError, BNError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of the report command to ``parser``."""
    parser.add_argument(
        "experiment_dir", help="experiment folder, or runs:/<run id>[/path] of an MLflow run"
    )
    parser.add_argument(
        "--out", default=None, help="output folder of index.html (default: the experiment folder)"
    )
    parser.add_argument("--interval", type=float, default=0.9, help="credible mass shown")
    parser.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (runs:/ only)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``report`` on an ``argparse`` subparsers object; returns its parser.

    The handler is stored as the ``func`` default: ``args.func(args)`` returns the exit code.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="build the self-contained HTML report of an experiment folder",
        description="Build reports/<experiment>/index.html from an experiment folder.",
    )
    add_arguments(parser)
    parser.set_defaults(func=handle)
    return parser


def handle(args: argparse.Namespace) -> int:
    """Run the report command; exit code 0, or 2 with a message on a bnlab error."""
    from bnlab.report.build import write_report

    t0 = time.perf_counter()
    try:
        source = str(args.experiment_dir)
        if source.startswith("runs:/"):
            with tempfile.TemporaryDirectory(prefix="bnlab-report-") as tmp:
                folder = download_run(source, tmp, getattr(args, "tracking_uri", None))
                out = args.out or Path("reports") / source.removeprefix("runs:/").split("/")[0]
                path = write_report(folder, out, interval=args.interval)
        else:
            path = write_report(source, args.out, interval=args.interval)
    except BNError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = path.stat().st_size
    print(f"wrote {path} ({size / 1e6:.2f} MB) in {time.perf_counter() - t0:.1f} s")
    return 0


def download_run(uri: str, dst: str, tracking_uri: str | None = None) -> Path:
    """Download the artifacts ``runs:/<run id>[/path]`` of an MLflow run into ``dst``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=dst, tracking_uri=tracking_uri
            )
        )
    except MlflowException as err:
        raise ArtifactError(
            f"cannot download the artifacts of {uri} ({err.message}); check the run id and "
            "MLFLOW_TRACKING_URI (or --tracking-uri)."
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bnlab.cli.report``."""
    parser = argparse.ArgumentParser(prog="bnlab report", description=__doc__)
    add_arguments(parser)
    return handle(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
