"""The layered graph layout: layer constraints, crossing counts against brute force."""

from __future__ import annotations

import itertools

import pytest

import bnlab
from bnlab import Structure
from bnlab.report.layout import count_crossings, layered_layout, node_layers


def _structure(parents: dict[str, list[str]], variables: list[str]) -> Structure:
    return Structure(
        variables=variables, states={v: ["0", "1"] for v in variables}, parents=parents
    )


def _brute_crossings(upper, lower, links):
    pu = {v: i for i, v in enumerate(upper)}
    pl = {v: i for i, v in enumerate(lower)}
    total = 0
    for (a, b), (c, d) in itertools.combinations(links, 2):
        if (pu[a] - pu[c]) * (pl[b] - pl[d]) < 0:
            total += 1
    return total


@pytest.mark.parametrize("seed", range(5))
def test_count_crossings_matches_brute_force(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    upper = [f"u{i}" for i in rng.permutation(5)]
    lower = [f"l{i}" for i in rng.permutation(6)]
    links = list({(f"u{rng.integers(5)}", f"l{rng.integers(6)}") for _ in range(9)})
    assert count_crossings(upper, lower, links) == _brute_crossings(upper, lower, links)


def test_complete_bipartite_crossings_cannot_be_removed():
    # K_{3,3} drawn on two layers has C(3,2)*C(3,2) = 9 crossings in every order
    top, bottom = ["a", "b", "c"], ["x", "y", "z"]
    s = _structure({v: top for v in bottom}, top + bottom)
    assert layered_layout(s).crossings == 9


def test_crossing_free_graph_is_untangled():
    # a -> {d}, b -> {e}, c -> {f}, listed so the naive order crosses: d, e, f reversed
    s = _structure({"f": ["a"], "e": ["b"], "d": ["c"]}, ["a", "b", "c", "d", "e", "f"])
    layout = layered_layout(s)
    assert layout.crossings == 0
    xs = {v: layout.positions[v][0] for v in s.variables}
    for p, c in s.edges:
        assert xs[p] == pytest.approx(xs[c])


def test_layers_respect_edges_and_roots_sit_above_their_children():
    net = bnlab.load_example("alarm")
    depth = node_layers(net)
    for p, c in net.edges:
        assert depth[p] < depth[c]
    for v in net.variables:
        kids = net.structure.children[v]
        if not net.parents[v] and kids:
            assert depth[v] == min(depth[c] for c in kids) - 1
    layout = layered_layout(net)
    # one position per variable, all distinct, and y is minus the layer
    assert len(set(layout.positions.values())) == len(net.variables)
    for v, (_, y) in layout.positions.items():
        assert y == -depth[v]
    # every route starts at the parent, ends at the child, and goes one layer per step
    for (p, c), route in layout.routes.items():
        assert route[0] == layout.positions[p] and route[-1] == layout.positions[c]
        assert [y for _, y in route] == [-float(d) for d in range(depth[p], depth[c] + 1)]


def test_layout_is_deterministic_and_reduces_crossings():
    net = bnlab.load_example("alarm")
    a, b = layered_layout(net), layered_layout(net)
    assert a.positions == b.positions
    assert layered_layout(net, sweeps=12).crossings <= layered_layout(net, sweeps=0).crossings
