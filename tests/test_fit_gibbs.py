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
from bnlab.backends.gibbs_plan import barren_cells, gibbs_conditional, inverse_cdf
from bnlab.errors import BackendError, DataError
from bnlab.fitting import fit  # `bnlab.fit` is shadowed by the subpackage once imported
from bnlab.infer.blanket import blanket_predictive
from tests.conftest import network_path
from tests.mcmc_checks import (
    MCSE_MULTIPLE,
    SBC_LEVEL,
    ab_missing_data,
    asia_conjugate_pair,
    assert_agreement_check_can_fail,
    check_against_conjugate,
    check_against_grid,
    check_recovers_truth,
    child_missing_data,
    copies_structure,
    copy_draws,
    grid_posterior,
    ranks,
    simulate_copies,
    uniformity_p,
)

# short chains have ESS < 400 on some entries by design: the warning is expected there
pytestmark = pytest.mark.filterwarnings("ignore::bnlab.backends.diagnostics.ConvergenceWarning")


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("asia"))


@pytest.fixture(scope="module")
def asia_fit(asia: bnlab.BayesNet) -> tuple[bnlab.Posterior, bnlab.Posterior]:
    return asia_conjugate_pair(asia, "gibbs", chains=4, draws=1000, seed=2)


def test_complete_data_matches_conjugate_asia(
    asia_fit: tuple[bnlab.Posterior, bnlab.Posterior],
) -> None:
    post, exact = asia_fit
    assert post.kind == "draws" and post.backend == "gibbs"
    assert post.stored_draws["dysp"].shape == (4, 1000, 2, 2, 2)
    assert post.attrs["sweeps_per_chain"] == 0 and post.attrs["tune"] == 0  # nothing to impute
    check_against_conjugate(post, exact)


def test_complete_data_matches_conjugate_alarm() -> None:
    net = bnlab.read_network(network_path("alarm"))
    df = bnlab.sample(net, 2000, seed=0)
    exact = fit(net, df, prior="k2", backend="conjugate")
    post = fit(net, df, prior="k2", backend="gibbs", chains=4, draws=400, seed=1)
    check_against_conjugate(post, exact)


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
    assert_agreement_check_can_fail(*asia_fit)


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


def _joint_log_probs(net: bnlab.BayesNet) -> tuple[np.ndarray, np.ndarray]:
    """Every joint state of ``net`` (rows of codes) and its log probability, by enumeration."""
    s = net.structure
    joint_states = np.array(list(itertools.product(*(range(s.cards[v]) for v in s.variables))))
    logp = np.zeros(len(joint_states))
    for v in s.variables:
        cols = [s.index[u] for u in (*s.parents[v], v)]
        logp += np.log(net.cpt(v)[tuple(joint_states[:, c] for c in cols)])
    return joint_states, logp


@pytest.mark.parametrize("target", ["A", "B", "C", "D"])
def test_conditional_matches_enumeration(target: str) -> None:
    net = _tiny_net(0)
    s = net.structure
    joint_states, logp = _joint_log_probs(net)
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
    joint_states, logp = _joint_log_probs(net)
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
    s, codes = ab_missing_data()
    post = fit(s, codes, prior="k2", backend="gibbs", chains=4, draws=2000, tune=200, seed=1)
    mean, sd = grid_posterior(codes)
    _, diag = check_against_grid(post, mean, sd)
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
    check_against_conjugate(post, exact, ("asia", "smoke", "tub", "lung", "bronc"))


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


def test_child_missing_cells_recover_truth() -> None:
    net, df = child_missing_data()
    post = fit(net.structure, df, prior="k2", backend="gibbs", chains=4, draws=300, tune=150)
    flat = {v: post.stored_draws[v].reshape(-1, *net.cpt(v).shape) for v in net.variables}
    check_recovers_truth(net, df, post, flat)


@pytest.mark.slow
def test_simulation_based_calibration_with_missing_cells() -> None:
    """SBC: ``L`` disjoint copies of ``A -> B``, each with its own data set, in one fit.

    Parameters from the K2 prior (uniform), 25 rows per copy, 25% of cells missing at
    random; the rank of each true parameter among 200 thinned draws must be uniform
    (chi-square over 10 bins, level :data:`SBC_LEVEL`), and an over-confident posterior
    must fail the same test.
    """
    n_copies, n_rows = 120, 25
    theta, codes = simulate_copies(n_copies, n_rows, missing=0.25, seed=11)
    s = copies_structure(n_copies)
    post = fit(s, codes, prior="k2", backend="gibbs", chains=2, draws=500, tune=100, seed=3)
    thinned = copy_draws(post, n_copies, thin=5)  # 200 nearly independent draws
    assert uniformity_p(ranks(theta, thinned), thinned.shape[0]) > SBC_LEVEL
    # fail case: the same draws pulled halfway to their mean are over-confident
    centre = thinned.mean(axis=0, keepdims=True)
    narrow = centre + 0.5 * (thinned - centre)
    assert uniformity_p(ranks(theta, narrow), thinned.shape[0]) < SBC_LEVEL


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
