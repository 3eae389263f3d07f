"""Causal effects with credible intervals: ATE, risk ratio and odds ratio, overall or by subgroup.

``effect(model, "T", "Y", treated="a", control="b", outcome_state="y")`` contrasts
``p1 = P(Y=y | do(T=a), given)`` with ``p0 = P(Y=y | do(T=b), given)``:

- ``kind="ate"``: ``p1 - p0``; ``"rr"``: ``p1 / p0``; ``"or"``: ``p1 (1 - p0) / (p0 (1 - p1))``.

How ``p1`` and ``p0`` are computed:

- a fully observed causal graph (no ``latent``, no ``graph``, no ``adjust``): graph surgery.
  The treatment's parents are cut and its CPT made uniform; then
  ``P(y | do(t), w) = P_cut(y | t, w)``, so treated and control rows for every subgroup go
  to the inference engine as evidence rows of ONE batched call (over every posterior draw);
- latent confounders (``latent=``) or a separate causal diagram (``graph=``): the ID/IDC
  formula (:func:`bnlab.causal.identify`), evaluated on the joint table of the variables it
  reads, which the engine gives in one batched call;
- ``adjust=Z``: the adjustment formula ``Σ_z P(y | t, z, w) P(z | w)`` after checking that
  ``Z`` (with the subgroup variables) is a valid adjustment set.

With a :class:`bnlab.Posterior` every contrast is computed per CPT draw: the mean and the
equal-tailed credible interval over draws are returned. A :class:`bnlab.BayesNet` gives the
point value (``lower == upper == mean``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.causal.adjustment import is_valid_adjustment
from bnlab.causal.errors import CausalGraphError
from bnlab.causal.factors import evaluate, joint_table, states_index
from bnlab.causal.formula import Formula, Prob, marginal, product
from bnlab.causal.graph import CausalGraph, Latent, causal_graph
from bnlab.causal.identify import identify
from bnlab.errors import BNError
from bnlab.network import BayesNet, Structure

Kind = Literal["ate", "rr", "or"]
KINDS = ("ate", "rr", "or")
type Given = Mapping[str, Any] | Sequence[Mapping[str, Any]] | pd.DataFrame | None


def _given_rows(given: Given) -> tuple[list[dict[str, str]], pd.Index | None]:
    """Subgroup rows as ``{variable: state}`` dicts (missing cells dropped), and their index."""
    if given is None:
        return [{}], None
    if isinstance(given, pd.DataFrame):
        rows = []
        for rec in given.to_dict(orient="records"):
            rows.append({str(k): str(v) for k, v in rec.items() if not pd.isna(v)})
        return rows, given.index
    if isinstance(given, Mapping):
        return [{str(k): str(v) for k, v in given.items()}], None
    return [{str(k): str(v) for k, v in row.items()} for row in given], None


def contrast(p1: NDArray[np.float64], p0: NDArray[np.float64], kind: str) -> NDArray[np.float64]:
    """The effect measure from the two interventional probabilities (elementwise)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "ate":
            return np.asarray(p1 - p0)
        if kind == "rr":
            return np.asarray(p1 / p0)
        return np.asarray(p1 * (1 - p0) / (p0 * (1 - p1)))


def _summary(values: NDArray[np.float64], interval: float, draws: bool) -> pd.DataFrame:
    """Mean and equal-tailed interval over the draw axis (axis 0) of ``(draws, rows)``."""
    if not draws:
        v = values.reshape(-1)
        return pd.DataFrame({"mean": v, "lower": v, "upper": v})
    with np.errstate(invalid="ignore"):
        mean = values.mean(axis=0)
        lower, upper = np.quantile(values, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    return pd.DataFrame({"mean": mean, "lower": lower, "upper": upper})


def _check_model(model: Any) -> Structure:
    from bnlab.posterior import Posterior

    if isinstance(model, (BayesNet, Posterior)):
        return model.structure
    raise BNError(
        f"effect() takes a BayesNet or a Posterior, got {type(model).__name__}; fit one with "
        "bnlab.fit(structure, data)."
    )


def _engine(model: Any, draws: int, seed: int) -> Any:
    """An engine on the model: the network, or ``draws`` CPT draws of the posterior."""
    from bnlab.infer import Engine

    if isinstance(model, BayesNet):
        return Engine(model)
    return Engine(model, draws=draws, seed=seed)


def _surgery(
    model: Any,
    treatment: str,
    outcome: str,
    codes: tuple[int, int, int],
    rows: list[dict[str, str]],
    draws: int,
    seed: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``p1, p0`` per given row (``(draws, rows)`` or ``(1, rows)``), one engine call."""
    from bnlab.infer import Engine

    s = model.structure
    t_idx, c_idx, y_idx = codes
    cut = s.with_parents({v: () if v == treatment else s.parents[v] for v in s.variables})
    card = s.cards[treatment]
    if isinstance(model, BayesNet):
        cpts = dict(model.cpts)
        cpts[treatment] = np.full(card, 1.0 / card)
        engine = Engine(BayesNet(structure=cut, cpts=cpts))
    else:
        d = dict(model.draws(draws, seed=seed))
        d[treatment] = np.full((draws, card), 1.0 / card)
        engine = Engine.from_draws(cut, d)
    states = s.states[treatment]
    evidence = []
    for row in rows:
        evidence.append({**row, treatment: states[t_idx]})
        evidence.append({**row, treatment: states[c_idx]})
    m = engine.marginals(evidence, variables=[outcome])[outcome][..., y_idx]
    m = m.reshape(-1, 2 * len(rows))
    return m[:, 0::2], m[:, 1::2]


def _surgery_formula(s: Structure | CausalGraph, treatment: str, outcome: str) -> Formula:
    """``P(y | do(t)) = Σ_pa P(y | t, pa) P(pa)``: adjustment for the treatment's parents."""
    pa = frozenset(s.parents[treatment])
    y, t = frozenset({outcome}), frozenset({treatment})
    if not pa:
        return Formula(y, t, frozenset(), Prob(y, t))
    expr = marginal(product([Prob(y, t | pa), Prob(pa)]), pa)
    return Formula(y, t, frozenset(), expr)


def adjustment_formula(
    treatment: str, outcome: str, adjust: Iterable[str], given: Iterable[str] = ()
) -> Formula:
    """``P(y | do(t), w) = Σ_z P(y | t, z, w) P(z | w)`` as a formula."""
    z, w = frozenset(adjust), frozenset(given)
    y, t = frozenset({outcome}), frozenset({treatment})
    if not z:
        return Formula(y, t, w, Prob(y, t | w))
    expr = marginal(product([Prob(y, t | z | w), Prob(z, w)]), z)
    return Formula(y, t, w, expr)


def _by_formula(
    model: Any,
    formula: Formula,
    treatment: str,
    outcome: str,
    codes: tuple[int, int, int],
    rows: list[dict[str, str]],
    draws: int,
    seed: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    s = model.structure
    unknown = sorted(formula.variables - set(s.variables))
    if unknown:
        raise CausalGraphError(
            f"the identifying formula reads {unknown}, which the model does not have; the "
            "causal graph's observed variables must be variables of the model."
        )
    given_vars = sorted(formula.given)
    for i, row in enumerate(rows):
        absent = [v for v in given_vars if v not in row]
        if absent or set(row) - set(given_vars):
            raise BNError(
                f"given row {i} must give a state for each of {given_vars} (missing {absent}); "
                "with latent confounders every subgroup row is fully specified."
            )
    order = [v for v in s.variables if v in formula.variables]
    engine = _engine(model, draws, seed)
    value = evaluate(formula.expr, joint_table(engine, order))
    axes = [outcome, treatment, *given_vars]
    arr = value.aligned(axes)  # (draws, y, t, *w) with size-1 axes where absent

    def at(axis: int, idx: int) -> int:
        return idx if arr.shape[axis] > 1 else 0

    t_idx, c_idx, y_idx = codes
    p1 = np.empty((arr.shape[0], len(rows)))
    p0 = np.empty_like(p1)
    for r, row in enumerate(rows):
        w_idx = tuple(
            at(3 + k, states_index(s.states, v, row[v], f"given {v}"))
            for k, v in enumerate(given_vars)
        )
        key: tuple[Any, ...] = (slice(None), *w_idx)
        p1[:, r] = arr[:, at(1, y_idx), at(2, t_idx)][key]
        p0[:, r] = arr[:, at(1, y_idx), at(2, c_idx)][key]
    return p1, p0


def effect(
    model: Any,
    treatment: str,
    outcome: str,
    *,
    treated: str,
    control: str,
    outcome_state: str,
    given: Given = None,
    kind: Kind = "ate",
    interval: float = 0.9,
    draws: int = 1000,
    seed: int = 0,
    latent: Latent = (),
    adjust: Iterable[str] | None = None,
    graph: Structure | CausalGraph | None = None,
) -> pd.DataFrame:
    """The causal effect of setting ``treatment`` to ``treated`` rather than ``control``.

    Parameters
    ----------
    model
        A :class:`bnlab.BayesNet` (point answer) or a :class:`bnlab.Posterior` (answer per
        CPT draw, with a credible interval).
    treatment, outcome
        Variables of the model.
    treated, control
        States of the treatment compared.
    outcome_state
        State of the outcome whose probability is contrasted.
    given
        Subgroup(s) for conditional effects (CATE): a dict ``{variable: state}``, a list of
        them or a DataFrame (one result row each; NaN cells are unobserved).
    kind
        ``"ate"`` (difference), ``"rr"`` (risk ratio) or ``"or"`` (odds ratio).
    interval
        Credible mass of the equal-tailed interval (posterior only).
    draws, seed
        Number of posterior CPT draws and their seed (posterior only).
    latent
        Unobserved variables of the causal graph and/or confounded pairs ``(a, b)``: the
        effect is identified (ID/IDC) and its formula evaluated on the model's observational
        distribution.
    adjust
        Adjust for this set (it must be a valid adjustment set) instead.
    graph
        The causal diagram when it is not the model's own DAG (its observed variables must
        be variables of the model).

    Returns
    -------
    pandas.DataFrame
        Columns ``mean``, ``lower``, ``upper``: one row, or one per ``given`` row (indexed
        like a ``given`` DataFrame). ``attrs`` holds ``formula`` (the identifying formula
        used, as text), ``method`` (``"surgery"``, ``"id"`` or ``"adjustment"``) and ``kind``.

    Raises
    ------
    NotIdentifiableError
        With latent confounders, when no formula exists (it names the hedge).
    BNError
        Unknown variables or states, a bad ``kind`` or ``interval``, an invalid ``adjust``.

    Examples
    --------
    >>> import bnlab
    >>> from bnlab import causal
    >>> net = bnlab.load_example("asia")
    >>> out = causal.effect(net, "smoke", "dysp", treated="yes", control="no",
    ...                     outcome_state="yes")
    >>> list(out.columns)
    ['mean', 'lower', 'upper']
    """
    s = _check_model(model)
    if kind not in KINDS:
        raise BNError(f"kind={kind!r} is not one of {', '.join(KINDS)}.")
    if not 0.0 < interval < 1.0:
        raise BNError(f"interval must lie in (0, 1), got {interval}.")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise BNError(f"draws must be a positive integer, got {draws!r}.")
    for v, role in ((treatment, "treatment"), (outcome, "outcome")):
        if v not in s.states:
            raise CausalGraphError(f"{role} {v!r} is not a variable of the model.")
    if treatment == outcome:
        raise CausalGraphError(f"treatment and outcome are both {treatment!r}.")
    codes = (
        states_index(s.states, treatment, treated, "treated"),
        states_index(s.states, treatment, control, "control"),
        states_index(s.states, outcome, outcome_state, "outcome_state"),
    )
    rows, index = _given_rows(given)
    given_vars = sorted({v for row in rows for v in row})
    for v in given_vars:
        if v in (treatment, outcome):
            raise CausalGraphError(
                f"given names {v!r}, the {'treatment' if v == treatment else 'outcome'}; a "
                "subgroup is defined by other variables."
            )
        if v not in s.states:
            raise CausalGraphError(f"given names {v!r}, which is not a variable of the model.")
    latent = list(latent)
    diagram: Structure | CausalGraph = s if graph is None else graph
    if adjust is not None:
        z = sorted(str(v) for v in adjust)
        g = causal_graph(diagram, latent)
        if set(given_vars) & g.descendants({treatment}):
            raise CausalGraphError(
                f"given variables {sorted(set(given_vars) & g.descendants({treatment}))} are "
                "descendants of the treatment: adjustment needs pre-treatment subgroups."
            )
        if not is_valid_adjustment(g, treatment, outcome, [*z, *given_vars]):
            raise CausalGraphError(
                f"{z} (with the subgroup variables {given_vars}) is not a valid adjustment set "
                f"for {treatment!r} on {outcome!r}; see causal.backdoor_sets()."
            )
        formula = adjustment_formula(treatment, outcome, z, given_vars)
        method = "adjustment"
        p1, p0 = _by_formula(model, formula, treatment, outcome, codes, rows, draws, seed)
    elif latent or graph is not None:
        formula = identify(diagram, treatment, outcome, given=given_vars, latent=latent)
        method = "id"
        p1, p0 = _by_formula(model, formula, treatment, outcome, codes, rows, draws, seed)
    else:
        formula = _surgery_formula(s, treatment, outcome)
        method = "surgery"
        p1, p0 = _surgery(model, treatment, outcome, codes, rows, draws, seed)
    values = contrast(p1, p0, kind)
    out = _summary(values, interval, draws=not isinstance(model, BayesNet))
    if index is not None:
        out.index = index
    text = str(formula)
    if given_vars and method == "surgery":
        text = f"P({outcome} | do({treatment}), {', '.join(given_vars)}) by graph surgery"
    out.attrs.update({"formula": text, "method": method, "kind": kind})
    return out
