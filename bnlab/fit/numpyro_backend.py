"""The NumPyro backend: NUTS over CPT rows on the simplex, from the shared model spec.

Every variable is one ``Dirichlet`` sample site with batch shape ``(q,)`` (parent
configurations) and event shape ``(r,)``; NumPyro maps it to unconstrained space by stick
breaking. The data enter through one ``numpyro.factor`` holding the exact log-likelihood of
:mod:`bnlab.fit.model_spec` (complete-family counts plus the summed-out missing-cell terms,
weighted by their row counts), so no row is a sample site and nothing is enumerated. The
chains run vectorised in one compiled program (no host devices needed), in float64.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import BackendError
from bnlab.fit import FitInput
from bnlab.fit.diagnostics import diagnosed_posterior
from bnlab.fit.model_spec import ModelSpec, read_options, spec_from_inputs
from bnlab.posterior import Posterior

CHAIN_METHODS = ("vectorized", "sequential", "parallel")


def log_likelihood_jax(spec: ModelSpec, thetas: Mapping[str, Any]) -> Any:
    """The spec's log-likelihood in JAX (traceable, differentiable).

    Parameters
    ----------
    spec
        The model specification.
    thetas
        CPT per variable shaped ``(q, r)`` (JAX arrays).

    Returns
    -------
    jax.Array
        A scalar.
    """
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    total = jnp.zeros(())
    flat = {v: jnp.reshape(t, (-1,)) for v, t in thetas.items()}
    for v in spec.structure.variables:
        if spec.count_index[v].size:
            picked = flat[v][jnp.asarray(spec.count_index[v])]
            total = total + jnp.dot(jnp.asarray(spec.count_value[v]), jnp.log(picked))
    logs: dict[str, Any] = {}
    for b in spec.blocks:
        terms = 0.0
        for f, idx in zip(b.families, b.index, strict=True):
            if f not in logs:
                logs[f] = jnp.log(flat[f])
            terms = terms + logs[f][jnp.asarray(idx)]
        total = total + jnp.dot(jnp.asarray(b.weight), logsumexp(terms, axis=1))
    return total


def make_model(spec: ModelSpec) -> Any:
    """NumPyro model function (no arguments) of the spec: one Dirichlet site per card group."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model() -> None:
        thetas: dict[str, Any] = {}
        for g in spec.groups:
            rows_name, mean_name, conc_name = spec.row_names(g)
            if g.card == 1:  # a one-state variable has nothing to learn
                thetas.update(spec.split(g, jnp.ones((g.n_rows, 1))))
                continue
            conc = jnp.asarray(g.alpha)
            if g.pooled:
                k, r = len(g.pooled), g.card
                m = numpyro.sample(mean_name, dist.Dirichlet(jnp.ones((k, r))))
                log_r = float(np.log(r))
                s = numpyro.sample(
                    conc_name, dist.LogNormal(jnp.full(k, log_r + spec.s_loc), spec.s_scale)
                )
                pool = jnp.asarray(np.maximum(g.pool, 0))
                pooled = (s[:, None] * m)[pool]
                conc = jnp.where(jnp.asarray(g.pool >= 0)[:, None], pooled, conc)
            rows = numpyro.sample(rows_name, dist.Dirichlet(conc))
            thetas.update(spec.split(g, rows))
        numpyro.factor("log_likelihood", log_likelihood_jax(spec, thetas))

    return model


def _stats(extra: Mapping[str, Any]) -> dict[str, NDArray[Any]]:
    steps = np.asarray(extra["num_steps"], dtype=np.int64)
    return {
        "diverging": np.asarray(extra["diverging"], dtype=bool),
        "n_steps": steps,
        "tree_depth": np.ceil(np.log2(steps + 1)).astype(np.int64),
        "acceptance_rate": np.asarray(extra["accept_prob"], dtype=np.float64),
        "step_size": np.asarray(extra["adapt_state.step_size"], dtype=np.float64),
        "energy": np.asarray(extra["energy"], dtype=np.float64),
        "lp": -np.asarray(extra["potential_energy"], dtype=np.float64),
    }


def fit_numpyro(inputs: FitInput, **options: Any) -> Posterior:
    """Posterior CPT draws by NUTS in NumPyro (``bnlab.fit(..., backend="numpyro")``).

    Parameters
    ----------
    inputs
        Structure, codes and prior from :func:`bnlab.fit`; ``prior="hierarchical"`` selects
        the hierarchical Dirichlet model.
    **options
        ``chains`` (4), ``draws`` (1000), ``tune`` (1000), ``seed`` (0), ``latent`` (never
        observed variables), ``target_accept`` (0.8), ``max_tree_depth`` (10), ``s_loc``
        (0.0) and ``s_scale`` (1.5) of the hierarchical concentration prior, ``warn`` (True:
        :class:`~bnlab.fit.diagnostics.ConvergenceWarning` on poor diagnostics),
        ``chain_method`` (``"vectorized"``, ``"sequential"`` or ``"parallel"``).

    Returns
    -------
    Posterior
        CPT draws ``(chain, draw, *parent cards, card)``, sampler statistics, diagnostics
        and timings in ``attrs``.

    Raises
    ------
    BackendError
        Unknown or invalid options, too few draws, a too-large missing-variable component.
    DataError
        Latent variables with observed cells, or undeclared entirely missing columns.
    """
    opts, extra = read_options("numpyro", options, {"chain_method": "vectorized"})
    if extra["chain_method"] not in CHAIN_METHODS:
        raise BackendError(
            f"chain_method={extra['chain_method']!r} is not one of {list(CHAIN_METHODS)}."
        )
    start = time.perf_counter()
    spec = spec_from_inputs(inputs.structure, inputs.codes, inputs.alpha, inputs.prior, opts)
    build_s = time.perf_counter() - start

    import jax
    from numpyro.infer import MCMC, NUTS

    with jax.enable_x64(True):
        kernel = NUTS(
            make_model(spec),
            target_accept_prob=opts.target_accept,
            max_tree_depth=opts.max_tree_depth,
        )
        mcmc = MCMC(
            kernel,
            num_warmup=opts.tune,
            num_samples=opts.draws,
            num_chains=opts.chains,
            chain_method=extra["chain_method"],
            progress_bar=False,
        )
        t0 = time.perf_counter()
        mcmc.run(
            jax.random.PRNGKey(opts.seed),
            extra_fields=(
                "diverging",
                "num_steps",
                "accept_prob",
                "adapt_state.step_size",
                "energy",
                "potential_energy",
            ),
        )
        samples = {k: np.asarray(x) for k, x in mcmc.get_samples(group_by_chain=True).items()}
        stats = _stats(mcmc.get_extra_fields(group_by_chain=True))
        sample_s = time.perf_counter() - t0
    return finish_posterior(inputs, spec, samples, stats, "numpyro", opts.warn, build_s, sample_s)


def finish_posterior(
    inputs: FitInput,
    spec: ModelSpec,
    samples: Mapping[str, NDArray[Any]],
    stats: Mapping[str, NDArray[Any]],
    backend: str,
    warn: bool,
    build_s: float,
    sample_s: float,
) -> Posterior:
    """Shape draws into CPTs, diagnose them, and wrap everything in a :class:`Posterior`."""
    s = spec.structure
    draws: dict[str, NDArray[np.float64]] = {}
    hyper: dict[str, dict[str, Any]] = {}
    for g in spec.groups:
        rows_name, mean_name, conc_name = spec.row_names(g)
        if rows_name in samples:
            stacked = np.asarray(samples[rows_name], dtype=np.float64)
        else:  # one-state variables: every draw is the CPT of ones
            lead = np.asarray(stats["diverging"]).shape[:2]
            stacked = np.ones((*lead, g.n_rows, g.card))
        for v, x in spec.split(g, stacked).items():
            draws[v] = x.reshape(*x.shape[:2], *s.family_shape(v))
        if g.pooled and mean_name in samples and conc_name in samples:
            m = np.asarray(samples[mean_name]).mean(axis=(0, 1))
            c = np.asarray(samples[conc_name]).mean(axis=(0, 1))
            for i, v in enumerate(g.pooled):
                hyper[v] = {"mean": m[i].tolist(), "concentration_mean": float(c[i])}
    attrs: dict[str, Any] = {
        "model": spec.prior,
        "latent": list(spec.latent),
        "n_missing_terms": int(sum(b.weight.size for b in spec.blocks)),
        "build_s": build_s,
        "sampling_s": sample_s,
    }
    if hyper:
        attrs["hyperparameters"] = hyper
    return diagnosed_posterior(
        s,
        draws,
        backend=backend,
        prior=inputs.prior,
        ess=inputs.ess,
        n_rows=spec.n_rows,
        sample_stats=stats,
        warn=warn,
        attrs=attrs,
    )
