"""``bnlab monitor``: check a new batch of records against an exported model's posterior."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from bnlab.errors import BNError


def load_reference(source: str) -> Any:
    """The reference posterior: a NetCDF file or an MLflow model URI / folder."""
    from bnlab.posterior import load_posterior

    if source.endswith(".nc") and Path(source).is_file():
        return load_posterior(source)
    from bnlab.mlflow import load_model

    model = load_model(source)
    if model.posterior is None:
        raise BNError(f"{source} holds a network without a posterior; drift needs the posterior.")
    return model.posterior


def load_batch(path: str) -> Any:
    """A batch of records from Parquet or CSV (all columns read as text)."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise BNError(f"batch file {path} does not exist.")
    if p.suffix == ".csv":
        return pd.read_csv(p, dtype=str, keep_default_na=True)
    return pd.read_parquet(p)


def load_thresholds(path: str) -> dict[str, float]:
    """Thresholds from a YAML mapping (``conf/monitor/default.yaml`` has every key)."""
    p = Path(path)
    if not p.is_file():
        raise BNError(f"thresholds file {path} does not exist; see conf/monitor/default.yaml.")
    doc = yaml.safe_load(p.read_text())
    if not isinstance(doc, dict):
        raise BNError(f"thresholds file {path} must hold a mapping of threshold: value.")
    return doc


def run(args: argparse.Namespace) -> int:
    """Run the drift checks and write/print the JSON verdict."""
    from bnlab.io.files import atomic_write
    from bnlab.monitor import drift

    thresholds = load_thresholds(args.thresholds) if args.thresholds else None
    report = drift(
        load_reference(args.model),
        load_batch(args.batch),
        thresholds=thresholds,
        replicates=args.replicates,
        seed=args.seed,
        **({} if args.surprise_rows is None else {"surprise_rows": args.surprise_rows}),
    )
    text = report.to_json()
    if args.out:
        atomic_write(args.out, text.encode())
    print(("ALERT: " + "; ".join(report.reasons)) if report.alert else "no drift detected")
    print(report.families.head(5).to_string(index=False), file=sys.stderr)
    return 1 if report.alert and args.fail_on_alert else 0


def add_parser(subparsers: Any) -> None:
    """Add the ``monitor`` subcommand."""
    p = subparsers.add_parser(
        "monitor",
        help="check a new batch against a model's posterior (drift, surprise, data quality)",
    )
    p.add_argument("model", help="posterior .nc file, or an MLflow model URI (models:/NAME@ALIAS)")
    p.add_argument("batch", help="new records: a Parquet or CSV file")
    p.add_argument("--thresholds", default=None, help="YAML of thresholds (conf/monitor/...)")
    p.add_argument("--out", default=None, help="write the JSON verdict here")
    p.add_argument("--replicates", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--surprise-rows",
        type=int,
        default=None,
        help="most rows of the surprise check; a random subset beyond (default 10000)",
    )
    p.add_argument("--fail-on-alert", action="store_true", help="exit 1 when drift is found")
    p.set_defaults(func=run)
