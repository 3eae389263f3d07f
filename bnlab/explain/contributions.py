"""Evidence contributions: exact Shapley values and leave-one-out changes of a query.

The game: the players are the observed variables of one evidence row, and the value of a
coalition ``S`` is ``v(S) = P(target = state | e_S)``, the query given only the evidence
in ``S``. This is the *conditional* Shapley value (pyAgrum's ``ConditionalShapValues`` with
``logit=False``). Efficiency holds exactly: the values sum to ``v(all) - v(none)``.

Exact values evaluate all ``2^k`` coalitions in one batched engine call. Above
``max_exact`` players, a permutation-sampling estimator runs instead (each sampled
permutation is one chain of ``k + 1`` coalitions, all in one engine call); it keeps
efficiency exactly, and its standard error per player is reported in ``se``.
With a posterior, every coalition value is computed per CPT draw, so each contribution
has a credible interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import factorial
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.errors import BNError, EvidenceError, ImpossibleEvidenceError
from bnlab.infer import Engine
from bnlab.infer.evidence import encode_evidence
from bnlab.network import BayesNet

#: Above this many observed variables the exact 2^k evaluation needs method="sampled".
MAX_EXACT = 12


def engine_for(model: Any, draws: int | None, seed: int) -> Engine:
    """An engine for a network, a posterior, or an engine given as is."""
    if isinstance(model, Engine):
        return model
    if isinstance(model, BayesNet):
        return Engine(model)
    return Engine(model, draws=draws if draws is not None else 1000, seed=seed)


def observed_row(engine: Engine, evidence: Any, target: str) -> NDArray[np.int32]:
    """The codes of one evidence row, checked: one row, target unobserved."""
    codes = encode_evidence(engine.structure, evidence)
    if codes.shape[0] != 1:
        raise EvidenceError(
            f"explanations take one evidence row, got {codes.shape[0]}; pass a dict, a "
            "one-row DataFrame, or loop over rows."
        )
    if target not in engine.structure.states:
        raise EvidenceError(f"target {target!r} is not a variable of the network.")
    if codes[0, engine.structure.index[target]] >= 0:
        raise EvidenceError(
            f"the target {target!r} is observed in the evidence row; remove it — an "
            "explanation says how the other evidence moves the target."
        )
    return np.asarray(codes[0], dtype=np.int32)


def coalition_values(
    engine: Engine,
    row: NDArray[np.int32],
    players: NDArray[np.intp],
    masks: NDArray[np.int64],
    target: str,
    state_index: int,
) -> NDArray[np.float64]:
    """``P(target=state | e_S)`` for every coalition bitmask; ``(masks,)`` or ``(draws, masks)``."""
    codes = np.full((masks.size, row.size), -1, dtype=np.int32)
    for bit, j in enumerate(players):
        on = ((masks >> bit) & 1).astype(bool)
        codes[on, j] = row[j]
    marg = engine.marginals(codes, variables=[target])[target]
    return np.asarray(marg[..., state_index], dtype=np.float64)


def shapley_from_values(values: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Exact Shapley values from the values of all ``2^k`` coalitions (last axis)."""
    masks = np.arange(1 << k)
    sizes = np.array([bin(m).count("1") for m in masks])
    weight = np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])
    out = np.empty((*values.shape[:-1], k))
    for i in range(k):
        without = masks[((masks >> i) & 1) == 0]
        gain = values[..., without | (1 << i)] - values[..., without]
        out[..., i] = gain @ weight[sizes[without]]
    return out


def evidence_contributions(
    model: Any,
    target: str,
    state: str,
    evidence: Any,
    *,
    method: Literal["exact", "sampled"] = "exact",
    permutations: int = 200,
    interval: float = 0.9,
    draws: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """How each piece of evidence moves ``P(target = state | evidence)``.

    Parameters
    ----------
    model
        A :class:`bnlab.BayesNet`, a :class:`bnlab.Posterior` (intervals over its draws)
        or a ready :class:`bnlab.Engine`.
    target, state
        The query.
    evidence
        One evidence row: a dict, a one-row DataFrame, or codes.
    method
        ``"exact"`` (all coalitions; at most :data:`MAX_EXACT` observed variables) or
        ``"sampled"`` (permutation sampling with ``permutations`` permutations).
    interval
        Credible-interval mass with a posterior.
    draws, seed
        Posterior draws used when ``model`` is a posterior.

    Returns
    -------
    pandas.DataFrame
        One row per observed variable, sorted by ``|shapley|``: ``variable``, ``state``
        (its observed state), ``shapley``, ``loo`` (``v(all) - v(all without it)``), and with
        a posterior ``lower``/``upper`` (Shapley interval) and ``loo_lower``/``loo_upper``;
        with ``method="sampled"`` also ``se``. ``attrs`` hold ``p_all`` and ``p_none``.

    Raises
    ------
    EvidenceError
        The target is observed or unknown, or the state is not one of its states.
    ImpossibleEvidenceError
        The evidence row has probability zero.
    BNError
        Too many observed variables for ``method="exact"``.
    """
    engine = engine_for(model, draws, seed)
    row = observed_row(engine, evidence, target)
    states = engine.structure.states[target]
    if str(state) not in states:
        raise EvidenceError(
            f"{state!r} is not a state of {target!r}; its states are {list(states)}."
        )
    s_idx = states.index(str(state))
    players = np.flatnonzero(row >= 0)
    k = int(players.size)
    if method not in ("exact", "sampled"):
        raise BNError(f"method must be 'exact' or 'sampled', got {method!r}.")
    if method == "exact" and k > MAX_EXACT:
        raise BNError(
            f"{k} observed variables is too many for exact Shapley values (2^{k} queries; the "
            f"limit is {MAX_EXACT}); pass method='sampled' for the permutation estimator."
        )
    if np.all(np.isneginf(np.asarray(engine.log_prob(row[None, :], point=True)))):
        raise ImpossibleEvidenceError([0])
    full = (1 << k) - 1
    se: NDArray[np.float64] | None = None
    if method == "exact":
        masks = np.arange(1 << k, dtype=np.int64)
        values = coalition_values(engine, row, players, masks, target, s_idx)
        phi = shapley_from_values(values, k)
        v_all, v_none = values[..., full], values[..., 0]
        loo = v_all[..., None] - values[..., [full & ~(1 << i) for i in range(k)]]
    else:
        rng = np.random.default_rng(seed)
        perms = np.array([rng.permutation(k) for _ in range(int(permutations))])
        chain = np.zeros((perms.shape[0], k + 1), dtype=np.int64)
        for step in range(k):
            chain[:, step + 1] = chain[:, step] | (np.int64(1) << perms[:, step])
        extra = np.array([full & ~(1 << i) for i in range(k)], dtype=np.int64)
        masks = np.concatenate([chain.reshape(-1), extra])
        values = coalition_values(engine, row, players, masks, target, s_idx)
        chain_v = values[..., : chain.size].reshape(*values.shape[:-1], *chain.shape)
        gains = np.diff(chain_v, axis=-1)  # (..., perms, k) gains in permutation order
        per_player = np.empty_like(gains)
        np.put_along_axis(per_player, np.broadcast_to(perms, gains.shape), gains, axis=-1)
        phi = per_player.mean(axis=-2)
        point = per_player if per_player.ndim == 2 else per_player.mean(axis=0)
        se = point.std(axis=0, ddof=1) / np.sqrt(point.shape[0])
        v_all, v_none = chain_v[..., 0, k], chain_v[..., 0, 0]
        loo = v_all[..., None] - values[..., chain.size :]
    names = [engine.structure.variables[j] for j in players]
    table: dict[str, Any] = {
        "variable": names,
        "state": [engine.structure.states[v][row[j]] for v, j in zip(names, players, strict=True)],
    }
    if phi.ndim == 1:
        table["shapley"], table["loo"] = phi, loo
    else:
        lo, hi = (1 - interval) / 2, (1 + interval) / 2
        table["shapley"] = phi.mean(axis=0)
        table["lower"], table["upper"] = np.quantile(phi, [lo, hi], axis=0)
        table["loo"] = loo.mean(axis=0)
        table["loo_lower"], table["loo_upper"] = np.quantile(loo, [lo, hi], axis=0)
    if se is not None:
        table["se"] = se
    out = pd.DataFrame(table)
    out = out.iloc[np.argsort(-np.abs(out["shapley"].to_numpy()), kind="stable")]
    out = out.reset_index(drop=True)
    out.attrs["p_all"] = float(np.mean(v_all))
    out.attrs["p_none"] = float(np.mean(v_none))
    out.attrs["target"], out.attrs["target_state"] = target, str(state)
    return out


def top_contributions(table: pd.DataFrame, n: int = 3) -> list[Mapping[str, Any]]:
    """The ``n`` largest contributions as plain dicts (for served predictions)."""
    cols = [c for c in ("variable", "state", "shapley", "lower", "upper") if c in table]
    return [dict(r) for r in table[cols].head(n).to_dict(orient="records")]
