"""The most probable explanation of an evidence row, with its probability and the runner-up.

The runner-up (the second most probable full assignment) differs from the best one in at
least one unobserved variable, so it is the best assignment with some ``X_i`` forced to a
state other than its MPE state: one batched MPE call over every such forcing finds it
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bnlab.errors import ImpossibleEvidenceError
from bnlab.infer.evidence import encode_evidence


@dataclass(frozen=True)
class Explanation:
    """The best and second-best assignments of the unobserved variables.

    Attributes
    ----------
    assignment, runner_up
        ``{variable: state}`` for every unobserved variable (``runner_up`` is ``None``
        when every unobserved variable is fixed by the evidence).
    probability, runner_up_probability
        ``P(assignment | evidence)`` and ``P(runner_up | evidence)``.
    """

    assignment: dict[str, str]
    probability: float
    runner_up: dict[str, str] | None
    runner_up_probability: float


def most_probable_explanation(model: Any, evidence: Any) -> Explanation:
    """MPE of one evidence row with its posterior probability, and the runner-up.

    Parameters
    ----------
    model
        A network, a posterior (its mean network is used) or an engine.
    evidence
        One evidence row.
    """
    from bnlab.explain.contributions import engine_for  # JAX: only when explaining

    engine = engine_for(model, None, 0)
    s = engine.structure
    codes = encode_evidence(s, evidence)
    if codes.shape[0] != 1:
        raise ValueError("most_probable_explanation takes one evidence row.")
    row = codes[0]
    log_pe = float(np.asarray(engine.log_prob(codes, point=True)).reshape(-1)[0])
    if not np.isfinite(log_pe):
        raise ImpossibleEvidenceError([0])
    best = engine.mpe(codes)
    free = np.flatnonzero(row < 0)
    best_codes = np.array([best[v].cat.codes.iloc[0] for v in s.variables])
    assignment = {s.variables[j]: s.states[s.variables[j]][best_codes[j]] for j in free}
    probability = float(np.exp(best["log_prob"].iloc[0] - log_pe))
    forced = [(j, x) for j in free for x in range(s.cards[s.variables[j]]) if x != best_codes[j]]
    if not forced:
        return Explanation(assignment, probability, None, 0.0)
    rows = np.repeat(codes, len(forced), axis=0)
    for r, (j, x) in enumerate(forced):
        rows[r, j] = x
    alt = engine.mpe(rows, on_impossible="nan")
    logp = alt["log_prob"].to_numpy(dtype=np.float64)
    if np.all(np.isnan(logp)):
        return Explanation(assignment, probability, None, 0.0)
    k = int(np.nanargmax(logp))
    runner = {s.variables[j]: str(alt[s.variables[j]].iloc[k]) for j in free}
    return Explanation(assignment, probability, runner, float(np.exp(logp[k] - log_pe)))
