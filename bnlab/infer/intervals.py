"""Credible intervals of query probabilities: from CPT draws, or by the delta method.

Sampled: the equal-tailed (``"eti"``) or highest-density (``"hdi"``) interval of the query
probability over posterior CPT draws, per state and evidence row.

Delta method (Van Allen, Greiner & Hooper, "Bayesian error bars for belief net inference",
UAI 2001): with independent Dirichlet(alpha) rows, ``Var[q] ~ sum_rows g^T Cov g`` where
``g`` is the gradient of ``q`` w.r.t. the CPT row at the posterior mean and
``Cov = (diag(m) - m m^T) / (alpha_0 + 1)``. Here ``q = exp(log Z(e, T=t) - log Z(e))``,
so ``g = q * (grad log Z(e, T=t) - grad log Z(e))``; both gradients come from JAX through
:func:`bnlab.infer.log_evidence`. The interval is that of a Beta with the same mean and
variance (it stays inside [0, 1]; for large counts it is the normal interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from bnlab.infer.layout import split_liks
from bnlab.infer.plan import Plan


def sampled_interval(
    samples: NDArray[np.float64], interval: float, kind: Literal["eti", "hdi"] = "eti"
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean, lower and upper over axis 0 (the draw axis) of ``samples``."""
    mean = samples.mean(axis=0)
    if kind == "eti":
        lower, upper = np.quantile(samples, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    else:
        from bnlab.posterior import hdi_from_samples

        lower, upper = hdi_from_samples(samples, interval)
    return mean, np.asarray(lower), np.asarray(upper)


def mc_interval(
    estimate: NDArray[np.float64], mc_error: NDArray[np.float64], interval: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean and a normal interval of a Monte Carlo estimate with standard error, in [0, 1]."""
    from scipy.special import ndtri

    half = float(ndtri((1 + interval) / 2)) * mc_error
    return estimate, np.clip(estimate - half, 0.0, 1.0), np.clip(estimate + half, 0.0, 1.0)


@cache
def _delta_kernels(plan: Plan) -> tuple[Any, Any]:
    """Jitted ``log P(e)`` per row and its per-row gradients w.r.t. every CPT, per plan.

    Built once per plan (plans hash by identity): a new closure per call would be traced
    and compiled again on every query.
    """
    import jax

    from bnlab.infer.run import log_evidence

    def logz(c: list[Any], lk: Any) -> Any:
        return log_evidence(plan, c, split_liks(plan, lk))

    def one(c: list[Any], lk: Any) -> Any:
        return log_evidence(plan, c, split_liks(plan, lk[None, :]))[0]

    return jax.jit(logz), jax.jit(jax.vmap(jax.grad(one), in_axes=(None, 0)))


def _row_grads(plan: Plan, cpts: Sequence[Any], flat_liks: NDArray[Any]) -> list[Any]:
    """Per-row gradients of ``log P(e_row)`` w.r.t. every CPT: list of ``(rows, *shape)``."""
    import jax.numpy as jnp

    return list(_delta_kernels(plan)[1](list(cpts), jnp.asarray(flat_liks)))


def delta_query(
    plan: Plan,
    mean_cpts: Sequence[NDArray[np.float64]],
    alphas: Sequence[NDArray[np.float64] | None],
    flat_liks: NDArray[np.float64],
    target: int,
    interval: float,
    kind: Literal["eti", "hdi"] = "eti",
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Delta-method mean, lower, upper of ``P(target=t | e)``, each ``(rows, card)``.

    ``flat_liks`` is the flat ``(rows, sum(cards))`` likelihood array; ``alphas`` the
    Dirichlet parameters per variable in plan order (``None``: a fixed CPT).
    """
    import jax.numpy as jnp

    rows = flat_liks.shape[0]
    card = plan.cards[target]
    off = plan.lik_offsets[target]
    clamped = np.repeat(flat_liks[None], card, axis=0)  # (card, rows, C)
    for t in range(card):
        keep = clamped[t, :, off + t].copy()
        clamped[t, :, off : off + card] = 0.0
        clamped[t, :, off + t] = keep
    stacked = np.concatenate([flat_liks[None], clamped]).reshape((card + 1) * rows, -1)
    cpts = [jnp.asarray(c) for c in mean_cpts]
    logz = np.asarray(_delta_kernels(plan)[0](cpts, jnp.asarray(stacked)))
    logz = logz.reshape(card + 1, rows)
    q = np.exp(logz[1:] - logz[:1])  # (card, rows)
    grads = _row_grads(plan, cpts, stacked)
    var = np.zeros((card, rows))
    for g, a in zip(grads, alphas, strict=True):
        if a is None:  # a fixed (intervened) CPT
            continue
        g = np.asarray(g).reshape(card + 1, rows, *a.shape)
        d = g[1:] - g[:1]  # d log q_t
        a0 = a.sum(axis=-1, keepdims=True)
        m = a / a0
        gq = d * q.reshape(card, rows, *([1] * a.ndim))
        quad = (m * gq**2).sum(-1) - (m * gq).sum(-1) ** 2  # (card, rows, *parent cards)
        contrib = quad / (a0[..., 0] + 1.0)
        var += contrib.reshape(card, rows, -1).sum(-1)
    mean = q.T
    sd2 = np.maximum(var.T, 0.0)
    lower, upper = beta_interval(mean, sd2, interval, kind)
    return mean, lower, upper


def beta_interval(
    mean: NDArray[np.float64], var: NDArray[np.float64], interval: float, kind: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Interval of the Beta with the given mean and variance (a point where var is 0)."""
    from scipy.special import betaincinv

    from bnlab.posterior import _golden_hdi

    m = np.clip(mean, 1e-300, 1 - 1e-16)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = m * (1 - m) / var - 1.0
    ok = np.isfinite(k) & (k > 0) & (var > 0)
    a = np.where(ok, m * k, 1.0)
    b = np.where(ok, (1 - m) * k, 1.0)
    if kind == "hdi":
        lo, hi = _golden_hdi(a, b, interval)
    else:
        lo = betaincinv(a, b, (1 - interval) / 2)
        hi = betaincinv(a, b, (1 + interval) / 2)
    point = var <= 0
    lo = np.where(point, mean, np.where(ok, lo, 0.0))
    hi = np.where(point, mean, np.where(ok, hi, 1.0))
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
