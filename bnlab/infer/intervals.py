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
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnlab.infer.layout import cpt_offsets, flatten_cpts, split_liks
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
def _delta_kernel(plan: Plan) -> Any:
    """Jitted per-row ``log P(e)`` and its gradient w.r.t. the flat CPT vector, per plan.

    Built once per plan (plans hash by identity): a new closure per call would be traced
    and compiled again on every query. One call gives both (``value_and_grad``); the
    gradient is one ``(rows, sum of CPT sizes)`` array, so the variance below is a few
    array operations.
    """
    import jax

    from bnlab.infer.run import log_evidence, unflatten_cpts

    def one(flat: Any, lk: Any) -> Any:
        return log_evidence(plan, unflatten_cpts(plan, flat), split_liks(plan, lk[None, :]))[0]

    return jax.jit(jax.vmap(jax.value_and_grad(one), in_axes=(None, 0)))


class DeltaParams(NamedTuple):
    """What the delta method needs of a posterior, in the flat CPT layout of a plan.

    ``mean`` is the flat posterior-mean CPT vector on the device; ``m`` the Dirichlet
    means per entry, ``row_start`` the first entry of each CPT row, ``scale`` per CPT row
    ``1 / (alpha_0 + 1)`` (zero for a fixed, intervened CPT).
    """

    mean: Any
    m: NDArray[np.float64]
    row_start: NDArray[np.intp]
    scale: NDArray[np.float64]


def delta_params(
    plan: Plan,
    mean_cpts: Sequence[NDArray[np.float64]],
    alphas: Sequence[NDArray[np.float64] | None],
) -> DeltaParams:
    """:class:`DeltaParams` from the mean CPTs and Dirichlet parameters in plan order.

    ``alphas[i]`` is ``None`` for a fixed CPT (no variance). Built once per engine: a query
    then costs one kernel call and a few array operations.
    """
    import jax.numpy as jnp

    mean_flat = flatten_cpts(plan, mean_cpts).astype(np.float64)
    starts, a0, m, weight = [], [], [], []
    for a, shape, at in zip(alphas, plan.cpt_shapes, cpt_offsets(plan)[:-1], strict=True):
        n_rows, k = int(np.prod(shape[:-1])), shape[-1]
        starts.append(at + k * np.arange(n_rows))
        if a is None:
            a0.append(np.ones(n_rows))
            m.append(np.zeros(n_rows * k))
            weight.append(np.zeros(n_rows))
        else:
            rows_a = np.asarray(a, dtype=np.float64).reshape(n_rows, k)
            a0.append(rows_a.sum(axis=1))
            m.append((rows_a / a0[-1][:, None]).reshape(-1))
            weight.append(np.ones(n_rows))
    return DeltaParams(
        mean=jnp.asarray(mean_flat),
        m=np.concatenate(m),
        row_start=np.concatenate(starts),
        scale=np.concatenate(weight) / (np.concatenate(a0) + 1.0),
    )


def delta_query(
    plan: Plan,
    params: DeltaParams,
    flat_liks: NDArray[np.float64],
    target: int,
    interval: float,
    kind: Literal["eti", "hdi"] = "eti",
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Delta-method mean, lower, upper of ``P(target=t | e)``, each ``(rows, card)``.

    ``flat_liks`` is the flat ``(rows, sum(cards))`` likelihood array; ``params`` from
    :func:`delta_params`.
    """
    rows = flat_liks.shape[0]
    card = plan.cards[target]
    off = plan.lik_offsets[target]
    clamped = np.repeat(flat_liks[None], card, axis=0)  # (card, rows, C)
    for t in range(card):
        keep = clamped[t, :, off + t].copy()
        clamped[t, :, off : off + card] = 0.0
        clamped[t, :, off + t] = keep
    # numpy in: the jitted call moves it to the device faster than jnp.asarray would
    logz, grads = _delta_kernel(plan)(params.mean, clamped.reshape(card * rows, -1))
    logz_t = np.asarray(logz).reshape(card, rows)  # log P(t, e)
    with np.errstate(invalid="ignore"):
        q = np.exp(logz_t - np.logaddexp.reduce(logz_t, axis=0))  # (card, rows)
    grads = np.asarray(grads).reshape(card, rows, -1)  # d log P(t, e)
    # P(e) = sum_t P(t, e), so d log P(e) = sum_t q_t d log P(t, e): no pass for e alone
    d_log_pe = np.einsum("tr,trx->rx", q, grads)
    # g = d q_t / d theta = q_t * d log q_t; Var ~ sum over rows (m.g^2 - (m.g)^2) / (a0 + 1)
    gq = (grads - d_log_pe[None]) * q[..., None]  # (card, rows, T)
    first = np.add.reduceat(params.m * gq**2, params.row_start, axis=-1)
    second = np.add.reduceat(params.m * gq, params.row_start, axis=-1)
    var = ((first - second**2) * params.scale).sum(axis=-1)  # (card, rows)
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
