"""Importance sampling (likelihood weighting) batched over evidence rows and CPT draws.

Each evidence row gets ``samples`` particles drawn in topological order. Variable ``v``
is drawn from ``q(x) ∝ P(x | pa) * lambda_v(x)`` (its CPT row times its likelihood
vector) and the particle's weight is multiplied by ``sum_x P(x | pa) lambda_v(x)``. With
hard evidence this is likelihood weighting (an observed variable is clamped and weighted
by ``P(obs | pa)``); soft evidence is weighted the same way. The estimate of
``P(X = x | e)`` is the self-normalised weighted share of the particles with ``X = x``;
``log P(e)`` is the log of the mean weight (unbiased in ``P(e)``).

Per row the kernel reports the effective sample size ``ESS = 1 / sum w_s^2`` (normalised
weights) and per marginal entry the Monte Carlo standard error of the self-normalised
estimator, ``sqrt(sum_s w_s^2 (1[x_s = x] - p)^2)``.

The walk over variables is one ``lax.scan`` whose body is the same for every variable
(CPT rows are gathered from the flat CPT vector at precomputed offsets, padded to the
largest cardinality), so compile time does not grow with the network.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bnlab.infer.layout import cpt_offsets
from bnlab.infer.plan import Plan


@cache
def _tables(plan: Plan) -> dict[str, np.ndarray]:
    """Static per-variable arrays: CPT and likelihood offsets, cards, parents, strides."""
    n = plan.n
    width = max((len(p) for p in plan.parents), default=0) or 1
    par = np.zeros((n, width), dtype=np.int32)
    stride = np.zeros((n, width), dtype=np.int32)
    for v, ps in enumerate(plan.parents):
        s = 1
        for k in range(len(ps) - 1, -1, -1):
            par[v, k] = ps[k]
            stride[v, k] = s
            s *= plan.cards[ps[k]]
    return {
        "var": np.arange(n, dtype=np.int32),
        "cpt_off": np.asarray(cpt_offsets(plan)[:-1], dtype=np.int32),
        "lik_off": np.asarray(plan.lik_offsets, dtype=np.int32),
        "card": np.asarray(plan.cards, dtype=np.int32),
        "par": par,
        "stride": stride,
    }


def _one_draw(plan: Plan, samples: int, flat_cpt: Any, flat_lik: Any, key: Any) -> Any:
    """Particles for one CPT vector: log weights ``(R, S)`` and codes ``(R, S, n)``."""
    t = _tables(plan)
    cmax = int(max(plan.cards))
    rows = flat_lik.shape[0]
    states = jnp.arange(cmax, dtype=jnp.int32)
    total = flat_lik.shape[1]

    def body(carry: Any, xs: Any) -> Any:
        codes, logw, k = carry
        v, cpt_off, lik_off, card, par, stride = xs
        pc = jnp.sum(codes[:, :, par] * stride, axis=-1)  # (R, S) parent configuration
        mask = states < card
        idx = cpt_off + pc[..., None] * card + jnp.minimum(states, card - 1)
        prob = jnp.where(mask, flat_cpt[idx], 0.0)
        lik = jnp.where(mask, flat_lik[:, jnp.minimum(lik_off + states, total - 1)], 0.0)
        q = prob * lik[:, None, :]
        norm = jnp.sum(q, axis=-1)
        k, sub = jax.random.split(k)
        logq = jnp.where(q > 0, jnp.log(jnp.where(q > 0, q, 1.0)), -jnp.inf)
        x = jax.random.categorical(sub, logq, axis=-1).astype(jnp.int32)
        codes = codes.at[:, :, v].set(x)
        logw = logw + jnp.log(norm)
        return (codes, logw, k), None

    init = (
        jnp.zeros((rows, samples, plan.n), dtype=jnp.int32),
        jnp.zeros((rows, samples), dtype=flat_lik.dtype),
        key,
    )
    xs = tuple(jnp.asarray(t[name]) for name in ("var", "cpt_off", "lik_off", "card", "par"))
    (codes, logw, _), _ = jax.lax.scan(body, init, (*xs, jnp.asarray(t["stride"])))
    return _estimates(plan, codes, logw)


def _estimates(plan: Plan, codes: Any, logw: Any) -> Any:
    """``(log_z, marginals, mc_error, ess)`` from particles."""
    rows, samples, n = codes.shape
    total = plan.total_card
    lik_off = jnp.asarray(plan.lik_offsets, dtype=jnp.int32)
    finite = jnp.isfinite(jnp.max(logw, axis=1))
    top = jnp.where(finite, jnp.max(logw, axis=1), 0.0)
    raw = jnp.exp(logw - top[:, None])
    sw = jnp.sum(raw, axis=1)
    w = raw / jnp.where(sw > 0, sw, 1.0)[:, None]  # (R, S), normalised
    log_z = jnp.where(finite, jnp.log(jnp.where(sw > 0, sw, 1.0)) + top - np.log(samples), -jnp.inf)
    cols = (lik_off[None, None, :] + codes).reshape(rows, -1)  # (R, S * n)
    rr = jnp.broadcast_to(jnp.arange(rows)[:, None], cols.shape)
    wn = jnp.broadcast_to(w[:, :, None], (rows, samples, n)).reshape(rows, -1)
    p = jnp.zeros((rows, total), w.dtype).at[rr, cols].add(wn)
    a = jnp.zeros((rows, total), w.dtype).at[rr, cols].add(wn * wn)
    w2 = jnp.sum(w * w, axis=1)
    err = jnp.sqrt(jnp.maximum(a * (1.0 - 2.0 * p) + p * p * w2[:, None], 0.0))
    ess = jnp.where(w2 > 0, 1.0 / w2, 0.0)
    nan = jnp.where(finite[:, None], 0.0, jnp.nan)
    return log_z, p + nan, err + nan, ess


@cache
def importance_kernel(plan: Plan, samples: int, draws: bool) -> Any:
    """Jitted ``f(flat_cpts, flat_liks, key) -> (log_z, marginals, mc_error, ess)``.

    With ``draws`` the CPT vector has a leading draw axis; draws run one after another
    (``lax.map``, so particle memory is that of one draw) with independent keys.
    """

    def one(fc: Any, fl: Any, key: Any) -> Any:
        return _one_draw(plan, samples, fc, fl, key)

    if not draws:
        return jax.jit(one)

    def many(fc: Any, fl: Any, key: Any) -> Any:
        keys = jax.random.split(key, fc.shape[0])
        return jax.lax.map(lambda ck: one(ck[0], fl, ck[1]), (fc, keys))

    return jax.jit(many)
