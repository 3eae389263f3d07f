"""The served model's request schema: inference settings, answer and explanation columns.

A request is a DataFrame of evidence (one column per observed variable, states as text,
missing = unobserved) plus params (:data:`PARAMS`); the answer has, per target state,
``P(T=s)_mean``, ``_lower`` and ``_upper`` columns (:func:`prediction_columns`), and with
``explain`` the columns of :func:`explanation_columns`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import pandas as pd

from bnlab.errors import BNError
from bnlab.network import BayesNet

#: Largest number of posterior draws a request may ask for.
MAX_DRAWS = 20_000
#: Engines (one per draws/seed pair) kept by a served model.
MAX_ENGINES = 4
#: Most contributions an explained row may carry (``explain_top``).
MAX_EXPLAIN_TOP = 20
#: Default number of contributions per target in an explained row.
EXPLAIN_TOP = 3
#: Permutations of the sampled Shapley estimator (rows observing more than MAX_EXACT).
EXPLAIN_PERMUTATIONS = 200
#: The params of an effect request (``effect_treatment`` set: the request asks for a causal
#: effect per input row instead of query probabilities; see :func:`effect_question`).
EFFECT_PARAMS = (
    "effect_treatment",
    "effect_treated",
    "effect_control",
    "effect_outcome",
    "effect_outcome_state",
    "effect_kind",
)
#: The pyfunc's inference params.
PARAMS = (
    "targets",
    "interval",
    "draws",
    "seed",
    "explain",
    "explain_top",
    "interval_method",
    *EFFECT_PARAMS,
)
#: Columns of an effect answer, one row per input row (a subgroup; an empty row is the
#: whole population).
EFFECT_COLUMNS = ("effect_mean", "effect_lower", "effect_upper", "effect_kind", "effect_formula")
#: How a served answer's interval is computed: over posterior draws, or by the delta method
#: from the Dirichlet parameters (see :mod:`bnlab.ops.serving.predict`).
INTERVAL_METHODS = ("sampled", "delta")


def default_targets(network: BayesNet) -> list[str]:
    """The first leaf of the network: what a BN is usually asked about."""
    leaves = [v for v in network.variables if not network.structure.children[v]]
    return leaves[:1] or [network.variables[-1]]


def check_settings(
    network: BayesNet, targets: Sequence[str] | None, interval: float, draws: int, seed: int
) -> list[str]:
    """Validate inference settings (shared by saving and by each pyfunc request).

    Returns the targets (the network's defaults when ``targets`` is empty).

    Raises
    ------
    BNError
        An unknown target, an interval outside (0, 1), draws outside [2, MAX_DRAWS] or a
        negative seed.
    """
    chosen = [str(t) for t in targets] if targets else default_targets(network)
    unknown = [t for t in chosen if t not in network.states]
    if unknown:
        raise BNError(
            f"targets {unknown} are not variables of the network; pick from "
            f"{list(network.variables)[:10]}."
        )
    if not 0.0 < float(interval) < 1.0:
        raise BNError(f"interval must lie in (0, 1), got {interval}.")
    if not 2 <= int(draws) <= MAX_DRAWS:
        raise BNError(f"draws must lie in [2, {MAX_DRAWS}], got {draws}.")
    if int(seed) < 0:
        raise BNError(f"seed must be non-negative, got {seed}.")
    return chosen


class EffectQuestion(NamedTuple):
    """A causal effect asked of a served model (see :func:`bnlab.causal.effect`)."""

    treatment: str
    treated: str
    control: str
    outcome: str
    outcome_state: str
    kind: str


def effect_question(network: BayesNet, given: Mapping[str, Any]) -> EffectQuestion | None:
    """The effect question of a request's params, or ``None`` when it asks for none.

    An effect request names ``effect_treatment``, ``effect_treated``, ``effect_control``,
    ``effect_outcome`` and ``effect_outcome_state`` (states as text) and optionally
    ``effect_kind`` (``"ate"``, the default, ``"rr"`` or ``"or"``). Empty strings count as
    absent (MLflow fills params a request leaves out with the signature's defaults).

    Raises
    ------
    BNError
        A partial question, an unknown variable or state, or a bad kind; the message names
        the param.
    """
    values = {k: str(given[k]).strip() for k in EFFECT_PARAMS if given.get(k) not in (None, "")}
    values = {k: v for k, v in values.items() if v}
    if not values:
        return None
    needed = [k for k in EFFECT_PARAMS[:-1] if k not in values]
    if needed:
        raise BNError(
            f"params: an effect request needs {', '.join(EFFECT_PARAMS[:-1])}; missing "
            f"{', '.join(needed)}."
        )
    kind = values.get("effect_kind", "ate")
    if kind not in ("ate", "rr", "or"):
        raise BNError(f"params: effect_kind must be 'ate', 'rr' or 'or', got {kind!r}.")
    for var_key, state_keys in (
        ("effect_treatment", ("effect_treated", "effect_control")),
        ("effect_outcome", ("effect_outcome_state",)),
    ):
        var = values[var_key]
        if var not in network.states:
            raise BNError(
                f"params: {var_key}={var!r} is not a variable of the model; pick from "
                f"{list(network.variables)[:10]}."
            )
        for key in state_keys:
            if values[key] not in network.states[var]:
                raise BNError(
                    f"params: {key}={values[key]!r} is not a state of {var!r}; its states are "
                    f"{list(network.states[var])}."
                )
    if values["effect_treatment"] == values["effect_outcome"]:
        raise BNError("params: effect_treatment and effect_outcome name the same variable.")
    return EffectQuestion(
        values["effect_treatment"],
        values["effect_treated"],
        values["effect_control"],
        values["effect_outcome"],
        values["effect_outcome_state"],
        kind,
    )


def prediction_columns(network: BayesNet, targets: Sequence[str]) -> list[str]:
    """Output column names of the pyfunc, in order."""
    return [
        f"P({t}={s})_{stat}"
        for t in targets
        for s in network.states[t]
        for stat in ("mean", "lower", "upper")
    ]


def explanation_columns(targets: Sequence[str], top: int) -> list[str]:
    """Columns that ``params={"explain": True, "explain_top": top}`` adds, in order."""
    cols: list[str] = []
    for t in targets:
        cols += [f"explain({t})_{c}" for c in ("state", "baseline", "method")]
        for k in range(1, top + 1):
            cols += [
                f"explain({t})_{k}_{c}"
                for c in ("variable", "state", "shapley", "lower", "upper", "se")
            ]
    return cols


def model_signature(network: BayesNet, manifest: Mapping[str, Any], data_schema: Any = None) -> Any:
    """MLflow signature: optional input columns, the params schema, per-state outputs.

    Inputs are strings (state names), except the numeric columns of a ``data_schema``
    (:class:`bnlab.Schema`), which take raw numbers (``double``) and are binned by the model.
    """
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    numeric = numeric_columns(data_schema)
    inputs = Schema(
        [
            ColSpec("double" if v in numeric else "string", v, required=False)
            for v in network.variables
        ]
    )
    outputs = Schema(
        [ColSpec("double", c) for c in prediction_columns(network, manifest["targets"])]
    )
    params = ParamSchema(
        [
            ParamSpec("targets", "string", ",".join(manifest["targets"])),
            ParamSpec("interval", "double", float(manifest["interval"])),
            ParamSpec("draws", "long", int(manifest["draws"])),
            ParamSpec("seed", "long", int(manifest["seed"])),
            ParamSpec("explain", "boolean", False),
            ParamSpec("explain_top", "long", EXPLAIN_TOP),
            ParamSpec("interval_method", "string", str(manifest.get("interval_method", "sampled"))),
            *(ParamSpec(name, "string", "") for name in EFFECT_PARAMS),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def numeric_columns(data_schema: Any) -> set[str]:
    """Columns of a :class:`bnlab.Schema` that take raw numbers (integer or discretized)."""
    if data_schema is None:
        return set()
    return {c.name for c in data_schema.columns if c.kind in ("integer", "discretized")}


def _example_value(data_schema: Any, variable: str, state: str) -> Any:
    if variable not in numeric_columns(data_schema):
        return state
    col = data_schema.column(variable)
    if col.bins is None:
        return float(state)
    k = col.states.index(state)
    edges = [col.bins.low, *col.bins.cuts, col.bins.high]
    return float((edges[k] + edges[k + 1]) / 2.0)


def default_input_example(
    network: BayesNet, targets: Sequence[str], data_schema: Any = None
) -> pd.DataFrame:
    """Two evidence rows over the first three non-target variables (first state, then last).

    With a ``data_schema`` numeric columns hold a raw number of that state.
    """
    observed = [v for v in network.variables if v not in targets][:3]
    return pd.DataFrame(
        {
            v: [_example_value(data_schema, v, network.states[v][i]) for i in (0, -1)]
            for v in observed
        }
    )
