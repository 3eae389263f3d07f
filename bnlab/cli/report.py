"""The ``bnlab report EXPERIMENT_DIR|runs:/RUN_ID[/PATH] [--out DIR]`` subcommand.

The source is an experiment folder, or the artifacts of an MLflow run (``runs:/<run id>``,
optionally with the artifact folder that holds the experiment files); those are downloaded
from the tracking server set by ``MLFLOW_TRACKING_URI`` (or ``--tracking-uri``) into a
temporary folder first.

``bnlab.cli.commands`` registers it with :func:`add_parser`; ``python -m bnlab.cli.report`` runs
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
                folder = run_report_folder(source, tmp, getattr(args, "tracking_uri", None))
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


def run_uri(uri: str) -> str:
    """``runs:/<run id>`` as MLflow wants it: a run's whole artifact root needs ``runs:/<id>/``."""
    rest = uri.removeprefix("runs:/").strip("/")
    if not rest:
        raise ArtifactError(f"{uri!r} names no run; write runs:/<run id>[/artifact path].")
    return f"runs:/{rest}" if "/" in rest else f"runs:/{rest}/"


def report_folder(downloaded: Path, uri: str) -> Path:
    """The folder to report from: the run's experiment files, or a bnlab model it logged.

    An experiment run (``bnlab-experiment``) logs the experiment folder; an export run logs a
    model whose data folder holds the posterior, network, verdict and config.
    """
    from bnlab.report.paths import FILES

    names = (FILES.posterior, FILES.structure, FILES.network)
    if any((downloaded / name).exists() for name in names):
        return downloaded
    models = sorted(
        m.parent for m in downloaded.rglob("model.json") if (m.parent / FILES.network).exists()
    )
    if models:
        return models[0]
    raise ArtifactError(
        f"the artifacts of {uri} hold neither experiment files ({', '.join(names)}) nor a bnlab "
        "model; give the run of a bnlab-experiment job or of a `bnlab export`, or an "
        "experiment folder."
    )


def run_report_folder(uri: str, dst: str, tracking_uri: str | None = None) -> Path:
    """Download what a run holds to report from into ``dst`` and return that folder.

    The run's artifacts first; MLflow 3 keeps a model logged in a run apart from the run's
    artifacts (a logged model, ``models:/<model id>``), so for an export run the model the
    run logged is downloaded instead.
    """
    downloaded = download_run(uri, str(Path(dst) / "run"), tracking_uri)
    try:
        return report_folder(downloaded, uri)
    except ArtifactError:
        models = logged_models(uri, tracking_uri)
        if not models:
            raise
        import mlflow

        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{models[0]}",
            dst_path=str(Path(dst) / "model"),
            tracking_uri=tracking_uri,
        )
        return report_folder(Path(local), uri)


def logged_models(uri: str, tracking_uri: str | None = None) -> list[str]:
    """Ids of the models logged by the run of ``runs:/<run id>`` (none for a sub-path URI)."""
    from mlflow.tracking import MlflowClient

    rest = uri.removeprefix("runs:/").strip("/")
    if not rest or "/" in rest:
        return []
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(rest)
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{rest}'"
    )
    return [m.model_id for m in found]


def download_run(uri: str, dst: str, tracking_uri: str | None = None) -> Path:
    """Download the artifacts ``runs:/<run id>[/path]`` of an MLflow run into ``dst``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = run_uri(uri)
    try:
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=dst, tracking_uri=tracking_uri
            )
        )
    except (MlflowException, OSError) as err:
        raise ArtifactError(
            f"cannot download the artifacts of {uri} ({getattr(err, 'message', err)}); check "
            "the run id and MLFLOW_TRACKING_URI (or --tracking-uri)."
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bnlab.cli.report``."""
    parser = argparse.ArgumentParser(prog="bnlab report", description=__doc__)
    add_arguments(parser)
    return handle(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
