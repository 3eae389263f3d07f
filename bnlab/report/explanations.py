"""Explanations of the example queries: evidence contributions, sensitivity, MPE.

For the first held-out rows of each target's example queries (:mod:`bnlab.report.queries`),
the model's answer ``P(target = s | evidence)`` (``s`` its most probable state) is explained
three ways with :mod:`bnlab.explain`:

- how each observed variable moves the answer (Shapley values with credible intervals over
  the posterior draws, and leave-one-out changes);
- which CPT entries the answer hangs on (derivatives under proportional co-variation, the
  largest first);
- the most probable full assignment of the unobserved variables, its probability and the
  runner-up's.

The evaluate stage writes them as JSON (:func:`explanations_to_json`); the report reads that
back with :func:`explanations_from_json`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from bnlab.errors import ArtifactError, BNError
from bnlab.explain.mpe import Explanation
from bnlab.network import BayesNet, Structure
from bnlab.report.queries import evidence_text, example_evidence, example_queries, markov_blanket

#: How many CPT entries (the largest ``|derivative|``) an explanation keeps.
TOP_ENTRIES = 10
#: Derivatives at most this large are rounding noise of entries the answer does not use.
ZERO_DERIVATIVE = 1e-12

CONTRIBUTION_COLUMNS = (
    "variable",
    "state",
    "shapley",
    "lower",
    "upper",
    "loo",
    "loo_lower",
    "loo_upper",
    "se",
)
SENSITIVITY_COLUMNS = ("variable", "parent_states", "state", "value", "derivative")


@dataclass(frozen=True)
class QueryExplanation:
    """Why the model gives ``P(target = state | evidence)`` the value it does.

    Attributes
    ----------
    target, state, evidence
        The query; ``evidence`` maps observed variables to their states.
    mean, lower, upper
        The answer and its credible interval (``lower == upper == mean`` for a network).
    prior
        ``P(target = state)`` with no evidence (mean over draws).
    contributions
        :func:`bnlab.explain.evidence_contributions` columns ``variable, state, shapley, loo``
        (+ ``lower, upper`` of the Shapley value with a posterior), largest ``|shapley|`` first.
    sensitivity
        The CPT entries with the largest non-zero ``|derivative|``: ``variable,
        parent_states`` (tuple), ``state, value, derivative``.
    mpe
        The most probable explanation (posterior-mean CPTs) and the runner-up.
    """

    target: str
    state: str
    evidence: dict[str, str]
    mean: float
    lower: float
    upper: float
    prior: float
    contributions: pd.DataFrame
    sensitivity: pd.DataFrame
    mpe: Explanation

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists); :meth:`from_dict` reads it back."""
        contrib = self.contributions[[c for c in CONTRIBUTION_COLUMNS if c in self.contributions]]
        sens = self.sensitivity[list(SENSITIVITY_COLUMNS)].copy()
        sens["parent_states"] = [list(p) for p in sens["parent_states"]]
        return {
            "target": self.target,
            "state": self.state,
            "evidence": dict(self.evidence),
            "mean": self.mean,
            "lower": self.lower,
            "upper": self.upper,
            "prior": self.prior,
            "contributions": contrib.to_dict(orient="records"),
            "sensitivity": sens.to_dict(orient="records"),
            "mpe": {
                "assignment": dict(self.mpe.assignment),
                "probability": self.mpe.probability,
                "runner_up": None if self.mpe.runner_up is None else dict(self.mpe.runner_up),
                "runner_up_probability": self.mpe.runner_up_probability,
            },
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> QueryExplanation:
        """Rebuild an explanation from :meth:`to_dict` output.

        Raises
        ------
        ArtifactError
            A key is missing or has the wrong type.
        """
        try:
            mpe = doc["mpe"]
            runner = mpe["runner_up"]
            sens = pd.DataFrame.from_records(
                list(doc["sensitivity"]), columns=list(SENSITIVITY_COLUMNS)
            )
            sens["parent_states"] = [tuple(str(s) for s in p) for p in sens["parent_states"]]
            return cls(
                target=str(doc["target"]),
                state=str(doc["state"]),
                evidence={str(k): str(v) for k, v in dict(doc["evidence"]).items()},
                mean=_number(doc["mean"]),
                lower=_number(doc["lower"]),
                upper=_number(doc["upper"]),
                prior=_number(doc["prior"]),
                contributions=_ordered(pd.DataFrame.from_records(list(doc["contributions"]))),
                sensitivity=sens,
                mpe=Explanation(
                    assignment={str(k): str(v) for k, v in dict(mpe["assignment"]).items()},
                    probability=_number(mpe["probability"]),
                    runner_up=None
                    if runner is None
                    else {str(k): str(v) for k, v in dict(runner).items()},
                    runner_up_probability=_number(mpe["runner_up_probability"]),
                ),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ArtifactError(
                f"an explanation record is malformed ({type(err).__name__}: {err}); rerun the "
                "evaluate stage, or delete the explanations file to leave its section out."
            ) from None


def _ordered(contributions: pd.DataFrame) -> pd.DataFrame:
    """Contribution columns in :data:`CONTRIBUTION_COLUMNS` order (JSON may sort keys)."""
    return contributions[[c for c in CONTRIBUTION_COLUMNS if c in contributions]]


def _number(value: Any) -> float:
    """A float from JSON, where ``None`` stands for a non-finite value."""
    return math.nan if value is None else float(value)


def explanations_to_json(explanations: Sequence[QueryExplanation]) -> dict[str, Any]:
    """The document the evaluate stage writes: ``{"explanations": [record, ...]}``."""
    return {"explanations": [e.to_dict() for e in explanations]}


def explanations_from_json(doc: Any) -> list[QueryExplanation]:
    """Read :func:`explanations_to_json` output back.

    Raises
    ------
    ArtifactError
        The document is not of that form.
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("explanations"), list):
        raise ArtifactError(
            'the explanations file must hold {"explanations": [...]}; rerun the evaluate stage.'
        )
    return [QueryExplanation.from_dict(r) for r in doc["explanations"]]


def blanket_network(net: BayesNet, target: str) -> BayesNet:
    """The sub-network of ``target`` and its Markov blanket that answers ``P(target | blanket)``.

    The target and its children keep their CPTs; the other blanket members (parents,
    co-parents) become roots with uniform CPTs. With the whole blanket observed, the query
    is ``P(t | pa) prod_c P(c | pa_c)`` normalised over ``t`` in both networks, so answers
    and derivatives with respect to the kept CPTs are the same, and every other CPT entry of
    ``net`` has derivative zero.
    """
    s = net.structure
    if target not in s.states:
        raise BNError(f"{target!r} is not a variable of the network.")
    kept = {target, *s.children[target]}
    members = {target, *markov_blanket(s, target)}
    variables = [v for v in s.variables if v in members]
    parents = {v: s.parents[v] if v in kept else () for v in variables}
    cpts = {
        v: net.cpt(v) if v in kept else np.full(s.cards[v], 1.0 / s.cards[v]) for v in variables
    }
    return BayesNet(variables, {v: s.states[v] for v in variables}, parents, cpts)


def query_sensitivity(
    net: BayesNet, target: str, state: str, evidence: Mapping[str, str], *, top: int = TOP_ENTRIES
) -> pd.DataFrame:
    """The ``top`` CPT entries with the largest non-zero ``|d P(target = state | e) / d theta|``.

    :func:`bnlab.explain.parameter_sensitivity`, run on :func:`blanket_network` when the
    evidence observes the target's whole Markov blanket (the same derivatives; a much smaller
    network to differentiate), else on ``net``.
    """
    from bnlab.explain.sensitivity import parameter_sensitivity  # JAX: only when explaining

    s = net.structure
    blanket = markov_blanket(s, target)
    if blanket and all(v in evidence for v in blanket):
        model = blanket_network(net, target)
        row = {v: evidence[v] for v in blanket}
        table = parameter_sensitivity(model, target, state, row)
        table = table[table["variable"].isin([target, *s.children[target]])]
    else:
        table = parameter_sensitivity(net, target, state, dict(evidence))
    # entries the answer does not depend on have derivative zero (up to rounding)
    table = table[np.abs(table["derivative"].to_numpy()) > ZERO_DERIVATIVE]
    return table.head(top).reset_index(drop=True)


def explain_query(
    engine: Any,
    target: str,
    evidence: Mapping[str, str],
    answer: pd.DataFrame,
    *,
    interval: float = 0.9,
    top: int = TOP_ENTRIES,
    seed: int = 0,
) -> QueryExplanation:
    """Explain the most probable state of one answered query.

    Parameters
    ----------
    engine
        A :class:`bnlab.Engine` of the model (over posterior draws for intervals).
    target, evidence
        The query.
    answer
        The answer's rows, one per state of ``target``: ``state, mean, lower, upper`` (as in
        :func:`bnlab.report.queries.example_queries` or ``engine.query``).
    interval
        Credible mass of the Shapley intervals.
    top
        CPT entries kept in the sensitivity table.
    seed
        Seed of the permutation estimator (above :data:`bnlab.explain.MAX_EXACT` observed
        variables).
    """
    from bnlab.explain import MAX_EXACT, evidence_contributions, most_probable_explanation
    from bnlab.infer import Engine

    best = answer.iloc[int(np.argmax(answer["mean"].to_numpy()))]
    state = str(best["state"])
    method: Literal["exact", "sampled"] = "exact" if len(evidence) <= MAX_EXACT else "sampled"
    contrib = evidence_contributions(
        engine, target, state, dict(evidence), method=method, interval=interval, seed=seed
    )
    point: BayesNet = engine.network
    mpe = most_probable_explanation(Engine(point), dict(evidence))
    return QueryExplanation(
        target=target,
        state=state,
        evidence=dict(evidence),
        mean=float(best["mean"]),
        lower=float(best["lower"]),
        upper=float(best["upper"]),
        prior=float(contrib.attrs["p_none"]),
        contributions=contrib,
        sensitivity=query_sensitivity(point, target, state, evidence, top=top),
        mpe=mpe,
    )


def explain_examples(
    engine: Any,
    data: pd.DataFrame,
    targets: Sequence[str],
    *,
    rows: int = 1,
    example_rows: int = 3,
    interval: float = 0.9,
    top: int = TOP_ENTRIES,
    seed: int = 0,
    answers: pd.DataFrame | None = None,
) -> list[QueryExplanation]:
    """Explain the first ``rows`` held-out example queries of each target.

    Parameters
    ----------
    engine
        A :class:`bnlab.Engine` of the model (over posterior draws for intervals).
    data
        Held-out rows, as for :func:`bnlab.report.queries.example_queries`.
    targets
        Variables whose example queries are explained.
    rows
        Explained evidence rows per target (the first ones).
    example_rows
        Evidence rows per target of the example queries: the answers are those queries
        (:func:`bnlab.report.queries.example_queries`), so the engine reuses their compiled
        batch shape.
    interval, top, seed
        As for :func:`explain_query`.
    answers
        The example queries, if already computed with the same engine (else computed here).

    Returns
    -------
    list of QueryExplanation
        Target by target; a target without a complete evidence row has none, and a row
        impossible under some CPT draw is left out.
    """
    from bnlab.errors import ImpossibleEvidenceError

    structure: Structure = engine.structure
    if answers is None:  # the example queries themselves: the same engine call and batch shape
        answers = example_queries(
            engine.network, data, targets, rows=max(rows, example_rows), interval=interval,
            engine=engine,
        )  # fmt: skip
    out = []
    for target in targets:
        for ev in example_evidence(structure, data, target, rows)[1:]:
            text = evidence_text(ev)
            mine = answers[(answers["target"] == target) & (answers["evidence"] == text)]
            if len(mine) == 0 or not np.isfinite(mine["mean"].to_numpy()).all():
                continue  # impossible under every draw: nothing to explain
            try:
                e = explain_query(
                    engine, target, ev, mine.reset_index(drop=True), interval=interval, top=top,
                    seed=seed,
                )  # fmt: skip
            except ImpossibleEvidenceError:
                continue  # impossible under some CPT draws: no interval for its contributions
            out.append(e)
    return out
