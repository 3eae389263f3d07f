"""Calibration through an engine: exact predictions by enumeration of the joint (asia), and
through bnlab.Engine on alarm (truth passes, sharpened / flattened CPTs fail)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import network_path

import bnlab
from bnlab.data import encode
from bnlab.errors import DataError, StructureError
from bnlab.evaluate import calibration, predict_target
from bnlab.evaluate import calibration_metrics as metrics


def joint_table(net: bnlab.BayesNet) -> np.ndarray:
    """The full joint distribution, one axis per variable in net.variables order."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    sub = {v: letters[i] for i, v in enumerate(net.variables)}
    terms = [(net.cpt(v), "".join(sub[p] for p in net.parents[v]) + sub[v]) for v in net.variables]
    spec = ",".join(t for _, t in terms) + "->" + "".join(sub[v] for v in net.variables)
    return np.einsum(spec, *[c for c, _ in terms])


class EnumerationEngine:
    """Exact marginals by summing the joint (small networks only): an independent oracle."""

    def __init__(self, nets: list[bnlab.BayesNet], stacked: bool) -> None:
        self.nets = nets
        self.joints = [joint_table(n) for n in nets]
        self.stacked = stacked

    @property
    def n_draws(self) -> int | None:
        return len(self.nets) if self.stacked else None

    def cpt_arrays(self) -> dict[str, np.ndarray]:
        net = self.nets[0]
        if self.stacked:
            return {v: np.stack([n.cpt(v) for n in self.nets]) for v in net.variables}
        return dict(net.cpts)

    def marginals(self, evidence: pd.DataFrame, **_: object) -> dict[str, np.ndarray]:
        net = self.nets[0]
        codes = encode(evidence[list(net.variables)], net)
        out = {v: np.zeros((len(self.nets), len(codes), net.cards[v])) for v in net.variables}
        patterns, inverse = np.unique(codes, axis=0, return_inverse=True)
        for d, joint in enumerate(self.joints):
            for k, row in enumerate(patterns):
                index = tuple(slice(None) if c < 0 else int(c) for c in row)
                sub = joint[index]
                free = [v for v, c in zip(net.variables, row, strict=True) if c < 0]
                for i, v in enumerate(free):
                    m = sub.sum(axis=tuple(a for a in range(sub.ndim) if a != i))
                    out[v][d, inverse.ravel() == k] = m / m.sum()
        return out if self.stacked else {v: m[0] for v, m in out.items()}


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("asia"))


def reshaped(net: bnlab.BayesNet, power: float) -> bnlab.BayesNet:
    """Every CPT row raised to a power and renormalised (>1 sharpens, <1 flattens)."""
    cpts = {}
    for v in net.variables:
        c = net.cpt(v) ** power
        cpts[v] = c / c.sum(axis=-1, keepdims=True)
    return net.with_cpts(cpts)


def test_predictions_equal_enumeration_by_hand(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, n=300, seed=5, missing=0.2)
    probs, labels = predict_target(asia, df, "lung", engine=EnumerationEngine([asia], False))
    observed = df["lung"].notna().to_numpy()
    assert probs.shape == (observed.sum(), 2)
    np.testing.assert_array_equal(labels, df["lung"].cat.codes.to_numpy()[observed])
    # one row by hand: P(lung | the row's other observed values) from the joint
    joint = joint_table(asia)
    row = df[observed].iloc[0]
    index = []
    for v in asia.variables:
        if v == "lung" or pd.isna(row[v]):
            index.append(slice(None))
        else:
            index.append(asia.states[v].index(row[v]))
    sub = joint[tuple(index)]
    free = [v for v in asia.variables if v == "lung" or pd.isna(row[v])]
    m = sub.sum(axis=tuple(i for i, v in enumerate(free) if v != "lung"))
    np.testing.assert_allclose(probs[0], m / m.sum(), rtol=1e-12)


def test_truth_passes_and_distorted_models_fail_enumeration(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, n=20_000, seed=6)
    good = calibration(asia, df, "dysp", engine=EnumerationEngine([asia], False))
    assert good["ece"] < 0.01  # stated tolerance: sampling noise on 20,000 rows, 15 bins
    for power in (3.0, 0.3):
        bad_net = reshaped(asia, power)
        bad = calibration(bad_net, df, "dysp", engine=EnumerationEngine([bad_net], False))
        assert bad["ece"] > 0.05, power
        assert bad["log_loss"] > good["log_loss"]


def test_posterior_draws_give_intervals(asia: bnlab.BayesNet) -> None:
    train = bnlab.sample(asia, n=500, seed=1)
    held = bnlab.sample(asia, n=2000, seed=2)
    post = bnlab.fit(asia.structure, train, prior="bdeu", ess=1.0)
    draws = post.draws(20, seed=0)
    nets = [asia.with_cpts({v: d[i] for v, d in draws.items()}) for i in range(20)]
    res = calibration(post, held, ["lung", "dysp"], engine=EnumerationEngine(nets, True))
    assert set(res) == {"lung", "dysp"}
    r = res["dysp"]
    probs, labels = predict_target(post, held, "dysp", engine=EnumerationEngine(nets, True))
    assert probs.shape == (20, 2000, 2)
    # point metrics are those of the posterior predictive (mean over draws)
    assert r["brier"] == pytest.approx(metrics.brier(probs.mean(axis=0), labels))
    per_draw = [metrics.brier(p, labels) for p in probs]
    # the per-draw metrics are their own, separately labelled quantity (issue 21); the
    # interval of the point metric comes from resampling held-out rows and holds the point
    assert r["per_draw"]["brier"]["lower"] == pytest.approx(np.quantile(per_draw, 0.05))
    assert r["per_draw"]["brier"]["mean"] == pytest.approx(np.mean(per_draw))
    assert r["intervals"]["brier"]["lower"] <= r["brier"] <= r["intervals"]["brier"]["upper"]
    assert {"confidence_lower", "frequency_upper"} <= set(r["curve"].columns)
    assert r["n"] == 2000


def test_bad_input(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, n=50, seed=0)
    engine = EnumerationEngine([asia], False)
    with pytest.raises(StructureError, match="not a variable"):
        calibration(asia, df, "LVFAILURE", engine=engine)
    with pytest.raises(DataError, match="no column 'lung'"):
        calibration(asia, df.drop(columns=["lung"]), "lung", engine=engine)
    with pytest.raises(DataError, match="no held-out row observes"):
        calibration(
            asia,
            df.assign(lung=pd.Categorical([None] * 50, categories=["yes", "no"])),
            "lung",
            engine=engine,
        )


def test_alarm_truth_passes_sharpened_and_flattened_fail() -> None:
    from bnlab.infer import Engine

    net = bnlab.read_network(network_path("alarm"))
    df = bnlab.sample(net, n=20_000, seed=21)
    # INSUFFANESTH keeps real uncertainty given the other 36 variables (LVFAILURE is almost
    # determined by them, so its ECE stays small even under a distorted model)
    target = "INSUFFANESTH"
    good = calibration(net, df, target)
    assert good["ece"] < 0.01  # stated tolerance: sampling noise on 20,000 rows is ~0.002
    # the truth, a sharpened and a flattened model answered by one engine (one compilation)
    models = [net, reshaped(net, 3.0), reshaped(net, 0.3)]
    stacked = {v: np.stack([m.cpt(v) for m in models]) for v in net.variables}
    probs, labels = predict_target(
        net, df, target, engine=Engine.from_draws(net.structure, stacked)
    )
    assert probs.shape == (3, 20_000, 2)
    np.testing.assert_allclose(metrics.ece(probs[0], labels), good["ece"], atol=1e-6)
    for p, power in zip(probs[1:], (3.0, 0.3), strict=True):
        assert metrics.ece(p, labels) > 0.05, power
        assert metrics.log_loss(p, labels) > good["log_loss"]


def test_real_engine_equals_enumeration(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, n=2000, seed=8, missing=0.1)
    p_real, y_real = predict_target(asia, df, "dysp")
    p_oracle, y_oracle = predict_target(asia, df, "dysp", engine=EnumerationEngine([asia], False))
    np.testing.assert_allclose(p_real, p_oracle, atol=1e-9)
    np.testing.assert_array_equal(y_real, y_oracle)
    real = calibration(asia, df, "dysp")
    oracle = calibration(asia, df, "dysp", engine=EnumerationEngine([asia], False))
    # binned and rank metrics see ties and bin edges, which rounding in the last digits can
    # move; the smooth ones agree to rounding, the others on predictions rounded to 1e-9
    for key in ("brier", "log_loss"):
        assert real[key] == pytest.approx(oracle[key], abs=1e-9), key
    r_real, r_oracle = np.round(p_real, 9), np.round(p_oracle, 9)
    for fn in (metrics.auc, metrics.ece, metrics.mce):
        assert fn(r_real, y_real) == pytest.approx(fn(r_oracle, y_oracle), abs=1e-12)
    assert real["n"] == oracle["n"] == int(df["dysp"].notna().sum())
