"""Schema.decode and sample(raw=True): states back to raw-typed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bnlab
from bnlab.errors import DataError
from bnlab.network import Structure
from bnlab.schema import Column, Schema, SchemaError, infer_schema


def raw_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 63, n)
    return pd.DataFrame(
        {
            "age": age,  # many integers: discretized, whole numbers
            "income": rng.normal(50, 10, n) + (age > 40) * 10,  # floats: discretized
            "size": rng.choice([1, 2, 3, 10], n),  # few integers: states in numeric order
            "region": rng.choice(["north", "south", "East"], n),
            "smoker": rng.choice([True, False], n),
            "grade": pd.Categorical(
                rng.choice(["low", "mid", "high"], n), categories=["low", "mid", "high"]
            ),
        }
    )


def every_state(s: Schema, name: str, repeat: int = 3) -> pd.DataFrame:
    """Each state of ``name`` ``repeat`` times, plus one missing row."""
    states = list(s.states[name]) * repeat
    col = pd.Categorical([*states, None], categories=list(s.states[name]))
    return pd.DataFrame({name: col})


def test_decode_inverts_encode_exactly_for_categorical_and_integer_columns() -> None:
    df = raw_frame()
    s = infer_schema(df)
    keep = ["size", "region", "smoker", "grade"]
    back = s.decode(s.encode(df)[keep])
    pd.testing.assert_frame_equal(back, df[keep])  # values and dtypes: int64, object, bool, cat
    assert back["size"].tolist()[:8] == df["size"].tolist()[:8]


def test_missing_values_stay_missing_with_nullable_types() -> None:
    df = raw_frame(50)
    df["size"] = df["size"].astype(float)
    df.loc[[3, 7], "size"] = np.nan
    df["smoker"] = df["smoker"].astype(object)
    df.loc[[1], "smoker"] = None
    df.loc[[2], "region"] = np.nan
    s = infer_schema(df)
    back = s.decode(s.encode(df))
    assert str(back["size"].dtype) == "Int64" and str(back["smoker"].dtype) == "boolean"
    for col in ("size", "smoker", "region", "age", "income"):
        assert back[col].isna().tolist() == df[col].isna().tolist()
    present = df["size"].notna()
    assert back.loc[present, "size"].astype(int).tolist() == df.loc[present, "size"].tolist()
    assert back.loc[df["smoker"].notna(), "smoker"].tolist() == df["smoker"].dropna().tolist()


@pytest.mark.parametrize("numbers", ["uniform", "midpoint"])
@pytest.mark.parametrize("name", ["age", "income"])
def test_discretized_states_decode_to_numbers_that_encode_back(name: str, numbers: str) -> None:
    s = infer_schema(raw_frame(), bins=5)
    states = every_state(s, name, repeat=50)
    back = s.decode(states, numbers=numbers, seed=3)  # type: ignore[arg-type]
    again = s.encode(back, partial=True)  # no OutOfRangeWarning: values stay in the training range
    assert again[name].astype(object).tolist()[:-1] == states[name].astype(object).tolist()[:-1]
    assert pd.isna(back[name].iloc[-1]) and pd.isna(again[name].iloc[-1])


def _edges(s: Schema, name: str) -> list[float]:
    b = s.column(name).bins
    assert b is not None
    return [b.low, *b.cuts, b.high]


def test_midpoints_and_edge_bins_use_the_training_range() -> None:
    df = raw_frame()
    s = infer_schema(df, bins=4)
    edges = _edges(s, "income")
    assert edges[0] == df["income"].min() and edges[-1] == df["income"].max()
    mid = s.decode(every_state(s, "income", 1), numbers="midpoint")["income"].tolist()[:-1]
    assert mid == pytest.approx([(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)])
    ages = _edges(s, "age")
    k = len(ages) - 1
    expected = []
    for i in range(k):  # the integers of [a, b) (last bin [a, b]), and their lower middle
        last = math.floor(ages[i + 1]) if i == k - 1 else math.ceil(ages[i + 1]) - 1
        ints = list(range(math.ceil(ages[i]), last + 1))
        expected.append(ints[(len(ints) - 1) // 2])
    got = s.decode(every_state(s, "age", 1), numbers="midpoint")
    assert str(got["age"].dtype) == "Int64" and got["age"].tolist()[:-1] == expected


def test_uniform_draws_are_uniform_within_the_bin() -> None:
    s = infer_schema(raw_frame(), bins=4)
    a, b = _edges(s, "income")[1:3]
    one = pd.DataFrame({"income": pd.Categorical([s.states["income"][1]] * 4000)})
    drawn = s.decode(one, seed=0)["income"].to_numpy()
    assert np.all((drawn >= a) & (drawn < b))
    assert stats.kstest(drawn, stats.uniform(a, b - a).cdf).pvalue > 1e-3
    mid = s.decode(one, numbers="midpoint")["income"].to_numpy()  # the check can fail
    assert stats.kstest(mid, stats.uniform(a, b - a).cdf).pvalue < 1e-6
    lo, hi = _edges(s, "age")[0:2]
    first = pd.DataFrame({"age": pd.Categorical([s.states["age"][0]] * 4000)})
    ages = s.decode(first, seed=1)["age"].to_numpy(dtype=np.int64)
    ints = np.arange(math.ceil(lo), math.ceil(hi))  # the whole numbers of [lo, hi)
    counts = np.array([np.count_nonzero(ages == i) for i in ints])
    assert counts.sum() == ages.size and stats.chisquare(counts).pvalue > 1e-3


def test_decoding_is_seeded_per_column() -> None:
    s = infer_schema(raw_frame())
    states = s.encode(raw_frame())
    one = s.decode(states, seed=5)
    pd.testing.assert_frame_equal(one, s.decode(states, seed=5))
    assert not one["income"].equals(s.decode(states, seed=6)["income"])
    pd.testing.assert_series_equal(one["income"], s.decode(states[["income"]], seed=5)["income"])


def test_old_schemas_without_raw_types_decode_as_text_and_numbers() -> None:
    cols = (Column("n", "integer", ("1", "2", "10")), Column("c", "categorical", ("a", "b")))
    s = Schema(cols)
    back = s.decode(pd.DataFrame({"n": ["10", "1", None], "c": ["b", "a", "a"], "z": [1, 2, 3]}))
    assert back["n"].tolist() == [10, 1, pd.NA] and back["c"].tolist() == ["b", "a", "a"]
    assert back["z"].tolist() == [1, 2, 3]  # columns the schema does not know are kept


def test_bad_input_to_decode_is_a_schema_error() -> None:
    s = infer_schema(raw_frame())
    with pytest.raises(SchemaError, match="'region'.*'west'"):
        s.decode(pd.DataFrame({"region": ["north", "west"]}))
    with pytest.raises(SchemaError, match="DataFrame"):
        s.decode([1, 2])  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="numbers must be"):
        s.decode(s.encode(raw_frame())[["income"]], numbers="mean")  # type: ignore[arg-type]


def fitted_post() -> tuple[bnlab.Posterior, Schema]:
    df = raw_frame(600)
    s = infer_schema(df)
    parents = {"income": ["age"], "smoker": ["age"], "grade": ["income"], "size": ["region"]}
    return bnlab.fit(Structure(s.variables, s.states, parents), df, schema=s), s


def test_sample_raw_decodes_the_sampled_states() -> None:
    post, s = fitted_post()
    net = post.mean()
    raw = bnlab.sample(net, 500, seed=4, raw=True, missing=0.1)
    states = bnlab.sample(net, 500, seed=4, missing=0.1)
    assert isinstance(raw, pd.DataFrame) and isinstance(states, pd.DataFrame)
    pd.testing.assert_frame_equal(raw, s.decode(states, seed=4))
    pd.testing.assert_frame_equal(s.encode(raw)[list(net.variables)], states)
    assert raw["size"].dropna().isin([1, 2, 3, 10]).all() and raw["income"].dtype == np.float64
    given = bnlab.sample(net.with_schema(None), 500, seed=4, missing=0.1, schema=s)
    pd.testing.assert_frame_equal(given, raw)
    mid = bnlab.sample(net, 50, seed=4, raw=True, numbers="midpoint")
    assert isinstance(mid, pd.DataFrame) and mid["income"].nunique() <= len(s.states["income"])


def test_sample_raw_without_a_schema_or_with_codes_is_refused() -> None:
    post, _ = fitted_post()
    with pytest.raises(DataError, match="carries none"):
        bnlab.sample(post.mean().with_schema(None), 10, raw=True)
    with pytest.raises(DataError, match="as_codes"):
        bnlab.sample(post.mean(), 10, raw=True, as_codes=True)
