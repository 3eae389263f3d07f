"""The elimination-order search: randomised min-fill orders are exact, reproducible, cheaper.

Every order gives the same network polynomial, so any plan built from a randomised
min-fill order must match brute-force enumeration; the search keeps the cheapest order it
tried, so a plan is never costlier than plain min-fill, and on ANDES it is much cheaper.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import network_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_infer_exact import networks, oracle, random_liks

import bnlab
from bnlab import BayesNet
from bnlab.infer import all_marginals, compile_plan
from bnlab.infer import plan as plan_mod
from bnlab.network import as_structure


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(max_vars=8), seed=st.integers(0, 2**31 - 1))
def test_randomised_orders_are_exact(net: BayesNet, seed: int) -> None:
    s = as_structure(net)
    rng = np.random.default_rng(seed)
    liks = random_liks(net, rng, 2)
    cpts = [jnp.asarray(net.cpt(v)) for v in net.variables]
    plans = []
    for _ in range(3):
        order, _cost = plan_mod._min_fill_order(s, rng)
        assert sorted(order) == list(range(len(net.variables)))
        plan = plan_mod.plan_from_steps(s, plan_mod.steps_in_order(s, order), "min-fill")
        summed = [ix for st_ in plan.steps for ix in st_.summed]
        assert sorted(summed) == list(range(len(net.variables)))  # each summed exactly once
        plans.append(plan)
    args = (cpts, [jnp.asarray(x) for x in liks])
    # the three plans in one program (one compile, not three); what is checked is the plans,
    # and XLA's backend optimisation off compiles them faster
    kernel = jax.jit(lambda c, lk: [all_marginals(plan, c, lk) for plan in plans])
    results = kernel.lower(*args).compile({"xla_backend_optimization_level": 0})(*args)
    for z, margs in results:
        for r in range(2):
            ez, em, _ = oracle(net, [lk[r] for lk in liks])
            if not np.isfinite(ez):
                assert not np.isfinite(float(z[r]))
                continue
            np.testing.assert_allclose(float(z[r]), ez, rtol=1e-9, atol=1e-12)
            for got, want in zip(margs, em, strict=True):
                np.testing.assert_allclose(np.asarray(got[r]), want, atol=1e-9)


def test_search_never_costs_more_than_plain_min_fill() -> None:
    for name in ("alarm", "hepar2", "win95pts", "pathfinder"):
        s = as_structure(bnlab.read_network(network_path(name)))
        plain = plan_mod.steps_in_order(s, plan_mod._min_fill_order(s)[0])
        searched = plan_mod._min_fill_steps(s, plan_mod.order_trials(len(s.variables)))
        assert plan_mod._weighted_cost(searched) <= plan_mod._weighted_cost(plain), name


def test_andes_plan_is_cheaper_and_reproducible() -> None:
    s = as_structure(bnlab.read_network(network_path("andes")))
    plain = plan_mod.plan_from_steps(
        s, plan_mod.steps_in_order(s, plan_mod._min_fill_order(s)[0]), "min-fill"
    )
    first, second = compile_plan(s), compile_plan(s)
    # plain min-fill: 7.0e5 flops per row, largest intermediate 131,072 entries
    assert first.flops < 0.75 * plain.flops
    assert first.largest < plain.largest
    assert [st_.equation for st_ in first.steps] == [st_.equation for st_ in second.steps]
    assert [st_.inputs for st_ in first.steps] == [st_.inputs for st_ in second.steps]


def test_order_trials_shrink_on_large_networks() -> None:
    assert plan_mod.order_trials(8) == plan_mod.ORDER_TRIALS
    assert plan_mod.order_trials(223) == plan_mod.ORDER_TRIALS
    assert plan_mod.order_trials(1041) < 4  # munin: one try is ~1M set operations


def test_order_search_budget_finds_a_cheaper_munin1_plan() -> None:
    """A time budget keeps drawing orders past the quick search's patience: on MUNIN1 (the
    quick search's plan: ~1.6e8 flops per row) one second finds a cheaper plan, and the
    plan says how it was found."""
    s = as_structure(bnlab.read_network(network_path("munin1")))
    quick = compile_plan(s)
    searched = compile_plan(s, search_s=3.0)
    assert searched.order_method.startswith("min-fill search (")
    assert plan_mod._weighted_cost(list(searched.steps)) < plan_mod._weighted_cost(
        list(quick.steps)
    )
    # the budget is an addition: never a costlier plan than the quick search
    alarm = as_structure(bnlab.load_example("alarm"))
    assert plan_mod._weighted_cost(
        list(compile_plan(alarm, search_s=0.2).steps)
    ) <= plan_mod._weighted_cost(list(compile_plan(alarm).steps))
