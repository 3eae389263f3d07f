"""NumPyro backend: closed-form agreement, exact missing-data posterior, hierarchical pooling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import BackendError, DataError
from bnlab.fitting import fit  # `bnlab.fit` is shadowed by the subpackage once imported
from tests.conftest import network_path
from tests.mcmc_checks import (
    ab_missing_data,
    asia_conjugate_pair,
    assert_agreement_check_can_fail,
    check_against_conjugate,
    check_against_grid,
    grid_posterior,
)

# short chains in the default suite have ESS < 400 by design: the warning is expected there
pytestmark = pytest.mark.filterwarnings("ignore::bnlab.backends.diagnostics.ConvergenceWarning")


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("asia"))


@pytest.fixture(scope="module")
def asia_fit(asia: bnlab.BayesNet) -> tuple[bnlab.Posterior, bnlab.Posterior]:
    return asia_conjugate_pair(asia, "numpyro", chains=4, draws=400, tune=400)


@pytest.mark.parametrize("chain_method", ["sequential", "parallel"])
def test_other_chain_methods_match_conjugate(asia: bnlab.BayesNet, chain_method: str) -> None:
    # the compiled init (bnlab.backends.numpyro_backend.compiled_init_nuts) serves every
    # chain method: called once per chain (sequential) and inside NumPyro's pmap (parallel)
    post, exact = asia_conjugate_pair(
        asia, "numpyro", chains=2, draws=300, tune=300, chain_method=chain_method
    )
    assert post.stored_draws["dysp"].shape == (2, 300, 2, 2, 2)
    check_against_conjugate(post, exact)


def test_complete_data_matches_conjugate(asia_fit: tuple[bnlab.Posterior, bnlab.Posterior]) -> None:
    post, exact = asia_fit
    assert post.kind == "draws" and post.backend == "numpyro"
    assert post.stored_draws["dysp"].shape == (4, 400, 2, 2, 2)
    check_against_conjugate(post, exact)


def test_agreement_check_can_fail(asia_fit: tuple[bnlab.Posterior, bnlab.Posterior]) -> None:
    # the same draws against the conjugate posterior of different data must fail
    assert_agreement_check_can_fail(*asia_fit)


def test_sampler_stats_and_arviz(asia_fit: tuple[bnlab.Posterior, bnlab.Posterior]) -> None:
    post, _ = asia_fit
    stats = post.sample_stats
    assert stats is not None
    for name in ("diverging", "tree_depth", "step_size", "acceptance_rate", "n_steps"):
        assert stats[name].shape == (4, 400)
    assert post.elapsed_s is not None and post.elapsed_s >= post.attrs["sampling_s"] > 0
    diag = post.attrs["diagnostics"]
    assert diag["n_draws"] == 1600 and diag["max_rhat"] < 1.05
    dt = post.to_arviz()
    assert set(dt.children) >= {"posterior", "sample_stats"}
    parents = post.structure.parents["dysp"]
    assert dt["posterior"].dataset["dysp"].dims == (
        "chain",
        "draw",
        *(f"{p}_state" for p in parents),
        "dysp_state",
    )


def test_missing_cells_match_exact_grid_posterior() -> None:
    s, codes = ab_missing_data()
    post = fit(s, codes, prior="k2", backend="numpyro", chains=4, draws=500, tune=500, seed=1)
    mean, sd = grid_posterior(codes)
    check_against_grid(post, mean, sd)
    # complete-case analysis would give a different answer for P(A=1): the data matter
    cc = fit(s, codes[(codes >= 0).all(axis=1)], prior="k2", backend="conjugate")
    assert abs(cc.mean_cpts()["B"][0, 1] - mean[1]) > 0 or abs(cc.mean_cpts()["A"][1] - mean[0]) > 0


def _sparse_family(seed: int) -> bnlab.BayesNet:
    """Y with three 3-state parents (27 configurations) whose rows share a common mean."""
    rng = np.random.default_rng(seed)
    states = ("a", "b", "c")
    parents = ("P1", "P2", "P3")
    base = np.array([0.6, 0.3, 0.1])
    rows = rng.dirichlet(30.0 * base, size=27).reshape(3, 3, 3, 3)
    cpts = {p: np.full(3, 1 / 3) for p in parents}
    cpts["Y"] = rows
    return bnlab.BayesNet(
        variables=[*parents, "Y"],
        states={v: states for v in [*parents, "Y"]},
        parents={"Y": parents},
        cpts=cpts,
    )


def _log_loss(net: bnlab.BayesNet, cpt: np.ndarray, test: pd.DataFrame) -> float:
    codes = bnlab.encode(test, net)
    idx = tuple(codes[:, net.structure.index[v]] for v in ("P1", "P2", "P3", "Y"))
    return float(-np.log(cpt[idx]).mean())


def test_hierarchical_prior_beats_bdeu_on_sparse_families() -> None:
    net = _sparse_family(0)
    train = bnlab.sample(net, 60, seed=1)
    test = bnlab.sample(net, 5000, seed=2)
    flat = fit(net.structure, train, prior="bdeu", ess=1.0, backend="conjugate")
    hier = fit(
        net.structure, train, prior="hierarchical", backend="numpyro", draws=300, tune=300, seed=3
    )
    loss_flat = _log_loss(net, flat.mean_cpts()["Y"], test)
    loss_hier = _log_loss(net, hier.mean_cpts()["Y"], test)
    loss_true = _log_loss(net, net.cpt("Y"), test)
    assert loss_true < loss_hier < loss_flat
    hyper = hier.attrs["hyperparameters"]["Y"]
    assert np.allclose(np.sum(hyper["mean"]), 1.0) and hyper["concentration_mean"] > 0
    # the pooled mean is close to the rows' common mean
    assert np.abs(np.asarray(hyper["mean"]) - [0.6, 0.3, 0.1]).max() < 0.15


def test_hierarchical_needs_mcmc_backend(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, 50, seed=0)
    with pytest.raises(BackendError, match="needs an MCMC backend"):
        fit(asia, df, prior="hierarchical", backend="conjugate")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"draws": 5}, "draws=5"),
        ({"chains": 0}, "chains=0"),
        ({"nuts_steps": 3}, "no option"),
        ({"chain_method": "magic"}, "chain_method"),
        ({"target_accept": 1.5}, "target_accept"),
        ({"latent": "either"}, "latent must be a list"),
        ({"latent": ["nope"]}, "not in the structure"),
    ],
)
def test_bad_options(asia: bnlab.BayesNet, options: dict[str, object], match: str) -> None:
    df = bnlab.sample(asia, 50, seed=0)
    with pytest.raises(BackendError, match=match):
        fit(asia, df, backend="numpyro", **options)


def test_entirely_missing_column_must_be_declared(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, 50, seed=0)
    df["either"] = pd.Categorical([None] * len(df), categories=list(asia.states["either"]))
    with pytest.raises(DataError, match="latent="):
        fit(asia, df, backend="numpyro")


def test_unknown_backend(asia: bnlab.BayesNet) -> None:
    with pytest.raises(BackendError, match="unknown backend"):
        fit(asia, bnlab.sample(asia, 10, seed=0), backend="stan")
