r"""Hugin NET (``.net``): discrete chance nodes and their potentials.

Layout read and written::

    net { node_size = (80 40); }
    node A { label = "A"; states = ("yes" "no"); }
    potential (B | A C) { data = (((0.1 0.9) (0.2 0.8)) ...); }

``data`` lists the parents in the potential's order, the last fastest, and the child's
states fastest of all: bnlab's ``(*parent cards, card)`` layout in C order. ``%`` starts a
comment. ``class NAME { ... }`` (Hugin's object-oriented form) is read like ``net``.
``continuous node``, ``decision`` and ``utility`` (and ``function``) nodes are not part of a
discrete Bayesian network. Node names must be identifiers: others are escaped
(:mod:`bnlab.io.names`); states are quoted strings, with ``"`` and ``\`` escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from bnlab.io.assemble import OnUnsupported, RawNode, assemble, parse_numbers
from bnlab.io.lexer import Token, TokenStream, flatten, tokenize
from bnlab.io.names import escape_identifier, escape_text, unescape
from bnlab.network import BayesNet

_KINDS = {"node": "chance", "decision": "decision", "utility": "utility", "function": "function"}


def _text(item: object) -> str:
    return item if type(item) is str else item.text if isinstance(item, Token) else str(item)


def _attributes(ts: TokenStream, owner: str) -> dict[str, tuple[object, int]]:
    """Read ``{ key = value; ... }``: key -> (value, line)."""
    ts.expect("{", f"after {owner}")
    attrs: dict[str, tuple[object, int]] = {}
    while not (ts.peek().kind == "punct" and ts.peek().text == "}"):
        key = ts.name(f"(an attribute such as states = (...);) in {owner}")
        ts.expect("=", f"after {key.text!r} in {owner}")
        attrs[key.text] = (ts.value(), key.line)
        ts.expect(";", f"after the value of {key.text!r} in {owner}")
    ts.next()
    return attrs


def parse_net(
    text: str, path: str = "<string>", on_unsupported: OnUnsupported = "error"
) -> BayesNet:
    """Read Hugin NET text.

    Raises
    ------
    ParseError
        A syntax error (with the line), a potential for an undeclared node, a bad number.
    UnsupportedNodeError
        A continuous, decision, utility or function node (unless ``on_unsupported="drop"``).
    """
    ts = TokenStream(tokenize(text, path, r"%[^\n]*"), path, "Hugin NET")
    nodes: dict[str, RawNode] = {}
    closing = False
    while ts.peek().kind != "eof":
        tok = ts.next()
        word = tok.text
        if word == "}" and closing:
            closing = False
            continue
        if word == "net":
            _attributes(ts, "net")
        elif word == "class":
            ts.name("after 'class'")
            ts.expect("{", "after the class name")
            closing = True
        elif word in ("discrete", "continuous") or word in _KINDS:
            flavour = word
            if word in ("discrete", "continuous"):
                tok2 = ts.next()
                if tok2.text not in _KINDS:
                    raise ts.error(
                        f"expected node, decision or utility after {word!r}, found {tok2.text!r}",
                        tok2,
                    )
                word = tok2.text
            name_tok = ts.name(f"after {word!r}")
            name = unescape(name_tok.text)
            attrs = _attributes(ts, f"node {name!r}")
            kind = "continuous" if flavour == "continuous" else _KINDS[word]
            states_value = attrs.get("states", ([], tok.line))[0]
            states = [unescape(_text(s)) for s in flatten(states_value)]
            if kind == "chance" and not states:
                raise ts.error(f'node {name!r} has no states; add states = ("s1" "s2");', tok)
            if name in nodes:
                raise ts.error(f"node {name!r} is declared twice; give each node once", tok)
            nodes[name] = RawNode(name, kind, states, [], None, tok.line)
        elif word == "potential":
            _potential(ts, nodes, tok)
        else:
            raise ts.error(
                f"unexpected {word!r}; a NET file holds net {{...}}, node NAME {{...}} and "
                "potential (CHILD | PARENTS) {...} blocks; correct or remove it",
                tok,
            )
    if closing:
        raise ts.error("the class block is never closed; add the '}'")
    return assemble(list(nodes.values()), path, on_unsupported)


def _potential(ts: TokenStream, nodes: dict[str, RawNode], start: Token) -> None:
    ts.expect("(", "after 'potential'")
    child_tok = ts.name("after 'potential ('")
    child = unescape(child_tok.text)
    parents: list[str] = []
    if ts.peek().text == "|":
        ts.next()
        while ts.peek().text != ")" and ts.peek().kind != "eof":
            parents.append(unescape(ts.name("among the parents").text))
    elif ts.peek().text != ")":
        raise ts.error(
            f"potential ({child} ...) has several nodes before '|'; bnlab reads one child per "
            "potential (a conditional table). Write it as potential (CHILD | PARENTS)"
        )
    ts.expect(")", "to close the potential's head")
    attrs = _attributes(ts, f"potential ({child})")
    if child not in nodes:
        raise ts.error(f"potential for {child!r}, which no node declares; declare it", start)
    node = nodes[child]
    if node.kind != "chance":
        return  # a utility table or a policy: dropped with its node
    if node.values is not None:
        raise ts.error(f"node {child!r} has two potentials; keep one", start)
    if "data" not in attrs:
        raise ts.error(f"potential ({child}) has no data = (...); add the table", start)
    data, line = attrs["data"]
    node.parents = parents
    node.line = start.line
    node.values = parse_numbers(
        [_text(x) for x in flatten(data)], ts.path, line, f"the data of {child!r}"
    )


def _state(name: str) -> str:
    return escape_text(name, lambda ch: ch in '"\\' or ord(ch) < 32 or ord(ch) == 127)


def _nested(values: Sequence[object]) -> str:
    if values and isinstance(values[0], list):
        return "(" + " ".join(_nested(v) for v in values) + ")"  # type: ignore[arg-type]
    return "(" + " ".join(map(repr, values)) + ")"


def format_net(net: BayesNet) -> str:
    """Write a network as Hugin NET text (numbers at ``repr`` precision: exact round trip)."""
    out = ["net\n{\n    node_size = (80 40);\n}\n"]
    ident = {v: escape_identifier(v) for v in net.variables}
    for v in net.variables:
        states = " ".join(f'"{_state(s)}"' for s in net.states[v])
        label = _state(v)
        out.append(f'\nnode {ident[v]}\n{{\n    label = "{label}";\n    states = ({states});\n}}\n')
    for v in net.variables:
        ps = " ".join(ident[p] for p in net.parents[v])
        head = f"{ident[v]} | {ps}" if ps else ident[v]
        data = _nested(net.cpt(v).tolist())
        out.append(f"\npotential ({head})\n{{\n    data = {data};\n}}\n")
    return "".join(out)
