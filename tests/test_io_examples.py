"""Networks shipped with the package load by name."""

from __future__ import annotations

import pytest
from conftest import TEST_NETWORKS

import bnlab
from bnlab.errors import BNError
from bnlab.io import list_examples, load_example, read_network

SHIPPED = ["alarm", "asia", "child", "insurance"]


def test_list_examples() -> None:
    assert list_examples() == SHIPPED
    assert bnlab.list_examples() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_load_example_equals_the_bif_file(name: str) -> None:
    net = bnlab.load_example(name)
    assert net == read_network(TEST_NETWORKS / f"{name}.bif.gz")
    assert load_example(name) is net  # immutable, so cached


def test_alarm_shape() -> None:
    net = load_example("alarm")
    assert len(net.variables) == 37 and len(net.edges) == 46
    assert net.states["HR"] == ("LOW", "NORMAL", "HIGH")
    assert net.parents["HR"] == ("CATECHOL",)


def test_unknown_example_lists_the_names() -> None:
    with pytest.raises(BNError, match=r"unknown example network 'alarms'; available: \['alarm'"):
        load_example("alarms")
