"""The Gibbs backend: data augmentation with conjugate Dirichlet updates, vectorised in numpy.

The state of a chain is the CPTs ``theta`` and a copy of the data codes whose missing cells
(and latent columns) are filled in. One sweep

(a) visits every variable ``v`` that has missing cells, in topological order, and redraws all
    of them at once from ``P(v | Markov blanket of v, theta)`` (the blanket formula of
    :mod:`bnlab.infer.blanket`): given the other columns the rows are independent, so one
    vectorised update is exact for every row. Then every pair of variables sharing a family
    is redrawn jointly in the rows where both are imputed, from ``P(a, b | the rest)``:
    single-cell moves cannot cross between two near-deterministic explanations of an
    observed child (ALARM's ``EXPCO2`` given ``ARTCO2`` and ``VENTLUNG``), and a chain that
    cannot cross mixes very slowly. States are drawn by inverse CDF, one uniform per cell;
(b) draws ``theta_v[u] ~ Dirichlet(alpha_v[u] + N_v[u])`` for every CPT row, with ``N_v`` the
    family counts of the completed table and ``alpha_v`` the conjugate backend's pseudo-counts
    (:mod:`bnlab.priors`, drawn by :func:`bnlab.dirichlet.dirichlet_draws`).

Missing cells without an observed descendant in their row (every missing leaf, for one; see
:func:`bnlab.backends.gibbs_plan.barren_cells`) sum out of that row's likelihood exactly: they are
neither imputed nor counted.
This is exact, saves work, and removes the near-deterministic couplings (a missing parent
pinned by its imputed missing child) that make single-site Gibbs stick.

All chains advance together in one set of array operations (a leading chain axis), but each
chain draws only from its own generator, spawned from ``numpy.random.SeedSequence(seed)``: a
chain's draws do not depend on how many chains run beside it. A chain starts from the
prior-mean CPTs with its missing cells forward-sampled from them (given observed parents).
Counts of the rows that observe a whole family are made once; only the rows with a missing
cell in the family are recounted each sweep.

With complete data there is nothing to impute: the draws are exact independent draws of the
conjugate posterior ``Dirichlet(alpha + N)`` and ``tune`` is skipped. Hierarchical priors are
not conjugate and are refused (use ``"numpyro"`` or ``"pymc"``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnlab.backends.diagnostics import diagnosed_posterior
from bnlab.backends.gibbs_plan import GibbsPlan, blanket_weights, build_plan, inverse_cdf
from bnlab.backends.model_spec import check_latent, read_options
from bnlab.dirichlet import dirichlet_draws
from bnlab.errors import BackendError
from bnlab.fitting import FitInput
from bnlab.posterior import Posterior


def _uniforms(rngs: list[np.random.Generator], n: int) -> NDArray[np.float64]:
    return np.stack([r.random(n) for r in rngs])


def _impute(
    plan: GibbsPlan,
    theta: NDArray[np.float64],
    filled: NDArray[np.intp],
    rngs: list[np.random.Generator],
    *,
    own_only: bool = False,
) -> NDArray[np.int64]:
    """Redraw every missing cell in place (step a); returns the cells changed per chain."""
    changed = np.zeros(theta.shape[0], dtype=np.int64)
    for up in plan.updates if own_only else (*plan.updates, *plan.pairs):
        w = blanket_weights(up, theta, filled, own_only=own_only)
        joint = inverse_cdf(w, _uniforms(rngs, up.rows.size))
        stays = joint < 0  # probability zero by underflow: the cells stay
        new = np.unravel_index(np.where(stays, 0, joint), up.cards)
        for col, states in zip(up.columns, new, strict=True):
            old = np.take(filled[col], up.rows, axis=1)
            states = np.where(stays, old, states)
            changed += np.count_nonzero(states != old, axis=1)
            filled[col][:, up.rows] = states
    return changed


def _counts(plan: GibbsPlan, filled: NDArray[np.intp]) -> NDArray[np.float64]:
    """Family counts of the completed tables, flat ``(chains, size)`` (step b)."""
    chains = filled.shape[1]
    out = np.empty((chains, plan.size))
    for f in plan.families:
        seg = slice(f.offset, f.offset + f.size)
        if f.rows.size == 0:
            out[:, seg] = f.fixed
            continue
        idx = np.repeat((np.arange(chains, dtype=np.intp) * f.size)[:, None], f.rows.size, 1)
        for col, stride in zip(f.columns, f.strides, strict=True):
            part = np.take(filled[col], f.rows, axis=1)
            part *= stride
            idx += part
        extra = np.bincount(idx.reshape(-1), minlength=chains * f.size)
        out[:, seg] = f.fixed + extra.reshape(chains, f.size)
    return out


def _draw_theta(
    plan: GibbsPlan, posterior_alpha: NDArray[np.float64], rngs: list[np.random.Generator]
) -> NDArray[np.float64]:
    """One Dirichlet draw of every CPT row of every chain, each chain from its own stream."""
    theta = np.empty_like(posterior_alpha)
    for c, rng in enumerate(rngs):
        blocks = {str(r): posterior_alpha[c, a:b].reshape(-1, r) for r, a, b in plan.groups}
        drawn = dirichlet_draws(blocks, 1, rng)
        for r, a, b in plan.groups:
            theta[c, a:b] = drawn[str(r)].reshape(-1)
    return theta


def _row_normalise(plan: GibbsPlan, flat: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.empty_like(flat)
    for r, a, b in plan.groups:
        rows = flat[..., a:b].reshape(*flat.shape[:-1], -1, r)
        out[..., a:b] = (rows / rows.sum(axis=-1, keepdims=True)).reshape(*flat.shape[:-1], -1)
    return out


def _log_likelihood(counts: NDArray[np.float64], theta: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, counts * np.log(theta), 0.0)
    return np.asarray(terms.sum(axis=-1), dtype=np.float64)


def run_chains(
    plan: GibbsPlan,
    alpha: Mapping[str, NDArray[np.float64]],
    rngs: list[np.random.Generator],
    *,
    draws: int,
    tune: int,
    thin: int,
) -> tuple[NDArray[np.float64], dict[str, NDArray[Any]]]:
    """Run one chain per generator, vectorised: ``tune`` sweeps dropped, ``draws`` kept.

    Each chain uses only its own generator, so a chain's draws do not depend on how many
    chains run beside it.

    Returns
    -------
    (draws, stats)
        Flat CPT draws ``(chains, draws, size)``; per kept draw the number of cell changes
        in its sweep, single and pair updates together (``n_changed``), and the
        log-likelihood of the completed table (``log_likelihood``), each ``(chains, draws)``.
    """
    n_chains = len(rngs)
    prior = plan.flatten(alpha)
    if not plan.updates:  # complete data: exact independent conjugate draws
        post = plan.unflatten(prior + _counts(plan, plan.codes.T[:, None, :].astype(np.intp)))
        per = [
            plan.flatten(dirichlet_draws({v: a[0] for v, a in post.items()}, draws, r))
            for r in rngs
        ]
        kept = np.stack(per)
        counts = np.broadcast_to(plan.flatten(post) - prior, kept.shape)
        stats = {
            "n_changed": np.zeros((n_chains, draws), dtype=np.int64),
            "log_likelihood": _log_likelihood(counts, kept),
        }
        return kept, stats
    theta = np.repeat(_row_normalise(plan, prior)[None], n_chains, axis=0)  # prior mean
    # summed-out (barren) cells hold a placeholder 0 that no factor in use ever reads
    start = np.where(plan.codes < 0, 0, plan.codes).T[:, None, :].astype(np.intp)
    filled = np.repeat(start, n_chains, axis=1)
    _impute(plan, theta, filled, rngs, own_only=True)  # forward-sample the missing cells
    kept = np.empty((n_chains, draws, plan.size))
    n_changed = np.empty((n_chains, draws), dtype=np.int64)
    loglik = np.empty((n_chains, draws))
    k = 0
    for sweep in range(tune + draws * thin):
        changed = _impute(plan, theta, filled, rngs)
        counts = _counts(plan, filled)
        theta = _draw_theta(plan, prior + counts, rngs)
        if sweep >= tune and (sweep - tune) % thin == thin - 1:
            kept[:, k] = theta
            n_changed[:, k] = changed
            loglik[:, k] = _log_likelihood(counts, theta)
            k += 1
    return kept, {"n_changed": n_changed, "log_likelihood": loglik}


def fit_gibbs(inputs: FitInput, **options: Any) -> Posterior:
    """Posterior CPT draws by data-augmentation Gibbs (``bnlab.fit(..., backend="gibbs")``).

    Parameters
    ----------
    inputs
        Structure, codes and Dirichlet prior from :func:`bnlab.fit` (``"bdeu"``, ``"k2"``,
        ``"uniform"`` or pseudo-counts: the same prior as the conjugate backend).
    **options
        ``chains`` (4), ``draws`` (1000), ``tune`` (1000, burn-in sweeps), ``thin`` (1: keep
        every sweep), ``seed`` (0), ``latent`` (never observed variables), ``warn`` (True:
        :class:`~bnlab.backends.diagnostics.ConvergenceWarning` on poor diagnostics). The NUTS
        options ``target_accept``, ``max_tree_depth``, ``s_loc`` and ``s_scale`` are
        accepted for a uniform interface and have no effect.

    Returns
    -------
    Posterior
        CPT draws ``(chain, draw, *parent cards, card)``; sampler statistics
        ``n_changed`` and ``log_likelihood`` per draw; diagnostics, sweeps and timings in
        ``attrs``.

    Raises
    ------
    BackendError
        Unknown or invalid options, too few draws, or a hierarchical prior.
    DataError
        Latent variables with observed cells, or undeclared entirely missing columns.
    """
    opts, extra = read_options("gibbs", options, {"thin": 1})
    thin = extra["thin"]
    if isinstance(thin, bool) or not isinstance(thin, (int, np.integer)) or thin < 1:
        raise BackendError(
            f"thin={thin!r} is not usable; give an integer >= 1 (1 keeps every sweep)."
        )
    if inputs.prior == "hierarchical":
        raise BackendError(
            "prior='hierarchical' has no conjugate update, so the gibbs backend cannot sample "
            "it; use backend='numpyro' or backend='pymc'."
        )
    start = time.perf_counter()
    s = inputs.structure
    codes = np.asarray(inputs.codes)
    check_latent(s, codes, opts.latent)
    plan = build_plan(s, codes)
    build_s = time.perf_counter() - start
    tune = opts.tune if plan.updates else 0
    t0 = time.perf_counter()
    rngs = [np.random.default_rng(q) for q in np.random.SeedSequence(opts.seed).spawn(opts.chains)]
    flat, stats = run_chains(plan, inputs.alpha, rngs, draws=opts.draws, tune=tune, thin=int(thin))
    sample_s = time.perf_counter() - t0
    draws = plan.unflatten(flat)
    sweeps = 0 if not plan.updates else tune + opts.draws * int(thin)
    attrs: dict[str, Any] = {
        "model": "dirichlet",
        "latent": list(opts.latent),
        "n_missing_cells": int((codes < 0).sum()),
        "n_imputed_cells": plan.n_imputed_cells,
        "sweeps_per_chain": sweeps,
        "tune": tune,
        "thin": int(thin),
        "build_s": build_s,
        "sampling_s": sample_s,
    }
    return diagnosed_posterior(
        s,
        draws,
        backend="gibbs",
        prior=inputs.prior,
        ess=inputs.ess,
        n_rows=int(codes.shape[0]),
        sample_stats=stats,
        warn=opts.warn,
        attrs=attrs,
    )
