"""Large-network inference: segmented execution, budgets, importance sampling.

Fast tests use the shipped small networks; the pyAgrum agreement on pigs and diabetes
(400+ variables, segmented) is marked ``slow``.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import numpy as np
import pytest

import bnlab
from bnlab.errors import BNError
from bnlab.infer import Engine
from bnlab.infer.budget import BudgetError, Estimate, choose_mode
from bnlab.posterior import Posterior
from tests.conftest import network_path


def _rows(net: bnlab.BayesNet, n: int, k: int, seed: int) -> list[dict[str, str]]:
    df = bnlab.sample(net, n=n, seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for r in range(n):
        cols = rng.choice(len(net.variables), size=k, replace=False)
        out.append({net.variables[j]: str(df.iloc[r, j]) for j in cols})
    return out


def _pyagrum(net: bnlab.BayesNet, rows: list[dict[str, str]]) -> list[dict[str, np.ndarray]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum

        from bnlab.io import to_pyagrum

        ie = gum.LazyPropagation(to_pyagrum(net))
        out = []
        for row in rows:
            ie.setEvidence(row)
            ie.makeInference()
            out.append({v: np.asarray(ie.posterior(v).toarray()) for v in net.variables})
    return out


def _assert_pyagrum_marginals(
    net: bnlab.BayesNet, rows: list[dict[str, str]], mine: Any, atol: float
) -> None:
    """Every marginal of every row equals pyAgrum's LazyPropagation within ``atol``."""
    ref = _pyagrum(net, rows)
    for r in range(len(rows)):
        for v in net.variables:
            np.testing.assert_allclose(mine[v][r], ref[r][v], atol=atol)


@pytest.fixture(scope="module")
def alarm() -> bnlab.BayesNet:
    return bnlab.load_example("alarm")


@pytest.mark.parametrize("name", ["asia", "child"])
def test_segmented_equals_program(name: str) -> None:
    net = bnlab.load_example(name)
    rows = _rows(net, 11, 4, seed=3)
    soft = {net.variables[2]: np.array([0.3] + [1.0] * (net.structure.cards[net.variables[2]] - 1))}
    prog = Engine(net, execution="program", jit=False)
    seg = Engine(net, execution="segmented")
    assert seg.mode == "segmented" and prog.mode == "program"
    a, b = prog.marginals(rows, soft=soft), seg.marginals(rows, soft=soft)
    for v in net.variables:
        np.testing.assert_allclose(b[v], a[v], atol=1e-12)
    np.testing.assert_allclose(b.log_prob, a.log_prob, atol=1e-10)
    np.testing.assert_allclose(seg.log_prob(rows), prog.log_prob(rows), atol=1e-10)
    # and against the independent oracle (hard evidence only)
    ref = _pyagrum(net, rows[:3])
    hard = seg.marginals(rows[:3])
    for r in range(3):
        for v in net.variables:
            np.testing.assert_allclose(hard[v][r], ref[r][v], atol=1e-10)


def test_jax_step_kernels_equal_the_numpy_steps() -> None:
    """The compiled-step backend of segmented execution (bnlab.infer.segmented) against the
    NumPy steps, point and per draw, and against pyAgrum (asia: one compile per step kernel)."""
    from bnlab.infer.eager import SegmentedKernel
    from bnlab.infer.layout import flatten_cpts

    net = bnlab.load_example("asia")

    post = Posterior(net.structure, alpha={v: 5.0 * net.cpt(v) + 0.5 for v in net.variables})
    eng = Engine(post, draws=3, dtype=np.float64, execution="segmented")
    rows = _rows(net, 6, 3, seed=2)
    _, flat = eng._liks(rows, None)
    point = flatten_cpts(eng.plan, net.cpts)
    draws = flatten_cpts(eng.plan, eng.cpt_arrays(), draw_axis=True)
    for cpts in (point, draws):
        for what in ("marginals", "log_evidence"):
            host = SegmentedKernel(eng.plan, what, "numpy")(cpts, flat)
            steps = SegmentedKernel(eng.plan, what, "jax")(cpts, flat)
            host = host if isinstance(host, tuple) else (host,)
            steps = steps if isinstance(steps, tuple) else (steps,)
            for a, b in zip(host, steps, strict=True):
                np.testing.assert_allclose(np.asarray(b), a, rtol=1e-10, atol=1e-12)
    _, m = SegmentedKernel(eng.plan, "marginals", "jax")(point, flat)
    ref = _pyagrum(net, rows)
    offsets = eng.plan.lik_offsets
    for r in range(len(rows)):
        for j, v in enumerate(eng.plan.variables):
            got = np.asarray(m)[r, offsets[j] : offsets[j] + eng.plan.cards[j]]
            np.testing.assert_allclose(got, ref[r][v], atol=1e-9)
    with pytest.raises(ValueError, match=r"\(on NumPy\) mpe, not mpe on jax"):
        SegmentedKernel(eng.plan, "mpe", "jax")


def test_segmented_draws_and_impossible(alarm: bnlab.BayesNet) -> None:
    post = Posterior(alarm.structure, alpha={v: 5.0 * alarm.cpt(v) + 0.5 for v in alarm.variables})
    seg = Engine(post, draws=3, execution="segmented")
    rows = _rows(alarm, 5, 3, seed=1)
    b = seg.marginals(rows)
    assert b["HR"].shape == (3, 5, 3)
    draws = seg.cpt_arrays()
    for d in range(3):  # each draw equals a point network with that draw's CPTs
        one = bnlab.BayesNet(
            structure=alarm.structure, cpts={v: np.asarray(draws[v][d]) for v in alarm.variables}
        )
        a = Engine(one, execution="segmented").marginals(rows)
        for v in alarm.variables:
            np.testing.assert_allclose(b[v][d], a[v], atol=1e-12)
    # a point network: a zero-probability row is NaN and flagged, the others exact
    cpts = dict(alarm.cpts)
    hr = np.zeros_like(cpts["HR"])
    hr[..., 0] = 1.0
    cpts["HR"] = hr
    net = bnlab.BayesNet(structure=alarm.structure, cpts=cpts)
    e = Engine(net, execution="segmented")
    m = e.marginals([{"HR": "HIGH"}, {"HR": "LOW"}], on_impossible="nan")
    assert m.impossible.tolist() == [True, False]
    assert np.isnan(m["CVP"][0]).all() and np.isfinite(m["CVP"][1]).all()


def test_exact_over_budget_raises_at_once(alarm: bnlab.BayesNet) -> None:
    t = time.perf_counter()
    with pytest.raises(BudgetError, match=r"max_flops=.*method='importance'"):
        Engine(alarm, method="exact", max_flops=100.0)
    with pytest.raises(BudgetError, match="max_memory"):  # under one entry: no slicing fits
        Engine(alarm, method="exact", max_memory=4)
    assert time.perf_counter() - t < 5.0  # a plan search, no compile (ms when warm)
    with pytest.raises(BNError, match="method must be"):
        Engine(alarm, method="magic")


def test_auto_falls_back_and_says_so(
    alarm: bnlab.BayesNet, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bnlab.infer"):
        eng = Engine(alarm, method="auto", max_flops=100.0, samples=200)
    assert eng.method == "importance"
    assert "importance sampling instead" in caplog.text
    assert Engine(alarm).method == "exact"  # default budget: exact
    with pytest.raises(BNError, match="needs exact inference"):
        eng.mpe([{"HR": "LOW"}])


def test_cost_reports_compile_and_run(alarm: bnlab.BayesNet) -> None:
    cost = Engine(alarm).cost
    for key in ("flops_per_row", "largest_intermediate", "expected_compile_s",
                "expected_run_s_per_row", "mode", "method", "kernels", "steps"):  # fmt: skip
        assert key in cost
    assert cost["mode"] == "program"  # a small plan compiles fast as one program
    big = Estimate(1e6, 3e6, 59049, 472392, 441, 525, 71.0, 1.6, 3e-3, 3e-3, 3.6e-3)
    assert choose_mode(big) == "segmented"
    small = Estimate(1e3, 3e3, 54, 432, 37, 60, 3.2, 0.2, 3e-6, 3e-6, 2e-5)
    assert choose_mode(small) == "program"


def test_importance_agrees_with_exact_within_error(alarm: bnlab.BayesNet) -> None:
    rows = _rows(alarm, 6, 4, seed=5)
    exact = Engine(alarm).marginals(rows)
    eng = Engine(alarm, method="importance", samples=4000, seed=1)
    approx = eng.marginals(rows)
    assert approx.ess is not None and approx.ess.shape == (6,) and (approx.ess > 50).all()
    assert approx.mc_error is not None
    worst = 0.0
    for v in alarm.variables:
        gap = np.abs(approx[v] - exact[v])
        # within 5 standard errors, plus the self-normalised estimator's O(1/n) bias
        assert (gap <= 5.0 * approx.mc_error[v] + 5e-3).all(), v
        worst = max(worst, float(gap.max()))
    assert worst > 0.0  # it is an estimate
    np.testing.assert_allclose(eng.log_prob(rows), exact.log_prob, atol=0.2)
    # a wrong answer is caught by the same check
    with pytest.raises(AssertionError):
        np.testing.assert_array_less(
            np.abs(approx["HR"] + 0.1 - exact["HR"]), 5.0 * approx.mc_error["HR"] + 5e-3
        )


def test_importance_intervals(alarm: bnlab.BayesNet) -> None:
    point = Engine(alarm, method="importance", samples=2000)
    q = point.query("HR", [{"CVP": "LOW"}], interval=0.95)
    assert (q["lower"] < q["mean"]).all() and (q["mean"] < q["upper"]).all()
    exact = Engine(alarm).query("HR", [{"CVP": "LOW"}])
    assert ((q["lower"] - 1e-3 <= exact["mean"]) & (exact["mean"] <= q["upper"] + 1e-3)).all()
    post = Posterior(alarm.structure, alpha={v: 20.0 * alarm.cpt(v) + 0.5 for v in alarm.variables})
    over = Engine(post, draws=20, method="importance", samples=500)
    qd = over.query("HR", [{"CVP": "LOW"}])
    assert (qd["lower"] <= qd["mean"]).all() and (qd["mean"] <= qd["upper"]).all()
    assert (qd["upper"] - qd["lower"] > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pigs", "diabetes"])
def test_large_networks_agree_with_pyagrum(name: str) -> None:
    net = bnlab.read_network(network_path(name))
    eng = Engine(net)
    assert eng.mode == "segmented" and eng.method == "exact"
    rows = _rows(net, 3, 5, seed=7)
    _assert_pyagrum_marginals(net, rows, eng.marginals(rows), atol=1e-6)


@pytest.mark.slow(expected_s=30)
def test_munin_sliced_to_a_tenth_of_its_memory_agrees_with_pyagrum() -> None:
    """MUNIN (1,041 variables) with max_memory a tenth of its largest intermediate: the
    engine slices, each slice's largest intermediate fits, and the answers are pyAgrum's."""
    net = bnlab.read_network(network_path("munin"))
    budget = Engine(net, dtype=np.float64).cost["largest_bytes"] / 10
    eng = Engine(net, dtype=np.float64, method="exact", max_memory=budget)
    cost = eng.cost
    assert eng.mode == "sliced" and cost["slices"] >= 2 and cost["largest_bytes"] <= budget
    rows = _rows(net, 2, 5, seed=7)
    _assert_pyagrum_marginals(net, rows, eng.marginals(rows), atol=1e-9)
