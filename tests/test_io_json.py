"""bnlab's JSON formats: exact round trips, and a loader that refuses anything off-schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bnlab.errors import BNError, CPTError, CycleError, ParseError
from bnlab.io import read_network, read_structure, write_network, write_structure
from bnlab.network import BayesNet, Structure

NET = BayesNet(
    variables=["rain", "sprinkler", "wet"],
    states={"rain": ["no", "yes"], "sprinkler": ["off", "on"], "wet": ["dry", "damp", "wet"]},
    parents={"wet": ["rain", "sprinkler"]},
    cpts={
        "rain": [0.8, 0.2],
        "sprinkler": [0.1 + 0.2, 1 - (0.1 + 0.2)],  # 0.30000000000000004: repr must keep it
        "wet": [
            [[0.9, 0.08, 0.02], [0.1, 0.3, 0.6]],
            [[0.2, 0.3, 0.5], [0.0, 0.1, 0.9]],
        ],
    },
)


def _doc() -> dict[str, Any]:
    return {
        "format": "bnlab.network",
        "version": 1,
        "variables": [
            {"name": v, "states": list(NET.states[v]), "parents": list(NET.parents[v])}
            for v in NET.variables
        ],
        "cpts": {v: NET.cpt(v).tolist() for v in NET.variables},
    }


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "net.json"
    path.write_text(json.dumps(doc))
    return path


def test_round_trip_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    write_network(NET, path)
    back = read_network(path)
    assert back == NET
    assert back.cpt("sprinkler")[0] == 0.1 + 0.2


def test_document_layout_is_the_documented_one(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    write_network(NET, path)
    assert json.loads(path.read_text()) == _doc()


def test_hand_written_document_reads(tmp_path: Path) -> None:
    assert read_network(_write(tmp_path, _doc())) == NET


def _set(doc: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    doc[key] = value
    return doc


BAD_DOCS = [
    ("wrong version", lambda d: _set(d, "version", 2), r"expected 1, found 2"),
    ("version as text", lambda d: _set(d, "version", "1"), r"expected 1, found '1'"),
    ("no version", lambda d: {k: v for k, v in d.items() if k != "version"}, "found None"),
    ("wrong format", lambda d: _set(d, "format", "pgmpy"), r"found 'pgmpy'"),
    ("not an object", lambda d: [d], "expected a JSON object"),
    ("variables not a list", lambda d: _set(d, "variables", {}), "'variables' must be a list"),
    (
        "extra key in a variable",
        lambda d: _set(d, "variables", [{**d["variables"][0], "x": 1}, *d["variables"][1:]]),
        r"variables\[0\] must be an object with exactly the keys",
    ),
    (
        "states not strings",
        lambda d: _set(
            d, "variables", [{**d["variables"][0], "states": [0, 1]}, *d["variables"][1:]]
        ),
        r"variables\[0\]\.states \(variable 'rain'\) must be a list of strings",
    ),
    ("no cpts", lambda d: {k: v for k, v in d.items() if k != "cpts"}, "'cpts' must be an object"),
    (
        "a cpt missing",
        lambda d: _set(d, "cpts", {k: v for k, v in d["cpts"].items() if k != "wet"}),
        "no table for variable 'wet'",
    ),
    (
        "an unknown cpt",
        lambda d: _set(d, "cpts", {**d["cpts"], "snow": [1.0]}),
        r"unknown variables \['snow'\]",
    ),
    (
        "a ragged cpt",
        lambda d: _set(d, "cpts", {**d["cpts"], "wet": [[[0.5, 0.5, 0.0]], [0.2]]}),
        "the table of 'wet' is ragged",
    ),
    (
        "text in a cpt",
        lambda d: _set(d, "cpts", {**d["cpts"], "rain": ["0.8", "0.2"]}),
        "must hold only numbers",
    ),
    (
        "a cpt of the wrong shape",
        lambda d: _set(d, "cpts", {**d["cpts"], "rain": [[0.8, 0.2]]}),
        r"has shape \(1, 2\), expected \(2,\)",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"), [b[1:] for b in BAD_DOCS], ids=[b[0] for b in BAD_DOCS]
)
def test_off_schema_documents_are_refused(change: Any, message: str, tmp_path: Path) -> None:
    path = _write(tmp_path, change(_doc()))
    with pytest.raises(ParseError, match=message) as info:
        read_network(path)
    assert str(info.value).startswith(f"{path}: ")


def test_nan_and_infinity_are_refused(tmp_path: Path) -> None:
    for const in ("NaN", "Infinity", "-Infinity"):
        text = json.dumps(_doc()).replace("0.8", const, 1)
        path = tmp_path / "net.json"
        path.write_text(text)
        with pytest.raises(ParseError, match=f"{const} is not allowed"):
            read_network(path)


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    text = json.dumps(_doc(), indent=1)
    lines = text.splitlines()
    lines[5] = lines[5] + ","  # a trailing comma somewhere inside the document
    path.write_text("\n".join(lines))
    with pytest.raises(ParseError, match=r"net\.json, line \d+: invalid JSON") as info:
        read_network(path)
    assert info.value.line is not None and 6 <= info.value.line <= 7


def test_cpt_not_summing_to_one_is_a_cpt_error_naming_the_file(tmp_path: Path) -> None:
    doc = _doc()
    doc["cpts"]["rain"] = [0.8, 0.3]
    path = _write(tmp_path, doc)
    with pytest.raises(CPTError, match=r"net\.json: CPT of 'rain'.*sums to 1\.1"):
        read_network(path)


def test_negative_entry_and_cycle(tmp_path: Path) -> None:
    doc = _doc()
    doc["cpts"]["rain"] = [1.2, -0.2]
    with pytest.raises(CPTError, match="negative entry"):
        read_network(_write(tmp_path, doc))
    doc = _doc()
    doc["variables"][0]["parents"] = ["wet"]
    with pytest.raises(CycleError, match=r"net\.json: the graph has a directed cycle"):
        read_network(_write(tmp_path, doc))


def test_structure_files(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_structure(NET, path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "bnlab.structure" and "cpts" not in doc
    assert read_structure(path) == NET.structure
    assert read_structure(path).edges == [("rain", "wet"), ("sprinkler", "wet")]
    with pytest.raises(ParseError, match="structure file .*read_structure"):
        read_network(path)
    write_network(NET, tmp_path / "n.json")
    assert read_structure(tmp_path / "n.json") == NET.structure  # a network file serves too
    lone = Structure(variables=["a"], states={"a": ["x", "y"]})
    write_structure(lone, tmp_path / "lone.json")
    assert read_structure(tmp_path / "lone.json") == lone


def test_structure_refuses_bif_and_bad_version(tmp_path: Path) -> None:
    with pytest.raises(BNError, match=r"structures are written as \.json only"):
        write_structure(NET.structure, tmp_path / "s.bif")
    path = tmp_path / "s.json"
    write_structure(NET, path)
    doc = json.loads(path.read_text())
    doc["version"] = 0
    path.write_text(json.dumps(doc))
    with pytest.raises(
        ParseError, match="unsupported bnlab.structure version: expected 1, found 0"
    ):
        read_structure(path)


def test_json_loader_never_builds_objects_from_the_file(tmp_path: Path) -> None:
    # a document smuggling a Python-looking payload is just an unknown format
    path = _write(tmp_path, {"format": "__import__('os').system('false')", "version": 1})
    with pytest.raises(ParseError, match="expected 'format' to be one of"):
        read_network(path)


def test_arrays_are_float64_and_read_only(tmp_path: Path) -> None:
    doc = _doc()
    doc["cpts"]["rain"] = [1, 0]  # integers are numbers too
    net = read_network(_write(tmp_path, doc))
    assert net.cpt("rain").dtype == np.float64
    assert not net.cpt("rain").flags.writeable
