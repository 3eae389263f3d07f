"""The pyfunc of the ``bnlab`` MLflow flavor: evidence rows in, posterior answers out.

The pyfunc flavor takes a DataFrame of evidence (one column per observed variable; NaN,
``None`` or a missing column = unobserved; a target's own column is ignored for that
target) and returns one row per input row with columns ``P(T=s)_mean``, ``P(T=s)_lower``
and ``P(T=s)_upper`` for every target ``T`` and state ``s``. Inference params: ``targets``
(comma-separated names), ``interval`` (equal-tailed, over the posterior draws), ``draws``,
``seed`` and ``interval_method`` (``"sampled"``, the default of most models, or ``"delta"``:
the delta method from the Dirichlet parameters, no draws; the model's default is in its
manifest). A whole batch is answered by one engine call (one more per target that is
itself observed in the input). Inference runs in float64 (``jax.enable_x64`` scoped to the
call), so served numbers equal :class:`bnlab.Engine` with x64 on.

Explanations: with ``params={"explain": True}`` each row also carries the top
``explain_top`` (default 3, at most :data:`MAX_EXPLAIN_TOP`) evidence contributions of
:func:`bnlab.explain.evidence_contributions` — conditional Shapley values of the row's
observed variables for ``P(T = s | evidence)``, where ``s`` is the row's most probable state
of ``T`` (posterior mean), computed on the same engine and posterior draws as the prediction,
with equal-tailed ``interval`` credible intervals over the draws. Still one row per input
row; for every target ``T`` these columns are added (``k`` = 1 .. ``explain_top``, ranked by
``|shapley|``):

``explain(T)_state``
    The explained state ``s``.
``explain(T)_baseline``
    ``P(T = s)`` with no evidence; the baseline plus all contributions is ``P(T=s)_mean``.
``explain(T)_method``
    ``"exact"`` (all ``2^n`` coalitions of the row's ``n`` observed variables, ``n`` at most
    :data:`bnlab.explain.MAX_EXACT`) or ``"sampled"`` (:data:`EXPLAIN_PERMUTATIONS`
    permutations, above that).
``explain(T)_k_variable``, ``explain(T)_k_state``
    The ``k``-th contributing variable and its observed state; ``None`` (JSON ``null``) when
    the row observes fewer than ``k`` variables, and that slot's numbers are then 0.0.
``explain(T)_k_shapley``, ``explain(T)_k_lower``, ``explain(T)_k_upper``
    Its contribution (posterior mean) and credible interval (equal to the mean for a model
    without a posterior).
``explain(T)_k_se``
    Monte Carlo standard error of a ``"sampled"`` contribution; 0.0 when exact.

No column holds NaN, so the scoring server's JSON stays standard JSON.

Causal effects: with ``effect_treatment``, ``effect_treated``, ``effect_control``,
``effect_outcome``, ``effect_outcome_state`` (and ``effect_kind``: ``"ate"``, ``"rr"`` or
``"or"``) the request asks for :func:`bnlab.causal.effect` instead: each input row is a
subgroup (its observed columns; an empty row is the whole population) and the answer has
the columns :data:`bnlab.ops.requests.EFFECT_COLUMNS` (mean, lower, upper, kind, formula).

An explanation costs one engine call per row and target (its coalitions batched), so it is
for single rows and small batches; the signature's output schema lists the prediction
columns only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

import bnlab
from bnlab.errors import BNError, EvidenceError
from bnlab.ops.model_folder import BNModel
from bnlab.ops.requests import (
    EXPLAIN_PERMUTATIONS,
    EXPLAIN_TOP,
    INTERVAL_METHODS,
    MAX_ENGINES,
    MAX_EXPLAIN_TOP,
    PARAMS,
    EffectQuestion,
    check_settings,
    effect_question,
    explanation_columns,
)


class Request(NamedTuple):
    """The validated params of one pyfunc call."""

    targets: list[str]
    interval: float
    draws: int
    seed: int
    explain: bool
    explain_top: int
    interval_method: str = "sampled"
    effect: EffectQuestion | None = None


def _flag(value: Any, name: str) -> bool:
    """A boolean param given as a bool, 0/1 or the strings true/false (JSON, query strings)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise EvidenceError(f"params: {name} must be true or false, got {value!r}.")


class BNPyfunc:
    """The pyfunc wrapper: a whole batch of evidence rows is answered by one engine call.

    ``engine_calls`` counts calls to ``Engine.marginals`` (for tests and monitoring);
    an explanation adds one per row and target.
    """

    def __init__(self, model: BNModel) -> None:
        self.model = model
        self.engine_calls = 0
        self._engines: OrderedDict[tuple[int, int], Any] = OrderedDict()

    def _engine(self, draws: int, seed: int) -> Any:
        key = (draws, seed) if self.model.posterior is not None else (0, 0)
        if key in self._engines:
            self._engines.move_to_end(key)
            return self._engines[key]
        # a served or scoring model answers many batches: always the compiled program, so
        # an answer never depends on which calls came before (no host tier)
        if self.model.posterior is None:
            engine = bnlab.Engine(self.model.network, execution="program")
        else:
            engine = bnlab.Engine(self.model.posterior, draws=draws, seed=seed, execution="program")
        self._engines[key] = engine
        while len(self._engines) > MAX_ENGINES:
            self._engines.popitem(last=False)
        return engine

    def _params(self, params: Mapping[str, Any] | None) -> Request:
        given = {k: v for k, v in dict(params or {}).items() if v is not None}
        unknown = sorted(set(given) - set(PARAMS))
        if unknown:
            raise EvidenceError(
                f"unknown params {unknown}; the bnlab pyfunc takes {', '.join(PARAMS)}."
            )
        explain = _flag(given.get("explain", False), "explain")
        top = given.get("explain_top", EXPLAIN_TOP)
        if isinstance(top, bool) or not isinstance(top, (int, np.integer, str)):
            raise EvidenceError(f"params: explain_top must be an integer, got {top!r}.")
        try:
            top = int(top)
        except ValueError:
            raise EvidenceError(f"params: explain_top must be an integer, got {top!r}.") from None
        if not 1 <= top <= MAX_EXPLAIN_TOP:
            raise EvidenceError(
                f"params: explain_top must lie in [1, {MAX_EXPLAIN_TOP}], got {top}."
            )
        method = str(given.get("interval_method") or self.model.interval_method)
        if method not in INTERVAL_METHODS:
            raise EvidenceError(
                f"params: interval_method must be one of {list(INTERVAL_METHODS)}, got {method!r}."
            )
        raw = given.get("targets") or list(self.model.targets)
        targets = (
            [t.strip() for t in raw.split(",") if t.strip()]
            if isinstance(raw, str)
            else [str(t) for t in raw]
        )
        try:
            targets = check_settings(
                self.model.network,
                targets,
                float(given.get("interval", self.model.interval)),
                int(given.get("draws", self.model.draws)),
                int(given.get("seed", self.model.seed)),
            )
        except EvidenceError:
            raise
        except (BNError, TypeError, ValueError) as err:
            raise EvidenceError(f"params: {err}") from None
        try:
            effect = effect_question(self.model.network, given)
        except BNError as err:
            raise EvidenceError(str(err)) from None
        if effect is not None and explain:
            raise EvidenceError(
                "params: an effect request cannot be explained; send explain=false, or ask "
                "for the effect and the explanation in two requests."
            )
        return Request(
            targets=targets,
            interval=float(given.get("interval", self.model.interval)),
            draws=int(given.get("draws", self.model.draws)),
            seed=int(given.get("seed", self.model.seed)),
            explain=explain,
            explain_top=top,
            interval_method=method,
            effect=effect,
        )

    def _evidence(self, model_input: Any) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        states = self.model.network.states
        unknown = [c for c in frame.columns if c not in states]
        if unknown:
            raise EvidenceError(
                f"input columns {unknown} are not variables of the model; drop them "
                f"(variables: {list(states)[:10]})."
            )
        return frame.reset_index(drop=True)

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Return ``P(target=state)`` mean, lower and upper for every evidence row.

        Parameters
        ----------
        model_input
            Evidence: a DataFrame with one column per observed variable (NaN/None = unset).
        params
            ``targets`` (comma-separated), ``interval``, ``draws``, ``seed``,
            ``interval_method`` (``"sampled"`` over the draws, or ``"delta"``); ``explain``
            (add the top evidence contributions, see the module docstring) and
            ``explain_top``.
        """
        import jax

        from bnlab.infer.intervals import sampled_interval

        request = self._params(params)
        targets, interval = request.targets, request.interval
        evidence = self._evidence(model_input)
        if request.effect is not None:
            return self._effect(evidence, request, request.effect)
        observed = [t for t in targets if t in evidence.columns and evidence[t].notna().any()]
        # one call for every target not itself observed; one per observed target (its column
        # is dropped so the answer is P(target | the other columns))
        groups = [[t for t in targets if t not in observed]] + [[t] for t in observed]
        stats: dict[str, tuple[Any, Any, Any]] = {}
        with jax.enable_x64(True):
            engine = self._engine(request.draws, request.seed)
            for group in groups:
                if not group:
                    continue
                rows = evidence.drop(columns=[t for t in group if t in evidence.columns])
                self.engine_calls += 1
                if request.interval_method == "delta" and engine.n_draws is not None:
                    for t in group:  # the delta method at the posterior mean, no draws
                        q = engine.query(t, rows, interval, method="delta")
                        card = len(self.model.network.states[t])
                        stats[t] = tuple(
                            q[c].to_numpy().reshape(-1, card) for c in ("mean", "lower", "upper")
                        )
                    continue
                marg = engine.marginals(rows, variables=group)
                for t in group:
                    p = np.asarray(marg[t], dtype=np.float64)
                    stats[t] = sampled_interval(p, interval) if p.ndim == 3 else (p, p, p)
        out: dict[str, np.ndarray] = {}
        for t in targets:
            mean, lower, upper = stats[t]
            for k, s in enumerate(self.model.network.states[t]):
                out[f"P({t}={s})_mean"] = mean[:, k]
                out[f"P({t}={s})_lower"] = lower[:, k]
                out[f"P({t}={s})_upper"] = upper[:, k]
        frame = pd.DataFrame(out, index=pd.RangeIndex(len(evidence)))
        if not request.explain:
            return frame
        with jax.enable_x64(True):
            engine = self._engine(request.draws, request.seed)
            parts = [
                self._explain(engine, evidence, t, np.argmax(stats[t][0], axis=-1), request)
                for t in targets
            ]
        return pd.concat([frame, *parts], axis=1)

    def _effect(
        self, evidence: pd.DataFrame, request: Request, question: EffectQuestion
    ) -> pd.DataFrame:
        """One causal effect per input row: each row is a subgroup (an empty row: everyone).

        :func:`bnlab.causal.effect` by graph surgery on the model's DAG, over the request's
        posterior draws (a point answer for a model without a posterior).
        """
        from bnlab.causal import effect
        from bnlab.schema import encode_evidence_frame, schema_of

        model = self.model.posterior if self.model.posterior is not None else self.model.network
        given = evidence.dropna(axis=1, how="all")
        data_schema = schema_of(self.model.posterior) if self.model.posterior is not None else None
        if data_schema is not None and len(given.columns):
            given = encode_evidence_frame(data_schema, given)
        self.engine_calls += 1
        table = effect(
            model,
            question.treatment,
            question.outcome,
            treated=question.treated,
            control=question.control,
            outcome_state=question.outcome_state,
            given=given if len(given.columns) else [{}] * len(evidence),
            kind=question.kind,  # type: ignore[arg-type]
            interval=request.interval,
            draws=request.draws,
            seed=request.seed,
        )
        n = len(evidence)
        return pd.DataFrame(
            {
                "effect_mean": table["mean"].to_numpy(dtype=np.float64),
                "effect_lower": table["lower"].to_numpy(dtype=np.float64),
                "effect_upper": table["upper"].to_numpy(dtype=np.float64),
                "effect_kind": [question.kind] * n,
                "effect_formula": [str(table.attrs["formula"])] * n,
            },
            index=pd.RangeIndex(n),
        )

    def _explain(
        self, engine: Any, evidence: pd.DataFrame, target: str, best: Any, request: Request
    ) -> pd.DataFrame:
        """The explanation columns of ``target`` (see the module docstring), one row per row."""
        from bnlab.explain import MAX_EXACT, evidence_contributions

        states = self.model.network.states[target]
        rows = evidence.drop(columns=[target] if target in evidence.columns else [])
        top, n = request.explain_top, len(rows)
        cols: dict[str, list[Any]] = {c: [] for c in explanation_columns([target], top)}
        prefix = f"explain({target})_"
        for i in range(n):
            row = rows.iloc[[i]]
            observed = int(row.notna().to_numpy().sum())
            method: Literal["exact", "sampled"] = "exact" if observed <= MAX_EXACT else "sampled"
            self.engine_calls += 1
            table = evidence_contributions(
                engine,
                target,
                states[int(best[i])],
                row,
                method=method,
                permutations=EXPLAIN_PERMUTATIONS,
                interval=request.interval,
                seed=request.seed,
            )
            cols[prefix + "state"].append(states[int(best[i])])
            cols[prefix + "baseline"].append(float(table.attrs["p_none"]))
            cols[prefix + "method"].append(method)
            records = table.to_dict(orient="records")
            for k in range(1, top + 1):
                rec = records[k - 1] if k <= len(records) else None
                name = f"{prefix}{k}_"
                cols[name + "variable"].append(None if rec is None else str(rec["variable"]))
                cols[name + "state"].append(None if rec is None else str(rec["state"]))
                shap = 0.0 if rec is None else float(rec["shapley"])
                cols[name + "shapley"].append(shap)
                cols[name + "lower"].append(shap if rec is None else float(rec.get("lower", shap)))
                cols[name + "upper"].append(shap if rec is None else float(rec.get("upper", shap)))
                cols[name + "se"].append(0.0 if rec is None else float(rec.get("se", 0.0)))
        # names as object columns: an empty slot stays None (JSON null), not NaN
        numbers = ("_baseline", "_shapley", "_lower", "_upper", "_se")
        kinds = {c: float if c.endswith(numbers) else object for c in cols}
        return pd.DataFrame({c: pd.Series(v, dtype=kinds[c]) for c, v in cols.items()})
