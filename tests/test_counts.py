"""Family counts against a brute-force loop; missing values dropped per family."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import bnlab
from bnlab.counts import (
    column_reduce,
    count_families,
    family_counts,
    family_counts_array,
    flat_family_index,
)
from bnlab.errors import DataError


def _brute(codes: np.ndarray, cols: list[int], cards: list[int]) -> tuple[np.ndarray, int]:
    table = np.zeros(cards, dtype=np.int64)
    dropped = 0
    for row in codes:
        values = tuple(int(row[c]) for c in cols)
        if min(values) < 0:
            dropped += 1
        else:
            table[values] += 1
    return table, dropped


def test_family_counts_equal_brute_force_with_missing_values() -> None:
    net = bnlab.load_example("asia")
    codes = bnlab.sample(net, 3000, seed=4, missing={"smoke": 0.1, "either": 0.05}, as_codes=True)
    s = net.structure
    counts = family_counts(codes, net)
    for v in net.variables:
        cols = [s.index[p] for p in s.parents[v]] + [s.index[v]]
        cards = [s.cards[p] for p in s.parents[v]] + [s.cards[v]]
        table, dropped = _brute(codes, cols, cards)
        np.testing.assert_array_equal(counts[v].counts, table, err_msg=v)
        assert counts[v].n_dropped == dropped
        assert counts[v].parents == s.parents[v]
    assert counts["lung"].n_dropped > 0 and counts["asia"].n_dropped == 0


def test_flat_index_is_row_major() -> None:
    cards = [2, 3, 4]
    rows = np.array(list(itertools.product(*(range(c) for c in cards))), dtype=np.int8)
    np.testing.assert_array_equal(flat_family_index(rows, [0, 1, 2], cards), np.arange(24))
    assert flat_family_index(rows, [], []).tolist() == [0] * 24


def test_counts_of_other_parent_sets_and_selected_variables() -> None:
    net = bnlab.load_example("asia")
    codes = bnlab.sample(net, 1000, seed=2, as_codes=True)
    s = net.structure
    got = family_counts(codes, net, variables=["dysp"], parents={"dysp": ("smoke",)})
    assert list(got) == ["dysp"] and got["dysp"].parents == ("smoke",)
    table, _ = family_counts_array(codes, [s.index["smoke"], s.index["dysp"]], [2, 2])
    np.testing.assert_array_equal(got["dysp"].counts, table)
    assert table.sum() == 1000


def test_codes_of_the_wrong_shape_are_refused() -> None:
    net = bnlab.load_example("asia")
    with pytest.raises(DataError, match=r"codes have shape \(5, 3\); expected \(rows, 8\)"):
        family_counts(np.zeros((5, 3), dtype=np.int8), net)


@pytest.mark.parametrize("rows", [1, 255, 256, 1000, 4097])
def test_blocked_column_reduce_equals_numpy(rows: int) -> None:
    rng = np.random.default_rng(rows)
    codes = rng.integers(-1, 5, size=(rows, 7)).astype(np.int8)
    for ufunc in (np.minimum, np.maximum):
        np.testing.assert_array_equal(column_reduce(codes, ufunc), ufunc.reduce(codes, axis=0))
    with pytest.raises(DataError, match="empty code table"):
        column_reduce(codes[:0], np.minimum)


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000, 100_000])
def test_chunked_counts_do_not_depend_on_the_chunk_size(chunk_rows: int) -> None:
    net = bnlab.load_example("asia")
    codes = bnlab.sample(net, 2500, seed=9, missing=0.05, as_codes=True)
    s = net.structure
    families = [
        ([s.index[p] for p in s.parents[v]] + [s.index[v]], list(s.family_shape(v)))
        for v in s.variables
    ]
    families.append(([], []))  # the empty family counts every row
    got = count_families(codes, families, chunk_rows=chunk_rows)
    for (cols, cards), (table, dropped) in zip(families[:-1], got[:-1], strict=True):
        expected, expected_dropped = _brute(codes, cols, cards)
        np.testing.assert_array_equal(table, expected)
        assert dropped == expected_dropped
    assert got[-1][0].shape == () and int(got[-1][0]) == 2500


def test_codes_beyond_the_states_are_refused() -> None:
    codes = np.array([[0, 1], [1, 5]], dtype=np.int8)
    with pytest.raises(DataError, match="codes exceed the number of states"):
        count_families(codes, [([0, 1], [2, 2])])
