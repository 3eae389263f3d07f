"""Counts sources and the CI audit on partitioned data: the in-memory tables and results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.counts import count_families
from bnlab.counts.parquet import distinct_rows, parquet_files, parquet_structure
from bnlab.counts.sources import ArrayCounts, ParquetCounts, counts_source
from bnlab.errors import DataError
from bnlab.evaluate.audit import edge_audit, independence_audit
from bnlab.evaluate.citests import (
    ci_test,
    ci_test_cells,
    stratified_cells,
    table_cells,
)
from bnlab.learn.scores import unique_rows
from tests.partition_helpers import write_parts, write_renamed_pair


@pytest.fixture(scope="module")
def alarm(tmp_path_factory: pytest.TempPathFactory) -> tuple[bnlab.BayesNet, pd.DataFrame, Path]:
    net = bnlab.load_example("alarm")
    df = bnlab.sample(net, n=3_000, seed=2, missing=0.03)
    return net, df, write_parts(df, tmp_path_factory.mktemp("alarm_parts"), 3)


TABLES = [("HR",), ("CO", "HR", "STROKEVOLUME"), ("HR", "CO"), ("PCWP", "LVEDVOLUME", "CVP")]


def test_tables_equal_in_memory_counts(alarm: tuple[bnlab.BayesNet, pd.DataFrame, Path]) -> None:
    net, df, folder = alarm
    codes = bnlab.encode(df, net)
    idx, cards = net.structure.index, net.structure.cards
    expected = [
        t
        for t, _ in count_families(
            codes, [([idx[v] for v in t], [cards[v] for v in t]) for t in TABLES]
        )
    ]
    for source in (ArrayCounts(codes, net), ParquetCounts(folder, net, batch_rows=256)):
        got = source.table_counts(TABLES)
        assert source.passes == 1
        for g, e in zip(got, expected, strict=True):
            assert g.dtype == np.int64
            np.testing.assert_array_equal(g, e)
        # a batch is the stack of single requests
        for t, e in zip(TABLES, expected, strict=True):
            np.testing.assert_array_equal(source.table_counts([t])[0], e)


def test_family_batch_axes_are_parents_then_child(
    alarm: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, _, folder = alarm
    source = ParquetCounts(folder, net)
    (fam,) = source.family_counts_batch([("CO", ["HR", "STROKEVOLUME"])])
    (tab,) = source.table_counts([("HR", "STROKEVOLUME", "CO")])
    np.testing.assert_array_equal(fam, tab)
    assert fam.shape == (3, 3, 3)


def test_bad_requests_are_named(alarm: tuple[bnlab.BayesNet, pd.DataFrame, Path]) -> None:
    net, _, folder = alarm
    source = ParquetCounts(folder, net)
    with pytest.raises(DataError, match=r"unknown variable\(s\) \['NOPE'\]"):
        source.table_counts([("HR", "NOPE")])
    with pytest.raises(DataError, match="names a variable twice"):
        source.table_counts([("HR", "HR")])
    too_big = tuple(net.variables)
    with pytest.raises(DataError, match="lower max_indegree"):
        source.table_counts([too_big])
    assert source.passes == 0


def test_parquet_structure_reads_categories_and_plain_text(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=200, seed=0)
    df.iloc[::2].to_parquet(tmp_path / "a.parquet")  # writes a pandas index column too
    s = parquet_structure(parquet_files(tmp_path))
    assert s.variables == net.variables
    assert dict(s.states) == dict(net.states)
    plain = tmp_path / "plain"
    plain.mkdir()
    df.astype(object).to_parquet(plain / "p.parquet")
    t = parquet_structure(parquet_files(plain))
    assert all(t.states[v] == tuple(sorted(net.states[v])) for v in net.variables)


def test_counts_source_dispatch(alarm: tuple[bnlab.BayesNet, pd.DataFrame, Path]) -> None:
    net, df, folder = alarm
    assert isinstance(counts_source(df, net), ArrayCounts)
    src = counts_source(str(folder / "*.parquet"), net)
    assert isinstance(src, ParquetCounts)
    assert src.n_rows == len(df)
    assert counts_source(src) is src


def test_table_cells_equal_stratified_cells(
    alarm: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, df, _ = alarm
    codes = bnlab.encode(df, net)
    s = net.structure
    cards = [s.cards[v] for v in s.variables]
    source = ArrayCounts(codes, net)
    for x, ys, zs in [("HR", ["CO"], []), ("CO", ["HR", "PCWP"], ["STROKEVOLUME", "LVEDVOLUME"])]:
        rows, _ = stratified_cells(
            codes, s.index[x], [s.index[v] for v in ys], [s.index[v] for v in zs], cards
        )
        (table,) = source.table_counts([(*zs, x, *ys)])
        cells = table_cells(table, len(zs))
        for field in ("counts", "sx", "sy"):
            np.testing.assert_array_equal(getattr(cells, field), getattr(rows, field))
        assert cells.n == rows.n
        for kw in ({}, {"permutations": 30, "bootstrap": 10, "method": "chi2"}):
            a = ci_test(
                codes,
                s.index[x],
                [s.index[v] for v in ys],
                [s.index[v] for v in zs],
                cards,
                seed=4,
                **kw,
            )
            np.testing.assert_array_equal(ci_test_cells(cells, seed=4, **kw), a)  # NaN == NaN


@pytest.mark.parametrize("options", [{}, {"permutations": 40, "bootstrap": 15, "method": "chi2"}])
def test_audit_on_parquet_equals_in_memory(
    alarm: tuple[bnlab.BayesNet, pd.DataFrame, Path], options: dict[str, object]
) -> None:
    net, df, folder = alarm
    expected = independence_audit(net, df, **options)
    source = ParquetCounts(folder, net, batch_rows=500)
    got = independence_audit(net, source, **options)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert source.passes == 1  # every statement's table in one pass
    pd.testing.assert_frame_equal(
        edge_audit(net, folder, **options), edge_audit(net, df, **options), check_exact=True
    )


def test_audit_source_must_match_the_structure(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=100, seed=0)
    df["smoke"] = df["smoke"].cat.rename_categories({"yes": "si"})
    df.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(DataError, match="smoke"):
        independence_audit(net, ParquetCounts(tmp_path))


def test_distinct_rows_of_parquet_equal_unique_rows(
    alarm: tuple[bnlab.BayesNet, pd.DataFrame, Path],
) -> None:
    net, df, folder = alarm
    u, c = unique_rows(bnlab.encode(df, net))
    got_u, got_c = distinct_rows(folder, net, batch_rows=200)
    np.testing.assert_array_equal(got_u, u)
    np.testing.assert_array_equal(got_c, c)


def test_a_differing_partition_is_named_before_any_search(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    write_renamed_pair(tmp_path, "xray", {"yes": "positive"}, seed=1)
    with pytest.raises(DataError, match=r"b\.parquet differs from .*a\.parquet in column 'xray'"):
        bnlab.learn_structure(str(tmp_path / "*.parquet"))
    with pytest.raises(DataError, match=r"b\.parquet"):
        independence_audit(net, tmp_path)
