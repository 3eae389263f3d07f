"""The data schema saved in network JSON files: round trip, old files, malformed entries."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import ParseError
from bnlab.io import read_network, read_structure, write_network
from bnlab.network import BayesNet, Structure
from bnlab.schema import (
    Schema,
    SchemaError,
    SchemaNotSavedWarning,
    encode_evidence_frame,
    infer_schema,
    schema_of,
)


def raw_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 63, n)
    return pd.DataFrame(
        {
            "age": age,
            "income": rng.normal(50, 10, n) + (age > 40) * 10,
            "size": rng.choice([1, 2, 10], n),
            "region": rng.choice(["north", "south"], n),
            "insured": np.where(age + rng.normal(0, 5, n) > 40, "yes", "no"),
        }
    )


def fitted_net() -> tuple[BayesNet, Schema]:
    df = raw_frame()
    s = infer_schema(df, bins=4)
    structure = Structure(s.variables, s.states, {"insured": ["age"], "income": ["insured"]})
    return bnlab.fit(structure, df, schema=s).mean(), s


def test_posterior_mean_carries_the_schema_and_json_round_trips_it(tmp_path: Path) -> None:
    net, s = fitted_net()
    assert net.schema == s
    path = tmp_path / "net.json"
    write_network(net, path)
    doc = json.loads(path.read_text())  # plain JSON, the documented schema document
    assert doc["schema"] == s.to_dict()
    assert doc["schema"]["columns"][0]["bins"]["cuts"] == list(s.column("age").bins.cuts)  # type: ignore[union-attr]
    back = read_network(path)
    assert back == net and back.schema == s
    assert read_structure(path) == net.structure


def test_a_read_network_bins_raw_numbers_like_the_fitted_schema(tmp_path: Path) -> None:
    net, s = fitted_net()
    write_network(net, tmp_path / "net.json")
    back = schema_of(read_network(tmp_path / "net.json"))
    assert back is not None
    cuts = s.column("age").bins.cuts  # type: ignore[union-attr]
    for age in (18, 25, 40, 62):
        expected = int(sum(age >= c for c in cuts))  # bin i holds cuts[i-1] <= x < cuts[i]
        got = encode_evidence_frame(back, {"age": age, "region": "north"})
        assert got["age"].iloc[0] == s.states["age"][expected]
        assert got["region"].iloc[0] == "north"


def test_files_without_a_schema_load_and_nets_without_one_write_none(tmp_path: Path) -> None:
    net, _ = fitted_net()
    plain = net.with_schema(None)
    assert plain.schema is None and plain == net  # the schema is not part of equality
    write_network(plain, tmp_path / "plain.json")
    assert "schema" not in json.loads((tmp_path / "plain.json").read_text())
    assert read_network(tmp_path / "plain.json").schema is None
    explicit_null = json.loads((tmp_path / "plain.json").read_text()) | {"schema": None}
    (tmp_path / "null.json").write_text(json.dumps(explicit_null))
    assert read_network(tmp_path / "null.json").schema is None


def test_with_cpts_keeps_the_schema_and_mismatched_states_are_refused() -> None:
    net, s = fitted_net()
    assert net.with_cpts({"region": [0.5, 0.5]}).schema == s
    other = infer_schema(raw_frame().assign(region=lambda d: d["region"].str.upper()))
    with pytest.raises(SchemaError, match="'region'"):
        net.with_schema(other)


def test_other_formats_warn_that_the_schema_is_not_saved(tmp_path: Path) -> None:
    net, _ = fitted_net()
    with pytest.warns(SchemaNotSavedWarning, match="bif format"):
        write_network(net, tmp_path / "net.bif")
    write_network(net.with_schema(None), tmp_path / "plain.bif")  # no warning (errors here)
    assert read_network(tmp_path / "net.bif").schema is None


def _column(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["schema"]["columns"] if c["name"] == name)


def _put(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["schema"][key] = value

    return change


def _put_col(name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        _column(doc, name)[key] = value

    return change


def _put_bins(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        _column(doc, "age")["bins"][key] = value

    return change


def _repeat_column(doc: dict[str, Any]) -> None:
    doc["schema"]["columns"].append(copy.deepcopy(doc["schema"]["columns"][0]))


def _whole(doc: dict[str, Any]) -> None:
    doc["schema"] = ["not", "an", "object"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_whole, "'schema' must be an object"),
        (_put("format", "other"), "not a bnlab schema"),
        (_put("version", 2), "version must be 1"),
        (_put("columns", {"age": 1}), "columns must be a list"),
        (_put("target", 3), "target must be text"),
        (_put_col("age", "kind", "ordinal"), "kind .* must be one of"),
        (_put_col("region", "states", ["north", 2]), "states .* non-empty list of text"),
        (_put_col("region", "states", ["north", "north"]), "repeat a state"),
        (_put_col("size", "states", ["1", "two", "10"]), "must be numbers"),
        (_put_col("age", "bins", None), "must be given for a discretized column"),
        (_put_col("region", "bins", {"cuts": []}), "must be given for a discretized column"),
        (_put_col("age", "raw_type", "complex"), "raw_type .* must be one of"),
        (_put_bins("cuts", [40.0, 30.0, 50.0]), "increase strictly"),
        (_put_bins("cuts", [30.0, 40.0]), "3 bins for 4 states"),
        (_put_bins("low", "18"), "low/high must be finite"),
        (_put_bins("high", 20.0), "low/high must be finite|within"),
        (_repeat_column, "name a column twice"),
        (_put_col("region", "states", ["south", "north"]), "differ from the network's"),
    ],
)
def test_malformed_schema_entries_are_parse_errors_naming_the_file(
    change: Callable[[dict[str, Any]], None], message: str, tmp_path: Path
) -> None:
    net, _ = fitted_net()
    good = tmp_path / "good.json"
    write_network(net, good)
    doc = json.loads(good.read_text())
    change(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ParseError, match=message) as info:
        read_network(bad)
    assert info.value.path == str(bad) and str(bad) in str(info.value)
    assert read_network(good).schema is not None  # the unchanged file is fine
