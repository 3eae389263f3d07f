"""XMLBIF, Hugin NET, UAI, XDSL and DSL: every shipped bnlearn network round-trips exactly.

Oracle: the network read from the bnlearn BIF file; a file written by bnlab and read back
must give an equal ``BayesNet`` (variables, state order, parents, CPTs bit for bit: numbers
are written with ``repr``). Interoperability with pyAgrum and pgmpy: ``test_io_peers.py``;
malformed files: ``test_io_bad_files.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_NETWORKS

import bnlab
from bnlab.errors import BNError, ParseError
from bnlab.io import convert, read_network, write_network
from bnlab.io.names import escape_bif_word, escape_identifier, unescape
from bnlab.io.uai import names_path

FORMATS = ["xml", "xmlbif", "bifxml", "net", "uai", "xdsl", "dsl", "bif"]
ALL_NETWORKS = sorted(p.name.removesuffix(".bif.gz") for p in TEST_NETWORKS.glob("*.bif.gz"))
# more than 20,000 CPT entries: up to a second per format each (mildew: 547,158 entries), so
# the slow step; the small ones cover the same code. Timings beside pyAgrum's:
# `benchmarks/io_roundtrip.py`.
LARGE = {
    "barley",
    "diabetes",
    "link",
    "mildew",
    "munin",
    "munin2",
    "munin3",
    "munin4",
    "pathfinder",
}


def _params(name: str) -> pytest.param:  # type: ignore[valid-type]
    return pytest.param(name, marks=[pytest.mark.slow] if name in LARGE else [])


@pytest.mark.parametrize("name", [_params(n) for n in ALL_NETWORKS])
def test_every_bnlearn_network_round_trips_in_every_format(name: str, tmp_path: Path) -> None:
    net = read_network(TEST_NETWORKS / f"{name}.bif.gz")
    for suffix in FORMATS:
        path = tmp_path / f"{name}.{suffix}"
        write_network(net, path)
        back = read_network(path)
        assert back == net, suffix  # structure, state order, parent order, CPTs exactly


@pytest.mark.parametrize("suffix", FORMATS)
def test_gzipped_files_round_trip_and_are_reproducible(suffix: str, tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    a, b = tmp_path / f"a.{suffix}.gz", tmp_path / f"b.{suffix}.gz"
    write_network(net, a)
    write_network(net, b)
    assert a.read_bytes()[:2] == b"\x1f\x8b" and a.read_bytes() == b.read_bytes()
    assert read_network(a) == net


ODD = [
    "<5",
    "Asy/Patch",
    "has space",
    'q"uote',
    "back\\slash",
    "12",
    "5-12",
    "x.",
    "_x0041_",
    "ünï",
    "%pct",
    "a;b{c}",
    "0_5",
    " lead",
    "tab\there",
]


def _odd_network() -> bnlab.BayesNet:
    rng = np.random.default_rng(0)
    names = ["Asy/Patch", "12", "has space", "_x0041_", "ünï", "a;b{c}"]
    parents = {names[i]: names[max(0, i - 2) : i] for i in range(len(names))}
    states = {v: ODD[i : i + 3] for i, v in enumerate(names)}
    cpts = {v: rng.dirichlet(np.ones(3), size=(3,) * len(parents[v])) for v in names}
    return bnlab.BayesNet(names, states, parents, cpts)


@pytest.mark.parametrize("suffix", [*FORMATS, "json"])
def test_names_a_format_cannot_hold_are_escaped_and_read_back(suffix: str, tmp_path: Path) -> None:
    net = _odd_network()
    path = tmp_path / f"odd.{suffix}"
    write_network(net, path)
    assert read_network(path) == net


def test_escapes_are_identifiers_and_bif_words_and_invert_exactly() -> None:
    for name in ODD:
        ident = escape_identifier(name)
        assert ident.isidentifier() and ident.isascii() and unescape(ident) == name
        for variable in (True, False):
            word = escape_bif_word(name, variable=variable)
            assert unescape(word) == name
    assert escape_bif_word("Asy/Patch", variable=False) == "Asy_x002F_Patch"
    assert escape_bif_word("5-12", variable=False) == "5_x002D_12"
    assert escape_bif_word("a-b.c", variable=False) == "a-b.c"  # readable words stay as they are
    assert escape_identifier("Smoking_status") == "Smoking_status"
    with pytest.raises(BNError, match="empty name"):
        escape_identifier("")


def test_bif_writer_escapes_asy_patch_where_it_used_to_write_it_raw(tmp_path: Path) -> None:
    net = read_network(TEST_NETWORKS / "child.bif.gz")
    path = tmp_path / "child.bif"
    write_network(net, path)
    text = path.read_text()
    assert "Asy/Patch" not in text and "Asy_x002F_Patch" in text
    assert read_network(path) == net


def test_format_argument_overrides_the_suffix(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    path = tmp_path / "model.txt"
    write_network(net, path, format="net")
    assert path.read_text().startswith("net\n")
    assert read_network(path, format="net") == net
    assert read_network(path, format=".net") == net
    with pytest.raises(ParseError, match="unknown network file suffix"):
        read_network(path)
    with pytest.raises(BNError, match="unknown network format 'hugin'"):
        read_network(path, format="hugin")
    with pytest.raises(BNError, match="not read or written gzipped"):
        write_network(net, tmp_path / "n.json.gz")
    with pytest.raises(BNError, match="names= applies to UAI files only"):
        read_network(path, format="net", names=net)


def test_uai_names_come_from_the_sidecar_or_the_argument(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    path = tmp_path / "asia.uai.gz"
    write_network(net, path)
    sidecar = names_path(path)
    assert sidecar.name == "asia.uai.names.json" and sidecar.is_file()
    assert read_network(path) == net
    sidecar.unlink()
    anonymous = read_network(path)
    assert anonymous.variables[:2] == ("var_0", "var_1")
    assert anonymous.states["var_0"] == ("0", "1")
    assert [anonymous.cpt(f"var_{i}").tolist() for i in range(8)] == [
        net.cpt(v).tolist() for v in net.variables
    ]
    assert read_network(path, names=net) == net
    assert read_network(path, names=[(v, net.states[v]) for v in net.variables]) == net
    write_network(anonymous, tmp_path / "anon.uai")
    assert not names_path(tmp_path / "anon.uai").exists()  # default names: no sidecar
    alarm = bnlab.load_example("alarm")
    with pytest.raises(ParseError, match="the names given do not fit the file"):
        read_network(path, names=alarm)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ParseError, match="not a UAI names file"):
        read_network(path, names=bad)


def test_uai_reads_the_specification_example_layout() -> None:
    """The UAI specification's layout: the child is last in the scope and varies fastest."""
    from bnlab.io.uai import parse_uai

    text = "BAYES\n2\n2 3\n2\n1 0\n2 0 1\n2\n0.2 0.8\n6\n0.1 0.2 0.7\n0.5 0.25 0.25\n"
    net = parse_uai(text, names=[("A", ["a0", "a1"]), ("B", ["b0", "b1", "b2"])])
    np.testing.assert_array_equal(net.cpt("B"), [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])


def test_pyagrum_files_with_comments_and_dtd_are_read(tmp_path: Path) -> None:
    """pyAgrum writes '# name' comments in UAI scopes and a DOCTYPE in XMLBIF."""
    uai = tmp_path / "c.uai"
    uai.write_text("BAYES\n1\n2\n1\n1 0   # A\n\n2\n  0.25 0.75\n")
    assert read_network(uai).cpt("var_0").tolist() == [0.25, 0.75]
    xml = tmp_path / "d.xml"
    xml.write_text(
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE BIF [\n'
        '<!ELEMENT BIF ( NETWORK )*>\n]>\n<BIF VERSION="0.3"><NETWORK>\n'
        '<VARIABLE TYPE="nature"><NAME>caf\u00e9</NAME><OUTCOME>a</OUTCOME><OUTCOME>b</OUTCOME>'
        "</VARIABLE>\n<DEFINITION><FOR>caf\u00e9</FOR><TABLE>0.5 0.5</TABLE></DEFINITION>\n"
        "</NETWORK></BIF>\n",
        encoding="utf-8",
    )
    assert read_network(xml).variables == ("caf\u00e9",)


def test_convert_function_and_command(tmp_path: Path) -> None:
    source = TEST_NETWORKS / "alarm.bif.gz"
    out = tmp_path / "alarm.xdsl"
    net = convert(source, out)
    assert read_network(out) == net == read_network(source)
    run = subprocess.run(
        [sys.executable, "-m", "bnlab.cli", "convert", str(out), str(tmp_path / "alarm.net")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert read_network(tmp_path / "alarm.net") == net
    bad = Path(__file__).resolve().parent / "data" / "bad" / "net" / "utility_node.net"
    run = subprocess.run(
        [sys.executable, "-m", "bnlab.cli", "convert", str(bad), str(tmp_path / "u.bif")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "'Cost' is a utility node" in run.stderr and not (tmp_path / "u.bif").exists()
