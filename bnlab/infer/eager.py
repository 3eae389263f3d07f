"""Segmented execution on the host: each step a cached opt_einsum expression over NumPy.

The same algorithm as :mod:`bnlab.infer.segmented` (forward pass with per-row rescaling,
explicit reverse pass through batched tensors, marginals as normalised ``lik * adjoint``)
but with no XLA compilation at all: a step is a cached pairwise contraction program
(:func:`bnlab.infer.contract.contract`: batched BLAS matmuls, worked out once per equation
and shapes), so a new plan costs milliseconds of set-up per distinct step instead of a
compile. A CPT-draw axis is one more einsum index on the tensors that carry it.

This is what ``Engine(execution="segmented")`` runs: on a 2-core box under load, 525
distinct JAX step kernels of pigs took longer to compile than this path takes to answer
1,000 rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from bnlab.infer import maxproduct
from bnlab.infer.contract import contract
from bnlab.infer.layout import split_cpts, split_liks, tensor_indices
from bnlab.infer.plan import Plan

#: Einsum letter of the CPT-draw axis (step equations use letters from "a" on, and a step
#: touching 52 variables is rejected by the plan, so "Z" only clashes past 51).
DRAW = "Z"


def _split(equation: str) -> tuple[list[str], str]:
    lhs, out = equation.split("->")
    return lhs.split(","), out


def _with_draws(ins: list[str], out: str, flags: Sequence[bool]) -> str:
    lhs = [DRAW + s if f else s for s, f in zip(ins, flags, strict=True)]
    return ",".join(lhs) + "->" + (DRAW + out if any(flags) else out)


def _scaled(r: np.ndarray, lead: int) -> tuple[np.ndarray, np.ndarray]:
    """``r`` divided by its maximum over all axes after the first ``lead``; log max."""
    axes = tuple(range(lead, r.ndim))
    m = np.max(r, axis=axes, keepdims=True) if axes else r.copy()
    m = np.where(m > 0, m, 1.0)
    return r / m, np.log(m.reshape(r.shape[:lead]))


def forward(
    plan: Plan, cpts: Sequence[np.ndarray], liks: Sequence[np.ndarray], keep: bool
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """``log P(e)`` per row (``(batch,)`` or ``(draws, batch)``) and, with ``keep``, tensors."""
    n = plan.n
    idx = tensor_indices(plan)
    tensors: dict[int, np.ndarray] = {i: cpts[i] for i in range(n)}
    tensors.update({n + i: liks[i] for i in range(n)})
    # a leading draw axis on the likelihoods, or on any CPT (sliced runs give it to some)
    batch = liks[0].shape[-2]
    draw_shape = liks[0].shape[:-2] or next(
        (c.shape[:1] for c, sh in zip(cpts, plan.cpt_shapes, strict=True) if c.ndim > len(sh)),
        (),
    )
    log_scale = np.zeros((*draw_shape, batch), dtype=liks[0].dtype)
    last = -1
    for k, st in enumerate(plan.steps):
        xs = [tensors[t] if keep else tensors.pop(t) for t in st.inputs]
        flags = [x.ndim > len(idx[t]) for x, t in zip(xs, st.inputs, strict=True)]
        ins, out = _split(st.equation)
        r = contract(_with_draws(ins, out, flags), *xs)
        lead = int(any(flags)) + int(-1 in st.out)
        r, ls = _scaled(r, lead)
        if any(flags) and -1 not in st.out:
            ls = ls[:, None]  # one scale per draw
        log_scale = log_scale + ls
        last = 2 * n + k
        tensors[last] = r
    with np.errstate(divide="ignore"):
        return np.log(tensors[last]) + log_scale, tensors


def _adjoint(
    equation: str, position: int, g: np.ndarray, g_draw: bool, xs: list[np.ndarray],
    flags: list[bool],
) -> np.ndarray:  # fmt: skip
    """Adjoint of input ``position`` of a step, normalised per row (and draw)."""
    ins, out = _split(equation)
    target = ins[position]
    others = [s for k, s in enumerate(ins) if k != position]
    rest = [x for k, x in enumerate(xs) if k != position]
    rest_flags = [f for k, f in enumerate(flags) if k != position]
    present = "".join(c for c in target if c in out or any(c in o for o in others))
    lhs = [DRAW + out if g_draw else out]
    lhs += [DRAW + s if f else s for s, f in zip(others, rest_flags, strict=True)]
    draw = g_draw or any(rest_flags)
    res = contract(",".join(lhs) + "->" + (DRAW if draw else "") + present, g, *rest)
    if present != target:
        sizes = {
            c: x.shape[-len(s) + k] for s, x in zip(ins, xs, strict=True) for k, c in enumerate(s)
        }
        lead = res.shape[:1] if draw else ()
        shape = [res.shape[len(lead) + present.index(c)] if c in present else 1 for c in target]
        res = np.broadcast_to(res.reshape(*lead, *shape), (*lead, *(sizes[c] for c in target)))
    return _scaled(res, 2 if draw else 1)[0]


def marginals(
    plan: Plan, cpts: Sequence[np.ndarray], liks: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``log P(e)`` and all marginals ``(..., batch, sum(cards))`` (NaN where impossible)."""
    n = plan.n
    idx = tensor_indices(plan)
    log_z, tensors = forward(plan, cpts, liks, keep=True)
    finite = np.isfinite(log_z)
    last = 2 * n + len(plan.steps) - 1
    adj: dict[int, np.ndarray] = {last: finite.astype(log_z.dtype)}
    for k in range(len(plan.steps) - 1, -1, -1):
        st = plan.steps[k]
        out_id = 2 * n + k
        if -1 not in st.out or out_id not in adj:
            continue
        g = adj.pop(out_id)
        g_draw = g.ndim > len(st.out)
        xs = [tensors[t] for t in st.inputs]
        flags = [x.ndim > len(idx[t]) for x, t in zip(xs, st.inputs, strict=True)]
        for p, t in enumerate(st.inputs):
            if -1 in idx[t]:
                adj[t] = _adjoint(st.equation, p, g, g_draw, xs, flags)
    flat_adj = np.concatenate(
        [np.broadcast_to(adj.pop(n + i), adj_shape(log_z, c)) for i, c in enumerate(plan.cards)],
        axis=-1,
    )
    flat_lik = np.concatenate(list(liks), axis=-1)
    prob = np.where(flat_lik > 0, flat_lik * flat_adj, 0.0)
    seg = np.repeat(np.arange(n), plan.cards)
    starts = np.asarray(plan.lik_offsets)
    sums = np.add.reduceat(prob, starts, axis=-1)[..., seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = prob / np.where(sums > 0, sums, 1.0)
    return log_z, np.where(finite[..., None], out, np.nan)


def adj_shape(log_z: np.ndarray, card: int) -> tuple[int, ...]:
    """Shape of one variable's adjoint block: ``(*log_z.shape, card)``."""
    return (*log_z.shape, card)


class SegmentedKernel:
    """``f(flat_cpts, flat_liks)`` over a plan, the flat interface of :func:`run.jitted`.

    ``what`` is ``"marginals"`` (returns ``(log_z, flat marginals)``) or
    ``"log_evidence"`` (returns ``log_z``). The CPTs are split once per CPT array (the
    last one is remembered), the likelihoods per call. ``backend="numpy"`` runs the steps
    of this module (no JAX at all); ``"jax"`` the cached jitted step kernels of
    :mod:`bnlab.infer.segmented`.
    """

    def __init__(self, plan: Plan, what: str, backend: str = "numpy") -> None:
        if what not in ("marginals", "log_evidence", "mpe") or (
            what == "mpe" and backend != "numpy"
        ):
            raise ValueError(
                f"segmented execution runs marginals, log_evidence and (on NumPy) mpe, not "
                f"{what} on {backend}"
            )
        self.plan = plan
        self.what = what
        self.backend = backend
        self._cpts_of: tuple[Any, list[Any]] | None = None

    def _put(self, x: np.ndarray) -> Any:
        if self.backend == "numpy":
            return x
        import jax.numpy as jnp

        return jnp.asarray(x)

    def _cpts(self, flat: Any) -> list[Any]:
        if self._cpts_of is None or self._cpts_of[0] is not flat:
            parts = [self._put(c) for c in split_cpts(self.plan, np.asarray(flat))]
            self._cpts_of = (flat, parts)
        return self._cpts_of[1]

    def __call__(self, flat_cpts: Any, flat_liks: Any) -> Any:
        """Run the plan on one chunk of rows (``flat_liks`` ``(rows, sum(cards))``)."""
        liks = [self._put(x) for x in split_liks(self.plan, np.asarray(flat_liks))]
        cpts = self._cpts(flat_cpts)
        if self.backend == "numpy":
            if self.what == "mpe":
                return maxproduct.mpe(self.plan, cpts, liks, np)
            if self.what == "log_evidence":
                return forward(self.plan, cpts, liks, keep=False)[0]
            return marginals(self.plan, cpts, liks)
        from bnlab.infer import segmented as jax_steps

        if self.what == "log_evidence":
            return jax_steps.forward(self.plan, cpts, liks, keep=False)[0]
        return jax_steps.marginals(self.plan, cpts, liks)


@cache
def segmented(plan: Plan, what: str, backend: str = "numpy") -> SegmentedKernel:
    """The segmented kernel ``what`` of a plan (cached per plan).

    ``backend``: ``"numpy"`` (this module, no compilation) or ``"jax"`` (cached jitted
    step kernels of :mod:`bnlab.infer.segmented`).
    """
    return SegmentedKernel(plan, what, backend)
