"""Counterfactuals for one unit by abduction, action and prediction on the twin network.

"Given what we saw for this case (``evidence``), what would ``target`` have been had
``intervention`` held?" The twin network (Balke & Pearl 1994) holds the factual network and a
counterfactual copy ``V*`` of every variable the intervention can change (the intervened
variables and their descendants); the other variables, the roots among them, are shared by
both worlds. One exact query on it does the three steps at once:

1. abduction: the evidence on the factual copy updates the shared variables;
2. action: ``do(intervention)`` on the counterfactual copies;
3. prediction: the marginal of ``target*``.

The shared roots carry the unit's exogenous background, so model the unit-level noise of a
variable as an explicit root parent (as in Pearl's education/salary example) for a
deterministic counterfactual; the randomness left in a copied variable's CPT is drawn anew in
the counterfactual world. With a posterior, the twin network is built per CPT draw (both
copies share the draw) and all draws go through one batched engine call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bnlab.causal.errors import CausalGraphError
from bnlab.causal.factors import states_index
from bnlab.errors import BNError
from bnlab.network import BayesNet, Structure


def twin_structure(structure: Structure, intervened: set[str]) -> tuple[Structure, dict[str, str]]:
    """The twin network's structure and the name of each counterfactual copy.

    Copies are the intervened variables and their descendants, named ``<name>*`` (more
    stars while a name is taken); a copy's parents are the copies of its parents where
    they exist, else the shared factual parents.
    """
    s = structure
    affected = set(intervened)
    for v in s.variables:  # topological order: parents come first
        if any(p in affected for p in s.parents[v]):
            affected.add(v)
    taken = set(s.variables)
    copy: dict[str, str] = {}
    for v in s.variables:
        if v in affected:
            name = v + "*"
            while name in taken:
                name += "*"
            taken.add(name)
            copy[v] = name
    variables = [*s.variables, *copy.values()]
    states = {**s.states, **{copy[v]: s.states[v] for v in copy}}
    parents = {**s.parents}
    for v, c in copy.items():
        parents[c] = tuple(copy.get(p, p) for p in s.parents[v])
    return Structure(variables, states, parents), copy


def counterfactual(
    model: Any,
    evidence: Mapping[str, Any],
    intervention: Mapping[str, Any],
    target: str,
    *,
    interval: float = 0.9,
    draws: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """``P(target_{do(intervention)} = state | evidence)`` for one unit, per state.

    Parameters
    ----------
    model
        A :class:`bnlab.BayesNet` (point answer) or a :class:`bnlab.Posterior` (over CPT
        draws, with credible intervals).
    evidence
        What was observed for the unit, ``{variable: state}``.
    intervention
        The counterfactual setting, ``{variable: state}``.
    target
        The variable whose counterfactual value is asked for.
    interval, draws, seed
        Credible mass, number and seed of the posterior draws (posterior only).

    Returns
    -------
    pandas.DataFrame
        One row per state of ``target``: ``state``, ``mean``, ``lower``, ``upper``.

    Raises
    ------
    BNError
        Unknown variables or states, an empty intervention, evidence of probability zero.

    Examples
    --------
    >>> import bnlab
    >>> from bnlab.causal import counterfactual
    >>> net = bnlab.load_example("asia")
    >>> out = counterfactual(net, {"smoke": "yes", "dysp": "yes"}, {"smoke": "no"}, "dysp")
    >>> list(out["state"])
    ['yes', 'no']
    """
    from bnlab.infer import Engine
    from bnlab.posterior import Posterior

    if not isinstance(model, (BayesNet, Posterior)):
        raise BNError(
            f"counterfactual() takes a BayesNet or a Posterior, got {type(model).__name__}."
        )
    if not intervention:
        raise BNError("intervention is empty; give {variable: state} for the what-if.")
    if not 0.0 < interval < 1.0:
        raise BNError(f"interval must lie in (0, 1), got {interval}.")
    s = model.structure
    for role, names in (("evidence", evidence), ("intervention", intervention)):
        for v, st in names.items():
            if v not in s.states:
                raise CausalGraphError(f"{role} names {v!r}, which is not a variable of the model.")
            states_index(s.states, v, st, f"{role} {v}")
    if target not in s.states:
        raise CausalGraphError(f"target {target!r} is not a variable of the model.")
    twin, copy = twin_structure(s, set(intervention))
    do = {copy[v]: str(st) for v, st in intervention.items()}
    states = s.states[target]
    ev = {str(k): str(v) for k, v in evidence.items()}
    if target in copy:
        ask = copy[target]
    elif target in ev:  # untouched by the intervention and seen: it stays what it was
        one = np.zeros(len(states))
        one[states.index(ev[target])] = 1.0
        return pd.DataFrame(
            {"state": pd.Categorical(states, states), "mean": one, "lower": one, "upper": one}
        )
    else:
        ask = target
    if isinstance(model, BayesNet):
        cpts = {**model.cpts, **{c: model.cpts[v] for v, c in copy.items()}}
        engine = Engine(BayesNet(structure=twin, cpts=cpts))
    else:
        d = model.draws(draws, seed=seed)
        engine = Engine.from_draws(twin, {**d, **{c: d[v] for v, c in copy.items()}})
    out = engine.query(ask, [ev], interval=interval, do=do)
    out = out.drop(columns="row").reset_index(drop=True)
    out["state"] = pd.Categorical(list(states), states)
    return out[["state", "mean", "lower", "upper"]]
