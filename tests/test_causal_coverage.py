"""Frequentist coverage of the ATE's credible intervals on data simulated from a known network."""

from __future__ import annotations

import numpy as np
from causal_fixtures import prob

import bnlab
from bnlab import BayesNet, Structure, causal

#: Seeded repetitions: the share covered has a binomial sd of sqrt(.09 / 200) = 2.1 points.
REPS = 200
ROWS = 500


def _confounded_net() -> BayesNet:
    s = Structure(["Z", "T", "Y"], {"Z": ("0", "1"), "T": ("0", "1"), "Y": ("0", "1")},
                  {"T": ["Z"], "Y": ["T", "Z"]})  # fmt: skip
    cpts = {
        "Z": np.array([0.6, 0.4]),
        "T": np.array([[0.8, 0.2], [0.3, 0.7]]),  # Z raises the chance of treatment
        "Y": np.array([[[0.9, 0.1], [0.6, 0.4]], [[0.75, 0.25], [0.35, 0.65]]]),  # [T][Z]
    }
    return BayesNet(structure=s, cpts=cpts)


def _coverage(interval: float) -> tuple[float, float, float]:
    net = _confounded_net()
    truth = prob(net, "Y", "1", do={"T": "1"}) - prob(net, "Y", "1", do={"T": "0"})
    covered, naive_covered = [], []
    for rep in range(REPS):
        data = bnlab.sample(net, ROWS, seed=rep)
        post = bnlab.fit(net.structure, data, prior="bdeu", ess=1.0)
        out = causal.effect(post, "T", "Y", treated="1", control="0", outcome_state="1",
                            interval=interval, draws=400, seed=rep)  # fmt: skip
        covered.append(out["lower"].iloc[0] <= truth <= out["upper"].iloc[0])
        # the same posterior without the confounder: a check that must fail
        wrong = bnlab.fit(net.structure.with_parents({"Y": ["T"]}), data, ess=1.0)
        bad = causal.effect(wrong, "T", "Y", treated="1", control="0", outcome_state="1",
                            interval=interval, draws=400, seed=rep)  # fmt: skip
        naive_covered.append(bad["lower"].iloc[0] <= truth <= bad["upper"].iloc[0])
    return float(np.mean(covered)), float(np.mean(naive_covered)), truth


def test_ate_intervals_cover_the_true_effect() -> None:
    share, naive_share, truth = _coverage(0.9)
    assert 0.85 <= share <= 0.95, share
    assert naive_share < 0.5, naive_share  # ignoring the confounder is caught
    assert abs(truth - 0.19) < 1e-12  # closed form: 0.6 (0.25 - 0.10) + 0.4 (0.65 - 0.40)
