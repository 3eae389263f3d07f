"""The malformed-file catalogue (tests/data/bad/<format>/): each file gets a typed error.

Every file must raise a ``BNError`` subclass (never another exception, never a network)
whose message names the file, the line where one applies, and the fix. The table below
says, per file, the error type, the line and a phrase of the message.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

import bnlab
from bnlab.errors import BNError, CPTError, CycleError, ParseError, UnsupportedNodeError

BAD = Path(__file__).resolve().parent / "data" / "bad"

# file -> (error type, line or None, phrase of the message)
EXPECTED: dict[str, tuple[type[BNError], int | None, str]] = {
    "dsl/bad_number.dsl": (ParseError, 9, "'0.5x' in the probabilities of 'A' is not a number"),
    "dsl/decision.dsl": (UnsupportedNodeError, None, "'Treat' is a decision node .line 3."),
    "dsl/no_net.dsl": (ParseError, 1, "expected 'net' at the start"),
    "dsl/no_states.dsl": (ParseError, 3, "has no NAMESTATES"),
    "dsl/not_gzip.dsl.gz": (ParseError, None, "not a valid gzip file"),
    "dsl/trailing_text.dsl": (ParseError, 9, "unexpected 'extra' after the net block"),
    "dsl/unclosed.dsl": (ParseError, 11, "found the end of the file"),
    "dsl/wrong_count.dsl": (ParseError, 8, "the table of 'B' has 2 numbers, expected 4"),
    "net/bad_number.net": (ParseError, 7, "'half' in the data of 'A' is not a number"),
    "net/continuous_node.net": (UnsupportedNodeError, None, "'Level' is a continuous node"),
    "net/cycle.net": (CycleError, None, "directed cycle: A -> B -> A"),
    "net/missing_potential.net": (ParseError, 5, "node 'B' has no probability table"),
    "net/missing_semicolon.net": (ParseError, 7, "expected ';' after the value of 'states'"),
    "net/potential_for_undeclared.net": (ParseError, 6, "potential for 'B', which no node"),
    "net/short_data.net": (ParseError, 7, "the table of 'B' has 3 numbers, expected 4"),
    "net/stray_word.net": (ParseError, 4, "unexpected 'nodes'"),
    "net/unclosed_node.net": (ParseError, 8, "expected '=' after 'potential' in node 'A'"),
    "net/unterminated_string.net": (ParseError, 6, "unterminated string"),
    "net/utility_node.net": (UnsupportedNodeError, None, "'Cost' is a utility node"),
    "uai/bad_cardinality.uai": (ParseError, 3, "found 'two'"),
    "uai/bad_number.uai": (ParseError, 11, "'x8' in table 1 is not a number"),
    "uai/extra_text.uai": (ParseError, 12, "unexpected '7' after the last table"),
    "uai/function_count.uai": (ParseError, 4, "3 functions for 2 variables"),
    "uai/index_out_of_range.uai": (ParseError, 6, "names variable 5, but there are only 2"),
    "uai/markov.uai": (ParseError, 1, "bnlab reads UAI Bayes networks"),
    "uai/truncated.uai": (ParseError, 11, "the file ends where the 4 numbers of table 1"),
    "uai/two_tables_one_child.uai": (ParseError, 6, "last .child. variable of two functions"),
    "uai/wrong_table_size.uai": (ParseError, 9, "announces 6 numbers"),
    "xdsl/bad_result.xdsl": (ParseError, 7, "results in 'maybe'"),
    "xdsl/decision_and_utility.xdsl": (UnsupportedNodeError, None, "'Cost' is a utility node"),
    "xdsl/entity.xdsl": (ParseError, 2, "declares an entity"),
    "xdsl/equation_node.xdsl": (UnsupportedNodeError, None, "'Level' is a continuous node"),
    "xdsl/no_nodes.xdsl": (ParseError, 2, "no <nodes> element; add one"),
    "xdsl/no_probabilities.xdsl": (ParseError, 4, "has no <probabilities>"),
    "xdsl/short_table.xdsl": (ParseError, 4, "the table of 'A' has 3 numbers, expected 2"),
    "xdsl/unclosed.xdsl": (ParseError, 8, "not well-formed XML .mismatched tag"),
    "xdsl/unknown_parent.xdsl": (ParseError, 4, "has parent 'A', which the file does not"),
    "xmlbif/bad_number.xml": (ParseError, 7, "'zero.5' in the table of 'A' is not a number"),
    "xmlbif/decision_node.xml": (UnsupportedNodeError, None, "'Treat' is a decision node"),
    "xmlbif/empty.xml": (ParseError, 1, "no element found"),
    "xmlbif/entity_bomb.xml": (ParseError, 3, "declares an entity"),
    "xmlbif/external_entity.xml": (ParseError, 2, "declares an entity"),
    "xmlbif/missing_definition.xml": (ParseError, 4, "node 'A' has no probability table"),
    "xmlbif/rows_not_summing.xml": (CPTError, 4, "sums to 1.2, not 1"),
    "xmlbif/short_table.xml": (ParseError, 5, "the table of 'B' has 3 numbers, expected 4"),
    "xmlbif/unclosed_tag.xml": (ParseError, 8, "mismatched tag"),
    "xmlbif/unknown_parent.xml": (ParseError, 4, "has parent 'A', which the file does not"),
    "xmlbif/wrong_root.xml": (ParseError, 2, "the root element is <smile>, not <BIF>"),
}
# each message also says how to fix the file: one of these words appears in it
FIX_WORDS = (
    "add",
    "remove",
    "declare",
    "give",
    "write",
    "fix",
    "close",
    "list",
    "rename",
    "drop",
    "on_unsupported",
    "is this",
    "is a bracket",
    "keep",
    "reverse",
    "normalise",
    "put",
    "truncated",
    "bnlab reads",
    "each variable needs",
    "a count",
    "but there are",
    "configurations",
    "a bayes network has",
    "not compressed",
    "not one of its states",
)


def _catalogue() -> list[str]:
    return sorted(str(p.relative_to(BAD)) for p in BAD.glob("*/*"))


def test_catalogue_is_listed_in_full() -> None:
    assert _catalogue() == sorted(EXPECTED)
    assert {p.split("/")[0] for p in EXPECTED} == {"xmlbif", "net", "uai", "xdsl", "dsl"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_bad_file_gets_a_typed_error_with_file_line_and_fix(name: str) -> None:
    kind, line, phrase = EXPECTED[name]
    path = BAD / name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning instead of an error is a failure too
        with pytest.raises(BNError) as info:
            bnlab.read_network(path)
    err = info.value
    assert type(err) is kind, (type(err), str(err))
    message = str(err)
    assert message.startswith(str(path)), message
    if line is not None:
        assert f"{path}, line {line}:" in message, message
    assert re.search(phrase, message), message
    assert any(w in message.lower() for w in FIX_WORDS), message


def test_unsupported_nodes_can_be_dropped_with_a_warning() -> None:
    with pytest.warns(UserWarning, match=r"dropped 1 node.*Cost \(utility\)"):
        net = bnlab.read_network(BAD / "net" / "utility_node.net", on_unsupported="drop")
    assert net.variables == ("A",)
    with pytest.warns(UserWarning, match="Level"), pytest.raises(ParseError, match="no nodes"):
        bnlab.read_network(BAD / "xdsl" / "equation_node.xdsl", on_unsupported="drop")
    with pytest.raises(BNError, match="on_unsupported must be"):
        bnlab.read_network(BAD / "net" / "utility_node.net", on_unsupported="ignore")  # type: ignore[arg-type]


def test_dropping_a_parent_of_a_chance_node_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.xdsl"
    path.write_text(
        '<smile version="1.0" id="x"><nodes>\n'
        '<decision id="T"><state id="a"/><state id="b"/></decision>\n'
        '<cpt id="Y"><state id="y"/><state id="n"/><parents>T</parents>\n'
        "<probabilities>0.1 0.9 0.2 0.8</probabilities></cpt>\n"
        "</nodes></smile>\n"
    )
    with pytest.warns(UserWarning), pytest.raises(ParseError, match=r"line 3: cannot drop \['T'\]"):
        bnlab.read_network(path, on_unsupported="drop")
