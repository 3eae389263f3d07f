"""The PyMC backend: the same model as the NumPyro backend, written in PyTensor.

Built from the shared :class:`~bnlab.backends.model_spec.ModelSpec`: one ``pm.Dirichlet`` per card
group with shape ``(rows, r)`` (all CPT rows of the variables with ``r`` states), the
hierarchical mean and concentration where pooled, and one ``pm.Potential`` holding the exact
log-likelihood (complete-family counts plus summed-out missing-cell terms). Sampling is NUTS,
either PyMC's own (``nuts_sampler="pymc"``, tens of seconds of C compilation) or NumPyro's
on the PyTensor graph translated to JAX (``nuts_sampler="numpyro"``, the default); both see the
same log density.
"""

from __future__ import annotations

import importlib
import logging
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnlab.backends.model_spec import (
    ModelSpec,
    flat_from_groups,
    flat_params,
    read_options,
    spec_from_inputs,
)
from bnlab.backends.numpyro_backend import finish_posterior
from bnlab.backends.numpyro_import import load_numpyro
from bnlab.errors import BackendError
from bnlab.fitting import FitInput
from bnlab.posterior import Posterior

NUTS_SAMPLERS = ("numpyro", "pymc")
_STATS = ("diverging", "tree_depth", "n_steps", "acceptance_rate", "step_size", "energy", "lp")


def log_likelihood_pytensor(
    spec: ModelSpec, thetas: Mapping[str, Any] | Any, data: Mapping[str, Any] | None = None
) -> Any:
    """The spec's log-likelihood as a PyTensor scalar, from its packed form.

    One gather of the complete-family counts, then per bucket of equal ``(F, K)`` one
    ``(terms, K, F)`` gather straight from the log-parameters, summed over ``F``, and a
    row-wise logsumexp (PyTensor has no segment max). Each bucket gathers from the small
    parameter vector, so the gradient is a scatter-add into it, never a full-size
    intermediate. ``thetas``: ``(q, r)`` tensors by variable, or the flat parameter vector
    (:func:`~bnlab.backends.model_spec.flat_params`); ``data``: the packed arrays as tensors
    (``pm.Data``), default the spec's arrays as constants.
    """
    pt: Any = importlib.import_module("pytensor.tensor")  # untyped library

    packed = spec.packed
    if data is None:
        data = packed.arrays()
    flat = flat_params(spec, thetas, pt) if isinstance(thetas, Mapping) else thetas
    logp = pt.log(flat)
    total = pt.dot(data["count_value"], logp[data["count_index"]])
    index, weight = data["elem_index"], data["term_weight"]
    for f, k, t, _, first, pos in packed.buckets:
        x = pt.sum(pt.reshape(logp[index[pos : pos + t * k * f]], (t, k, f)), axis=2)
        total = total + pt.dot(weight[first : first + t], pt.logsumexp(x, axis=1))
    return total


def build_model(spec: ModelSpec) -> Any:
    """The ``pm.Model`` of the spec (same sites and names as the NumPyro model)."""
    import pymc as pm

    pt: Any = importlib.import_module("pytensor.tensor")  # untyped library
    with pm.Model() as model:
        stacked: list[Any] = []
        for g in spec.groups:
            rows_name, mean_name, conc_name = spec.row_names(g)
            if g.card == 1:
                stacked.append(pt.ones((g.n_rows, 1)))
                continue
            conc: Any = g.alpha
            if g.pooled:
                k, r = len(g.pooled), g.card
                m = pm.Dirichlet(mean_name, a=np.ones((k, r)), shape=(k, r))
                s = pm.LogNormal(
                    conc_name, mu=float(np.log(r)) + spec.s_loc, sigma=spec.s_scale, shape=(k,)
                )
                pooled = (s[:, None] * m)[np.maximum(g.pool, 0)]
                conc = pt.where((g.pool >= 0)[:, None], pooled, g.alpha)
            stacked.append(pm.Dirichlet(rows_name, a=conc, shape=(g.n_rows, g.card)))
        data = {k: pm.Data(f"packed_{k}", x) for k, x in spec.packed.arrays().items()}
        flat = flat_from_groups(spec, stacked, pt)
        pm.Potential("log_likelihood", log_likelihood_pytensor(spec, flat, data))
    return model


def _collect(
    result: Any, spec: ModelSpec
) -> tuple[dict[str, NDArray[Any]], dict[str, NDArray[Any]]]:
    posterior = result["posterior"]
    stats_group = result["sample_stats"]
    posterior = getattr(posterior, "dataset", posterior)
    stats_group = getattr(stats_group, "dataset", stats_group)
    samples = {str(k): np.asarray(posterior[k].values) for k in posterior.data_vars}
    stats: dict[str, NDArray[Any]] = {}
    for name in _STATS:
        if name in stats_group:
            stats[name] = np.asarray(stats_group[name].values)
    if "diverging" in stats:
        stats["diverging"] = stats["diverging"].astype(bool)
    return samples, stats


def fit_pymc(inputs: FitInput, **options: Any) -> Posterior:
    """Posterior CPT draws by NUTS in PyMC (``bnlab.fit(..., backend="pymc")``).

    Parameters
    ----------
    inputs
        Structure, codes and prior from :func:`bnlab.fit`; ``prior="hierarchical"`` selects
        the hierarchical Dirichlet model.
    **options
        Those of :func:`bnlab.backends.numpyro_backend.fit_numpyro` (``chains``, ``draws``,
        ``tune``, ``seed``, ``latent``, ``target_accept``, ``max_tree_depth``, ``s_loc``,
        ``s_scale``, ``warn``) and ``nuts_sampler``: ``"numpyro"`` (default; PyMC's JAX
        sampler) or ``"pymc"`` (PyMC's own NUTS).

    Returns
    -------
    Posterior
        CPT draws ``(chain, draw, *parent cards, card)`` with sampler statistics.

    Raises
    ------
    BackendError
        Unknown or invalid options, too few draws, a too-large missing-variable component.
    DataError
        Latent variables with observed cells, or undeclared entirely missing columns.
    """
    opts, extra = read_options("pymc", options, {"nuts_sampler": "numpyro"})
    sampler = extra["nuts_sampler"]
    if sampler not in NUTS_SAMPLERS:
        raise BackendError(
            f"nuts_sampler={sampler!r} is not one of {list(NUTS_SAMPLERS)}; 'numpyro' compiles "
            "fastest, 'pymc' is PyMC's own NUTS."
        )
    start = time.perf_counter()
    spec = spec_from_inputs(inputs.structure, inputs.codes, inputs.alpha, inputs.prior, opts)
    build_s = time.perf_counter() - start

    import jax
    import pymc as pm

    model = build_model(spec)
    kwargs: dict[str, Any] = {
        "draws": opts.draws,
        "tune": opts.tune,
        "chains": opts.chains,
        "random_seed": opts.seed,
        "progressbar": False,
        "nuts_sampler": sampler,
        "compute_convergence_checks": False,
    }
    if sampler == "numpyro":
        load_numpyro()  # before PyMC's JAX sampler imports NumPyro's submodules
    if sampler == "pymc":
        kwargs["cores"] = 1
        kwargs["nuts"] = {"target_accept": opts.target_accept, "max_treedepth": opts.max_tree_depth}
    else:
        kwargs["nuts"] = {
            "chain_method": "vectorized",
            "target_accept": opts.target_accept,
            "max_tree_depth": opts.max_tree_depth,
        }
    t0 = time.perf_counter()
    pymc_log = logging.getLogger("pymc")
    level = pymc_log.level
    pymc_log.setLevel(logging.ERROR)  # PyMC logs the sampler set-up at INFO on every call
    try:
        with model, jax.enable_x64(True), warnings.catch_warnings():
            # PyMC's own summary of divergences is replaced by bnlab's ConvergenceWarning
            warnings.filterwarnings("ignore", message=".*divergen.*")
            result = pm.sample(**kwargs)
    finally:
        pymc_log.setLevel(level)
    sample_s = time.perf_counter() - t0
    samples, stats = _collect(result, spec)
    post = finish_posterior(inputs, spec, samples, stats, "pymc", opts.warn, build_s, sample_s)
    post.attrs["nuts_sampler"] = sampler
    return post
