"""Pure JAX kernels that run a :class:`~bnlab.infer.plan.Plan`: log P(e), all marginals, MPE.

Array conventions (the public contract other modules rely on):

* ``cpts``: a sequence of arrays in ``plan.variables`` order (or a mapping name -> array),
  each shaped ``(*parent cards, card)`` as in :class:`bnlab.BayesNet`. No draw axis: map
  over draws with ``jax.vmap``.
* ``liks``: a sequence (or mapping; absent variables mean "unobserved") of likelihood
  arrays shaped ``(batch, card)``: one-hot for hard evidence, ones for missing, any
  non-negative vector for soft evidence.

Every function is traceable, differentiable (``jax.grad`` w.r.t. ``cpts`` or ``liks``)
and ``jax.vmap``-able; none is jitted itself (the engine jits closures over a plan).
Numerics: every intermediate tensor is divided by its maximum per evidence row (the scale
is held out of the gradient, which stays exact because the polynomial is linear in each
tensor) and the log-scales are summed, so float32 does not underflow with hundreds of
observed variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from bnlab.infer import maxproduct
from bnlab.infer.layout import CPTs, cpt_list, cpt_offsets, split_liks
from bnlab.infer.plan import Plan

Array = jax.Array
Liks = Sequence[Any] | Mapping[str, Any]


def _lik_list(plan: Plan, liks: Liks) -> list[Any]:
    if isinstance(liks, Mapping):
        present = [jnp.asarray(x) for x in liks.values()]
        batch = present[0].shape[0] if present else 1
        dtype = present[0].dtype if present else jnp.result_type(float)
        return [
            jnp.asarray(liks[v]) if v in liks else jnp.ones((batch, c), dtype)
            for v, c in zip(plan.variables, plan.cards, strict=True)
        ]
    return list(liks)


def log_evidence(plan: Plan, cpts: CPTs, liks: Liks) -> Array:
    """``log P(e)`` per evidence row: the log of the network polynomial.

    Parameters
    ----------
    plan
        From :func:`bnlab.infer.compile_plan`.
    cpts
        CPT arrays in ``plan.variables`` order (or a mapping by name), each
        ``(*parent cards, card)``; may be traced (JAX gradients flow through them).
    liks
        Likelihood vectors ``(batch, card)`` per variable (or a mapping by name, absent
        variables unobserved).

    Returns
    -------
    jax.Array
        Shape ``(batch,)``; ``-inf`` where the evidence has probability zero.
    """
    cl, ll = cpt_list(plan, cpts), _lik_list(plan, liks)
    n = plan.n
    tensors: dict[int, Any] = {i: cl[i] for i in range(n)}
    tensors.update({n + i: ll[i] for i in range(n)})
    batch = ll[0].shape[0]
    log_scale = jnp.zeros((batch,), dtype=jnp.result_type(ll[0], cl[0]))
    last = None
    for k, st in enumerate(plan.steps):
        r = jnp.einsum(st.equation, *[tensors.pop(t) for t in st.inputs])
        batched = -1 in st.out
        axes = tuple(range(1 if batched else 0, r.ndim))
        m = jax.lax.stop_gradient(jnp.max(r, axis=axes, keepdims=True) if axes else r)
        m = jnp.where(m > 0, m, jnp.ones_like(m))
        # The barrier keeps each step's tensor a materialised buffer: without it XLA fuses
        # chains of broadcasts and products across steps into the reverse pass's reductions
        # and recomputes them per output element (ANDES all-marginals ran ~2x slower).
        r = jax.lax.optimization_barrier(r / m)  # type: ignore[no-untyped-call]
        ls = jnp.log(m).reshape(m.shape[0] if batched else ())
        log_scale = log_scale + ls
        last = 2 * n + k
        tensors[last] = r
    final = tensors[last] if last is not None else jnp.ones((batch,))
    return jnp.log(final.reshape(batch)) + log_scale


def all_marginals(plan: Plan, cpts: CPTs, liks: Liks) -> tuple[Array, list[Array]]:
    """``log P(e)`` and the posterior marginal of every variable, per evidence row.

    One reverse-mode pass (Darwiche's differential approach):
    ``P(X=x | e) = lambda_X[x] * d log P(e) / d lambda_X[x]``.

    Returns
    -------
    tuple
        ``(log_pe, marginals)``: ``(batch,)`` and a list of ``(batch, card)`` arrays in
        plan order; rows with impossible evidence are NaN in the marginals.
    """
    cl, ll = cpt_list(plan, cpts), _lik_list(plan, liks)

    def total(lk: list[Any]) -> tuple[Array, Array]:
        z = log_evidence(plan, cl, lk)
        return jnp.sum(jnp.where(jnp.isfinite(z), z, 0.0)), z

    grads, z = jax.grad(total, has_aux=True)(ll)
    out = []
    for lk, g in zip(ll, grads, strict=True):
        p = jnp.where(lk > 0, lk * g, 0.0)
        s = jnp.sum(p, axis=-1, keepdims=True)
        out.append(jnp.where(jnp.isfinite(z)[:, None], p / s, jnp.nan))
    return z, out


def mpe(plan: Plan, cpts: CPTs, liks: Liks) -> tuple[Array, Array]:
    """Most probable explanation per row, ``(codes, log_p)``, by max-product and traceback.

    :func:`bnlab.infer.maxproduct.mpe` traced with ``jax.numpy``; ``cpts`` and ``liks`` as
    in the module's array contract.
    """
    return maxproduct.mpe(plan, cpt_list(plan, cpts), _lik_list(plan, liks), jnp)


# -- flat layouts used by the engine (one argument each, so a jitted call stays cheap) ----


def unflatten_cpts(plan: Plan, flat: Any) -> list[Any]:
    """Inverse of :func:`flatten_cpts` for one draw (traceable)."""
    off = cpt_offsets(plan)
    return [flat[off[i] : off[i + 1]].reshape(s) for i, s in enumerate(plan.cpt_shapes)]


@cache
def jitted(plan: Plan, what: str, draws: bool, jit: bool = True, devices: int = 1) -> Any:
    """The jitted flat kernel ``what`` in {"marginals", "log_evidence", "mpe"} of a plan.

    Signature ``f(flat_cpts, flat_liks)``; with ``draws`` the CPT vector has a leading
    draw axis and so do the results. Cached per plan (plans hash by identity). With
    ``jit=False`` the function runs op by op (no compile time; for small networks/tests).
    With ``devices > 1`` the rows are split evenly over the first ``devices`` local
    devices (their count must divide the batch); the CPTs are copied to each.
    """

    def marg(fc: Any, fl: Any) -> tuple[Array, Array]:
        z, ms = all_marginals(plan, unflatten_cpts(plan, fc), split_liks(plan, fl))
        return z, jnp.concatenate(ms, axis=1)

    def logz(fc: Any, fl: Any) -> Array:
        return log_evidence(plan, unflatten_cpts(plan, fc), split_liks(plan, fl))

    def best(fc: Any, fl: Any) -> tuple[Array, Array]:
        return mpe(plan, unflatten_cpts(plan, fc), split_liks(plan, fl))

    fn = {"marginals": marg, "log_evidence": logz, "mpe": best}[what]
    if draws:
        fn = jax.vmap(fn, in_axes=(0, None))
    if devices > 1 and jit:
        mesh = Mesh(np.array(jax.local_devices()[:devices]), ("rows",))
        replicated, by_row = PartitionSpec(), PartitionSpec("rows")  # type: ignore[no-untyped-call]
        out = PartitionSpec(None, "rows") if draws else by_row  # type: ignore[no-untyped-call]
        fn = jax.shard_map(fn, mesh=mesh, in_specs=(replicated, by_row), out_specs=out)
    return jax.jit(fn) if jit else fn
