"""The NumPyro backend: NUTS over CPT rows on the simplex, from the shared model spec.

Every variable is one ``Dirichlet`` sample site with batch shape ``(q,)`` (parent
configurations) and event shape ``(r,)``; NumPyro maps it to unconstrained space by stick
breaking. The data enter through one ``numpyro.factor`` holding the exact log-likelihood of
:mod:`bnlab.backends.model_spec` (complete-family counts plus the summed-out missing-cell terms,
weighted by their row counts), so no row is a sample site and nothing is enumerated. The
missing cells are summed out by exact variable elimination, compiled into a layered circuit
(:mod:`bnlab.backends.elimination`: a few gathers, sums and logsumexps per level) whose arrays are
arguments of the compiled sampler (``jit_model_args=True``), not constants baked into it.
The chains run vectorised in one compiled program (no host devices needed), in float64.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnlab.backends.diagnostics import diagnosed_posterior
from bnlab.backends.model_spec import (
    ModelSpec,
    element_values,
    flat_from_groups,
    flat_params,
    read_options,
    spec_from_inputs,
)
from bnlab.backends.numpyro_import import load_numpyro
from bnlab.errors import BackendError
from bnlab.fitting import FitInput
from bnlab.posterior import Posterior

CHAIN_METHODS = ("vectorized", "sequential", "parallel")
INITS = ("em", "uniform")


def device_data(spec: ModelSpec) -> dict[str, Any]:
    """The spec's circuit arrays as JAX arrays (int32 indices, float64 counts and weights).

    Passed to the model as an argument (``MCMC(jit_model_args=True).run(key, data)``), so they
    are inputs of the compiled program, not constants baked into it. Call under
    ``jax.enable_x64(True)`` to keep the counts in float64.
    """
    import jax.numpy as jnp

    return {k: jnp.asarray(x) for k, x in spec.circuit.arrays().items()}


def log_likelihood_jax(
    spec: ModelSpec, thetas: Mapping[str, Any], data: Mapping[str, Any] | None = None
) -> Any:
    """The spec's log-likelihood in JAX (traceable, differentiable), by variable elimination.

    One gather of all complete-family counts, then the levels of the spec's elimination
    circuit (:func:`~bnlab.backends.elimination.circuit_loglik`).

    Parameters
    ----------
    spec
        The model specification (only its static sizes are read when ``data`` is given).
    thetas
        CPT per variable shaped ``(q, r)`` (JAX arrays).
    data
        The circuit arrays (:func:`device_data`), normally traced arguments; default: the
        spec's own arrays (then they become constants of the traced function).

    Returns
    -------
    jax.Array
        A scalar.
    """
    import jax.numpy as jnp

    return log_likelihood_flat_jax(spec, flat_params(spec, thetas, jnp), data)


def log_likelihood_flat_jax(
    spec: ModelSpec, flat: Any, data: Mapping[str, Any] | None = None
) -> Any:
    """:func:`log_likelihood_jax` from the flat parameter vector.

    ``flat``: the CPTs as :func:`~bnlab.backends.model_spec.flat_params` lays them out.
    """
    import jax
    import jax.numpy as jnp

    from bnlab.backends.elimination import circuit_loglik

    circuit = spec.circuit
    logp = jnp.log(flat)
    return circuit_loglik(
        circuit,
        logp,
        circuit.arrays() if data is None else data,
        jnp,
        lambda x, axis: jax.nn.logsumexp(x, axis=axis),
    )


def packed_log_likelihood_jax(
    spec: ModelSpec, thetas: Mapping[str, Any], data: Mapping[str, Any] | None = None
) -> Any:
    """The same log-likelihood from the enumerated packed form (no elimination).

    Every joint state of every summed-out component is one element (see
    :class:`~bnlab.backends.model_spec.PackedLikelihood`); kept as a second, independent JAX
    evaluation for tests and the benchmark's before/after cost. ``data``: the packed arrays.
    """
    import jax
    import jax.numpy as jnp

    packed = spec.packed
    if data is None:
        data = packed.arrays()
    logp = jnp.log(flat_params(spec, thetas, jnp))
    total = jnp.dot(data["count_value"], logp[data["count_index"]])
    if packed.n_terms:
        seg, n_terms = data["elem_term"], packed.n_terms
        vals = element_values(packed, logp, data["elem_index"], jnp)
        top = jax.ops.segment_max(vals, seg, num_segments=n_terms, indices_are_sorted=True)
        top = jax.lax.stop_gradient(jnp.where(jnp.isfinite(top), top, 0.0))
        mass = jax.ops.segment_sum(
            jnp.exp(vals - top[seg]), seg, num_segments=n_terms, indices_are_sorted=True
        )
        total = total + jnp.dot(data["term_weight"], top + jnp.log(mass))
    return total


def make_model(spec: ModelSpec) -> Any:
    """NumPyro model function of the spec: one Dirichlet site per card group.

    The model takes the circuit data (:func:`device_data`) as its one optional argument;
    called without it, it closes over the spec's arrays.
    """
    import jax.numpy as jnp

    numpyro = load_numpyro()
    import numpyro.distributions as dist

    def model(data: Mapping[str, Any] | None = None) -> None:
        stacked: list[Any] = []
        for g in spec.groups:
            rows_name, mean_name, conc_name = spec.row_names(g)
            if g.card == 1:  # a one-state variable has nothing to learn
                stacked.append(jnp.ones((g.n_rows, 1)))
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
            stacked.append(numpyro.sample(rows_name, dist.Dirichlet(conc)))
        flat = flat_from_groups(spec, stacked, jnp)
        numpyro.factor("log_likelihood", log_likelihood_flat_jax(spec, flat, data))

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
        :class:`~bnlab.backends.diagnostics.ConvergenceWarning` on poor diagnostics),
        ``chain_method`` (``"vectorized"``, ``"sequential"`` or ``"parallel"``), ``init``
        (``"em"``: each chain starts from a draw of an EM-based approximate posterior, which
        also gives the initial diagonal mass matrix, see :mod:`bnlab.backends.nuts_start`;
        ``"uniform"``: NumPyro's default start and an identity mass matrix),
        ``dense_mass`` (False: adapt a dense mass matrix instead of a diagonal one).

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
    opts, extra = read_options(
        "numpyro", options, {"chain_method": "vectorized", "init": "em", "dense_mass": False}
    )
    if extra["chain_method"] not in CHAIN_METHODS:
        raise BackendError(
            f"chain_method={extra['chain_method']!r} is not one of {list(CHAIN_METHODS)}."
        )
    if extra["init"] not in INITS:
        raise BackendError(f"init={extra['init']!r} is not one of {list(INITS)}.")
    if not isinstance(extra["dense_mass"], bool):
        raise BackendError(f"dense_mass must be True or False, got {extra['dense_mass']!r}.")
    start = time.perf_counter()
    spec = spec_from_inputs(inputs.structure, inputs.codes, inputs.alpha, inputs.prior, opts)
    _ = spec.circuit
    build_s = time.perf_counter() - start

    import jax

    load_numpyro()
    from numpyro.infer import MCMC

    nuts = compiled_init_nuts()

    with jax.enable_x64(True):
        data = device_data(spec)
        t0 = time.perf_counter()
        init_params: dict[str, Any] | None = None
        mass: dict[str, Any] = {"dense_mass": extra["dense_mass"]}
        if extra["init"] == "em":
            from bnlab.backends.nuts_start import nuts_start

            init_params, inv_mass = nuts_start(spec, data, opts.chains, opts.seed)
            if not extra["dense_mass"]:  # a structured (block) diagonal mass matrix
                mass = {"dense_mass": [], "inverse_mass_matrix": inv_mass}
            if opts.chains == 1:
                init_params = {k: x[0] for k, x in init_params.items()}
        start_s = time.perf_counter() - t0
        kernel = nuts(
            make_model(spec),
            target_accept_prob=opts.target_accept,
            max_tree_depth=opts.max_tree_depth,
            **mass,
        )
        mcmc = MCMC(
            kernel,
            num_warmup=opts.tune,
            num_samples=opts.draws,
            num_chains=opts.chains,
            chain_method=extra["chain_method"],
            progress_bar=False,
            jit_model_args=True,  # the data are arguments of the compiled sampler
        )
        t0 = time.perf_counter()
        mcmc.run(
            jax.random.PRNGKey(opts.seed),
            data,
            init_params=init_params,
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
    # build_s: the spec, its circuit and the EM start (see bnlab.backends.nuts_start)
    post = finish_posterior(
        inputs, spec, samples, stats, "numpyro", opts.warn, build_s + start_s, sample_s
    )
    post.attrs["init"] = extra["init"]
    return post


def compiled_init_nuts() -> type[Any]:
    """NumPyro's ``NUTS`` whose ``init`` runs as one compiled program.

    NumPyro builds the initial state (the model trace, the potential's value and gradient,
    the step-size search, vmapped over vectorized chains) eagerly, op by op, and every
    primitive of every sample site compiles on its own: on a 300-variable network that is
    ~590 small XLA compilations, about 50 s before the first draw. Traced under one
    ``jax.jit`` (as NumPyro's own ``chain_method="parallel"`` traces it under ``pmap``) it
    is one program. The sampler and what it computes are NumPyro's.
    """
    import jax
    from numpyro.infer import NUTS

    class CompiledInitNUTS(NUTS):  # type: ignore[misc]
        def init(
            self,
            rng_key: Any,
            num_warmup: int,
            init_params: Any = None,
            model_args: tuple[Any, ...] = (),
            model_kwargs: dict[str, Any] | None = None,
        ) -> Any:
            kwargs = model_kwargs or {}
            # one compiled init per kernel and warmup length: chain_method="sequential"
            # initialises every chain with it
            compiled: dict[int, Any] = self.__dict__.setdefault("_compiled_init", {})
            if num_warmup not in compiled:

                def traced(key: Any, params: Any, args: tuple[Any, ...]) -> Any:
                    return NUTS.init(self, key, num_warmup, params, args, kwargs)

                compiled[num_warmup] = jax.jit(traced)
            return compiled[num_warmup](rng_key, init_params, model_args)

    return CompiledInitNUTS


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
