"""DataFrame <-> integer codes: validation errors, warnings and round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bnlab.data import ExtraColumnsWarning, code_dtype, decode, encode, missing_rate
from bnlab.errors import DataError, StructureError
from bnlab.network import Structure


def _structure() -> Structure:
    return Structure(
        ["a", "b", "n"],
        {"a": ("x", "y"), "b": ("u", "v", "w"), "n": ("0", "1", "2")},
        {"b": ("a",)},
    )


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": pd.Categorical(["x", "y", None, "x"], categories=["x", "y"]),
            "b": pd.Categorical(["w", "u", "v", None], categories=["u", "v", "w"]),
            "n": pd.Categorical(["0", "2", "1", "1"], categories=["0", "1", "2"]),
        }
    )


def test_encode_gives_codes_in_structure_order_with_minus_one_for_missing() -> None:
    codes = encode(_frame()[["n", "b", "a"]], _structure())  # column order does not matter
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(codes, [[0, 2, 0], [1, 0, 2], [-1, 1, 1], [0, -1, 1]])


def test_round_trip() -> None:
    df = _frame()
    pd.testing.assert_frame_equal(decode(encode(df, _structure()), _structure()), df)


def test_other_category_orders_strings_and_integers_are_mapped_by_name() -> None:
    df = pd.DataFrame(
        {
            "a": pd.Categorical(["x", "y"], categories=["y", "x", "z"]),  # unused extra category
            "b": ["w", None],  # plain strings
            "n": [2, 0],  # integers whose text is a state
        }
    )
    np.testing.assert_array_equal(encode(df, _structure()), [[0, 2, 2], [1, -1, 0]])
    floats = pd.DataFrame({"a": ["x", "y"], "b": ["u", "u"], "n": [1.0, np.nan]})
    np.testing.assert_array_equal(encode(floats, _structure())[:, 2], [1, -1])


def test_missing_column() -> None:
    with pytest.raises(DataError, match=r"no column for variable\(s\) \['b'\]; add them"):
        encode(_frame().drop(columns="b"), _structure())


@pytest.mark.parametrize("as_categorical", [False, True])
def test_unknown_state_names_column_values_rows_and_count(as_categorical: bool) -> None:
    df = _frame().astype(object)
    df.loc[[1, 3], "b"] = "maybe"
    df.loc[2, "b"] = "nope"
    if as_categorical:
        df["b"] = pd.Categorical(df["b"])
    with pytest.raises(DataError) as info:
        encode(df, _structure())
    msg = str(info.value)
    assert "column 'b' has 3 value(s) that are not states" in msg
    assert "['maybe', 'nope']" in msg
    assert "(rows 1, 2, 3)" in msg
    assert "Its states are ['u', 'v', 'w']" in msg


def test_many_unknown_rows_are_abbreviated() -> None:
    df = pd.DataFrame({"a": ["x"] * 10, "b": ["bad"] * 10, "n": ["0"] * 10})
    with pytest.raises(DataError, match=r"rows 0, 1, 2, 3, 4 and 5 more"):
        encode(df, _structure())


@pytest.mark.parametrize(
    ("column", "match"),
    [
        (pd.to_datetime(["2024-01-01"] * 4), "column 'a' has dtype datetime64"),
        (pd.Series([1.5, 0.0, 1.0, 0.0]), "column 'a' holds non-integer floats"),
        (pd.Series([{"x": 1}, {}, {}, {}]), "column 'a' has dtype object, which cannot hold"),
    ],
)
def test_wrong_column_type(column: pd.Series, match: str) -> None:
    df = _frame()
    df["a"] = column
    with pytest.raises(DataError, match=match):
        encode(df, _structure())


def test_extra_columns_are_ignored_with_a_warning() -> None:
    df = _frame().assign(extra=1, other="z")
    with pytest.warns(ExtraColumnsWarning, match=r"ignoring 2 column\(s\).*\['extra', 'other'\]"):
        codes = encode(df, _structure())
    np.testing.assert_array_equal(codes, encode(_frame(), _structure()))


def test_duplicate_columns_are_refused() -> None:
    df = pd.concat([_frame(), _frame()[["a"]]], axis=1)
    with pytest.raises(DataError, match=r"column\(s\) \['a'\] appear more than once"):
        encode(df, _structure())


def test_not_a_dataframe_and_not_a_structure() -> None:
    with pytest.raises(DataError, match="expected a pandas DataFrame, got dict"):
        encode({"a": ["x"]}, _structure())  # type: ignore[arg-type]
    with pytest.raises(StructureError, match="expected a bnlab Structure or BayesNet"):
        encode(_frame(), "asia")  # type: ignore[arg-type]


def test_decode_validates_shape_and_range() -> None:
    with pytest.raises(DataError, match=r"codes have shape \(2, 2\); expected \(rows, 3\)"):
        decode(np.zeros((2, 2), dtype=np.int8), _structure())
    with pytest.raises(DataError, match=r"codes of 'b' must lie in \[-1, 2\], found \[0, 3\]"):
        decode(np.array([[0, 3, 0], [0, 0, 0]]), _structure())


def test_code_dtype_and_missing_rate() -> None:
    assert code_dtype(2) == np.int8 and code_dtype(128) == np.int8
    assert code_dtype(129) == np.int16 and code_dtype(40_000) == np.int32
    assert missing_rate(encode(_frame(), _structure())) == pytest.approx(2 / 12)
    assert missing_rate(np.zeros((0, 3), dtype=np.int8)) == 0.0


def test_empty_frame() -> None:
    empty = _frame().iloc[:0]
    codes = encode(empty, _structure())
    assert codes.shape == (0, 3)
    assert decode(codes, _structure()).shape == (0, 3)
