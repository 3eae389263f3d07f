"""Parquet round trips keep categories and their order; validation against a structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.data import ExtraColumnsWarning
from bnlab.errors import DataError
from bnlab.io.parquet import read_parquet, write_parquet


def test_round_trip_keeps_categories_order_and_missing(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, 500, seed=0, missing=0.1)
    # a category that never occurs, and an order that is not alphabetical
    df["xray"] = df["xray"].cat.set_categories(["yes", "no", "unseen"])
    path = write_parquet(df, tmp_path / "d" / "data.parquet")
    back = read_parquet(path)
    pd.testing.assert_frame_equal(back, df)
    assert list(back["xray"].cat.categories) == ["yes", "no", "unseen"]
    assert [p.name for p in path.parent.iterdir()] == ["data.parquet"]  # no temp file left


def test_read_with_a_structure_validates_and_casts(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    codes = bnlab.sample(net, 200, seed=1, as_codes=True)
    plain = bnlab.decode(codes, net).astype(str).replace("nan", None)  # plain strings
    plain = plain[list(reversed(plain.columns))].assign(note="free text")
    write_parquet(plain, tmp_path / "plain.parquet")
    with pytest.warns(ExtraColumnsWarning, match="note"):
        back = read_parquet(tmp_path / "plain.parquet", structure=net)
    assert list(back.columns) == list(net.variables)
    assert all(list(back[v].cat.categories) == list(net.states[v]) for v in net.variables)
    np.testing.assert_array_equal(bnlab.encode(back, net), codes)


def test_unknown_state_in_a_file_is_reported(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, 20, seed=1).astype(str)
    df.loc[3, "smoke"] = "sometimes"
    write_parquet(df, tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"column 'smoke' has 1 value.*\['sometimes'\] \(rows 3\)"):
        read_parquet(tmp_path / "bad.parquet", structure=net)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such Parquet file"):
        read_parquet(tmp_path / "none.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(DataError, match="cannot be read as Parquet"):
        read_parquet(junk)
    with pytest.raises(DataError, match="needs a pandas DataFrame, got list"):
        write_parquet([1, 2], tmp_path / "x.parquet")  # type: ignore[arg-type]
