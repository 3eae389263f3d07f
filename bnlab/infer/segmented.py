"""Segmented execution: a plan run step by step from Python, one small compiled kernel each.

Compiling a whole plan as one XLA program costs time that grows faster than the number of
steps (60-70 s for the ~420-step plans of pigs and diabetes). Here every contraction step
is a call to a small jitted kernel, and the kernels are cached by what they compute —
the step's einsum equation, which inputs carry a CPT-draw axis, and (inside ``jax.jit``)
the input shapes and dtype — so steps of the same signature share one compilation, within
a plan and across plans and networks. Compile cost then grows with the number of distinct
signatures, not with the number of steps, and the per-step dispatch (tens of
microseconds) is paid once per row chunk.

All marginals come from an explicit reverse pass instead of ``jax.grad`` over the whole
plan: the adjoint of a step's input is the einsum of the step's output adjoint with its
other inputs. Every forward tensor is divided by its maximum per evidence row (as in
:mod:`bnlab.infer.run`) and every adjoint too: a marginal is ``lik * adjoint`` normalised
per row, so positive per-row factors cancel and nothing under- or overflows.

Only batched tensors (those that depend on a likelihood) need adjoints: the CPT-only
parts of the plan are run forward once per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bnlab.infer.layout import tensor_indices
from bnlab.infer.plan import Plan

Array = jax.Array


def _letters(equation: str) -> tuple[list[str], str]:
    lhs, out = equation.split("->")
    return lhs.split(","), out


def _scaled(r: Any, batched: bool) -> tuple[Any, Any]:
    """``r`` divided by its maximum per row (whole tensor when unbatched), and log max."""
    axes = tuple(range(1 if batched else 0, r.ndim))
    m = jnp.max(r, axis=axes, keepdims=True) if axes else r
    m = jnp.where(m > 0, m, jnp.ones_like(m))
    ls = jnp.log(m).reshape(m.shape[0] if batched else ())
    return r / m, ls


@cache
def forward_kernel(equation: str, batched: bool, draw_axes: tuple[bool, ...]) -> Any:
    """Jitted ``(*inputs) -> (scaled result, log scale)`` of one step.

    ``draw_axes`` says which inputs carry a leading CPT-draw axis (the kernel is mapped
    over it); jit specialises on shapes and dtype itself.
    """

    def step(*xs: Any) -> tuple[Any, Any]:
        return _scaled(jnp.einsum(equation, *xs), batched)

    if any(draw_axes):
        step = jax.vmap(step, in_axes=tuple(0 if d else None for d in draw_axes))
    return jax.jit(step)


@cache
def adjoint_kernel(
    equation: str, position: int, shape_of: tuple[tuple[str, int], ...], draw_axes: tuple[bool, ...]
) -> Any:
    """Jitted adjoint of input ``position`` of a step, normalised per row.

    Arguments: the output adjoint, then the step's other inputs in order. ``draw_axes``
    covers those arguments. Indices of the input that appear in no other argument are
    broadcast (the derivative of a sum is one along them). The result is divided by its
    maximum per row (a positive per-row factor cancels in every marginal).
    """
    ins, out = _letters(equation)
    target = ins[position]
    others = [s for k, s in enumerate(ins) if k != position]
    present = "".join(c for c in target if c in out or any(c in o for o in others))
    sub = ",".join([out, *others]) + "->" + present
    sizes = dict(shape_of)

    def adj(out_adj: Any, *rest: Any) -> Any:
        g = jnp.einsum(sub, out_adj, *rest)
        if present != target:
            expanded = g.reshape([g.shape[present.index(c)] if c in present else 1 for c in target])
            g = jnp.broadcast_to(expanded, tuple(sizes[c] for c in target))
        return _scaled(g, True)[0]

    if any(draw_axes):
        adj = jax.vmap(adj, in_axes=tuple(0 if d else None for d in draw_axes))
    return jax.jit(adj)


def _shape_of(equation: str, shapes: Sequence[tuple[int, ...]]) -> tuple[tuple[str, int], ...]:
    ins, _ = _letters(equation)
    sizes: dict[str, int] = {}
    for s, shp in zip(ins, shapes, strict=True):
        sizes.update(zip(s, shp, strict=True))
    return tuple(sorted(sizes.items()))


def _has_draw(x: Any, plan_ndim: int) -> bool:
    return bool(x.ndim > plan_ndim)


def forward(
    plan: Plan, cpts: Sequence[Any], liks: Sequence[Any], keep: bool
) -> tuple[Any, dict[int, Any]]:
    """Run the plan forward; ``log P(e)`` per row and (with ``keep``) every tensor.

    ``cpts`` may carry a leading draw axis (all of them or none); ``liks`` are
    ``(batch, card)``. Returns ``(log_z, tensors)`` with ``log_z`` shaped ``(batch,)`` or
    ``(draws, batch)``.
    """
    n = plan.n
    idx = tensor_indices(plan)
    tensors: dict[int, Any] = {i: cpts[i] for i in range(n)}
    tensors.update({n + i: liks[i] for i in range(n)})
    batch = liks[0].shape[0]
    draws = cpts[0].ndim > len(plan.cpt_shapes[0])
    n_draws = cpts[0].shape[0] if draws else 0
    log_scale: Any = jnp.zeros((n_draws, batch) if draws else (batch,), dtype=liks[0].dtype)
    last = -1
    for k, st in enumerate(plan.steps):
        xs = [tensors[t] if keep else tensors.pop(t) for t in st.inputs]
        flags = tuple(_has_draw(x, len(idx[t])) for x, t in zip(xs, st.inputs, strict=True))
        batched = -1 in st.out
        r, ls = forward_kernel(st.equation, batched, flags)(*xs)
        if any(flags) and not batched:
            ls = ls[:, None]  # one scale per draw
        log_scale = log_scale + ls
        last = 2 * n + k
        tensors[last] = r
    return jnp.log(tensors[last]) + log_scale, tensors


@partial(jax.jit, static_argnums=4)
def _finish(flat_lik: Any, flat_adj: Any, seg: Any, finite: Any, n: int) -> Any:
    """``lik * adjoint`` normalised within each variable's block; NaN rows where impossible."""
    prob = jnp.where(flat_lik > 0, flat_lik * flat_adj, 0.0)
    sums = jax.ops.segment_sum(jnp.moveaxis(prob, -1, 0), seg, num_segments=n)
    sums = jnp.moveaxis(sums[seg], 0, -1)
    out = prob / jnp.where(sums > 0, sums, 1.0)
    return jnp.where(finite[..., None], out, jnp.nan)


def marginals(plan: Plan, cpts: Sequence[Any], liks: Sequence[Any]) -> tuple[Any, Any]:
    """``log P(e)`` and all marginals, as ``(log_z, flat marginals (..., batch, sum cards))``.

    The reverse pass propagates adjoints from the final tensor back to the likelihoods
    through batched tensors only (see the module docstring).
    """
    n = plan.n
    idx = tensor_indices(plan)
    log_z, tensors = forward(plan, cpts, liks, keep=True)
    finite = jnp.isfinite(log_z)
    last = 2 * n + len(plan.steps) - 1
    adj: dict[int, Any] = {last: jnp.where(finite, 1.0, 0.0).astype(log_z.dtype)}
    for k in range(len(plan.steps) - 1, -1, -1):
        st = plan.steps[k]
        out_id = 2 * n + k
        if -1 not in st.out or out_id not in adj:
            continue
        g = adj.pop(out_id)
        g_draw = _has_draw(g, len(st.out))
        xs = [tensors[t] for t in st.inputs]
        flags = [_has_draw(x, len(idx[t])) for x, t in zip(xs, st.inputs, strict=True)]
        shape_of = _shape_of(
            st.equation,
            [x.shape[1:] if f else x.shape for x, f in zip(xs, flags, strict=True)],
        )
        for p, t in enumerate(st.inputs):
            if -1 not in idx[t]:
                continue
            rest = [x for q, x in enumerate(xs) if q != p]
            rest_flags = tuple(f for q, f in enumerate(flags) if q != p)
            kernel = adjoint_kernel(st.equation, p, shape_of, (g_draw, *rest_flags))
            adj[t] = kernel(g, *rest)
    flat_adj = jnp.concatenate([adj.pop(n + i) for i in range(n)], axis=-1)
    flat_lik = jnp.concatenate(list(liks), axis=-1)
    seg = np.repeat(np.arange(n), plan.cards)
    flat = _finish(flat_lik, flat_adj, jnp.asarray(seg), finite, n)
    return log_z, flat
