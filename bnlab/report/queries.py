"""Example queries for the report: ``P(target | its Markov blanket in a held-out row)``.

A reviewer sees what the model answers, and how sure it is, on concrete cases: for each target,
the prior query (no evidence) and a few held-out rows with the target's Markov blanket
(parents, children, children's other parents) observed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bnlab.errors import DataError
from bnlab.network import BayesNet, Structure, as_structure


def markov_blanket(structure: Structure | BayesNet, variable: str) -> tuple[str, ...]:
    """Parents, children and the children's other parents of ``variable``, topological order."""
    s = as_structure(structure)
    kids = s.children[variable]
    blanket = {*s.parents[variable], *kids, *(p for c in kids for p in s.parents[c])}
    blanket.discard(variable)
    return tuple(v for v in s.variables if v in blanket)


def example_queries(
    model: Any,
    data: pd.DataFrame,
    targets: Sequence[str],
    *,
    rows: int = 3,
    interval: float = 0.9,
    draws: int = 200,
    seed: int = 0,
    engine: Any = None,
) -> pd.DataFrame:
    """Answer a few example queries with credible intervals.

    Parameters
    ----------
    model
        A :class:`bnlab.Posterior` (intervals over CPT draws) or a :class:`bnlab.BayesNet`.
    data
        Held-out rows; the first ``rows`` whose blanket is fully observed give the evidence.
    targets
        Variables to query.
    rows
        Evidence rows per target (besides the prior query).
    interval, draws, seed
        Credible mass; number of CPT draws and their seed (posterior only).
    engine
        An already built :class:`bnlab.Engine` of ``model``.

    Returns
    -------
    pandas.DataFrame
        ``target, evidence`` (``"A=a, B=b"``, empty for the prior query), ``state, mean,
        lower, upper``.
    """
    from bnlab.infer import Engine

    s = as_structure(model.structure if hasattr(model, "structure") else model)
    if engine is None:
        engine = (
            Engine(model) if isinstance(model, BayesNet) else Engine(model, draws=draws, seed=seed)
        )
    frames = []
    for target in targets:
        if target not in s.states:
            raise DataError(f"example query target {target!r} is not a variable of the model.")
        blanket = [v for v in markov_blanket(s, target) if v in data.columns]
        complete = data[blanket].dropna().head(rows) if blanket else data.head(0)
        evidence: list[dict[str, str]] = [{}]
        evidence += [{v: str(r[v]) for v in blanket} for _, r in complete.iterrows()]
        answer = engine.query(target, evidence, interval=interval)
        text = [", ".join(f"{k}={x}" for k, x in e.items()) for e in evidence]
        frames.append(
            pd.DataFrame(
                {
                    "target": target,
                    "evidence": [text[int(i)] for i in answer["row"]],
                    "state": answer["state"].astype(str),
                    "mean": answer["mean"],
                    "lower": answer["lower"],
                    "upper": answer["upper"],
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["target", "evidence", "state", "mean", "lower", "upper"])
    return pd.concat(frames, ignore_index=True)
