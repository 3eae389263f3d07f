"""An experiment's declared effect questions (``conf/causal/``) answered as flat metrics.

The evaluate step calls :func:`effect_metrics`; each question gives the metrics
``causal.<name>.mean``, ``.lower`` and ``.upper`` (tracked in MLflow and ``metrics.json``),
and :func:`effects_table` turns them back into the report's table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

#: Columns of :func:`effects_table`.
EFFECT_COLUMNS = ("name", "question", "kind", "mean", "lower", "upper")


def question_text(q: Any) -> str:
    """``P(outcome=state | do(treatment=treated), given) vs control``, as one line."""
    given = dict(getattr(q, "given", None) or {})
    cond = ", ".join(f"{k}={v}" for k, v in sorted(given.items()))
    sub = f", {cond}" if cond else ""
    return (
        f"P({q.outcome}={q.outcome_state} | do({q.treatment}={q.treated}){sub}) vs "
        f"do({q.treatment}={q.control})"
    )


def effect_metrics(
    post: Any, questions: Iterable[Any], *, draws: int, interval: float, seed: int
) -> dict[str, float]:
    """Answer every question over ``draws`` posterior draws; flat metrics per question."""
    from bnlab.causal.effects import effect

    out: dict[str, float] = {}
    for q in questions:
        res = effect(
            post,
            q.treatment,
            q.outcome,
            treated=q.treated,
            control=q.control,
            outcome_state=q.outcome_state,
            given=dict(q.given) if q.given else None,
            kind=q.kind,
            interval=interval,
            draws=draws,
            seed=seed,
            latent=[v if isinstance(v, str) else tuple(v) for v in q.latent],
        )
        for col in ("mean", "lower", "upper"):
            out[f"causal.{q.name}.{col}"] = float(res[col].iloc[0])
    return out


def effects_table(
    metrics: Mapping[str, Any], questions: Iterable[Mapping[str, Any]] = ()
) -> pd.DataFrame:
    """The report's table from ``causal.<name>.<stat>`` metrics (and the questions, if known)."""
    known = {str(q.get("name")): q for q in questions}
    rows: dict[str, dict[str, Any]] = {}
    for key, value in metrics.items():
        parts = str(key).split(".")
        if len(parts) == 3 and parts[0] == "causal" and parts[2] in ("mean", "lower", "upper"):
            rows.setdefault(parts[1], {})[parts[2]] = value
    records = []
    for name, stats in rows.items():
        q = known.get(name)
        text, kind = "", ""
        if q is not None:
            text = question_text(_Q(q))
            kind = str(q.get("kind", "ate"))
        records.append({"name": name, "question": text, "kind": kind, **stats})
    return pd.DataFrame(records, columns=list(EFFECT_COLUMNS))


class _Q:
    def __init__(self, q: Mapping[str, Any]) -> None:
        self.__dict__.update(q)
