"""Shared oracles of the MCMC backend tests (no tests of its own).

- :func:`check_against_conjugate`: every CPT entry's sampled mean and sd within
  :data:`MCSE_MULTIPLE` Monte Carlo standard errors of the closed-form Dirichlet posterior;
- :func:`asia_conjugate_pair`, :func:`assert_agreement_check_can_fail`: a backend's draws
  beside the closed form on the same rows, and the proof that the comparison can fail;
- :func:`child_missing_data`, :func:`check_recovers_truth`, :func:`interval_coverage`: a
  missing-data posterior against the true network (mean KL, 90% interval coverage);
- :func:`mean_kl`: the mean KL of a network's CPT rows to estimated ones;
- :func:`ab_missing_data`, :func:`grid_posterior`, :func:`check_against_grid`: the exact
  missing-data posterior of ``A -> B`` by quadrature, and a sampler's draws against it;
- :func:`copies_structure`, :func:`simulate_copies`, :func:`copy_draws`, :func:`ranks`,
  :func:`uniformity_p`: simulation-based calibration (Talts et al. 2018) on ``L`` disjoint
  copies of ``A -> B`` fitted in one sampler run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

import bnlab
from bnlab.backends.diagnostics import Diagnostics, diagnose
from tests.conftest import network_path

#: a sampled mean/sd must match the exact value within this many Monte Carlo standard errors
MCSE_MULTIPLE = 5.0
#: SBC rank histograms are rejected as non-uniform below this chi-square p-value
SBC_LEVEL = 0.001


def check_against_conjugate(
    post: bnlab.Posterior, exact: bnlab.Posterior, variables: tuple[str, ...] | None = None
) -> None:
    """Assert that the draws of ``post`` match the closed-form posterior ``exact``.

    Means and sds of every CPT entry of ``variables`` (default: all) within
    :data:`MCSE_MULTIPLE` MCSE (ArviZ's, per entry).
    """
    diag = diagnose(post.stored_draws)
    mean, sd = post.mean_cpts(), post.sd()
    emean, esd = exact.mean_cpts(), exact.sd()
    for v in variables or exact.variables:
        # a floor of 1e-6 covers entries whose posterior is (numerically) a point mass
        z_mean = np.abs(mean[v] - emean[v]) / np.maximum(diag.mcse_mean[v], 1e-6)
        z_sd = np.abs(sd[v] - esd[v]) / np.maximum(diag.mcse_sd[v], 1e-6)
        assert z_mean.max() < MCSE_MULTIPLE, (v, z_mean.max())
        assert z_sd.max() < MCSE_MULTIPLE, (v, z_sd.max())


def mean_kl(truth: bnlab.BayesNet, cpts: dict[str, np.ndarray]) -> float:
    """Mean over CPT rows of KL(truth row ‖ ``cpts`` row) (0 log 0 = 0)."""
    out = []
    for v in truth.variables:
        p = truth.cpt(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.where(p > 0, p * np.log(p / cpts[v]), 0.0).sum(-1).ravel())
    return float(np.concatenate(out).mean())


def asia_conjugate_pair(
    net: bnlab.BayesNet, backend: str, **options: object
) -> tuple[bnlab.Posterior, bnlab.Posterior]:
    """``(post, exact)`` on 1,000 rows sampled from ``net`` (seed 0), BDeu(1): the draws of
    ``backend`` (``options`` passed to :func:`bnlab.fitting.fit`) and the closed form."""
    from bnlab.fitting import fit

    df = bnlab.sample(net, 1000, seed=0)
    exact = fit(net, df, prior="bdeu", ess=1.0, backend="conjugate")
    post = fit(net, df, prior="bdeu", ess=1.0, backend=backend, **options)
    return post, exact


def assert_agreement_check_can_fail(post: bnlab.Posterior, exact: bnlab.Posterior) -> None:
    """The fail case of :func:`check_against_conjugate`: the same draws against the
    conjugate posterior of different data must fail it."""
    import pytest

    from bnlab.fitting import fit

    other = fit(exact.structure, bnlab.sample(exact.mean(), 1000, seed=99), backend="conjugate")
    with pytest.raises(AssertionError):
        check_against_conjugate(post, other)


def child_missing_data() -> tuple[bnlab.BayesNet, pd.DataFrame]:
    """CHILD and 2,000 rows sampled from it (seed 5) with 20% of cells missing at random."""
    net = bnlab.read_network(network_path("child"))
    return net, bnlab.sample(net, 2000, seed=5, missing=0.2)


def check_recovers_truth(
    net: bnlab.BayesNet, df: pd.DataFrame, post: bnlab.Posterior, flat: dict[str, np.ndarray]
) -> None:
    """Assert that ``post`` (fitted to ``df``, K2 prior) is closer to the true ``net`` than
    the complete-case conjugate fit (mean KL), and that the 90% intervals of its pooled
    draws ``flat`` hold between 80% and 98% of the true CPT entries."""
    from bnlab.fitting import fit

    cc = fit(net.structure, df.dropna(), prior="k2", backend="conjugate")
    assert mean_kl(net, post.mean_cpts()) < mean_kl(net, cc.mean_cpts())
    coverage = interval_coverage(net, flat)
    assert 0.8 <= coverage <= 0.98, coverage


def interval_coverage(truth: bnlab.BayesNet, flat: dict[str, np.ndarray]) -> float:
    """Share of ``truth``'s CPT entries inside the 90% equal-tailed interval of the pooled
    draws ``flat[v]`` (shape ``(draws, *cpt shape)``)."""
    hits = total = 0
    for v in truth.variables:
        lo, hi = np.quantile(flat[v], [0.05, 0.95], axis=0)
        inside = (truth.cpt(v) >= lo) & (truth.cpt(v) <= hi)
        hits += int(inside.sum())
        total += inside.size
    return hits / total


def ab_structure() -> bnlab.Structure:
    """``A -> B``, both binary with states ``"0"``, ``"1"``."""
    return bnlab.Structure(["A", "B"], {"A": ("0", "1"), "B": ("0", "1")}, {"B": ("A",)})


def ab_missing_data() -> tuple[bnlab.Structure, np.ndarray]:
    """60 rows of ``A -> B`` (P(A=1) = 0.3), 35% of A and 15% of B missing (codes -1)."""
    rng = np.random.default_rng(5)
    a = rng.random(60) < 0.3
    b = np.where(a, rng.random(60) < 0.8, rng.random(60) < 0.25)
    codes = np.stack([a, b], axis=1).astype(np.int8)
    codes[rng.random(60) < 0.35, 0] = -1  # 35% of A missing
    codes[rng.random(60) < 0.15, 1] = -1
    return ab_structure(), codes


def grid_posterior(codes: np.ndarray, n_grid: int = 80) -> tuple[np.ndarray, np.ndarray]:
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


def check_against_grid(
    post: bnlab.Posterior, mean: np.ndarray, sd: np.ndarray
) -> tuple[np.ndarray, Diagnostics]:
    """Assert that the ``A -> B`` draws of ``post`` match the exact ``mean`` and ``sd``
    within :data:`MCSE_MULTIPLE` MCSE; returns the draws ``(chain, draw, 3)`` and their
    diagnostics (key ``"p"``) for the caller's fail case."""
    draws = post.stored_draws
    got = np.stack(
        [draws["A"][..., 1], draws["B"][..., 0, 1], draws["B"][..., 1, 1]], axis=-1
    )  # (chain, draw, 3)
    diag = diagnose({"p": got})
    z = np.abs(got.mean(axis=(0, 1)) - mean) / diag.mcse_mean["p"]
    assert z.max() < MCSE_MULTIPLE, z
    z_sd = np.abs(got.reshape(-1, 3).std(axis=0, ddof=1) - sd) / diag.mcse_sd["p"]
    assert z_sd.max() < MCSE_MULTIPLE, z_sd
    return got, diag


def copies_structure(n_copies: int) -> bnlab.Structure:
    """``n_copies`` disjoint copies ``A{i} -> B{i}`` of a binary pair."""
    names = [f"{x}{i}" for i in range(n_copies) for x in ("A", "B")]
    return bnlab.Structure(
        names, dict.fromkeys(names, ("0", "1")), {f"B{i}": (f"A{i}",) for i in range(n_copies)}
    )


def simulate_copies(
    n_copies: int, n_rows: int, missing: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Parameters from the K2 prior (uniform) and data per copy; returns (theta, codes)."""
    rng = np.random.default_rng(seed)
    theta = rng.random((n_copies, 3))  # P(A=1), P(B=1|A=0), P(B=1|A=1)
    a = rng.random((n_rows, n_copies)) < theta[:, 0]
    pb = np.where(a, theta[:, 2], theta[:, 1])
    b = rng.random((n_rows, n_copies)) < pb
    codes = np.empty((n_rows, 2 * n_copies), dtype=np.int8)
    codes[:, 0::2], codes[:, 1::2] = a, b
    codes[rng.random(codes.shape) < missing] = -1
    return theta, codes


def copy_draws(post: bnlab.Posterior, n_copies: int, thin: int) -> np.ndarray:
    """Every ``thin``-th draw of each copy's (P(A=1), P(B=1|A=0), P(B=1|A=1)), chains pooled:
    shape ``(draws, copies, 3)``."""
    d = post.stored_draws
    stacked = np.stack(
        [
            np.stack([d[f"A{i}"][..., 1], d[f"B{i}"][..., 0, 1], d[f"B{i}"][..., 1, 1]], -1)
            for i in range(n_copies)
        ],
        axis=-2,
    )  # (chain, draw, copies, 3)
    return stacked[:, ::thin].reshape(-1, n_copies, 3)


def ranks(theta: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Rank of each true value among thinned posterior draws (draws: (n, copies, 3))."""
    return (draws < theta[None]).sum(axis=0).reshape(-1)


def uniformity_p(ranks: np.ndarray, n_draws: int, n_bins: int = 10) -> float:
    """Chi-square p-value of the rank histogram (``n_bins`` bins) against uniform."""
    hist = np.bincount((ranks * n_bins) // (n_draws + 1), minlength=n_bins)
    return float(stats.chisquare(hist).pvalue)
