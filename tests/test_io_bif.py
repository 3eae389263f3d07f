"""BIF reader/writer: the 24 bnlearn networks round-trip; malformed files name their line."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_NETWORKS

import bnlab
from bnlab.errors import BNError, CPTError, CycleError, ParseError
from bnlab.io import format_bif, parse_bif, read_network, write_network
from bnlab.network import CPT_SUM_ATOL, BayesNet

ALL_NETWORKS = sorted(p.name.removesuffix(".bif.gz") for p in TEST_NETWORKS.glob("*.bif.gz"))

# (number of variables, number of edges) as listed by the bnlearn repository
SIZES = {
    "asia": (8, 8),
    "alarm": (37, 46),
    "child": (20, 25),
    "insurance": (27, 52),
    "hailfinder": (56, 66),
    "hepar2": (70, 123),
    "win95pts": (76, 112),
    "pathfinder": (109, 195),
    "andes": (223, 338),
    "munin": (1041, 1397),
}


def assert_same_network(a: BayesNet, b: BayesNet) -> None:
    assert a.structure == b.structure
    for v in a.variables:
        np.testing.assert_allclose(a.cpt(v), b.cpt(v), rtol=0, atol=1e-12)


def test_all_24_networks_are_shipped_as_test_data() -> None:
    assert len(ALL_NETWORKS) == 24


@pytest.mark.parametrize("name", ALL_NETWORKS)
def test_round_trip_every_format(name: str, tmp_path: Path) -> None:
    net = read_network(TEST_NETWORKS / f"{name}.bif.gz")
    if name in SIZES:
        assert (len(net.variables), len(net.edges)) == SIZES[name]
    worst = max(float(np.abs(c.sum(axis=-1) - 1).max()) for c in net.cpts.values())
    assert worst < 1e-6 < CPT_SUM_ATOL  # the files round to ~7 digits; max seen 3e-7 (barley)
    for suffix in (".bif", ".bif.gz", ".json"):
        out = tmp_path / f"{name}{suffix}"
        write_network(net, out)
        back = read_network(out)
        assert_same_network(net, back)
        assert back == net  # repr-precision numbers: the round trip is exact


ASIA_BY_HAND = {
    # from the bnlearn file text: probability ( dysp | bronc, either ), ( either | lung, tub )
    ("dysp", ("no", "yes")): [0.7, 0.3],
    ("dysp", ("yes", "no")): [0.8, 0.2],
    ("either", ("no", "no")): [0.0, 1.0],
    ("tub", ("yes",)): [0.05, 0.95],
    ("asia", ()): [0.01, 0.99],
}


def test_asia_values_by_label() -> None:
    net = read_network(TEST_NETWORKS / "asia.bif.gz")
    assert net.parents["dysp"] == ("bronc", "either")
    assert net.states["asia"] == ("yes", "no")
    for (v, labels), row in ASIA_BY_HAND.items():
        idx = tuple(net.states[p].index(s) for p, s in zip(net.parents[v], labels, strict=True))
        np.testing.assert_array_equal(net.cpt(v)[idx], row)


ROWS_BIF = """
network test { property author = me ; }
// a comment
variable A { type discrete [ 2 ] { a0, a1 }; property position = (1, 2); }
variable B { type discrete [ 3 ] { b0, b1, b2 }; }
/* a block
   comment */
variable C { type discrete [ 2 ] { c0, c1 }; }
probability ( A ) { table 0.3, 0.7; }
probability ( B ) { table 0.2 0.3 0.5; }
probability ( C | A, B ) {
  (a1, b2) 0.6, 0.4;
  (a0, b0) 0.1, 0.9;
  (a0, b1) 0.2, 0.8;  // trailing comment
  (a0, b2) 0.3, 0.7;
  (a1, b0) 0.4, /* inline */ 0.6;
  (a1, b1) 0.5, 0.5;
}
"""
# a table lists state c0 for every (A, B) configuration (B fastest), then state c1
TABLE_BIF = ROWS_BIF.split("probability ( C")[0] + (
    "probability ( C | A, B ) {\n"
    "  table 0.1, 0.2, 0.3, 0.4, 0.5, 0.6,\n"
    "        0.9, 0.8, 0.7, 0.6, 0.5, 0.4;\n}\n"
)
EXPECTED_C = np.array([[[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]], [[0.4, 0.6], [0.5, 0.5], [0.6, 0.4]]])


def test_rows_in_any_order_comments_and_properties() -> None:
    net = parse_bif(ROWS_BIF)
    np.testing.assert_array_equal(net.cpt("C"), EXPECTED_C)
    np.testing.assert_array_equal(net.cpt("B"), [0.2, 0.3, 0.5])


def test_table_is_parent_row_major_with_child_fastest() -> None:
    net = parse_bif(TABLE_BIF)
    np.testing.assert_array_equal(net.cpt("C"), EXPECTED_C)


def test_table_order_agrees_with_pyagrum(tmp_path: Path) -> None:
    gum = pytest.importorskip("pyagrum")
    path = tmp_path / "t.bif"
    path.write_text(TABLE_BIF)
    bn = gum.loadBN(str(path))
    net = read_network(path)
    for a, sa in enumerate(("a0", "a1")):
        for b, sb in enumerate(("b0", "b1", "b2")):
            for c, sc in enumerate(("c0", "c1")):
                theirs = bn.cpt("C")[{"A": sa, "B": sb, "C": sc}]
                assert net.cpt("C")[a, b, c] == pytest.approx(theirs, abs=1e-7)


def test_table_order_agrees_with_pgmpy(tmp_path: Path) -> None:
    readwrite = pytest.importorskip("pgmpy.readwrite")
    path = tmp_path / "t.bif"
    path.write_text(TABLE_BIF)
    cpd = readwrite.BIFReader(str(path)).get_model().get_cpds("C")
    assert cpd.variables == ["C", "A", "B"]
    theirs = np.moveaxis(cpd.get_values().reshape(2, 2, 3), 0, -1)  # (C, A*B) -> (A, B, C)
    np.testing.assert_allclose(read_network(path).cpt("C"), theirs, rtol=0, atol=1e-12)


def test_default_line_fills_missing_rows() -> None:
    text = ROWS_BIF.replace("  (a1, b1) 0.5, 0.5;\n", "  default 0.5, 0.5;\n")
    np.testing.assert_array_equal(parse_bif(text).cpt("C"), EXPECTED_C)


def test_quoted_names_and_odd_state_characters() -> None:
    text = (
        'variable "X" { type discrete [ 3 ] { "<5", 5-12, Asy/Patch }; }\n'
        "probability ( X ) { table 0.2, 0.3, 0.5; }\n"
    )
    net = parse_bif(text)
    assert net.states["X"] == ("<5", "5-12", "Asy/Patch")


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


MALFORMED = [
    # (id, text transform, needle whose line is expected, message fragment)
    (
        "unknown variable in a probability block",
        lambda t: t.replace("probability ( B )", "probability ( Z )"),
        "probability ( Z )",
        "undeclared variable 'Z'",
    ),
    (
        "unknown parent",
        lambda t: t.replace("( C | A, B )", "( C | A, Q )"),
        "( C | A, Q )",
        "unknown parent variable 'Q'",
    ),
    (
        "wrong number of values in a row",
        lambda t: t.replace("(a0, b1) 0.2, 0.8;", "(a0, b1) 0.2, 0.7, 0.1;"),
        "(a0, b1)",
        "wrong number of values",
    ),
    (
        "wrong number of values in a table",
        lambda t: t.replace("table 0.2 0.3 0.5;", "table 0.2 0.8;"),
        "table 0.2 0.8",
        "expected 3",
    ),
    (
        "non-numeric value",
        lambda t: t.replace("(a0, b2) 0.3, 0.7;", "(a0, b2) 0.3, x0.7;"),
        "(a0, b2)",
        "non-numeric value 'x0.7'",
    ),
    (
        "non-numeric value after a comment",
        lambda t: t.replace("/* inline */ 0.6;", "/* inline */ zero;"),
        "/* inline */",
        "non-numeric value 'zero'",
    ),
    (
        "duplicated probability block",
        lambda t: t + "probability ( A ) { table 0.5, 0.5; }\n",
        "probability ( A ) { table 0.5",
        "duplicated probability block for 'A'",
    ),
    (
        "missing probability block",
        lambda t: t.replace("probability ( B ) { table 0.2 0.3 0.5; }\n", ""),
        "variable B",
        "'B' has no probability block",
    ),
    (
        "unknown parent state",
        lambda t: t.replace("(a1, b1) 0.5, 0.5;", "(a1, b9) 0.5, 0.5;"),
        "(a1, b9)",
        "unknown state 'b9' of parent 'B'",
    ),
    (
        "row given twice",
        lambda t: t.replace("(a1, b1) 0.5, 0.5;", "(a1, b0) 0.5, 0.5;"),
        "(a1, b0) 0.5",
        "given twice",
    ),
    (
        "missing row",
        lambda t: t.replace("  (a1, b1) 0.5, 0.5;\n", ""),
        "probability ( C",
        "lacks the row (a1, b1)",
    ),
    (
        "state count differs from the list",
        lambda t: t.replace("[ 3 ] { b0, b1, b2 }", "[ 4 ] { b0, b1, b2 }"),
        "[ 4 ]",
        "declares [ 4 ] states but lists 3",
    ),
    (
        "variable declared twice",
        lambda t: t.replace("variable C {", "variable A {"),
        "variable A { type discrete [ 2 ] { c0",
        "'A' is declared twice",
    ),
    (
        "missing semicolon after values",
        lambda t: t.replace("(a0, b0) 0.1, 0.9;", "(a0, b0) 0.1, 0.9"),
        "(a0, b1)",
        "expected a number or ';'",
    ),
    (
        "unterminated comment",
        lambda t: t + "/* open\n",
        "/* open",
        "unterminated comment",
    ),
    (
        "garbage at top level",
        lambda t: t.replace("// a comment", "varible D {}"),
        "varible",
        "expected 'network', 'variable' or 'probability'",
    ),
    (
        "table and rows together",
        lambda t: t.replace("(a1, b1) 0.5, 0.5;", "table 0.1, 0.9;"),
        "table 0.1, 0.9",
        "gives its values twice",
    ),
]


@pytest.mark.parametrize(
    ("transform", "needle", "fragment"),
    [m[1:] for m in MALFORMED],
    ids=[m[0] for m in MALFORMED],
)
def test_malformed_file_names_file_and_line(
    transform: Callable[[str], str], needle: str, fragment: str, tmp_path: Path
) -> None:
    text = transform(ROWS_BIF)
    assert text != ROWS_BIF
    path = tmp_path / "bad.bif"
    path.write_text(text)
    with pytest.raises(ParseError, match=re.escape(fragment)) as info:
        read_network(path)
    line = _line_of(text, needle)
    assert info.value.line == line
    assert info.value.path == str(path)
    assert f"bad.bif, line {line}:" in str(info.value)


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.9, 0.999])
def test_truncated_file(cut: float, tmp_path: Path) -> None:
    text = gzip.decompress((TEST_NETWORKS / "alarm.bif.gz").read_bytes()).decode()
    text = text[: int(len(text) * cut)]
    path = tmp_path / "alarm.bif"
    path.write_text(text)
    with pytest.raises(ParseError, match=r"alarm\.bif, line \d+: ") as info:
        read_network(path)
    # every truncation ends mid-block: the parser reaches the end of the file first,
    # or it finds a block cut in the middle of a row
    assert any(s in str(info.value) for s in ("truncated", "lacks", "no probability block"))
    assert info.value.line is not None and info.value.line <= text.count("\n") + 1


def test_truncated_gzip(tmp_path: Path) -> None:
    data = (TEST_NETWORKS / "alarm.bif.gz").read_bytes()
    path = tmp_path / "alarm.bif.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match="not a valid gzip file"):
        read_network(path)


def test_cpt_not_summing_to_one_names_file_and_block_line(tmp_path: Path) -> None:
    text = ROWS_BIF.replace("(a0, b1) 0.2, 0.8;", "(a0, b1) 0.2, 0.9;")
    path = tmp_path / "bad.bif"
    path.write_text(text)
    with pytest.raises(CPTError, match=r"bad\.bif, line (\d+): CPT of 'C'") as info:
        read_network(path)
    assert f"line {_line_of(text, 'probability ( C')}:" in str(info.value)


def test_cycle_carries_the_file_name(tmp_path: Path) -> None:
    text = ROWS_BIF.replace("probability ( A ) { table 0.3, 0.7; }", "")
    text += "probability ( A | C ) { (c0) 0.3, 0.7; (c1) 0.5, 0.5; }\n"
    path = tmp_path / "cyc.bif"
    path.write_text(text)
    with pytest.raises(CycleError, match=r"cyc\.bif: the graph has a directed cycle") as info:
        read_network(path)
    assert set(info.value.cycle) == {"A", "C"}


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"unknown network file suffix.*\.bif, \.json, \.xml"):
        read_network(tmp_path / "net.xlsx")
    with pytest.raises(ParseError, match="no such file"):
        read_network(tmp_path / "absent.bif")
    net = parse_bif(ROWS_BIF)
    with pytest.raises(BNError, match="unknown network file suffix"):
        write_network(net, tmp_path / "net.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_and_leaves_nothing_on_error(tmp_path: Path) -> None:
    net = parse_bif(ROWS_BIF)
    path = tmp_path / "net.bif"
    write_network(net, path)
    before = path.read_bytes()
    bad = BayesNet(  # BIF escapes most names (issue 25), but not beyond U+FFFF
        variables=["smile"], states={"smile": ["a\U0001f600", "b"]}, cpts={"smile": [0.5, 0.5]}
    )
    with pytest.raises(BNError, match="cannot escape the character"):
        write_network(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.bif"]  # no temp file left
    write_network(bad, tmp_path / "ok.json")  # JSON takes any name
    assert bnlab.read_network(tmp_path / "ok.json") == bad


def test_gz_output_is_deterministic(tmp_path: Path) -> None:
    net = read_network(TEST_NETWORKS / "asia.bif.gz")
    write_network(net, tmp_path / "a.bif.gz")
    write_network(net, tmp_path / "b.bif.gz")
    assert (tmp_path / "a.bif.gz").read_bytes() == (tmp_path / "b.bif.gz").read_bytes()


def test_format_bif_is_readable_text() -> None:
    net = parse_bif(ROWS_BIF)
    text = format_bif(net)
    assert "probability ( C | A, B ) {\n  (a0, b0) 0.1, 0.9;\n" in text
    assert "variable B {\n  type discrete [ 3 ] { b0, b1, b2 };\n}" in text


def test_write_network_refuses_a_structure(tmp_path: Path) -> None:
    net = parse_bif(ROWS_BIF)
    with pytest.raises(BNError, match="write_structure"):
        write_network(net.structure, tmp_path / "s.json")  # type: ignore[arg-type]  # on purpose


def _random_network(rng: np.random.Generator, n: int) -> BayesNet:
    alphabet = list("abcXYZ019_-+.<>=/")
    names: list[str] = []
    while len(names) < n:
        name = "v" + "".join(rng.choice(alphabet, size=int(rng.integers(1, 6))))
        if name not in names and "//" not in name and "/*" not in name:
            names.append(name)
    states = {}
    for v in names:
        k = int(rng.integers(1, 5))
        states[v] = [f"{v[:2]}{i}{rng.choice(alphabet)}" for i in range(k)]
    parents = {
        v: [
            names[j]
            for j in sorted(rng.choice(i, size=min(i, int(rng.integers(0, 4))), replace=False))
        ]
        for i, v in enumerate(names)
    }
    for v in names:
        rng.shuffle(parents[v])  # parent order need not follow the variable order
    cpts = {}
    for v in names:
        shape = (*[len(states[p]) for p in parents[v]], len(states[v]))
        table = rng.dirichlet(np.full(shape[-1], 0.5), size=shape[:-1])
        table[rng.random(shape[:-1]) < 0.1] = np.eye(shape[-1])[0]  # some exact 0/1 rows
        cpts[v] = table
    return BayesNet(names, states, parents, cpts)


@pytest.mark.parametrize("seed", range(20))
def test_random_networks_round_trip_exactly(seed: int, tmp_path: Path) -> None:
    net = _random_network(np.random.default_rng(seed), n=int(3 + seed % 7))
    assert parse_bif(format_bif(net)) == net
    for suffix in (".bif.gz", ".json"):
        write_network(net, tmp_path / f"n{suffix}")
        assert read_network(tmp_path / f"n{suffix}") == net
