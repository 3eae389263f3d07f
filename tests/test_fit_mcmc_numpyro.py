"""NumPyro backend: closed-form agreement, exact missing-data posterior, hierarchical pooling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import BackendError, DataError
from bnlab.fitting import fit  # `bnlab.fit` is shadowed by the subpackage once imported
from tests.conftest import network_path

# short chains in the default suite have ESS < 400 by design: the warning is expected there
pytestmark = pytest.mark.filterwarnings("ignore::bnlab.backends.diagnostics.ConvergenceWarning")

#: MCMC mean/sd must match the exact value within this many Monte Carlo standard errors
MCSE_MULTIPLE = 5.0


def _mcse(post: bnlab.Posterior) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    from bnlab.backends.diagnostics import diagnose

    diag = diagnose(post.stored_draws)
    return diag.mcse_mean, diag.mcse_sd


def _check_against_conjugate(post: bnlab.Posterior, exact: bnlab.Posterior) -> None:
    mcse_mean, mcse_sd = _mcse(post)
    mean, sd = post.mean_cpts(), post.sd()
    emean, esd = exact.mean_cpts(), exact.sd()
    for v in exact.variables:
        # a floor of 1e-6 covers entries whose posterior is (numerically) a point mass
        z_mean = np.abs(mean[v] - emean[v]) / np.maximum(mcse_mean[v], 1e-6)
        z_sd = np.abs(sd[v] - esd[v]) / np.maximum(mcse_sd[v], 1e-6)
        assert z_mean.max() < MCSE_MULTIPLE, (v, z_mean.max())
        assert z_sd.max() < MCSE_MULTIPLE, (v, z_sd.max())


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("asia"))


@pytest.fixture(scope="module")
def asia_fit(asia: bnlab.BayesNet) -> tuple[bnlab.Posterior, bnlab.Posterior]:
    df = bnlab.sample(asia, 1000, seed=0)
    exact = fit(asia, df, prior="bdeu", ess=1.0, backend="conjugate")
    post = fit(asia, df, prior="bdeu", ess=1.0, backend="numpyro", chains=4, draws=400, tune=400)
    return post, exact


def test_complete_data_matches_conjugate(asia_fit: tuple[bnlab.Posterior, bnlab.Posterior]) -> None:
    post, exact = asia_fit
    assert post.kind == "draws" and post.backend == "numpyro"
    assert post.stored_draws["dysp"].shape == (4, 400, 2, 2, 2)
    _check_against_conjugate(post, exact)


def test_agreement_check_can_fail(asia_fit: tuple[bnlab.Posterior, bnlab.Posterior]) -> None:
    post, exact = asia_fit
    # the same draws against the conjugate posterior of different data must fail
    other = fit(exact.structure, bnlab.sample(exact.mean(), 1000, seed=99), backend="conjugate")
    with pytest.raises(AssertionError):
        _check_against_conjugate(post, other)


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


def _grid_posterior(codes: np.ndarray, n_grid: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Exact posterior mean and sd of (P(A=1), P(B=1|A=0), P(B=1|A=1)) for A -> B, K2 prior.

    Midpoint quadrature on a 3-D grid: an oracle independent of the model spec.
    """
    g = (np.arange(n_grid) + 0.5) / n_grid
    a, b0, b1 = np.meshgrid(g, g, g, indexing="ij")
    pa = [1 - a, a]
    pb = [[1 - b0, b0], [1 - b1, b1]]
    logp = np.zeros_like(a)
    for x, y in codes:
        if x >= 0 and y >= 0:
            lik = pa[x] * pb[x][y]
        elif x >= 0:
            lik = pa[x]
        elif y >= 0:
            lik = pa[0] * pb[0][y] + pa[1] * pb[1][y]
        else:
            continue
        logp += np.log(lik)
    w = np.exp(logp - logp.max())
    w /= w.sum()
    params = np.stack([a, b0, b1])
    mean = (params * w).sum(axis=(1, 2, 3))
    sd = np.sqrt(((params - mean[:, None, None, None]) ** 2 * w).sum(axis=(1, 2, 3)))
    return mean, sd


def test_missing_cells_match_exact_grid_posterior() -> None:
    s = bnlab.Structure(["A", "B"], {"A": ("0", "1"), "B": ("0", "1")}, {"B": ("A",)})
    rng = np.random.default_rng(5)
    a = rng.random(60) < 0.3
    b = np.where(a, rng.random(60) < 0.8, rng.random(60) < 0.25)
    codes = np.stack([a, b], axis=1).astype(np.int8)
    codes[rng.random(60) < 0.35, 0] = -1  # 35% of A missing
    codes[rng.random(60) < 0.15, 1] = -1
    post = fit(s, codes, prior="k2", backend="numpyro", chains=4, draws=500, tune=500, seed=1)
    mean, sd = _grid_posterior(codes)
    draws = post.stored_draws
    got = np.stack(
        [draws["A"][..., 1], draws["B"][..., 0, 1], draws["B"][..., 1, 1]], axis=-1
    )  # (chain, draw, 3)
    from bnlab.backends.diagnostics import diagnose

    diag = diagnose({"p": got})
    z = np.abs(got.mean(axis=(0, 1)) - mean) / diag.mcse_mean["p"]
    assert z.max() < MCSE_MULTIPLE, z
    z_sd = np.abs(got.reshape(-1, 3).std(axis=0, ddof=1) - sd) / diag.mcse_sd["p"]
    assert z_sd.max() < MCSE_MULTIPLE, z_sd
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
