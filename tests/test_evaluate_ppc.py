"""Posterior predictive checks: the replicate sampler against a brute-force joint, pass/fail."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import network_path
from scipy import stats

import bnlab
from bnlab.errors import BNError
from bnlab.evaluate.ppc import predictive_checks, replicate_codes


def joint(net: bnlab.BayesNet) -> dict[tuple[int, ...], float]:
    out = {}
    cards = [net.cards[v] for v in net.variables]
    for config in itertools.product(*[range(c) for c in cards]):
        p = 1.0
        for j, v in enumerate(net.variables):
            idx = tuple(config[net.structure.index[q]] for q in net.parents[v]) + (config[j],)
            p *= net.cpt(v)[idx]
        out[config] = p
    return out


def test_replicates_follow_the_joint() -> None:
    net = bnlab.read_network(network_path("asia"))
    cpts = {v: np.broadcast_to(c, (40, *c.shape)) for v, c in net.cpts.items()}
    rep = replicate_codes(net.structure, cpts, 5000, np.random.default_rng(0))
    assert rep.shape == (len(net.variables), 40, 5000)
    rows = rep.reshape(len(net.variables), -1).T
    p = joint(net)
    keys = list(p)
    index = {k: i for i, k in enumerate(keys)}
    counts = np.bincount([index[tuple(r)] for r in rows], minlength=len(keys))
    probs = np.array([p[k] for k in keys])
    ok = probs > 0
    assert counts[~ok].sum() == 0  # impossible configurations never drawn
    expected = probs[ok] * rows.shape[0]
    big = expected > 5
    chi2 = ((counts[ok][big] - expected[big]) ** 2 / expected[big]).sum()
    assert stats.chi2.sf(chi2, big.sum() - 1) > 1e-3


def test_true_model_passes_and_wrong_model_fails() -> None:
    net = bnlab.read_network(network_path("asia"))
    df = bnlab.sample(net, n=3000, seed=11)
    good = predictive_checks(net, df, draws=200, seed=1, pairs="all")
    n_stats = len(good.table)
    assert n_stats == sum(net.cards.values()) + 28
    assert (good.table["p_two_sided"] < 0.01).mean() <= 0.05
    # smoking in half the population becomes 90%: frequencies of smoke and its descendants fail
    wrong = net.with_cpts({"smoke": [0.1, 0.9]})
    bad = predictive_checks(wrong, df, draws=200, seed=1)
    freq = bad.table[(bad.table["kind"] == "frequency") & (bad.table["variable"] == "smoke")]
    assert (freq["p_two_sided"] < 0.01).all()
    # a flattened CPT (bronc independent of smoke) fails the mutual-information check
    flat = net.with_cpts({"bronc": np.full((2, 2), 0.5)})
    res = predictive_checks(flat, df, draws=200, seed=1)
    mi = res.table[(res.table["kind"] == "mutual_information") & (res.table["other"] == "bronc")]
    assert (mi["p_upper"] < 0.01).all()


def test_posterior_replicates_and_arviz_groups() -> None:
    net = bnlab.read_network(network_path("asia"))
    df = bnlab.sample(net, n=2000, seed=3, missing=0.1)
    post = bnlab.fit(net.structure, df, prior="bdeu", ess=1.0)
    res = predictive_checks(post, df, draws=50, seed=0)
    assert res.replicated.shape == (50, len(res.table))
    assert (res.table["p_two_sided"] < 0.01).mean() <= 0.05
    tree = res.to_arviz()
    pp = tree["posterior_predictive"].dataset
    assert pp["frequency"].dims == ("chain", "draw", "frequency_statistic")
    assert pp.sizes["draw"] == 50
    np.testing.assert_allclose(
        tree["observed_data"].dataset["frequency"].to_numpy(),
        res.table.loc[res.table["kind"] == "frequency", "observed"].to_numpy(),
    )


def test_bad_input() -> None:
    net = bnlab.read_network(network_path("asia"))
    df = bnlab.sample(net, n=50, seed=0)
    with pytest.raises(BNError, match="Posterior or BayesNet"):
        predictive_checks("model", df)
    with pytest.raises(BNError, match="unknown pairs"):
        predictive_checks(net, df, pairs="some")
