"""Gibbs backend against independent truth.

Oracles: the closed-form conjugate posterior (complete data, and fully observed families
beside a latent variable), the Beta marginals of that posterior (KS), brute-force enumeration
of the joint (the Gibbs conditional), quadrature of the exact missing-data posterior of
``A -> B``, the true network (recovery and coverage on CHILD), and simulation-based
calibration (Talts et al. 2018) over many simulated data sets.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bnlab
from bnlab.backends.diagnostics import diagnose
from bnlab.backends.gibbs_plan import barren_cells, gibbs_conditional, inverse_cdf
from bnlab.errors import BackendError, DataError
from bnlab.fitting import fit  # `bnlab.fit` is shadowed by the subpackage once imported
from bnlab.infer.blanket import blanket_predictive
from tests.conftest import network_path
from tests.test_fit_mcmc_numpyro import _grid_posterior

# short chains have ESS < 400 on some entries by design: the warning is expected there
pytestmark = pytest.mark.filterwarnings("ignore::bnlab.backends.diagnostics.ConvergenceWarning")

#: a sampled mean/sd must match the exact value within this many Monte Carlo standard errors
MCSE_MULTIPLE = 5.0
#: SBC rank histograms are rejected as non-uniform below this chi-square p-value
SBC_LEVEL = 0.001


def _mcse(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's MCSE of the mean and of the sd of ``(chain, draw, ...)`` draws."""
    from arviz_stats.base import array_stats

    return (
        np.asarray(array_stats.mcse(draws, 0, 1, method="mean")),
        np.asarray(array_stats.mcse(draws, 0, 1, method="sd")),
    )


def _check_against_conjugate(
    post: bnlab.Posterior, exact: bnlab.Posterior, variables: tuple[str, ...] | None = None
) -> None:
    mean, sd = post.mean_cpts(), post.sd()
    emean, esd = exact.mean_cpts(), exact.sd()
    for v in variables or exact.variables:
        mcse_mean, mcse_sd = _mcse(post.stored_draws[v])
        # a floor of 1e-6 covers entries whose posterior is (numerically) a point mass
        z_mean = np.abs(mean[v] - emean[v]) / np.maximum(mcse_mean, 1e-6)
        z_sd = np.abs(sd[v] - esd[v]) / np.maximum(mcse_sd, 1e-6)
        assert z_mean.max() < MCSE_MULTIPLE, (v, z_mean.max())
        assert z_sd.max() < MCSE_MULTIPLE, (v, z_sd.max())


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("asia"))


@pytest.fixture(scope="module")
def asia_fit(asia: bnlab.BayesNet) -> tuple[bnlab.Posterior, bnlab.Posterior]:
    df = bnlab.sample(asia, 1000, seed=0)
    exact = fit(asia, df, prior="bdeu", ess=1.0, backend="conjugate")
    post = fit(asia, df, prior="bdeu", ess=1.0, backend="gibbs", chains=4, draws=1000, seed=2)
    return post, exact


def test_complete_data_matches_conjugate_asia(
    asia_fit: tuple[bnlab.Posterior, bnlab.Posterior],
) -> None:
    post, exact = asia_fit
    assert post.kind == "draws" and post.backend == "gibbs"
    assert post.stored_draws["dysp"].shape == (4, 1000, 2, 2, 2)
    assert post.attrs["sweeps_per_chain"] == 0 and post.attrs["tune"] == 0  # nothing to impute
    _check_against_conjugate(post, exact)


def test_complete_data_matches_conjugate_alarm() -> None:
    net = bnlab.read_network(network_path("alarm"))
    df = bnlab.sample(net, 2000, seed=0)
    exact = fit(net, df, prior="k2", backend="conjugate")
    post = fit(net, df, prior="k2", backend="gibbs", chains=4, draws=400, seed=1)
    _check_against_conjugate(post, exact)


def test_complete_data_draws_are_exact_dirichlet(
    asia_fit: tuple[bnlab.Posterior, bnlab.Posterior],
) -> None:
    """Every entry's draws follow its exact Beta marginal (KS); wrong Betas are rejected."""
    post, exact = asia_fit
    p_right, p_wrong = [], []
    for v in exact.variables:
        a = exact.alpha[v]
        b = a.sum(axis=-1, keepdims=True) - a
        x = post.stored_draws[v].reshape(-1, *a.shape)
        for idx in np.ndindex(a.shape):
            col = x[(slice(None), *idx)]
            p_right.append(stats.kstest(col, stats.beta(a[idx], b[idx]).cdf).pvalue)
            # fail case: the Beta of twice the data
            wrong = stats.beta(2 * a[idx] - 1e-3, 2 * b[idx])
            p_wrong.append(stats.kstest(col, wrong.cdf).pvalue)
    assert min(p_right) > 1e-4, min(p_right)  # ~40 entries: a false alarm has p ~ 0.004
    assert min(p_wrong) < 1e-4


def test_agreement_check_can_fail(asia_fit: tuple[bnlab.Posterior, bnlab.Posterior]) -> None:
    post, exact = asia_fit
    other = fit(exact.structure, bnlab.sample(exact.mean(), 1000, seed=99), backend="conjugate")
    with pytest.raises(AssertionError):
        _check_against_conjugate(post, other)


def _tiny_net(seed: int) -> bnlab.BayesNet:
    """A(3) -> C(2) <- B(2), C -> D(3) <- A: a target with parents, children and co-parents."""
    rng = np.random.default_rng(seed)
    states = {
        "A": ("a0", "a1", "a2"),
        "B": ("b0", "b1"),
        "C": ("c0", "c1"),
        "D": ("d0", "d1", "d2"),
    }
    parents = {"C": ("A", "B"), "D": ("C", "A")}
    shapes = {"A": (3,), "B": (2,), "C": (3, 2, 2), "D": (2, 3, 3)}
    cpts = {v: rng.dirichlet(np.ones(sh[-1]), size=sh[:-1]) for v, sh in shapes.items()}
    return bnlab.BayesNet(variables=list(states), states=states, parents=parents, cpts=cpts)


@pytest.mark.parametrize("target", ["A", "B", "C", "D"])
def test_conditional_matches_enumeration(target: str) -> None:
    net = _tiny_net(0)
    s = net.structure
    joint_states = np.array(list(itertools.product(*(range(s.cards[v]) for v in s.variables))))
    logp = np.zeros(len(joint_states))
    for v in s.variables:
        cols = [s.index[u] for u in (*s.parents[v], v)]
        logp += np.log(net.cpt(v)[tuple(joint_states[:, c] for c in cols)])
    rows = joint_states[np.random.default_rng(1).choice(len(joint_states), 40)]
    got = gibbs_conditional(s, net.cpts, rows, target)
    t = s.index[target]
    others = [j for j in range(len(s.variables)) if j != t]
    want = np.zeros_like(got)
    for i, row in enumerate(rows):
        match = (joint_states[:, others] == row[others]).all(axis=1)
        p = np.exp(logp[match])
        want[i, joint_states[match, t]] = p / p.sum()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    # and the engine's blanket formula for complete rows agrees
    np.testing.assert_allclose(got, blanket_predictive(s, net.cpts, rows, target), rtol=1e-12)
    if s.children[target]:  # the children matter: P(target | parents) alone is wrong
        own = net.cpt(target)[tuple(rows[:, s.index[p]] for p in s.parents[target])]
        assert not np.allclose(got, own, atol=1e-3)


@pytest.mark.parametrize("pair", [("A", "C"), ("A", "B"), ("C", "D")])
def test_pair_conditional_matches_enumeration(pair: tuple[str, str]) -> None:
    """The joint update of two cells sharing a family (co-parents A, B of C included)."""
    net = _tiny_net(0)
    s = net.structure
    joint_states = np.array(list(itertools.product(*(range(s.cards[v]) for v in s.variables))))
    logp = np.zeros(len(joint_states))
    for v in s.variables:
        cols = [s.index[u] for u in (*s.parents[v], v)]
        logp += np.log(net.cpt(v)[tuple(joint_states[:, c] for c in cols)])
    rows = joint_states[np.random.default_rng(4).choice(len(joint_states), 30)]
    got = gibbs_conditional(s, net.cpts, rows, pair)
    ta, tb = s.index[pair[0]], s.index[pair[1]]
    others = [j for j in range(len(s.variables)) if j not in (ta, tb)]
    want = np.zeros_like(got)
    for i, row in enumerate(rows):
        match = (joint_states[:, others] == row[others]).all(axis=1)
        p = np.exp(logp[match])
        k = joint_states[match, ta] * s.cards[pair[1]] + joint_states[match, tb]
        want[i, k] = p / p.sum()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_barren_cells_have_no_observed_descendant() -> None:
    s = _tiny_net(0).structure
    descendants = {"A": {"C", "D"}, "B": {"C", "D"}, "C": {"D"}, "D": set()}
    rng = np.random.default_rng(2)
    codes = np.where(rng.random((200, 4)) < 0.5, -1, 0)
    got = barren_cells(s, codes)
    for row, flags in zip(codes, got, strict=True):
        for v in s.variables:
            missing = row[s.index[v]] < 0
            hidden = all(row[s.index[d]] < 0 for d in descendants[v])
            assert flags[s.index[v]] == (missing and hidden), (row, v)
    assert got.any() and not got.all()


def test_inverse_cdf_draws_the_given_probabilities() -> None:
    rng = np.random.default_rng(3)
    p = np.array([0.2, 0.0, 0.5, 0.3])
    n = 40_000
    w = np.repeat((7.0 * p)[:, None], n, axis=1)  # unnormalised, states first
    got = inverse_cdf(w, rng.random(n))
    counts = np.bincount(got, minlength=4)
    assert counts[1] == 0  # a state of probability zero is never drawn
    keep = p > 0
    assert stats.chisquare(counts[keep], n * p[keep]).pvalue > 0.001
    # fail case: other probabilities are rejected
    assert stats.chisquare(counts[keep], n * np.array([0.25, 0.45, 0.3])).pvalue < 0.001
    # a cell of probability zero for every state is reported, not drawn
    assert inverse_cdf(np.zeros((3, 2)), np.array([0.1, 0.9])).tolist() == [-1, -1]


def test_missing_cells_match_exact_grid_posterior() -> None:
    s = bnlab.Structure(["A", "B"], {"A": ("0", "1"), "B": ("0", "1")}, {"B": ("A",)})
    rng = np.random.default_rng(5)
    a = rng.random(60) < 0.3
    b = np.where(a, rng.random(60) < 0.8, rng.random(60) < 0.25)
    codes = np.stack([a, b], axis=1).astype(np.int8)
    codes[rng.random(60) < 0.35, 0] = -1  # 35% of A missing
    codes[rng.random(60) < 0.15, 1] = -1
    post = fit(s, codes, prior="k2", backend="gibbs", chains=4, draws=2000, tune=200, seed=1)
    mean, sd = _grid_posterior(codes)
    draws = post.stored_draws
    got = np.stack([draws["A"][..., 1], draws["B"][..., 0, 1], draws["B"][..., 1, 1]], axis=-1)
    diag = diagnose({"p": got})
    z = np.abs(got.mean(axis=(0, 1)) - mean) / diag.mcse_mean["p"]
    assert z.max() < MCSE_MULTIPLE, z
    z_sd = np.abs(got.reshape(-1, 3).std(axis=0, ddof=1) - sd) / diag.mcse_sd["p"]
    assert z_sd.max() < MCSE_MULTIPLE, z_sd
    # fail case: the complete-case posterior is a different answer
    cc = fit(s, codes[(codes >= 0).all(axis=1)], prior="k2", backend="conjugate")
    cc_mean = [cc.mean_cpts()["A"][1], cc.mean_cpts()["B"][0, 1], cc.mean_cpts()["B"][1, 1]]
    assert (np.abs(np.array(cc_mean) - mean) / diag.mcse_mean["p"]).max() > MCSE_MULTIPLE


def test_latent_variable_leaves_observed_families_exact(asia: bnlab.BayesNet) -> None:
    """Families observed in every row have the conjugate posterior, whatever is latent."""
    df = bnlab.sample(asia, 500, seed=4)
    df["either"] = pd.Categorical([None] * len(df), categories=list(asia.states["either"]))
    exact = fit(asia, df, prior="k2", backend="conjugate")
    post = fit(asia, df, prior="k2", backend="gibbs", latent=["either"], draws=1000, tune=200)
    assert post.attrs["latent"] == ["either"] and post.attrs["n_missing_cells"] == 500
    _check_against_conjugate(post, exact, ("asia", "smoke", "tub", "lung", "bronc"))


def test_chain_is_the_same_alone_or_batched(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, 300, seed=6, missing=0.2)
    one = fit(asia, df, backend="gibbs", chains=1, draws=50, tune=20, seed=7)
    three = fit(asia, df, backend="gibbs", chains=3, draws=50, tune=20, seed=7)
    for v in asia.variables:
        np.testing.assert_array_equal(one.stored_draws[v][0], three.stored_draws[v][0])
    assert not np.array_equal(three.stored_draws["lung"][0], three.stored_draws["lung"][1])


def test_sampler_stats_and_arviz(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, 300, seed=8, missing=0.2)
    post = fit(asia, df, backend="gibbs", chains=2, draws=60, tune=10, thin=2)
    stats_ds = post.sample_stats
    assert stats_ds is not None
    assert stats_ds["n_changed"].shape == (2, 60) and stats_ds["log_likelihood"].shape == (2, 60)
    assert int(stats_ds["n_changed"].sum()) > 0
    assert post.attrs["sweeps_per_chain"] == 10 + 60 * 2
    assert post.attrs["n_missing_cells"] == int(bnlab.encode(df, asia).__lt__(0).sum())
    assert post.elapsed_s is not None and post.elapsed_s >= post.attrs["sampling_s"] > 0
    assert post.attrs["diagnostics"]["n_draws"] == 120
    dt = post.to_arviz()
    assert set(dt.children) >= {"posterior", "sample_stats"}
    parents = post.structure.parents["dysp"]
    assert dt["posterior"].dataset["dysp"].dims == (
        "chain",
        "draw",
        *(f"{p}_state" for p in parents),
        "dysp_state",
    )


def _mean_kl(truth: bnlab.BayesNet, cpts: dict[str, np.ndarray]) -> float:
    out = []
    for v in truth.variables:
        p = truth.cpt(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.where(p > 0, p * np.log(p / cpts[v]), 0.0).sum(-1).ravel())
    return float(np.concatenate(out).mean())


def test_child_missing_cells_recover_truth() -> None:
    net = bnlab.read_network(network_path("child"))
    df = bnlab.sample(net, 2000, seed=5, missing=0.2)
    post = fit(net.structure, df, prior="k2", backend="gibbs", chains=4, draws=300, tune=150)
    cc = fit(net.structure, df.dropna(), prior="k2", backend="conjugate")
    assert _mean_kl(net, post.mean_cpts()) < _mean_kl(net, cc.mean_cpts())
    hits = total = 0
    for v in net.variables:
        flat = post.stored_draws[v].reshape(-1, *net.cpt(v).shape)
        lo, hi = np.quantile(flat, [0.05, 0.95], axis=0)
        inside = (net.cpt(v) >= lo) & (net.cpt(v) <= hi)
        hits += int(inside.sum())
        total += inside.size
    assert 0.8 <= hits / total <= 0.98, hits / total


def _copies(n_copies: int) -> bnlab.Structure:
    names = [f"{x}{i}" for i in range(n_copies) for x in ("A", "B")]
    return bnlab.Structure(
        names, dict.fromkeys(names, ("0", "1")), {f"B{i}": (f"A{i}",) for i in range(n_copies)}
    )


def _uniformity_p(ranks: np.ndarray, n_draws: int, n_bins: int = 10) -> float:
    hist = np.bincount((ranks * n_bins) // (n_draws + 1), minlength=n_bins)
    return float(stats.chisquare(hist).pvalue)


@pytest.mark.slow
def test_simulation_based_calibration_with_missing_cells() -> None:
    """SBC: ``L`` disjoint copies of ``A -> B``, each with its own data set, in one fit.

    Parameters from the K2 prior (uniform), 25 rows per copy, 25% of cells missing at
    random; the rank of each true parameter among 200 thinned draws must be uniform
    (chi-square over 10 bins, level :data:`SBC_LEVEL`), and an over-confident posterior
    must fail the same test.
    """
    n_copies, n_rows = 120, 25
    rng = np.random.default_rng(11)
    theta = rng.random((n_copies, 3))  # P(A=1), P(B=1|A=0), P(B=1|A=1)
    a = rng.random((n_rows, n_copies)) < theta[:, 0]
    b = rng.random((n_rows, n_copies)) < np.where(a, theta[:, 2], theta[:, 1])
    codes = np.empty((n_rows, 2 * n_copies), dtype=np.int8)
    codes[:, 0::2], codes[:, 1::2] = a, b
    codes[rng.random(codes.shape) < 0.25] = -1
    post = fit(
        _copies(n_copies), codes, prior="k2", backend="gibbs", chains=2, draws=500, tune=100, seed=3
    )
    d = post.stored_draws
    stacked = np.stack(
        [
            np.stack([d[f"A{i}"][..., 1], d[f"B{i}"][..., 0, 1], d[f"B{i}"][..., 1, 1]], -1)
            for i in range(n_copies)
        ],
        axis=-2,
    )  # (chain, draw, copies, 3)
    thinned = stacked[:, ::5].reshape(-1, n_copies, 3)  # 200 nearly independent draws
    ranks = (thinned < theta[None]).sum(axis=0).reshape(-1)
    assert _uniformity_p(ranks, thinned.shape[0]) > SBC_LEVEL
    # fail case: the same draws pulled halfway to their mean are over-confident
    centre = thinned.mean(axis=0, keepdims=True)
    narrow = centre + 0.5 * (thinned - centre)
    ranks = (narrow < theta[None]).sum(axis=0).reshape(-1)
    assert _uniformity_p(ranks, thinned.shape[0]) < SBC_LEVEL


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"draws": 5}, "draws=5"),
        ({"chains": 0}, "chains=0"),
        ({"thin": 0}, "thin=0"),
        ({"nuts_steps": 3}, "no option"),
        ({"latent": "either"}, "latent must be a list"),
        ({"latent": ["nope"]}, "not in the structure"),
    ],
)
def test_bad_options(asia: bnlab.BayesNet, options: dict[str, object], match: str) -> None:
    df = bnlab.sample(asia, 50, seed=0)
    with pytest.raises(BackendError, match=match):
        fit(asia, df, backend="gibbs", **options)


def test_bad_data_and_priors(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, 50, seed=0)
    with pytest.raises(DataError, match="have observed cells"):
        fit(asia, df, backend="gibbs", latent=["either"])
    with pytest.raises(BackendError, match="needs an MCMC backend.*not 'gibbs'"):
        fit(asia, df, prior="hierarchical", backend="gibbs")
    df["either"] = pd.Categorical([None] * len(df), categories=list(asia.states["either"]))
    with pytest.raises(DataError, match=r"latent=\['either'\]"):
        fit(asia, df, backend="gibbs")


def test_saved_mcmc_posterior_is_bit_reproducible(asia: bnlab.BayesNet, tmp_path: Path) -> None:
    # the same data and seed give the same file: no wall-clock time is written into it
    df = bnlab.sample(asia, 300, seed=3, missing=0.2)
    paths = []
    for i in range(2):
        post = fit(asia.structure, df, backend="gibbs", chains=2, draws=50, tune=20, seed=1)
        assert post.attrs["sampling_s"] >= 0.0  # timings stay available in memory
        paths.append(post.save(tmp_path / f"p{i}.nc"))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    loaded = bnlab.load_posterior(paths[0])
    assert "sampling_s" not in loaded.attrs and "build_s" not in loaded.attrs
