"""Stage ``report``: a self-contained HTML page of the run's metrics, verdict and tables.

A minimal report (tables only, no external resources); the full report with the graph,
posterior CPT plots and diagnostics is :mod:`bnlab.report`'s job.
"""

from __future__ import annotations

import argparse
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bnlab.config import load_params
from bnlab.errors import DataError
from bnlab.stages import common

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
    "text-align:left}th{background:#f4f4f4}.pass{color:#060}.fail{color:#a00}"
)


def _table(rows: Sequence[Mapping[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def render(
    name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    verdict: Mapping[str, Any],
    calibration: pd.DataFrame,
) -> str:
    """The report page as one HTML string (no scripts, no external resources)."""
    passed = bool(verdict.get("passed"))
    label = '<b class="pass">PASSED</b>' if passed else '<b class="fail">FAILED</b>'
    checks = [dict(c) for c in verdict.get("checks", [])]
    check_cols = ["name", "value", "threshold", "comparison", "passed", "detail"]
    check_cols = [c for c in check_cols if any(c in row for row in checks)] or ["name"]
    metric_rows = [{"metric": k, "value": v} for k, v in sorted(metrics.items())]
    curve_rows = calibration.to_dict(orient="records")
    curve_cols = [str(c) for c in calibration.columns]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>bnlab report: {html.escape(name)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>bnlab report: {html.escape(name)}</h1>"
        f"<h2>Vetting verdict: {label}</h2>{_table(checks, check_cols)}"
        f"<h2>Metrics</h2>{_table(metric_rows, ['metric', 'value'])}"
        f"<h2>Calibration (reliability curves)</h2>{_table(curve_rows, curve_cols)}"
        "<h2>Parameters</h2><pre>"
        f"{html.escape(json.dumps(params, indent=2, sort_keys=True, default=str))}</pre>"
        "</body></html>\n"
    )


def _read_json(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path!r} as JSON ({err}); run the evaluate stage.") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path!r} does not hold a JSON object.")
    return doc


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m bnlab.stages.report``."""
    p = common.parser("report", __doc__ or "")
    p.add_argument("--metrics", required=True, help="input: flat metrics (.json)")
    p.add_argument("--verdict", required=True, help="input: vetting verdict (.json)")
    p.add_argument("--calibration", required=True, help="input: reliability curves (.csv)")
    p.add_argument("--html", required=True, help="output: the report page (.html)")
    return p


def run(args: argparse.Namespace) -> None:
    """Read the evaluation outputs and write the report page."""
    from bnlab.config import as_dict

    cfg = load_params(args.params, root=args.root)
    metrics = _read_json(args.metrics)
    verdict = _read_json(args.verdict)
    try:
        curve = pd.read_csv(args.calibration)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {args.calibration!r} ({err}).") from None
    common.write_text(args.html, render(cfg.name, as_dict(cfg), metrics, verdict, curve))


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 on a bnlab error."""
    return common.main(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
