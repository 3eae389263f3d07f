"""Heavier MCMC checks (``slow``): ALARM agreement, simulation-based calibration, recovery.

Simulation-based calibration (Talts et al. 2018) fits many independent data sets in ONE
sampler run: the structure is ``L`` disjoint copies of ``A -> B``, copy ``i`` seeing only its
own simulated data set, so the joint posterior is the product of the ``L`` posteriors and one
compilation serves every replicate.
"""

from __future__ import annotations

import numpy as np
import pytest

import bnlab
from bnlab.fitting import fit  # `bnlab.fit` is shadowed by the subpackage once imported
from tests.conftest import network_path
from tests.mcmc_checks import (
    SBC_LEVEL,
    check_against_conjugate,
    check_recovers_truth,
    child_missing_data,
    copies_structure,
    copy_draws,
    ranks,
    simulate_copies,
    uniformity_p,
)

pytestmark = [
    pytest.mark.slow,
    # short chains may miss ESS 400 on a few entries; the checks below are on the numbers
    pytest.mark.filterwarnings("ignore::bnlab.backends.diagnostics.ConvergenceWarning"),
]


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("numpyro", marks=pytest.mark.slow(expected_s=60)),
        pytest.param("pymc", marks=pytest.mark.slow(expected_s=100)),
    ],
)
def test_alarm_complete_data_matches_conjugate(backend: str) -> None:
    """Means and sds of all 752 ALARM CPT entries within 5 MCSE of Dirichlet(alpha + N).

    About 30 s (numpyro) and 50 s (pymc) on 2 cores: ``slow``, not ``heavy``.
    """
    net = bnlab.read_network(network_path("alarm"))
    df = bnlab.sample(net, 2000, seed=0)
    exact = fit(net, df, prior="k2", backend="conjugate")
    post = fit(net, df, prior="k2", backend=backend, chains=4, draws=500, tune=500)
    check_against_conjugate(post, exact)


@pytest.mark.slow(expected_s=140)
@pytest.mark.parametrize("missing", [0.0, 0.2])
def test_simulation_based_calibration(missing: float) -> None:
    n_copies, n_rows = 150, 25
    theta, codes = simulate_copies(n_copies, n_rows, missing, seed=11)
    s = copies_structure(n_copies)
    post = fit(s, codes, prior="k2", backend="numpyro", chains=4, draws=500, tune=500, seed=3)
    thinned = copy_draws(post, n_copies, thin=10)  # 200 nearly independent draws
    p = uniformity_p(ranks(theta, thinned), thinned.shape[0])
    assert p > SBC_LEVEL, p
    # fail case: an over-confident posterior (data counted four times) is detected
    rng = np.random.default_rng(0)
    over = []
    for i in range(n_copies):
        x = codes[:, 2 * i : 2 * i + 2]
        full = x[(x >= 0).all(axis=1)]
        n_a = np.bincount(x[x[:, 0] >= 0, 0], minlength=2) * 4
        n_b = np.array([np.bincount(full[full[:, 0] == k, 1], minlength=2) for k in (0, 1)]) * 4
        over.append(
            np.stack(
                [
                    rng.beta(1 + n_a[1], 1 + n_a[0], 200),
                    rng.beta(1 + n_b[0, 1], 1 + n_b[0, 0], 200),
                    rng.beta(1 + n_b[1, 1], 1 + n_b[1, 0], 200),
                ],
                -1,
            )
        )
    assert uniformity_p(ranks(theta, np.stack(over, axis=1)), 200) < SBC_LEVEL


@pytest.mark.slow(expected_s=150)
def test_child_missing_cells_recover_truth() -> None:
    """NumPyro on 2 x 600 iterations (was 4 x 800, about 4 minutes on 2 cores): the checks
    are on the posterior mean (KL) and on 90% intervals from 600 pooled draws."""
    net, df = child_missing_data()
    post = fit(net.structure, df, prior="k2", backend="numpyro", chains=2, draws=300, tune=300)
    check_recovers_truth(net, df, post, post.draws(600, seed=0))
