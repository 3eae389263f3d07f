"""Answer a batch of served requests with fixed-shape engine calls, and split the answers.

The engine pads evidence rows to a power of two, and XLA may order a reduction differently
for different shapes: the same row answered in a 1-row call and in a 64-row call can differ
in the last bit. Here every engine call has the same shape — ``block`` rows, padded with
empty evidence — so a row's answer does not depend on what else was in its batch (each row
is computed in its own lanes; the shape is all that could move it). Batched answers are
therefore *identical* to the answers the same server gives each request alone.

Sampled intervals of a posterior with no zero entry are computed row by row from the
requisite factors of the target alone (:mod:`bnlab.infer.requisite`: a few CPT slices per
row instead of the whole network); rows whose requisite part is large, and models with zero
entries, go to the engine. Either way a row's answer depends on that row alone.

Evidence arrives as :class:`EvidenceRows` (the JSON cells, no DataFrame per request) and is
encoded to state codes once, when the request is prepared.

Intervals per request: ``interval_method="sampled"`` (equal-tailed over the posterior draws,
as the pyfunc) or ``"delta"`` (the delta method at the posterior mean from the Dirichlet
parameters, :func:`bnlab.infer.intervals.delta_query`: no draws, far cheaper; its mean is
the query at the posterior-mean CPTs). A model's default is its manifest's
``interval_method``.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.errors import BNError, EvidenceError, ImpossibleEvidenceError

#: Most rows one device gets per engine call (the engine's own cap can be lower).
ROWS_PER_DEVICE = 32
#: Evidence rows per delta-method call.
DELTA_BLOCK = 16
#: Distinct request settings whose validation is remembered (then forgotten all at once).
MAX_REMEMBERED_PARAMS = 256

Stats = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


@dataclass(frozen=True)
class EvidenceRows:
    """Evidence cells as a request sent them: column names and rows (``None`` = unobserved).

    Cells are the request's text (or any value a state's text is made from).
    """

    columns: list[str]
    rows: list[list[Any]]

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> EvidenceRows:
        """The cells of a DataFrame (NaN, None, NA: unobserved)."""
        values = frame.to_numpy(dtype=object)
        missing = pd.isna(values)
        rows = [
            [None if m else v for v, m in zip(row, miss, strict=True)]
            for row, miss in zip(values.tolist(), missing.tolist(), strict=True)
        ]
        return cls([str(c) for c in frame.columns], rows)

    def frame(self) -> pd.DataFrame:
        """The cells as an object DataFrame."""
        return pd.DataFrame(self.rows, columns=self.columns, dtype=object)


class Prepared(NamedTuple):
    """One validated request: settings, interval method, evidence (cells and codes), params."""

    request: Any
    method: str
    evidence: EvidenceRows
    codes: NDArray[np.int32]
    params: Mapping[str, Any] | None


def _pad(flat: NDArray[Any], start: int, block: int) -> NDArray[Any]:
    """Rows ``start:start+block`` of ``flat``, padded with empty evidence (ones)."""
    part = flat[start : start + block]
    if part.shape[0] < block:
        fill = np.ones((block - part.shape[0], flat.shape[1]), dtype=flat.dtype)
        part = np.concatenate([part, fill])
    return part


def fixed_marginals(engine: Any, codes: NDArray[np.int32], names: Sequence[str]) -> dict[str, Any]:
    """Marginals of ``names`` per evidence row, from engine calls of one fixed shape.

    ``codes`` are ``(rows, variables)`` state codes, ``-1`` = unobserved. Returns
    ``{name: (draws, rows, states)}`` (or ``(rows, states)`` for a point network).

    Raises
    ------
    ImpossibleEvidenceError
        Rows of probability zero (under any draw).
    """
    from bnlab.infer.devices import row_devices
    from bnlab.infer.engine import MAX_CHUNK
    from bnlab.infer.run import jitted

    draws = engine.n_draws is not None
    flat = engine.likelihoods(codes)
    n_dev = len(row_devices()) if engine.jit else 1
    per_dev = min(engine.chunk_rows("marginals"), MAX_CHUNK, ROWS_PER_DEVICE)
    block = per_dev * n_dev
    fn = jitted(engine.plan, "marginals", draws, engine.jit, n_dev)
    cpts = engine.device_cpts(draws)
    rows = flat.shape[0]
    zs, ms = [], []
    ax = 1 if draws else 0
    for start in range(0, rows, block):
        z, m = fn(cpts, _pad(flat, start, block))
        real = min(block, rows - start)
        zs.append(np.asarray(z).take(np.arange(real), axis=ax))
        ms.append(np.asarray(m).take(np.arange(real), axis=ax))
    z_all, m_all = np.concatenate(zs, axis=ax), np.concatenate(ms, axis=ax)
    bad = ~np.isfinite(z_all)
    if draws:
        bad = bad.any(axis=0)
    if bad.any():
        raise ImpossibleEvidenceError([int(r) for r in np.flatnonzero(bad)])
    out = {}
    for v in names:
        j = engine.structure.index[v]
        off = engine.plan.lik_offsets[j]
        out[v] = m_all[..., off : off + engine.plan.cards[j]].astype(np.float64)
    return out


def fixed_delta(engine: Any, codes: NDArray[np.int32], target: str, interval: float) -> Stats:
    """Delta-method mean, lower, upper ``(rows, states)`` of a target, in fixed-shape calls.

    Raises
    ------
    ImpossibleEvidenceError
        Rows of probability zero under the posterior-mean network.
    """
    flat = np.asarray(engine.likelihoods(codes), dtype=np.float64)
    rows = flat.shape[0]
    parts: list[Stats] = []
    for start in range(0, rows, DELTA_BLOCK):
        real = min(DELTA_BLOCK, rows - start)
        mean, lower, upper = engine.delta_marginal(_pad(flat, start, DELTA_BLOCK), target, interval)
        parts.append((mean[:real], lower[:real], upper[:real]))
    mean = np.concatenate([p[0] for p in parts])
    bad = ~np.isfinite(mean).all(axis=1)
    if bad.any():
        raise ImpossibleEvidenceError([int(r) for r in np.flatnonzero(bad)])
    return mean, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def sampled_marginal(engine: Any, codes: NDArray[np.int32], target: str) -> NDArray[np.float64]:
    """``P(target | row)`` per draw, ``(draws, rows, states)``: requisite factors, else engine.

    Rows go through :func:`bnlab.infer.requisite.requisite_marginals` when the engine has
    requisite CPTs (:meth:`bnlab.Engine.requisite_cpts`); a row whose requisite contraction
    costs more than the engine's padded block of all-marginals passes, or comes near
    underflow, and every row of a model with a zero entry, is answered by
    :func:`fixed_marginals`.

    Raises
    ------
    ImpossibleEvidenceError
        Rows of probability zero (under any draw), numbered within ``codes``.
    """
    from bnlab.infer.requisite import requisite_marginals

    def on_engine(rest: list[int]) -> NDArray[np.float64]:
        try:
            return np.asarray(fixed_marginals(engine, codes[rest], [target])[target])
        except ImpossibleEvidenceError as err:
            raise ImpossibleEvidenceError([rest[r] for r in err.rows]) from None

    cpts = engine.requisite_cpts()
    if cpts is None:
        return on_engine(list(range(codes.shape[0])))
    # a row left to the engine costs a padded block of all-marginals passes
    cap = 3.0 * engine.plan.flops * ROWS_PER_DEVICE
    return requisite_marginals(engine.structure, cpts, codes, target, cap, on_engine)


class BatchPredictor:
    """Validate requests for a bnlab pyfunc, and answer batches of them.

    Parameters
    ----------
    pyfunc
        The :class:`bnlab.pyfunc.BNPyfunc` of the served model.
    """

    def __init__(self, pyfunc: Any) -> None:
        from bnlab.schema import schema_of

        self.pyfunc = pyfunc
        self.model = pyfunc.model
        self.schema = schema_of(self.model.posterior) if self.model.posterior is not None else None
        self._requests: dict[str, Any] = {}

    def prepare(
        self, evidence: EvidenceRows | pd.DataFrame, params: Mapping[str, Any] | None
    ) -> Prepared:
        """Validate one request's params and columns, and encode its evidence.

        Raises
        ------
        EvidenceError
            Unknown params, columns or states, bad settings; the message names the fix.
        """
        table = (
            evidence if isinstance(evidence, EvidenceRows) else EvidenceRows.from_frame(evidence)
        )
        states = self.model.network.states
        unknown = [str(c) for c in table.columns if c not in states]
        if unknown:
            raise EvidenceError(
                f"input column(s) {unknown} are not variables of the model; drop or rename "
                f"them. The model knows these columns: {list(states)}."
            )
        request = self._request(params)
        method = request.interval_method
        posterior = self.model.posterior
        if method == "delta" and posterior is not None and posterior.kind != "dirichlet":
            raise EvidenceError(
                "params: interval_method='delta' needs a Dirichlet (conjugate) posterior; "
                "this model's posterior is sampled: use interval_method='sampled'."
            )
        return Prepared(request, str(method), table, self._codes(table), params)

    def _request(self, params: Mapping[str, Any] | None) -> Any:
        """The validated settings of ``params``, remembered: clients repeat the same few."""
        try:
            key = json.dumps(params, sort_keys=True) if params else ""
        except (TypeError, ValueError):  # not JSON-like: validate it every time
            return self.pyfunc._params(params)
        request = self._requests.get(key)
        if request is None:
            request = self.pyfunc._params(params)  # bad params raise: nothing is remembered
            if len(self._requests) >= MAX_REMEMBERED_PARAMS:
                self._requests.clear()
            self._requests[key] = request
        return request

    def _codes(self, table: EvidenceRows) -> NDArray[np.int32]:
        """State codes ``(rows, variables)`` of the cells, ``-1`` = unobserved."""
        from bnlab.infer.evidence import encode_cells, encode_evidence

        structure = self.model.network.structure
        if self.schema is not None:  # raw values: the schema bins them first
            from bnlab.schema import encode_evidence_frame

            return encode_evidence(structure, encode_evidence_frame(self.schema, table.frame()))
        return encode_cells(structure, table.columns, table.rows)

    def warm_up(self) -> None:
        """Compile every engine kernel a request can reach, so that none pays a compile.

        An empty row is answered through each interval method the model offers, and the
        engine's all-marginals program — the path of rows whose requisite part is large —
        is compiled too.
        """
        import jax

        first = next(iter(self.model.network.variables))
        empty = EvidenceRows([first], [[None]])
        posterior = self.model.posterior
        methods = ["sampled"]
        if posterior is not None and posterior.kind == "dirichlet":
            methods.append("delta")
        for method in methods:
            prepared = self.prepare(empty, {"interval_method": method})
            self.run(self.key(prepared), [prepared])
        request = self._request(None)
        with jax.enable_x64(True):
            engine = self.pyfunc._engine(request.draws, request.seed)
            fixed_marginals(engine, np.full((1, len(engine.structure.variables)), -1), [])

    @staticmethod
    def key(item: Prepared) -> Hashable:
        """Requests with equal keys may share an engine call."""
        r = item.request
        return (tuple(r.targets), r.interval, r.draws, r.seed, item.method, r.explain,
                r.explain_top, r.effect)  # fmt: skip

    def run(self, key: Hashable, items: Sequence[Prepared]) -> list[Any]:
        """One answer per request — ``{column: values}`` — or the error of that request.

        A batch that fails (say one request holds an impossible row) is answered request by
        request, so that only the faulty request gets the error.
        """
        import jax

        if items and (items[0].request.explain or items[0].request.effect is not None):
            # explanations are per row anyway; an effect request is its own engine call
            return [self._explained(item) for item in items]
        with jax.enable_x64(True):
            try:
                return self._batch(items)
            except BNError as err:
                if len(items) == 1:
                    return [err]
            out: list[Any] = []
            for item in items:
                try:
                    out += self._batch([item])
                except BNError as err:
                    out.append(err)
            return out

    def _explained(self, item: Prepared) -> Any:
        try:
            frame = self.pyfunc.predict(item.evidence.frame(), params=item.params)
        except BNError as err:
            return err
        return {c: frame[c].to_numpy() for c in frame.columns}

    def _batch(self, items: Sequence[Prepared]) -> list[dict[str, NDArray[Any]]]:
        first = items[0].request
        targets, interval, method = first.targets, first.interval, items[0].method
        codes = items[0].codes if len(items) == 1 else np.concatenate([i.codes for i in items])
        engine = self.pyfunc._engine(first.draws, first.seed)
        self.pyfunc.engine_calls += 1
        index = engine.structure.index
        observed = [t for t in targets if (codes[:, index[t]] >= 0).any()]
        groups = [[t for t in targets if t not in observed]] + [[t] for t in observed]
        stats: dict[str, Stats] = {}
        for group in groups:
            if not group:
                continue
            rows = codes.copy()
            rows[:, [index[t] for t in group]] = -1
            if method == "delta" and engine.n_draws is not None:
                for t in group:
                    stats[t] = fixed_delta(engine, rows, t, interval)
                continue
            if engine.n_draws is None:
                marg = fixed_marginals(engine, rows, group)
                for t in group:
                    stats[t] = (marg[t], marg[t], marg[t])
                continue
            for t in group:
                stats[t] = _sampled(sampled_marginal(engine, rows, t), interval)
        columns: dict[str, NDArray[Any]] = {}
        for t in targets:
            mean, lower, upper = stats[t]
            for k, s in enumerate(self.model.network.states[t]):
                columns[f"P({t}={s})_mean"] = mean[:, k]
                columns[f"P({t}={s})_lower"] = lower[:, k]
                columns[f"P({t}={s})_upper"] = upper[:, k]
        out, start = [], 0
        for item in items:
            n = len(item.evidence)
            out.append({c: v[start : start + n] for c, v in columns.items()})
            start += n
        return out


def _sampled(p: NDArray[np.float64], interval: float) -> Stats:
    """Mean and equal-tailed interval over the draw axis of ``(draws, rows, states)``.

    A row's numbers do not depend on its neighbours in the batch: the quantiles are order
    statistics of each column and an elementwise interpolation, and the mean is taken row
    by row (numpy may order a reduction over a 3-d array differently for other shapes).
    """
    lower, upper = np.quantile(p, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    mean = np.empty(p.shape[1:])
    for r in range(p.shape[1]):
        mean[r] = np.ascontiguousarray(p[:, r]).mean(axis=0)
    return mean, np.asarray(lower), np.asarray(upper)
