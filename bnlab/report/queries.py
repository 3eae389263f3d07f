"""Example queries for the report: ``P(target | its Markov blanket in a held-out row)``.

A reviewer sees what the model answers, and how sure it is, on concrete cases: for each target,
the prior query (no evidence) and a few distinct held-out rows with the target's Markov blanket
(parents, children, children's other parents) observed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
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


def example_evidence(
    structure: Structure | BayesNet, data: pd.DataFrame, target: str, rows: int
) -> list[dict[str, str]]:
    """Evidence of a target's example queries: ``{}`` (the prior query), then held-out rows.

    The rows are the first ``rows`` distinct evidence rows of ``data`` with every
    Markov-blanket column (of those present in ``data``) observed, as ``{variable: state}``.

    Raises
    ------
    DataError
        ``target`` is not a variable of ``structure``.
    """
    s = as_structure(structure)
    if target not in s.states:
        raise DataError(f"example query target {target!r} is not a variable of the model.")
    blanket = [v for v in markov_blanket(s, target) if v in data.columns]
    complete = data[blanket].dropna().drop_duplicates().head(rows) if blanket else data.head(0)
    evidence: list[dict[str, str]] = [{}]
    evidence += [{v: str(r[v]) for v in blanket} for _, r in complete.iterrows()]
    return evidence


def evidence_text(evidence: dict[str, str]) -> str:
    """``"A=a, B=b"``: one evidence row as the report shows it (empty for no evidence)."""
    return ", ".join(f"{k}={x}" for k, x in evidence.items())


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
        Held-out rows; the first ``rows`` distinct ones with the blanket fully observed give
        the evidence (:func:`example_evidence`).
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
    from bnlab.infer.intervals import sampled_interval

    s = as_structure(model.structure if hasattr(model, "structure") else model)
    if engine is None:
        engine = (
            Engine(model) if isinstance(model, BayesNet) else Engine(model, draws=draws, seed=seed)
        )
    columns = ["target", "evidence", "state", "mean", "lower", "upper"]
    if not targets:
        return pd.DataFrame(columns=columns)
    # every target's evidence in one engine call: one compiled batch shape for all of them
    evidence = {t: example_evidence(s, data, t, rows) for t in targets}
    batch = [e for t in targets for e in evidence[t]]
    # a row impossible under some CPT draws (a draw's entry can underflow to zero) is NaN
    # there and summarised over the other draws; NaN throughout if impossible under all
    marg = engine.marginals(batch, variables=list(dict.fromkeys(targets)), on_impossible="nan")
    frames = []
    start = 0
    for target in targets:
        n, states = len(evidence[target]), s.states[target]
        p = np.asarray(marg[target][..., start : start + n, :], dtype=np.float64)
        start += n
        if p.ndim == 3 and not np.isnan(p).any():  # (draws, rows, states): over the draws
            mean, lower, upper = sampled_interval(p, interval)
        elif p.ndim == 3:
            with warnings.catch_warnings():  # all-NaN rows stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(p, axis=0)
                lower, upper = np.nanquantile(p, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
        else:
            mean = lower = upper = p
        frames.append(
            pd.DataFrame(
                {
                    "target": target,
                    "evidence": np.repeat(
                        [evidence_text(e) for e in evidence[target]], len(states)
                    ),
                    "state": np.tile(np.array(states, dtype=object), n),
                    "mean": mean.reshape(-1),
                    "lower": lower.reshape(-1),
                    "upper": upper.reshape(-1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[columns]
