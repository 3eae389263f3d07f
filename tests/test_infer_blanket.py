"""P(target | all other variables) by table look-ups against enumeration of the joint.

Random networks (the strategy of ``test_infer_exact``, CPTs with exact zeros): rows that
observe every variable but the target are answered by
:func:`bnlab.infer.blanket.blanket_predictive` and must equal the joint's conditional; a row
of probability zero (also through a factor that does not mention the target) is NaN. Over
stacked CPT draws each draw equals its own network. On alarm with missing cells, the
calibration predictions (look-ups for complete rows, the engine for the rest) equal the
engine's on every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from test_infer_exact import joint, networks

import bnlab
from bnlab import BayesNet
from bnlab.evaluate import predict_target
from bnlab.infer import Engine
from bnlab.infer.blanket import blanket_predictive, complete_rows


def conditional(net: BayesNet, row: np.ndarray, target: str) -> np.ndarray:
    """P(target | observed cells of ``row``) from the full joint (NaN if impossible)."""
    j = joint(net)
    t = net.variables.index(target)
    index = tuple(slice(None) if (i == t or c < 0) else int(c) for i, c in enumerate(row))
    sub = j[index]
    free = [i for i, c in enumerate(row) if i == t or c < 0]
    m = sub.sum(axis=tuple(a for a, i in enumerate(free) if i != t))
    return m / m.sum() if m.sum() > 0 else np.full(m.shape, np.nan)


def random_codes(net: BayesNet, rng: np.random.Generator, rows: int) -> np.ndarray:
    codes = np.stack([rng.integers(0, net.cards[v], rows) for v in net.variables], axis=1)
    return np.where(rng.random(codes.shape) < 0.3, -1, codes)


@given(net=networks(max_vars=7), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_blanket_equals_enumeration(net: BayesNet, seed: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    target = data.draw(st.sampled_from(list(net.variables)))
    codes = random_codes(net, rng, 40)
    t = net.variables.index(target)
    codes[: len(codes) // 2] = np.abs(codes[: len(codes) // 2])  # half the rows complete
    ok = complete_rows(net.structure, codes, target)
    np.testing.assert_array_equal(ok, (np.delete(codes, t, axis=1) >= 0).all(axis=1))
    assert ok[: len(codes) // 2].all()
    got = blanket_predictive(net.structure, net.cpts, codes[ok], target)
    want = np.array([conditional(net, r, target) for r in codes[ok]]).reshape(got.shape)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@given(nets=st.lists(networks(max_vars=5), min_size=1, max_size=1), seed=st.integers(0, 999))
def test_draw_axis_is_one_network_per_draw(nets: list[BayesNet], seed: int) -> None:
    net = nets[0]
    rng = np.random.default_rng(seed)
    target = net.variables[-1]
    draws = {
        v: rng.dirichlet(np.ones(net.cards[v]), size=(3, *net.cpt(v).shape[:-1]))
        for v in net.variables
    }
    codes = random_codes(net, rng, 20)
    codes = np.abs(codes)
    got = blanket_predictive(net.structure, draws, codes, target, draw_axis=True)
    assert got.shape == (3, len(codes), net.cards[target])
    for d in range(3):
        one = net.with_cpts({v: draws[v][d] for v in net.variables})
        np.testing.assert_allclose(
            got[d], blanket_predictive(one.structure, one.cpts, codes, target), rtol=1e-12
        )


def test_calibration_predictions_equal_the_engine_on_alarm() -> None:
    # held-out rows with 10% missing cells: some rows take the look-up path, the rest the
    # engine; all must equal the engine's answer for every row, over posterior draws
    alarm = bnlab.load_example("alarm")
    post = bnlab.fit(alarm.structure, bnlab.sample(alarm, n=2000, seed=1), prior="bdeu")
    held = bnlab.sample(alarm, n=300, seed=2, missing=0.1)
    eng = Engine(post, draws=8, seed=0)
    probs, labels = predict_target(post, held, "HYPOVOLEMIA", engine=eng)
    kept = held[held["HYPOVOLEMIA"].notna()].reset_index(drop=True)
    kept["HYPOVOLEMIA"] = pd.Categorical([None] * len(kept), categories=alarm.states["HYPOVOLEMIA"])
    want = np.asarray(eng.marginals(kept, variables=["HYPOVOLEMIA"])["HYPOVOLEMIA"])
    np.testing.assert_allclose(probs, want, rtol=1e-9, atol=1e-12)
    assert labels.shape == (len(kept),)
