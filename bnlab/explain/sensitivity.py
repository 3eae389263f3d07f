"""Parameter sensitivity of a query: which CPT entries the answer hangs on.

A CPT entry ``theta = P(X = x | u)`` cannot move alone: the rest of its row must
co-vary so the row still sums to one. bnlab uses proportional co-variation (Laskey 1995;
Chan & Darwiche 2002): the other entries of the row are scaled by
``(1 - theta') / (1 - theta)``. (For ``theta = 1`` the others are all zero and share the
remaining mass equally.) Under this scheme ``P(target = s, e)`` and ``P(e)`` are linear in
``theta``, so the query is the ratio of two linear functions, and two exact evaluations
give it everywhere. Derivatives come from JAX autodiff of ``log P(e)`` through the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.errors import BNError, EvidenceError
from bnlab.explain.contributions import observed_row
from bnlab.infer import Engine, compile_plan, log_evidence
from bnlab.infer.evidence import likelihoods
from bnlab.network import BayesNet


def covary(row: NDArray[np.float64], index: int, value: float) -> NDArray[np.float64]:
    """A CPT row with entry ``index`` set to ``value`` and the rest co-varied proportionally."""
    out = np.array(row, dtype=np.float64)
    rest = 1.0 - out[index]
    others = np.arange(out.size) != index
    if rest > 0:
        out[others] *= (1.0 - value) / rest
    else:
        out[others] = (1.0 - value) / max(out.size - 1, 1)
    out[index] = value
    return out


def _query_liks(
    net: BayesNet, row: NDArray[np.int32], target: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Flat likelihoods: one row per target state (evidence and target = s), then e alone."""
    k = net.structure.index[target]
    card = net.cards[target]
    codes = np.repeat(row[None, :], card + 1, axis=0)
    codes[:card, k] = np.arange(card)
    flat = likelihoods(net.structure, codes, dtype=np.float64)
    return flat[:card], flat[card:]


def _split(net: BayesNet, flat: NDArray[np.float64]) -> dict[str, Any]:
    """Flat likelihoods (network variable order) as ``{variable: jax array}``."""
    offsets = np.cumsum([0, *[net.cards[v] for v in net.variables]])
    return {
        v: jnp.asarray(flat[:, offsets[i] : offsets[i + 1]]) for i, v in enumerate(net.variables)
    }


def parameter_sensitivity(net: BayesNet, target: str, state: str, evidence: Any) -> pd.DataFrame:
    """Derivative of ``P(target = state | evidence)`` with respect to every CPT entry.

    Parameters
    ----------
    net
        The network (for a posterior, pass ``post.mean()``).
    target, state
        The query.
    evidence
        One evidence row (dict, one-row DataFrame or codes).

    Returns
    -------
    pandas.DataFrame
        One row per CPT entry of a variable with at least two states, ranked by
        ``|derivative|``: ``variable``, ``parent_states`` (tuple, parent order), ``state``,
        ``value`` (the entry), ``derivative`` (with proportional co-variation of the rest of
        the row). ``attrs["query"]`` holds the query's value.
    """
    if not isinstance(net, BayesNet):
        raise BNError("parameter_sensitivity needs a BayesNet; for a posterior pass post.mean().")
    engine = Engine(net)
    row = observed_row(engine, evidence, target)
    states = net.states[target]
    if str(state) not in states:
        raise EvidenceError(
            f"{state!r} is not a state of {target!r}; its states are {list(states)}."
        )
    s_idx = states.index(str(state))
    with jax.enable_x64(True):
        plan = compile_plan(net.structure)
        joint_flat, e_flat = _query_liks(net, row, target)
        liks_te = _split(net, joint_flat[s_idx : s_idx + 1])
        liks_e = _split(net, e_flat)
        cpts = {v: jnp.asarray(net.cpt(v), dtype=jnp.float64) for v in net.variables}

        def log_query(c: dict[str, Any]) -> Any:
            return log_evidence(plan, c, liks_te)[0] - log_evidence(plan, c, liks_e)[0]

        value, grads = jax.value_and_grad(log_query)(cpts)
        if not np.isfinite(float(value)):
            raise EvidenceError(
                "the evidence row has probability zero (or the query is zero); sensitivity "
                "is undefined there."
            )
        q = float(np.exp(float(value)))
        raw = {v: q * np.asarray(g) for v, g in grads.items()}
    records: list[dict[str, Any]] = []
    for v in net.variables:
        theta = np.asarray(net.cpt(v))
        card = theta.shape[-1]
        if card < 2:
            continue
        g = raw[v]
        weighted = (g * theta).sum(axis=-1, keepdims=True)
        rest = 1.0 - theta
        safe = np.where(rest > 0, rest, 1.0)
        proportional = g - (weighted - g * theta) / safe
        uniform = g - (g.sum(axis=-1, keepdims=True) - g) / (card - 1)
        deriv = np.where(rest > 0, proportional, uniform)
        parents = net.parents[v]
        for idx in np.ndindex(theta.shape):
            records.append(
                {
                    "variable": v,
                    "parent_states": tuple(
                        net.states[p][i] for p, i in zip(parents, idx[:-1], strict=True)
                    ),
                    "state": net.states[v][idx[-1]],
                    "value": float(theta[idx]),
                    "derivative": float(deriv[idx]),
                }
            )
    out = pd.DataFrame.from_records(
        records, columns=["variable", "parent_states", "state", "value", "derivative"]
    )
    order = np.argsort(-np.abs(out["derivative"].to_numpy()), kind="stable")
    out = out.iloc[order].reset_index(drop=True)
    out.attrs["query"] = q
    return out


@dataclass(frozen=True)
class SensitivityFunction:
    """``P(target = s | e)`` as a function of one CPT entry ``theta``.

    ``joint[s](theta) = slopes[s] * theta + intercepts[s]`` is ``P(target = s, e)`` and
    ``P(e)(theta) = sum_s joint[s](theta)``; the query is their ratio.

    Attributes
    ----------
    variable, parent_states, state
        The CPT entry.
    target, target_states, target_state
        The query and the state it asks about.
    value
        The entry's current value.
    slopes, intercepts
        Per target state.
    crossover
        The entry value nearest to ``value`` at which the most likely target state changes
        (``None`` if it never does on ``[0, 1]``), and ``crossover_state``, the state that
        then takes over.
    """

    variable: str
    parent_states: tuple[str, ...]
    state: str
    target: str
    target_states: tuple[str, ...]
    target_state: str
    value: float
    slopes: NDArray[np.float64]
    intercepts: NDArray[np.float64]
    crossover: float | None
    crossover_state: str | None

    def joint(self, theta: float | NDArray[np.float64]) -> NDArray[np.float64]:
        """``P(target = s, e)`` for every target state at ``theta``."""
        t = np.asarray(theta, dtype=np.float64)[..., None]
        return np.asarray(self.slopes * t + self.intercepts)

    def __call__(self, theta: float | NDArray[np.float64]) -> NDArray[np.float64]:
        """The query ``P(target = target_state | e)`` at ``theta``."""
        j = self.joint(theta)
        k = self.target_states.index(self.target_state)
        return np.asarray(j[..., k] / j.sum(axis=-1))

    @property
    def coefficients(self) -> tuple[float, float, float, float]:
        """``(a, b, c, d)`` with the query equal to ``(a theta + b) / (c theta + d)``."""
        k = self.target_states.index(self.target_state)
        return (
            float(self.slopes[k]),
            float(self.intercepts[k]),
            float(self.slopes.sum()),
            float(self.intercepts.sum()),
        )


def _crossover(
    slopes: NDArray[np.float64], intercepts: NDArray[np.float64], value: float
) -> tuple[float | None, int | None]:
    def best(theta: float) -> int:
        return int(np.argmax(slopes * theta + intercepts))

    now = best(value)
    candidates: list[tuple[float, int]] = []
    for other in range(slopes.size):
        if other == now or slopes[now] == slopes[other]:
            continue
        theta = (intercepts[other] - intercepts[now]) / (slopes[now] - slopes[other])
        if 0.0 <= theta <= 1.0 and abs(theta - value) > 1e-12:
            candidates.append((float(theta), other))
    for theta, _ in sorted(candidates, key=lambda c: abs(c[0] - value)):
        step = 1e-9 if theta > value else -1e-9
        after = best(min(max(theta + step, 0.0), 1.0))
        if after != now:
            return theta, after
    return None, None


def sensitivity_function(
    net: BayesNet,
    target: str,
    state: str,
    evidence: Any,
    variable: str,
    parent_states: Sequence[str] | Mapping[str, str],
    entry_state: str,
) -> SensitivityFunction:
    """The exact one-way sensitivity function of a query in one CPT entry.

    Two evaluations (the entry at 0 and at 1, the row co-varied proportionally), each one
    batched engine call over the target's states, give every coefficient.

    Parameters
    ----------
    net, target, state, evidence
        The query, as for :func:`parameter_sensitivity`.
    variable, parent_states, entry_state
        The CPT entry ``P(variable = entry_state | parents = parent_states)``;
        ``parent_states`` in parent order or as a mapping.
    """
    s = net.structure
    if variable not in s.states:
        raise BNError(f"{variable!r} is not a variable of the network.")
    parents = s.parents[variable]
    if isinstance(parent_states, Mapping):
        parent_states = [parent_states[p] for p in parents]
    if len(parent_states) != len(parents):
        raise BNError(f"{variable!r} has parents {list(parents)}; give one state for each.")
    try:
        config = tuple(
            s.states[p].index(str(x)) for p, x in zip(parents, parent_states, strict=True)
        )
        x_idx = s.states[variable].index(str(entry_state))
    except ValueError:
        raise BNError(
            f"unknown state in the entry P({variable}={entry_state} | {list(parent_states)})."
        ) from None
    engine = Engine(net)
    row = observed_row(engine, evidence, target)
    if str(state) not in s.states[target]:
        raise EvidenceError(f"{state!r} is not a state of {target!r}.")
    theta = np.asarray(net.cpt(variable))
    value = float(theta[config][x_idx])
    joint_flat, _ = _query_liks(net, row, target)
    with jax.enable_x64(True):
        plan = compile_plan(s)
        liks = _split(net, joint_flat)
        ends = []
        for t in (0.0, 1.0):
            table = np.array(theta, copy=True)
            table[config] = covary(theta[config], x_idx, t)
            cpts_t = {v: jnp.asarray(table if v == variable else net.cpt(v)) for v in s.variables}
            ends.append(np.exp(np.asarray(log_evidence(plan, cpts_t, liks), dtype=np.float64)))
    intercepts = ends[0]
    slopes = ends[1] - ends[0]
    cross, cross_state = _crossover(slopes, intercepts, value)
    tstates = s.states[target]
    return SensitivityFunction(
        variable=variable,
        parent_states=tuple(str(x) for x in parent_states),
        state=str(entry_state),
        target=target,
        target_states=tstates,
        target_state=str(state),
        value=value,
        slopes=slopes,
        intercepts=intercepts,
        crossover=cross,
        crossover_state=None if cross_state is None else tstates[cross_state],
    )
