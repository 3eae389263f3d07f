"""The report's drift section: the last ``bnlab monitor`` verdict of the experiment's model.

``bnlab monitor <posterior> <batch> --out experiments/<name>/monitor.json`` writes the
verdict (:meth:`bnlab.monitor.DriftReport.to_json`); the report shows whether it alerted and
why, the families ranked by their evidence of change (the drifted ones highlighted), the
shifted marginals, the batch's surprise, and the columns with missing or unknown values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from bnlab.errors import ArtifactError
from bnlab.report import html as h

#: The file the report reads from the experiment folder.
MONITOR_FILE = "monitor.json"
_KEYS = ("alert", "families", "marginals", "quality", "thresholds")


def _frame(records: Any, key: str) -> pd.DataFrame:
    if not isinstance(records, list):
        raise ArtifactError(
            f"{MONITOR_FILE}: {key!r} must be a list of records; rewrite the file with "
            "`bnlab monitor ... --out`."
        )
    return pd.DataFrame.from_records(records)


def monitor_section(verdict: Mapping[str, Any] | None, *, max_rows: int = 20) -> h.Section:
    """Drift of new data against the model: the verdict of :func:`bnlab.monitor.drift`.

    Parameters
    ----------
    verdict
        The parsed ``monitor.json``, or ``None`` (the section then says how to produce it).
    max_rows
        Rows shown of the family and marginal tables (the rest are counted).
    """
    title = "Drift monitoring"
    if verdict is None:
        return h.Section(
            "monitor",
            title,
            h.not_run(
                "no drift check of new data yet; run `bnlab monitor <posterior.nc> <batch> "
                f"--out <experiment>/{MONITOR_FILE}` and rebuild the report."
            ),
        )
    absent = [k for k in _KEYS if k not in verdict]
    if absent:
        raise ArtifactError(
            f"{MONITOR_FILE} lacks {absent}; it is not a bnlab monitor verdict. Rewrite it "
            "with `bnlab monitor ... --out`."
        )
    families = _frame(verdict["families"], "families")
    marginals = _frame(verdict["marginals"], "marginals")
    quality = _frame(verdict["quality"], "quality")
    alert = bool(verdict["alert"])
    reasons = [str(r) for r in verdict.get("reasons", [])]
    headline = (
        f"ALERT: {'; '.join(reasons) if reasons else 'drift found'}."
        if alert
        else "No drift: every check stayed within its threshold."
    )
    body = h.paragraph(headline, "bad" if alert else "good")
    surprise = verdict.get("surprise_ppp")
    thresholds = verdict["thresholds"]
    body += h.paragraph(
        f"Surprise: posterior-predictive p-value of the batch's mean log P(record) = "
        f"{h.fmt(surprise)} (mean {h.fmt(verdict.get('mean_log_prob'))}; alert below "
        f"{h.fmt(thresholds.get('surprise_alpha'))}). Families and marginals are scored by the "
        f"log Bayes factor of a change (alert above {h.fmt(thresholds.get('family_log_bf'))} "
        f"and {h.fmt(thresholds.get('marginal_log_bf'))})."
    )
    if not families.empty:
        flag = "drifted" if "drifted" in families else None
        rows = [("bad" if bool(x) else "") for x in families[flag]] if flag else None
        body += "<h3>Families (P(variable | parents)), most changed first</h3>"
        body += h.table(families, row_class=rows, max_rows=max_rows)
    if not marginals.empty:
        shown = (
            marginals.sort_values("score", ascending=False) if "score" in marginals else marginals
        )
        flag = "shifted" if "shifted" in shown else None
        rows = [("bad" if bool(x) else "") for x in shown[flag]] if flag else None
        body += h.details(
            "Marginals", h.table(shown.reset_index(drop=True), row_class=rows, max_rows=max_rows)
        )
    if not quality.empty:
        cols = [c for c in ("missing_rate", "unknown_rate") if c in quality]
        worth = quality[(quality[cols] > 0).any(axis=1)] if cols else quality
        body += h.details(
            f"Data quality ({len(worth)} of {len(quality)} columns with missing or unknown values)",
            h.table(worth.reset_index(drop=True), max_rows=max_rows),
        )
    return h.Section("monitor", title, body)
