"""Posterior predictive checks: replicated data sets from CPT draws against the observed data.

For each of ``S`` posterior draws of the CPTs, one data set of the observed size is sampled
(forward sampling, vectorised over draws), the observed pattern of missing cells is applied
to it, and two kinds of statistics are compared with the observed data:

* the frequency of every state of every variable;
* the mutual information (nats) of pairs of variables (the graph's edges by default).

Each statistic gets its replicated mean and interval and posterior predictive tail
probabilities ``P(T_rep >= T_obs)`` and two-sided ``2 min(P(T_rep >= T_obs), P(T_rep <= T_obs))``.
:meth:`PPCResult.to_arviz` gives an ArviZ ``DataTree`` with ``posterior_predictive`` and
``observed_data`` groups.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from bnlab.data import encode
from bnlab.errors import BNError, DataError
from bnlab.network import BayesNet, Structure


def replicate_codes(
    structure: Structure,
    cpt_draws: Mapping[str, NDArray[np.float64]],
    n: int,
    rng: np.random.Generator,
) -> NDArray[np.int16]:
    """Forward-sample ``n`` rows for each draw: codes of shape ``(variables, S, n)``.

    Variables come first (each variable's block is contiguous), in ``structure.variables``
    order.

    Parameters
    ----------
    structure
        Gives the topological order, parents and cards.
    cpt_draws
        Per variable, CPT draws shaped ``(S, *parent cards, card)``.
    n
        Rows per replicated data set.
    rng
        Random generator.
    """
    first = next(iter(cpt_draws.values()))
    s_count = first.shape[0]
    out = np.empty((len(structure.variables), s_count, n), dtype=np.int16)
    for j, v in enumerate(structure.variables):
        card = structure.cards[v]
        table = np.asarray(cpt_draws[v], dtype=np.float64).reshape(s_count, -1, card)
        n_conf = table.shape[1]
        cdf = np.cumsum(table, axis=-1)
        cdf /= cdf[..., -1:]
        # flat row index of (draw, parent configuration) for every replicated row
        config = np.repeat(np.arange(s_count, dtype=np.int64) * n_conf, n).reshape(s_count, n)
        stride = 1
        for p in reversed(structure.parents[v]):
            config += out[structure.index[p]].astype(np.int64) * stride
            stride *= structure.cards[p]
        u = rng.random((s_count, n))
        state = np.zeros((s_count, n), dtype=np.int16)
        flat_cdf = cdf.reshape(-1, card)
        for k in range(card - 1):
            state += np.take(flat_cdf[:, k], config) <= u
        out[j] = state
    return out


def _frequencies(codes: NDArray[np.integer], card: int) -> NDArray[np.float64]:
    """State frequencies of a column per data set: codes (S, n) -> (S, card); -1 skipped."""
    s_count = codes.shape[0]
    flat = np.arange(s_count)[:, None] * card + codes
    if (codes < 0).any():
        flat = flat[codes >= 0]
    counts = np.bincount(flat.ravel(), minlength=s_count * card).reshape(s_count, card)
    total = counts.sum(axis=1, keepdims=True)
    return counts / np.where(total > 0, total, 1)


def _mutual_information(
    a: NDArray[np.integer], b: NDArray[np.integer], ra: int, rb: int
) -> NDArray[np.float64]:
    """Mutual information (nats) per data set of two columns (S, n); rows with -1 skipped."""
    s_count = a.shape[0]
    flat = (np.arange(s_count)[:, None] * ra + a) * rb + b
    if (a < 0).any() or (b < 0).any():
        flat = flat[(a >= 0) & (b >= 0)]
    counts = np.bincount(flat.ravel(), minlength=s_count * ra * rb)
    joint = counts.reshape(s_count, ra, rb).astype(np.float64)
    total = joint.sum(axis=(1, 2), keepdims=True)
    p = joint / np.where(total > 0, total, 1)
    pa = p.sum(axis=2, keepdims=True)
    pb = p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / (pa * pb)), 0.0)
    return terms.sum(axis=(1, 2))


@dataclass(frozen=True)
class PPCResult:
    """Replicated and observed statistics of a posterior predictive check.

    Attributes
    ----------
    table
        One row per statistic: ``kind`` ("frequency" or "mutual_information"), ``variable``,
        ``other`` (second variable or ""), ``state`` (or ""), ``observed``, ``rep_mean``,
        ``rep_lower``, ``rep_upper``, ``p_upper`` (``P(T_rep >= T_obs)``), ``p_two_sided``.
    replicated
        ``(S, statistics)`` values of each statistic per draw, columns in ``table`` order.
    """

    table: pd.DataFrame
    replicated: NDArray[np.float64]

    def to_arviz(self) -> xr.DataTree:
        """Return a DataTree with ``posterior_predictive`` and ``observed_data`` groups.

        Both hold one variable per kind of statistic, indexed by a ``statistic`` dimension
        whose coordinates name the variable(s) and state; ``posterior_predictive`` adds
        ``chain`` (one) and ``draw`` dimensions as ArviZ expects.
        """
        groups: dict[str, xr.Dataset] = {}
        rep: dict[str, Any] = {}
        obs: dict[str, Any] = {}
        for kind in ("frequency", "mutual_information"):
            sel = (self.table["kind"] == kind).to_numpy()
            if not sel.any():
                continue
            part = self.table[sel]
            labels = [
                "|".join(x for x in (r.variable, r.other, r.state) if x) for r in part.itertuples()
            ]
            dim = f"{kind}_statistic"
            rep[kind] = xr.DataArray(
                self.replicated[:, sel][None, :, :],
                dims=("chain", "draw", dim),
                coords={dim: labels},
            )
            obs[kind] = xr.DataArray(part["observed"].to_numpy(), dims=(dim,), coords={dim: labels})
        groups["posterior_predictive"] = xr.Dataset(rep)
        groups["observed_data"] = xr.Dataset(obs)
        return xr.DataTree.from_dict(groups)


def _cpt_draws(
    model: Any, draws: int, seed: int
) -> tuple[Structure, dict[str, NDArray[np.float64]]]:
    if isinstance(model, BayesNet):
        return model.structure, {
            v: np.broadcast_to(c, (draws, *c.shape)) for v, c in model.cpts.items()
        }
    if hasattr(model, "draws") and hasattr(model, "structure"):
        return model.structure, dict(model.draws(draws, seed=seed))
    raise BNError(
        "posterior predictive checks need a bnlab Posterior or BayesNet, got "
        f"{type(model).__name__}."
    )


def predictive_checks(
    model: Any,
    data: pd.DataFrame,
    *,
    draws: int = 200,
    pairs: str | Sequence[tuple[str, str]] = "edges",
    interval: float = 0.9,
    seed: int = 0,
) -> PPCResult:
    """Compare replicated data sets from posterior draws with the observed data.

    Parameters
    ----------
    model
        A :class:`~bnlab.posterior.Posterior` (one replicate per CPT draw) or a
        :class:`~bnlab.network.BayesNet` (replicates from fixed CPTs).
    data
        The observed data, one column per variable (NaN = missing; the same cells are
        removed from every replicate).
    draws
        Number of replicated data sets.
    pairs
        ``"edges"`` (the graph's edges), ``"all"`` (every pair) or explicit pairs, for the
        mutual-information statistics.
    interval
        Mass of the equal-tailed interval of the replicated statistics.
    seed
        Seed of the CPT draws and the replicates.

    Returns
    -------
    PPCResult
    """
    structure, cpts = _cpt_draws(model, draws, seed)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame of observed data, got {type(data).__name__}.")
    obs = encode(data[[v for v in structure.variables if v in data.columns]], structure)
    n = obs.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    rep = replicate_codes(structure, cpts, n, rng)
    missing = obs.T < 0
    if missing.any():
        rep.transpose(1, 0, 2)[:, missing] = -1
    if pairs == "edges":
        pair_list = list(structure.edges)
    elif pairs == "all":
        pair_list = list(itertools.combinations(structure.variables, 2))
    elif isinstance(pairs, str):
        raise BNError(f"unknown pairs {pairs!r}; use 'edges', 'all' or a list of pairs.")
    else:
        pair_list = [(str(a), str(b)) for a, b in pairs]
        for a, b in pair_list:
            structure._check_known(a)
            structure._check_known(b)
    rows: list[dict[str, Any]] = []
    values: list[NDArray[np.float64]] = []
    for v in structure.variables:
        j = structure.index[v]
        card = structure.cards[v]
        f_obs = _frequencies(obs[None, :, j], card)[0]
        f_rep = _frequencies(rep[j], card)
        for k, state in enumerate(structure.states[v]):
            rows.append(
                {
                    "kind": "frequency",
                    "variable": v,
                    "other": "",
                    "state": state,
                    "observed": f_obs[k],
                }
            )
            values.append(f_rep[:, k])
    for a, b in pair_list:
        ia, ib = structure.index[a], structure.index[b]
        ra, rb = structure.cards[a], structure.cards[b]
        mi_obs = _mutual_information(obs[None, :, ia], obs[None, :, ib], ra, rb)[0]
        rows.append(
            {
                "kind": "mutual_information",
                "variable": a,
                "other": b,
                "state": "",
                "observed": mi_obs,
            }
        )
        values.append(_mutual_information(rep[ia], rep[ib], ra, rb))
    replicated = np.column_stack(values)
    table = pd.DataFrame(rows)
    observed = table["observed"].to_numpy()
    tail = (1.0 - interval) / 2.0
    table["rep_mean"] = replicated.mean(axis=0)
    table["rep_lower"] = np.quantile(replicated, tail, axis=0)
    table["rep_upper"] = np.quantile(replicated, 1.0 - tail, axis=0)
    upper = np.mean(replicated >= observed[None, :] - 1e-12, axis=0)
    lower = np.mean(replicated <= observed[None, :] + 1e-12, axis=0)
    table["p_upper"] = upper
    table["p_two_sided"] = np.minimum(1.0, 2.0 * np.minimum(upper, lower))
    return PPCResult(table, replicated)
