"""Example queries against the Markov-blanket formula (exact for a fully observed blanket)."""

from __future__ import annotations

import numpy as np
import pytest
from report_fixtures import markov_blanket_probs

import bnlab
from bnlab.data import encode
from bnlab.errors import DataError
from bnlab.report.queries import example_queries, markov_blanket


def test_markov_blanket_of_asia():
    net = bnlab.load_example("asia")
    assert set(markov_blanket(net, "either")) == {"lung", "tub", "xray", "dysp", "bronc"}
    assert set(markov_blanket(net, "asia")) == {"tub"}


def test_queries_match_markov_blanket_formula():
    net = bnlab.load_example("asia")
    data = bnlab.sample(net, n=50, seed=2)
    q = example_queries(net, data, ["either", "smoke"], rows=3)
    assert set(q.columns) == {"target", "evidence", "state", "mean", "lower", "upper"}
    assert len(q) == 2 * 4 * 2  # 2 targets x (prior + 3 rows) x 2 states
    codes = encode(data[list(net.variables)], net)
    cpts = {v: c[None] for v, c in net.cpts.items()}
    for target in ("either", "smoke"):
        # the first 3 distinct blanket configurations, found by a plain loop over the rows
        blanket = [net.structure.index[v] for v in markov_blanket(net, target)]
        seen: list[tuple[int, ...]] = []
        picked = []
        for i, row in enumerate(codes):
            key = tuple(int(row[j]) for j in blanket)
            if key not in seen and len(seen) < 3:
                seen.append(key)
                picked.append(i)
        assert len(picked) == 3 and picked != [0, 1, 2]  # duplicates were skipped
        oracle = markov_blanket_probs(net.structure, cpts, codes[picked], target)[0]
        got = q[(q["target"] == target) & (q["evidence"] != "")]
        states = list(net.states[target])
        for i in range(3):
            block = got.iloc[2 * i : 2 * i + 2]
            probs = [float(block[block["state"] == s]["mean"].iloc[0]) for s in states]
            np.testing.assert_allclose(probs, oracle[i], atol=1e-9)
        prior = q[(q["target"] == target) & (q["evidence"] == "")]
        np.testing.assert_allclose(prior["mean"].sum(), 1.0)
    # a network has no parameter uncertainty: lower = mean = upper
    np.testing.assert_allclose(q["lower"], q["mean"], atol=1e-12)


def test_posterior_queries_have_intervals():
    net = bnlab.load_example("asia")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=300, seed=0))
    q = example_queries(post, bnlab.sample(net, n=20, seed=1), ["lung"], rows=2, draws=100)
    assert (q["lower"] <= q["mean"]).all() and (q["mean"] <= q["upper"]).all()
    assert (q["upper"] - q["lower"]).max() > 0.01


def test_unknown_target_is_refused():
    net = bnlab.load_example("asia")
    with pytest.raises(DataError, match="nope"):
        example_queries(net, bnlab.sample(net, n=5, seed=0), ["nope"])


def test_a_row_impossible_under_some_draws_is_summarised_over_the_others():
    from bnlab.infer import Engine
    from bnlab.report.explanations import explain_examples

    net = bnlab.load_example("asia")
    draws = {v: np.stack([c, c, c]) for v, c in net.cpts.items()}
    draws["lung"][0] = [[0.0, 1.0], [0.0, 1.0]]  # draw 0: lung=yes is impossible
    engine = Engine.from_draws(net.structure, draws)
    data = bnlab.sample(net, n=400, seed=0)
    data = data[data["lung"] == "yes"].head(1)  # evidence row with lung=yes, bronc=?
    q = example_queries(net, data, ["smoke"], rows=1, engine=engine)
    got = q[q["evidence"] != ""]
    codes = encode(data[list(net.variables)], net)
    oracle = markov_blanket_probs(net.structure, {v: c[None] for v, c in net.cpts.items()},
                                  codes, "smoke")[0, 0]  # fmt: skip
    # summarised over draws 1 and 2 (equal to the network), draw 0 left out
    np.testing.assert_allclose(got["mean"], oracle, atol=1e-6)
    np.testing.assert_allclose(got["lower"], oracle, atol=1e-6)
    np.testing.assert_allclose(got["upper"], oracle, atol=1e-6)
    # no credible interval for its Shapley values: the row is not explained
    assert explain_examples(engine, data, ["smoke"], rows=1, example_rows=1) == []
