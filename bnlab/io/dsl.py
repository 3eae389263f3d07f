"""SMILE DSL (``.dsl``), GeNIe's older text format: discrete chance nodes.

Layout read and written::

    net NAME
    {
      HEADER = { ID = NAME; NAME = "title"; };
      node B
      {
        TYPE = CPT;
        HEADER = { ID = B; NAME = "B"; };
        PARENTS = (A, C);
        DEFINITION = { NAMESTATES = (lo, hi); PROBABILITIES = (0.1, 0.9, ...); };
      };
    };

``PROBABILITIES`` lists the parents in order, the last fastest, and the node's states
fastest of all: bnlab's ``(*parent cards, card)`` layout in C order. ``//`` and ``/* */``
start comments. ``TYPE = CPT`` (and ``TRUTHTABLE``) nodes are read; ``LIST`` (decision),
``TABLE`` / ``MAU`` (utility), ``NOISY_MAX`` and others are not. Ids and states must be
identifiers: other names are escaped (:mod:`bnlab.io.names`).
"""

from __future__ import annotations

from bnlab.io.assemble import OnUnsupported, RawNode, assemble, parse_numbers
from bnlab.io.lexer import Token, TokenStream, flatten, tokenize
from bnlab.io.names import escape_identifier, unescape
from bnlab.network import BayesNet

_KINDS = {
    "CPT": "chance",
    "TRUTHTABLE": "chance",
    "LIST": "decision",
    "TABLE": "utility",
    "MAU": "utility",
    "NOISY_MAX": "noisy-MAX",
    "NOISY_ADDER": "noisy-adder",
}

Block = dict[str, tuple[object, int]]


def _text(item: object) -> str:
    return item if type(item) is str else item.text if isinstance(item, Token) else str(item)


def _block(ts: TokenStream, owner: str, nodes: list[RawNode] | None = None) -> Block:
    """Read ``{ KEY = value; ... }`` (values may be blocks); ``node`` entries go to ``nodes``."""
    ts.expect("{", f"to open {owner}")
    entries: Block = {}
    while not (ts.peek().kind == "punct" and ts.peek().text == "}"):
        key = ts.name(f"(a KEY = value; entry) in {owner}")
        if key.text == "node" and nodes is not None:
            nodes.append(_node(ts, key))
            continue
        ts.expect("=", f"after {key.text!r} in {owner}")
        if ts.peek().kind == "punct" and ts.peek().text == "{":
            entries[key.text.upper()] = (_block(ts, f"{key.text} in {owner}"), key.line)
        else:
            entries[key.text.upper()] = (ts.value(), key.line)
        ts.expect(";", f"after the value of {key.text!r} in {owner}")
    ts.next()
    return entries


def _node(ts: TokenStream, start: Token) -> RawNode:
    name = unescape(ts.name("after 'node'").text)
    body = _block(ts, f"node {name!r}")
    if ts.peek().text == ";":
        ts.next()
    type_name = _text(body.get("TYPE", ("CPT", start.line))[0]).upper()
    kind = _KINDS.get(type_name, type_name.lower())
    definition = body.get("DEFINITION", ({}, start.line))[0]
    if not isinstance(definition, dict):
        raise ts.error(f"DEFINITION of node {name!r} is not a {{ ... }} block", start)
    states = [unescape(_text(s)) for s in flatten(definition.get("NAMESTATES", ([], 0))[0])]
    parents = [unescape(_text(p)) for p in flatten(body.get("PARENTS", ([], 0))[0])]
    if kind != "chance":
        return RawNode(name, kind, states, parents, None, start.line)
    if not states:
        raise ts.error(f"node {name!r} has no NAMESTATES = (...); list its states", start)
    if "PROBABILITIES" not in definition:
        raise ts.error(f"node {name!r} has no PROBABILITIES = (...); add its table", start)
    probs, line = definition["PROBABILITIES"]
    values = parse_numbers(
        [_text(x) for x in flatten(probs)], ts.path, line, f"the probabilities of {name!r}"
    )
    return RawNode(name, "chance", states, parents, values, start.line)


def parse_dsl(
    text: str, path: str = "<string>", on_unsupported: OnUnsupported = "error"
) -> BayesNet:
    """Read SMILE DSL text.

    Raises
    ------
    ParseError
        A syntax error (with the line), a node without states or table.
    UnsupportedNodeError
        Decision, utility or noisy-MAX nodes (unless ``on_unsupported="drop"``).
    """
    ts = TokenStream(tokenize(text, path, r"//[^\n]*|/\*.*?\*/"), path, "SMILE DSL")
    ts.expect("net", "at the start of a DSL file")
    ts.name("after 'net'")
    nodes: list[RawNode] = []
    _block(ts, "the net block", nodes)
    if ts.peek().text == ";":
        ts.next()
    if ts.peek().kind != "eof":
        raise ts.error(f"unexpected {ts.peek().text!r} after the net block; remove it")
    return assemble(nodes, path, on_unsupported)


def format_dsl(net: BayesNet, name: str = "bnlab") -> str:
    """Write a network as SMILE DSL text (numbers at ``repr`` precision: exact round trip)."""
    ident = {v: escape_identifier(v) for v in net.variables}
    title = escape_identifier(name)
    out = [f'net {title}\n{{\n\tHEADER =\n\t{{\n\t\tID = {title};\n\t\tNAME = "{title}";\n\t}};\n']
    for v in net.variables:
        parents = ", ".join(ident[p] for p in net.parents[v])
        states = ", ".join(escape_identifier(s) for s in net.states[v])
        values = ", ".join(map(repr, net.cpt(v).ravel().tolist()))
        out.append(
            f"\n\tnode {ident[v]}\n\t{{\n\t\tTYPE = CPT;\n"
            f'\t\tHEADER =\n\t\t{{\n\t\t\tID = {ident[v]};\n\t\t\tNAME = "{ident[v]}";\n\t\t}};\n'
            f"\t\tPARENTS = ({parents});\n"
            f"\t\tDEFINITION =\n\t\t{{\n\t\t\tNAMESTATES = ({states});\n"
            f"\t\t\tPROBABILITIES = ({values});\n\t\t}};\n\t}};\n"
        )
    out.append("};\n")
    return "".join(out)
