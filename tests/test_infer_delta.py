"""The delta-method interval against oracles: the exact Beta marginal of a root, and a
brute-force variance (finite-difference gradients of an enumerated query) on ASIA."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy import stats

import bnlab
from bnlab.infer.intervals import beta_interval
from tests.enumeration import conditional, joint


@pytest.fixture(scope="module")
def posterior() -> bnlab.Posterior:
    net = bnlab.load_example("asia")
    # few rows and a small prior: wide intervals, so a wrong variance shows
    return bnlab.fit(net.structure, bnlab.sample(net, n=150, seed=4), ess=2.0)


def test_root_without_evidence_is_the_exact_beta_marginal(posterior: bnlab.Posterior) -> None:
    # q = theta_s itself: its delta variance is the Dirichlet's own, so the moment-matched
    # Beta is the exact Beta(alpha_s, alpha_0 - alpha_s) marginal
    alpha = np.asarray(posterior.alpha["smoke"], dtype=np.float64)
    with jax.enable_x64(True):
        q = bnlab.Engine(posterior).query("smoke", [{}], interval=0.9, method="delta")
    a0 = alpha.sum()
    for k in range(alpha.size):
        exact = stats.beta(alpha[k], a0 - alpha[k])
        assert q["mean"][k] == pytest.approx(alpha[k] / a0, abs=1e-12)
        assert q["lower"][k] == pytest.approx(exact.ppf(0.05), abs=1e-9)
        assert q["upper"][k] == pytest.approx(exact.ppf(0.95), abs=1e-9)


def _brute_force_variance(
    post: bnlab.Posterior, target: str, state: str, ev: dict[str, str]
) -> tuple[float, float]:
    """q at the posterior mean and sum over CPT rows g^T Cov g, g by central differences."""
    mean = post.mean()

    def q_of(cpts: dict[str, np.ndarray]) -> float:
        net = bnlab.BayesNet(structure=post.structure, cpts=cpts)
        return conditional(net, joint(net), target, state, ev)

    base = {v: np.asarray(mean.cpt(v), dtype=np.float64) for v in mean.variables}
    var, h = 0.0, 1e-6
    for v in mean.variables:
        alpha = np.asarray(post.alpha[v], dtype=np.float64)
        flat_alpha = alpha.reshape(-1, alpha.shape[-1])
        grad = np.zeros(base[v].size)
        for i in range(base[v].size):
            up, down = dict(base), dict(base)
            up[v], down[v] = base[v].copy().reshape(-1), base[v].copy().reshape(-1)
            up[v][i] += h
            down[v][i] -= h
            up[v], down[v] = up[v].reshape(base[v].shape), down[v].reshape(base[v].shape)
            grad[i] = (q_of(up) - q_of(down)) / (2 * h)
        for r, row_alpha in enumerate(flat_alpha):
            a0 = row_alpha.sum()
            m = row_alpha / a0
            g = grad[r * m.size : (r + 1) * m.size]
            var += (m @ g**2 - (m @ g) ** 2) / (a0 + 1)
    return q_of(base), var


@pytest.mark.parametrize(
    ("target", "ev"),
    [("lung", {"xray": "yes", "smoke": "no"}), ("either", {"dysp": "no"}), ("tub", {})],
)
def test_variance_matches_brute_force_gradients(
    posterior: bnlab.Posterior, target: str, ev: dict[str, str]
) -> None:
    with jax.enable_x64(True):
        q = bnlab.Engine(posterior).query(target, [ev], interval=0.9, method="delta")
    state = posterior.structure.states[target][0]  # binary targets: state 1 is 1 - q
    mean, var = _brute_force_variance(posterior, target, state, ev)
    lower, upper = beta_interval(np.array([mean]), np.array([var]), 0.9, "eti")
    assert q["mean"][0] == pytest.approx(mean, abs=1e-10)
    assert q["lower"][0] == pytest.approx(lower[0], abs=1e-6)
    assert q["upper"][0] == pytest.approx(upper[0], abs=1e-6)
    assert q["lower"][1] == pytest.approx(1 - upper[0], abs=1e-6)
    # the check can fail: half the variance moves the bounds by more than the tolerance
    half, _ = beta_interval(np.array([mean]), np.array([var / 2]), 0.9, "eti")
    assert abs(q["lower"][0] - half[0]) > 1e-4
