"""Stage ``report``: the experiment's self-contained HTML report, built from its folder.

The page is :mod:`bnlab.report`'s (verdict, graph, posterior CPTs, MCMC diagnostics, audit,
calibration, coverage, predictive checks, example queries and their explanations, drift,
provenance); every section whose file is absent from the folder says it did not run. The
DVC pipeline calls the same builder through ``bnlab report``; ``bnlab-experiment`` calls
:func:`write_page` for its run folder.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bnlab.ops.config import load_params
from bnlab.stages import common


def write_page(
    experiment_dir: str | os.PathLike[str], html: str | os.PathLike[str], interval: float = 0.9
) -> Path:
    """Build the report of ``experiment_dir`` and write it to ``html`` atomically."""
    from bnlab.report.build import atomic_write_text, build_report, load_experiment

    page = build_report(interval=interval, **load_experiment(experiment_dir))
    return atomic_write_text(html, page)


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m bnlab.stages.report``."""
    p = common.parser("report", __doc__ or "")
    p.add_argument("--experiment", required=True, help="input: the experiment's folder")
    p.add_argument("--html", required=True, help="output: the report page (.html)")
    return p


def run(args: argparse.Namespace) -> None:
    """Read the experiment folder and write the report page."""
    cfg = load_params(args.params, root=args.root)
    write_page(args.experiment, args.html, interval=cfg.evaluate.interval)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 on a bnlab error."""
    return common.main(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
