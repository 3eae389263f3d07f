"""Posterior queries on the part of the network they need: the requisite factors of each
row (hard evidence) or the ancestral set of the target and the evidence (soft evidence).

The pruned answer must equal the full network's, draw for draw: random networks
(hypothesis), random targets and evidence, compared with the full engine's per-draw
marginals (themselves checked against enumeration in ``test_infer_exact``) through the
same interval code; and on alarm, a query whose relevant set is small runs on a smaller
engine, cached per relevant set.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_infer_exact import networks

import bnlab
from bnlab import BayesNet
from bnlab.infer import Engine
from bnlab.infer.intervals import sampled_interval
from bnlab.posterior import Posterior


def posterior_of(net: BayesNet) -> Posterior:
    return Posterior(net.structure, alpha={v: 20.0 * net.cpt(v) + 0.5 for v in net.variables})


@settings(max_examples=10, deadline=None)
@given(net=networks(max_vars=8), data=st.data())
def test_pruned_query_equals_full_network(net: BayesNet, data: st.DataObject) -> None:
    post = posterior_of(net)
    names = list(net.variables)
    target = data.draw(st.sampled_from(names))
    others = [v for v in names if v != target]
    observed = (
        data.draw(st.lists(st.sampled_from(others), unique=True, max_size=2)) if others else []
    )
    row = {v: data.draw(st.sampled_from(list(net.states[v]))) for v in observed}
    eng = Engine(post, draws=16, seed=3)  # first small calls: the host tier, nothing compiled
    got = eng.query(target, [row], interval=0.8, on_impossible="nan")
    full = eng.marginals([row], variables=[target], on_impossible="nan")[target]
    mean, lower, upper = sampled_interval(np.asarray(full, dtype=np.float64), 0.8, "eti")
    np.testing.assert_allclose(got["mean"], mean.reshape(-1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["lower"], lower.reshape(-1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["upper"], upper.reshape(-1), rtol=1e-10, atol=1e-12)


def test_alarm_soft_query_runs_on_the_relevant_set() -> None:
    alarm = bnlab.load_example("alarm")
    eng = Engine(posterior_of(alarm), draws=50, seed=0)
    soft = {"HYPOVOLEMIA": [0.8, 0.2]}  # soft evidence: the ancestral sub-engine answers
    q = eng.query("LVEDVOLUME", [{}], soft=soft)
    assert len(eng._relevant) == 1
    (sub,) = eng._relevant.values()
    # LVEDVOLUME's ancestors are HYPOVOLEMIA and LVFAILURE
    assert set(sub.structure.variables) == {"LVEDVOLUME", "HYPOVOLEMIA", "LVFAILURE"}
    full = eng.marginals([{}], variables=["LVEDVOLUME"], soft=soft)["LVEDVOLUME"]
    np.testing.assert_allclose(q["mean"], full.mean(axis=0).reshape(-1), rtol=1e-10)
    eng.query("LVEDVOLUME", [{}], soft={"HYPOVOLEMIA": [0.3, 0.7]})  # same set: cached
    assert len(eng._relevant) == 1
    # evidence on every leaf makes the whole network relevant: the full plan answers
    leaves = [v for v in alarm.variables if not alarm.structure.children[v]]
    soft_leaves = {v: np.ones(alarm.cards[v]) + np.arange(alarm.cards[v]) for v in leaves}
    eng.query("HYPOVOLEMIA", [{}], soft=soft_leaves)
    assert len(eng._relevant) == 1


def test_alarm_hard_query_runs_row_by_row_on_the_requisite_factors() -> None:
    from bnlab.infer import requisite

    alarm = bnlab.load_example("alarm")
    eng = Engine(posterior_of(alarm), draws=50, seed=0)
    rows = [{"HYPOVOLEMIA": "TRUE"}, {"HYPOVOLEMIA": "FALSE", "CVP": "HIGH"}, {}]
    requisite.requisite_program.cache_clear()
    q = eng.query("LVEDVOLUME", rows)
    assert requisite.requisite_program.cache_info().currsize == 3  # one per observed set
    assert not eng._relevant  # no sub-engine compiled
    full = eng.marginals(rows, variables=["LVEDVOLUME"])["LVEDVOLUME"]
    mean, lower, upper = sampled_interval(np.asarray(full, dtype=np.float64), 0.9, "eti")
    np.testing.assert_allclose(q["mean"], mean.reshape(-1), rtol=1e-10)
    np.testing.assert_allclose(q["lower"], lower.reshape(-1), rtol=1e-10)
    np.testing.assert_allclose(q["upper"], upper.reshape(-1), rtol=1e-10)
