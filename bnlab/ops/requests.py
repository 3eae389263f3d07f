"""The served model's request schema: inference settings, answer and explanation columns.

A request is a DataFrame of evidence (one column per observed variable, states as text,
missing = unobserved) plus params (:data:`PARAMS`); the answer has, per target state,
``P(T=s)_mean``, ``_lower`` and ``_upper`` columns (:func:`prediction_columns`), and with
``explain`` the columns of :func:`explanation_columns`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
#: The pyfunc's inference params.
PARAMS = ("targets", "interval", "draws", "seed", "explain", "explain_top", "interval_method")
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
