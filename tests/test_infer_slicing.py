"""Sliced exact inference (bnlab.infer.slicing) against brute force and pyAgrum.

A memory budget below the plan's largest intermediate makes the engine slice variables;
the answers must not change: marginals, log evidence and the MPE equal enumeration on
random networks (per CPT draw too), and pyAgrum on ALARM.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bnlab
from bnlab import BayesNet
from bnlab.infer import Engine
from bnlab.infer.budget import BudgetError
from bnlab.infer.plan import compile_plan, plan_from_steps, steps_in_order
from bnlab.infer.slicing import choose_slicing, elimination_order
from tests.test_infer_exact import (
    assert_draws_match_oracle,
    assert_mpe_matches_oracle,
    networks,
    two_draw_case,
)


def _squeezed(net: BayesNet, share: float = 0.5) -> float:
    """A memory budget (bytes per row, float64): ``share`` of the largest intermediate of
    the plan's elimination order regrouped into elimination steps (what slicing starts from)."""
    plan = compile_plan(net.structure)
    base = plan_from_steps(
        net.structure, steps_in_order(net.structure, elimination_order(plan)), ""
    )
    return max(1.0, base.largest * share) * 8


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(), seed=st.integers(0, 2**31 - 1))
def test_sliced_marginals_match_brute_force(net: BayesNet, seed: int) -> None:
    """Per CPT draw, with hard, soft and missing evidence and impossible rows."""
    # over the budget, which allows at least one entry per row: some slicing fits
    assume(compile_plan(net.structure).largest * 8 > _squeezed(net) >= 8)
    rows = 3
    liks, codes, soft, other, draws = two_draw_case(net, seed, rows)
    eng = Engine.from_draws(net, draws, dtype=np.float64, max_memory=_squeezed(net))
    assert eng.mode == "sliced" and eng.cost["slices"] >= 2
    assert eng.cost["largest_bytes"] <= _squeezed(net)
    m = eng.marginals(codes, soft=soft, on_impossible="nan")
    lp = eng.log_prob(codes, soft=soft)
    # point CPTs: the slices run in groups on a leading axis
    point = Engine(net, dtype=np.float64, max_memory=_squeezed(net))
    pm = point.marginals(codes, soft=soft, on_impossible="nan")
    plp = point.log_prob(codes, soft=soft)
    np.testing.assert_allclose(pm.log_prob, m.log_prob[0], atol=1e-9)
    np.testing.assert_allclose(plp, lp[0], atol=1e-9)
    for v in net.variables:
        np.testing.assert_allclose(pm[v], m[v][0], atol=1e-9)
    assert_draws_match_oracle(net, other, liks, m, lp)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(max_vars=9), seed=st.integers(0, 2**31 - 1))
def test_sliced_mpe_matches_brute_force(net: BayesNet, seed: int) -> None:
    """The best slice's MPE is the brute-force maximum, and the assignment attains it."""
    assume(compile_plan(net.structure).largest * 8 > _squeezed(net) >= 8)
    rows = 4
    liks, codes, soft, *_ = two_draw_case(net, seed, rows)
    eng = Engine(net, dtype=np.float64, max_memory=_squeezed(net))
    assert eng.mode == "sliced"
    best = eng.mpe(codes, soft=soft, on_impossible="nan")
    assert_mpe_matches_oracle(net, liks, best)


def test_alarm_sliced_equals_pyagrum() -> None:
    """ALARM squeezed to a quarter of its largest intermediate: pyAgrum's answers, and the
    budget holds for every slice."""
    from tests.test_infer_large import _pyagrum, _rows

    net = bnlab.load_example("alarm")
    budget = _squeezed(net, 1 / 4)
    eng = Engine(net, dtype=np.float64, max_memory=budget)
    cost = eng.cost
    assert eng.mode == "sliced" and len(cost["sliced_variables"]) >= 2
    assert cost["largest_bytes"] <= budget < compile_plan(net.structure).largest * 8
    rows = _rows(net, 6, 4, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = _pyagrum(net, rows)
    got = eng.marginals(rows)
    for r in range(len(rows)):
        for v in net.variables:
            np.testing.assert_allclose(got[v][r], ref[r][v], atol=1e-10)


def test_compiled_slices_equal_host_slices() -> None:
    """execution="program": each slice is one compiled program of the sliced plan (asia, 16
    slices: one compile); the answers equal the host slices and the unsliced engine."""
    from tests.test_infer_large import _rows

    net = bnlab.load_example("asia")
    budget = _squeezed(net, 1 / 4)
    rows = _rows(net, 5, 3, seed=2)
    compiled = Engine(net, dtype=np.float64, max_memory=budget, execution="program")
    host = Engine(net, dtype=np.float64, max_memory=budget)
    assert compiled.mode == host.mode == "sliced" and compiled.cost["slices"] >= 2
    a, b = compiled.marginals(rows), host.marginals(rows)
    ref = Engine(net, dtype=np.float64, execution="segmented").marginals(rows)
    for v in net.variables:
        np.testing.assert_allclose(a[v], b[v], atol=1e-12)
        np.testing.assert_allclose(a[v], ref[v], atol=1e-12)
    np.testing.assert_allclose(a.log_prob, ref.log_prob, atol=1e-10)


def test_slicing_is_priced_against_the_flop_budget(caplog: pytest.LogCaptureFixture) -> None:
    """A slicing whose flops exceed max_flops is refused with both costs in the message;
    "auto" then falls back to importance sampling."""
    net = bnlab.load_example("alarm")
    plan = compile_plan(net.structure)
    slicing = choose_slicing(plan, net.structure, plan.largest / 8)
    assert slicing is not None and slicing.largest <= plan.largest / 8
    # the slices run the unsliced plan's elimination order
    assert elimination_order(slicing.plan) == elimination_order(plan)
    assert slicing.flops == pytest.approx(slicing.plan.flops * slicing.n_slices)
    tight = 3.0 * plan.flops * 1.01  # the unsliced plan fits, the sliced one does not
    with pytest.raises(BudgetError, match="slicing .* needs"):
        Engine(net, method="exact", max_memory=plan.largest, max_flops=tight)
    eng = Engine(net, max_memory=plan.largest, max_flops=tight)
    assert eng.method == "importance"


def test_unsliceable_budget_is_refused() -> None:
    """A budget no slicing reaches (below one entry per row) is a typed error at once."""
    net = bnlab.load_example("asia")
    with pytest.raises(BudgetError, match="max_memory"):
        Engine(net, method="exact", max_memory=1)
