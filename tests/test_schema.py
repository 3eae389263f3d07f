"""Schema inference rules, declared schemas, bad input, and the schema stored with a model."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.evaluate import calibration
from bnlab.schema import (
    DeclaredStateWarning,
    OutOfRangeWarning,
    Schema,
    SchemaError,
    UnseenCategoryError,
    infer_schema,
)


def raw_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 63, n)
    return pd.DataFrame(
        {
            "age": age,
            "size": rng.choice([1, 2, 3, 10], n),
            "income": rng.normal(50, 10, n) + (age > 40) * 10,
            "region": rng.choice(["north", "south", "East"], n),
            "smoker": rng.choice([True, False], n),
            "grade": pd.Categorical(
                rng.choice(["low", "mid", "high"], n), categories=["low", "mid", "high"]
            ),
            "insured": np.where(age + rng.normal(0, 5, n) > 40, "yes", "no"),
        }
    )


def test_integer_states_are_in_numeric_order() -> None:
    s = infer_schema(raw_frame())
    assert s.states["size"] == ("1", "2", "3", "10")
    assert s.column("size").kind == "integer"
    coded = s.encode(raw_frame())
    raw = raw_frame()["size"].to_numpy()
    assert (coded["size"].astype(str).to_numpy() == raw.astype(str)).all()


def test_text_sorted_categorical_order_kept_bool_false_true() -> None:
    s = infer_schema(raw_frame())
    assert s.states["region"] == ("East", "north", "south")  # sorted, case-sensitive
    assert s.states["grade"] == ("low", "mid", "high")
    assert s.states["smoker"] == ("False", "True")


def test_floats_and_many_valued_integers_are_discretized() -> None:
    s = infer_schema(raw_frame(), max_states=20, bins=4)
    assert s.column("age").kind == "discretized" and len(s.states["age"]) == 4
    assert s.column("income").kind == "discretized"
    assert s.states["age"][0].startswith("[18, ")
    assert set(s.summary()["column"]) == set(raw_frame().columns)


def test_text_holding_numbers_is_numeric() -> None:
    df = pd.DataFrame({"n": ["1", "10", "2", None] * 10})
    assert infer_schema(df).states["n"] == ("1", "2", "10")


@pytest.mark.parametrize(
    "column",
    [np.arange(100), [f"id-{i}" for i in range(100)], [f"c{i % 40}" for i in range(100)]],
)
def test_identifier_like_columns_are_refused(column: object) -> None:
    df = pd.DataFrame({"row_id": column, "x": ["a", "b"] * 50})
    with pytest.raises(SchemaError, match="'row_id'.*identifier.*drop"):
        infer_schema(df)


def test_a_declared_drop_lets_the_identifier_through() -> None:
    df = pd.DataFrame({"row_id": np.arange(100), "x": ["a", "b"] * 50})
    s = infer_schema(df, declared={"row_id": "drop"})
    assert s.variables == ("x",) and s.dropped == ("row_id",)


def test_declared_yaml_overrides(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text(
        "age: {discretize: uniform, bins: 3}\n"
        "income: {cuts: [40, 60]}\n"
        "size: {states: [1, 2, 3, 10, 20]}\n"
    )
    with pytest.warns(DeclaredStateWarning, match=r"\['20'\]"):
        s = infer_schema(raw_frame(), declared=path)
    assert s.column("age").bins is not None and s.column("age").bins.method == "uniform"
    assert len(s.states["age"]) == 3
    assert s.column("income").bins is not None and s.column("income").bins.cuts == (40.0, 60.0)
    assert s.states["size"] == ("1", "2", "3", "10", "20")
    assert s.column("size").declared


def test_mdlp_with_target() -> None:
    s = infer_schema(raw_frame(2000), target="insured", discretize="mdlp")
    cuts = s.column("age").bins.cuts  # type: ignore[union-attr]
    assert any(abs(c - 40.5) <= 3 for c in cuts)
    assert s.column("insured").kind == "categorical"


def test_bad_input_is_refused_with_column_and_fix() -> None:
    with pytest.raises(SchemaError, match="'m'.*mixes value types"):
        infer_schema(pd.DataFrame({"m": [1, "a", 2.5, "b"] * 5}))
    with pytest.raises(SchemaError, match="'e'.*missing in every row"):
        infer_schema(pd.DataFrame({"e": [np.nan] * 5, "x": list("abcab")}))
    s = infer_schema(raw_frame())
    with pytest.raises(SchemaError, match=r"\['smoker'\].*not in the data"):
        s.encode(raw_frame().drop(columns=["smoker"]))
    new = raw_frame(5)
    new.loc[2, "region"] = "west"
    with pytest.raises(UnseenCategoryError, match="'region'.*'west'.*unseen='nan'"):
        s.encode(new)
    frame, report = s.encode_report(new, unseen="nan")
    assert pd.isna(frame.loc[2, "region"]) and report.unseen_rows == {"region": [2]}


def test_missing_stays_missing_and_out_of_range_warns() -> None:
    s = infer_schema(raw_frame())
    new = raw_frame(4)
    new["age"] = [10, 100, np.nan, 30]
    with pytest.warns(OutOfRangeWarning, match="'age': 2"):
        coded = s.encode(new)
    assert coded["age"].cat.codes.tolist()[:3] == [0, len(s.states["age"]) - 1, -1]


def test_json_round_trip() -> None:
    s = infer_schema(raw_frame())
    assert Schema.from_dict(s.to_dict()) == s


def test_fit_stores_the_schema_and_the_engine_bins_raw_numbers(tmp_path: Path) -> None:
    df = raw_frame()
    s = infer_schema(df)
    structure = bnlab.learn_structure(df, schema=s)
    post = bnlab.fit(structure, df, schema=s)
    post.save(tmp_path / "p.nc")
    loaded = bnlab.load_posterior(tmp_path / "p.nc")
    assert Schema.from_dict(loaded.attrs["schema"]) == s
    engine = bnlab.Engine(loaded, draws=20)
    raw = engine.query("insured", [{"age": 25, "income": 41.0}], interval=0.9)
    age_state = s.encode(pd.DataFrame({"age": [25]}), partial=True)["age"].iloc[0]
    inc_state = s.encode(pd.DataFrame({"income": [41.0]}), partial=True)["income"].iloc[0]
    labelled = engine.query("insured", [{"age": age_state, "income": inc_state}], interval=0.9)
    pd.testing.assert_frame_equal(raw, labelled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cal = calibration(loaded, df, target="insured", draws=20)
    assert 0.0 <= cal["ece"] <= 1.0
