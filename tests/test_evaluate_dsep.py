"""d-separation and implied independencies against networkx (an independent implementation)."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnlab import Structure
from bnlab.errors import StructureError
from bnlab.evaluate.dsep import (
    implied_independencies,
    is_d_separated,
    minimal_separator,
)


@st.composite
def dags(draw: st.DrawFn) -> Structure:
    n = draw(st.integers(2, 8))
    names = [f"v{i}" for i in range(n)]
    parents = {}
    for j in range(n):
        ps = [names[i] for i in range(j) if draw(st.booleans())]
        parents[names[j]] = ps
    return Structure(names, {v: ("a", "b") for v in names}, parents)


def to_nx(s: Structure) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(s.variables)
    g.add_edges_from(s.edges)
    return g


@settings(max_examples=60, deadline=None)
@given(s=dags(), data=st.data())
def test_d_separation_matches_networkx(s: Structure, data: st.DataObject) -> None:
    g = to_nx(s)
    vs = list(s.variables)
    for _ in range(10):
        x, y = data.draw(st.permutations(vs))[:2]
        z = [v for v in vs if v not in (x, y) and data.draw(st.booleans())]
        assert is_d_separated(s, [x], [y], z) == nx.is_d_separator(g, {x}, {y}, set(z))


@settings(max_examples=60, deadline=None)
@given(s=dags())
def test_pairwise_listing_is_minimal_and_complete(s: Structure) -> None:
    g = to_nx(s)
    listed = implied_independencies(s, "pairwise")
    adjacent = {frozenset(e) for e in s.edges}
    pairs = [frozenset(p) for p in itertools.combinations(s.variables, 2)]
    assert {frozenset((i.x, *i.y)) for i in listed} == {p for p in pairs if p not in adjacent}
    for ind in listed:
        z = set(ind.given)
        assert nx.is_d_separator(g, {ind.x}, set(ind.y), z)
        assert nx.is_minimal_d_separator(g, ind.x, ind.y[0], z)


@settings(max_examples=40, deadline=None)
@given(s=dags())
def test_local_basis_holds(s: Structure) -> None:
    g = to_nx(s)
    for ind in implied_independencies(s, "local"):
        assert ind.given == s.parents[ind.x]
        assert nx.is_d_separator(g, {ind.x}, set(ind.y), set(ind.given))
        # nothing is left out: every non-descendant non-parent is listed
        nd = set(s.variables) - nx.descendants(g, ind.x) - {ind.x} - set(s.parents[ind.x])
        assert set(ind.y) == nd


def test_collider_and_chain() -> None:
    s = Structure(
        ["a", "b", "c", "d"],
        {v: ("0", "1") for v in "abcd"},
        {"c": ("a", "b"), "d": ("c",)},
    )
    assert is_d_separated(s, ["a"], ["b"], [])
    assert not is_d_separated(s, ["a"], ["b"], ["d"])  # conditioning on a collider's child
    assert minimal_separator(s, "a", "d") == ("c",)
    assert minimal_separator(s, "a", "c") is None
    statements = [i.statement() for i in implied_independencies(s)]
    assert statements == ["a _||_ b", "a _||_ d | c", "b _||_ d | c"]


def test_errors() -> None:
    s = Structure(["a", "b"], {"a": ("0", "1"), "b": ("0", "1")})
    with pytest.raises(StructureError, match="unknown variable 'zz'"):
        is_d_separated(s, ["zz"], ["a"], [])
    with pytest.raises(StructureError, match="unknown basis"):
        implied_independencies(s, "everything")
