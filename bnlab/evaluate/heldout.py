"""Calibration of a model on held-out data: P(target | the rest of each row) from the engine.

For each held-out row the target column is hidden and the engine gives the posterior
predictive ``P(target | the other observed columns)``; the metrics of
:mod:`bnlab.evaluate.calibration_metrics` compare these predictions with the hidden values. With a
:class:`~bnlab.posterior.Posterior` the engine runs over CPT draws: the point metrics use the
posterior predictive (the mean over draws), and each metric also gets its distribution over
draws (mean and equal-tailed interval), the reliability curve a band.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.data import encode
from bnlab.errors import BNError, DataError, StructureError
from bnlab.evaluate import calibration_metrics as metrics
from bnlab.infer.blanket import blanket_predictive, complete_rows
from bnlab.network import BayesNet, Structure


def _structure(model: Any) -> Structure:
    if isinstance(model, BayesNet):
        return model.structure
    if hasattr(model, "draws") and hasattr(model, "mean") and hasattr(model, "structure"):
        return model.structure  # type: ignore[no-any-return]
    raise BNError(
        f"calibration needs a bnlab BayesNet or Posterior, got {type(model).__name__}; fit one "
        "with bnlab.fit(...) or read one with bnlab.read_network(...)."
    )


def check_target(structure: Structure, data: pd.DataFrame, target: str) -> None:
    """Raise a typed error unless ``target`` is a variable and a column of ``data``."""
    if target not in structure.states:
        raise StructureError(
            f"target {target!r} is not a variable of the model; choose one of "
            f"{list(structure.variables[:10])}{' ...' if len(structure.variables) > 10 else ''}."
        )
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"held-out data must be a pandas DataFrame, got {type(data).__name__}.")
    if target not in data.columns:
        raise DataError(
            f"the held-out data have no column {target!r}; calibration compares predictions "
            "of the target with its observed values, so the column is required."
        )


def predict_target(
    model: Any,
    data: pd.DataFrame,
    target: str,
    *,
    draws: int = 200,
    seed: int = 0,
    engine: Any = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Predict ``target`` from the other observed columns of each row that observes it.

    Parameters
    ----------
    model
        A BayesNet or a Posterior.
    data
        Held-out rows, one column per variable (NaN = unobserved; missing columns are
        treated as unobserved).
    target
        The variable to predict.
    draws, seed
        Posterior draws the engine runs over (a Posterior only).
    engine
        A ready :class:`~bnlab.infer.Engine` of ``model`` (built when ``None``).

    Returns
    -------
    (probs, labels)
        ``probs`` is ``(n, K)`` for a network or ``(draws, n, K)`` for a posterior, over the
        rows whose target is observed; ``labels`` are those rows' target codes. A row whose
        evidence has probability zero under the model (or under one draw) is NaN there.
    """
    s = _structure(model)
    check_target(s, data, target)
    cols = [v for v in s.variables if v in data.columns]
    frame = data[cols]
    target_codes = encode(frame[[target]], Structure([target], {target: s.states[target]}))[:, 0]
    keep = np.flatnonzero(target_codes >= 0)
    if keep.size == 0:
        raise DataError(f"no held-out row observes {target!r}; nothing to calibrate against.")
    evidence = frame.iloc[keep].reset_index(drop=True)
    if engine is None:
        from bnlab.infer import Engine

        engine = (
            Engine(model) if isinstance(model, BayesNet) else Engine(model, draws=draws, seed=seed)
        )
    # Complete rows (all but the target observed) are answered from the target's Markov
    # blanket by table look-ups (exact, no engine run); rows with missing cells by the engine.
    codes = np.full((len(evidence), len(s.variables)), -1, dtype=np.int64)
    for v in cols:
        codes[:, s.index[v]] = encode(evidence[[v]], Structure([v], {v: s.states[v]}))[:, 0]
    direct = complete_rows(s, codes, target)
    cpts = engine.cpt_arrays()
    with_draws = engine.n_draws is not None
    k = s.cards[target]
    shape = (engine.n_draws, len(evidence), k) if with_draws else (len(evidence), k)
    probs = np.empty(shape, dtype=np.float64)
    if direct.any():
        probs[..., direct, :] = blanket_predictive(
            s, cpts, codes[direct], target, draw_axis=with_draws
        )
    if not direct.all():
        rest = evidence.loc[~direct].reset_index(drop=True)
        rest[target] = pd.Categorical([None] * len(rest), categories=list(s.states[target]))
        marg = engine.marginals(rest, variables=[target], on_impossible="nan")
        probs[..., ~direct, :] = np.asarray(marg[target], dtype=np.float64)
    return probs, target_codes[keep].astype(np.int64)


def _one(
    model: Any,
    data: pd.DataFrame,
    target: str,
    bins: int,
    interval: float,
    draws: int,
    seed: int,
    engine: Any,
) -> dict[str, Any]:
    probs, labels = predict_target(model, data, target, draws=draws, seed=seed, engine=engine)
    # rows impossible under the model (every draw) cannot be scored: count and drop them
    bad = np.isnan(probs).any(axis=-1)
    dead = bad if probs.ndim == 2 else bad.all(axis=0)
    if dead.all():
        raise DataError(
            f"every held-out row observing {target!r} has probability zero under the model; "
            "the model cannot be calibrated on these data (check states and CPT zeros)."
        )
    probs, labels = probs[..., ~dead, :], labels[~dead]
    if probs.ndim == 2:
        point = probs
    else:
        valid = ~np.isnan(probs).any(axis=-1, keepdims=True)
        point = np.where(valid, probs, 0.0).sum(axis=0) / valid.sum(axis=0)
    out: dict[str, Any] = {"target": target, "n": int(labels.size), "n_impossible": int(dead.sum())}
    out.update(metrics.metric_table(point, labels, bins))
    out["intervals"] = metrics.metric_bootstrap(point, labels, bins, interval, seed=seed)
    if probs.ndim == 3:
        out["per_draw"] = metrics.metric_distribution(probs, labels, bins, interval)
        band = metrics.reliability_band(probs, labels, bins, interval=interval)
        curve = metrics.reliability_curve(point, labels, bins)
        out["curve"] = pd.concat(
            [curve, band.drop(columns=["bin", "count", "confidence", "frequency"])], axis=1
        )
    else:
        out["curve"] = metrics.reliability_curve(point, labels, bins)
    return out


def calibration(
    model: Any,
    data: pd.DataFrame,
    target: str | Sequence[str] = "LVFAILURE",
    *,
    bins: int = 15,
    interval: float = 0.9,
    draws: int = 200,
    seed: int = 0,
    engine: Any = None,
    schema: Any = None,
) -> dict[str, Any]:
    """Measure the calibration of a model's predictions of ``target`` on held-out data.

    Parameters
    ----------
    model
        A :class:`~bnlab.network.BayesNet` or :class:`~bnlab.posterior.Posterior`.
    data
        Held-out rows (NaN = unobserved); rows whose target is missing are skipped.
    target
        A variable, or several (then the result maps each target to its results).
    bins
        Number of equal-width (and equal-mass) bins.
    interval
        Mass of the intervals (of each metric over resampled rows; of the per-draw metrics
        over draws).
    draws, seed
        CPT draws of a posterior (ignored for a network).
    engine
        An already compiled engine of ``model``, reused across targets.
    schema
        A :class:`bnlab.Schema` for raw ``data``; default: the one stored with ``model``.

    Returns
    -------
    dict
        ``target, n, ece`` (top-label, equal-width), ``ece_mass``, ``ece_classwise``,
        ``mce, brier, log_loss, auc`` (of the posterior predictive; Brier summed over
        classes, range [0, 2]), ``intervals``: per metric ``{"value", "lower", "upper",
        "sd"}``, the same metric with an interval from 200 bootstrap resamples of the rows,
        ``curve`` (a DataFrame; with a posterior it carries ``*_lower``/``*_upper`` band
        columns) and, with a posterior, ``per_draw``: per metric ``{"mean", "lower",
        "upper"}``, the distribution of each CPT draw's own metric;
        ``n_impossible``: rows left out because their evidence has probability zero under the
        model (under every draw; rows impossible under some draws are left out of those
        draws' metrics and averaged over the others).

    Raises
    ------
    StructureError
        The target is not a variable of the model.
    DataError
        The held-out data lack the target column or never observe it.
    """
    from bnlab.schema import as_categorical, schema_of

    data, _ = as_categorical(data, schema if schema is not None else schema_of(model))
    s = _structure(model)
    targets = [target] if isinstance(target, str) else list(target)
    for t in targets:
        check_target(s, data, t)
    if engine is None:
        from bnlab.infer import Engine

        engine = (
            Engine(model) if isinstance(model, BayesNet) else Engine(model, draws=draws, seed=seed)
        )
    results = {t: _one(model, data, t, bins, interval, draws, seed, engine) for t in targets}
    return results[target] if isinstance(target, str) else results
