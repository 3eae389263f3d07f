from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bnlab
from bnlab.errors import CPTError, CycleError, StructureError
from bnlab.network import CPT_SUM_ATOL, topological_order

STATES = {"a": ("0", "1"), "b": ("lo", "mid", "hi"), "c": ("no", "yes")}


def small_net() -> bnlab.BayesNet:
    return bnlab.BayesNet(
        variables=["c", "b", "a"],
        states=STATES,
        parents={"b": ["a"], "c": ["a", "b"]},
        cpts={
            "a": [0.3, 0.7],
            "b": [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]],
            "c": np.full((2, 3, 2), 0.5),
        },
    )


def test_variables_are_topologically_ordered_and_api_shapes() -> None:
    net = small_net()
    assert net.variables == ("a", "b", "c")
    assert net.states["b"] == ("lo", "mid", "hi")
    assert net.parents["c"] == ("a", "b")
    assert net.cpt("c").shape == (2, 3, 2)
    assert net.edges == [("a", "b"), ("a", "c"), ("b", "c")]
    assert net.structure.children["a"] == ("b", "c")
    assert net.structure.n_parent_configs("c") == 6
    np.testing.assert_allclose(net.cpt("b").sum(axis=-1), 1.0)


def test_types_are_immutable() -> None:
    net = small_net()
    with pytest.raises(ValueError, match="read-only"):
        net.cpt("a")[0] = 1.0
    with pytest.raises(TypeError):
        net.parents["a"] = ("b",)  # type: ignore[index]


def test_equality_and_hash() -> None:
    assert small_net() == small_net()
    assert hash(small_net().structure) == hash(small_net().structure)
    other = small_net().with_cpts({"a": [0.5, 0.5]})
    assert other != small_net()
    assert other.structure == small_net().structure


def test_flat_cpt_is_reshaped_row_major() -> None:
    net = small_net().with_cpts({"b": [0.2, 0.3, 0.5, 0.6, 0.3, 0.1]})
    np.testing.assert_array_equal(net.cpt("b")[1], [0.6, 0.3, 0.1])


def test_cycle_is_printed() -> None:
    with pytest.raises(CycleError, match=r"a -> b -> c -> a"):
        bnlab.Structure(STATES, STATES, {"b": ["a"], "c": ["b"], "a": ["c"]})


def test_self_loop_is_a_cycle() -> None:
    with pytest.raises(CycleError, match="a -> a"):
        bnlab.Structure(["a"], {"a": ("0", "1")}, {"a": ["a"]})


@pytest.mark.parametrize(
    ("states", "parents", "message"),
    [
        (STATES, {"b": ["z"]}, "unknown parent 'z'"),
        ({**STATES, "a": ("0", "0")}, {}, "duplicate states"),
        ({**STATES, "a": ()}, {}, "empty state list"),
        ({"a": ("0",), "b": ("0",)}, {}, "'c' has no states"),
        (STATES, {"zz": ["a"]}, "not among the variables"),
    ],
)
def test_structure_errors_name_the_problem(
    states: dict[str, tuple[str, ...]], parents: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(StructureError, match=message):
        bnlab.Structure(["a", "b", "c"], states, parents)


@pytest.mark.parametrize(
    ("cpt_b", "message"),
    [
        (np.full((3, 2), 1 / 3), r"shape \(3, 2\), expected \(2, 3\)"),
        ([[1.2, -0.2, 0.0], [0.6, 0.3, 0.1]], "negative entry at index"),
        ([[0.2, 0.3, 0.4], [0.6, 0.3, 0.1]], rf"sums to 0.9, not 1 \(tolerance {CPT_SUM_ATOL}\)"),
        ([[np.nan, 0.5, 0.5], [0.6, 0.3, 0.1]], "NaN"),
    ],
)
def test_cpt_errors_name_the_variable(cpt_b: object, message: str) -> None:
    with pytest.raises(CPTError, match=message) as info:
        small_net().with_cpts({"b": cpt_b})  # type: ignore[dict-item]
    assert "'b'" in str(info.value)


def test_missing_cpt() -> None:
    with pytest.raises(CPTError, match=r"no CPT given for \['c'\]"):
        bnlab.BayesNet(variables=["a", "c"], states=STATES, parents={}, cpts={"a": [0.5, 0.5]})


def test_errors_are_value_errors_and_bnerrors() -> None:
    with pytest.raises(ValueError):
        bnlab.Structure(["a"], {"a": ()})
    assert issubclass(CycleError, bnlab.BNError)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=12), st.randoms(use_true_random=False))
def test_topological_order_respects_every_edge(n: int, rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    names = [f"v{i}" for i in range(n)]
    parents = {v: [names[j] for j in range(i) if rnd.random() < 0.4] for i, v in enumerate(names)}
    shuffled = names[:]
    rnd.shuffle(shuffled)
    order = topological_order(shuffled, parents)
    pos = {v: i for i, v in enumerate(order)}
    assert sorted(order) == sorted(names)
    assert all(pos[p] < pos[v] for v in names for p in parents[v])
    # stability: an order that is already topological comes back unchanged
    assert topological_order(order, parents) == order
