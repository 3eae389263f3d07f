"""GeNIe / SMILE XDSL (``.xdsl``): discrete chance nodes (``cpt``, ``deterministic``).

Layout read and written::

    <smile version="1.0" id="net"><nodes>
      <cpt id="B"><state id="lo"/><state id="hi"/><parents>A C</parents>
        <probabilities>0.1 0.9 ...</probabilities></cpt>
      <deterministic id="D"><state .../><parents>A</parents>
        <resultingstates>lo hi</resultingstates></deterministic>
    </nodes><extensions><genie ...><node id="B"><name>B</name>...</node></genie></extensions>
    </smile>

``probabilities`` lists the parents in order, the last fastest, and the node's states
fastest of all: bnlab's ``(*parent cards, card)`` layout in C order (SMILE's convention, as
pgmpy reads it). A ``deterministic`` node becomes a 0/1 table. ``decision``, ``utility``,
``mau``, ``noisymax``/``noisyadder`` and ``equation`` (continuous) nodes are not read. Ids
must be identifiers: other names are escaped (:mod:`bnlab.io.names`); the genie extension
keeps each variable's own name for GeNIe to show.
"""

from __future__ import annotations

from bnlab.errors import ParseError
from bnlab.io.assemble import OnUnsupported, RawNode, assemble, parse_numbers
from bnlab.io.names import escape_identifier, unescape
from bnlab.io.safexml import Element, parse_xml, xml_text
from bnlab.network import BayesNet

_OTHER_KINDS = {
    "decision": "decision",
    "utility": "utility",
    "mau": "utility",
    "noisymax": "noisy-MAX",
    "noisyadder": "noisy-adder",
    "equation": "continuous",
}


def _node(el: Element, path: str) -> RawNode:
    ident = el.attrib.get("id")
    if not ident:
        raise ParseError(
            f'<{el.tag}> without an id attribute; give it id="NAME"', path=path, line=el.line
        )
    name = unescape(ident)
    states = [unescape(s.attrib.get("id", "")) for s in el.findall("state")]
    if el.tag in _OTHER_KINDS:
        return RawNode(name, _OTHER_KINDS[el.tag], states, [], None, el.line)
    if el.tag not in ("cpt", "deterministic"):
        return RawNode(name, el.tag, states, [], None, el.line)
    if not states or "" in states:
        raise ParseError(
            f"node {name!r} has no states or a <state> without an id; list them as "
            '<state id="NAME"/>',
            path=path,
            line=el.line,
        )
    parents_el = el.find("parents")
    parents = [unescape(p) for p in parents_el.text.split()] if parents_el is not None else []
    if el.tag == "cpt":
        probs = el.find("probabilities")
        if probs is None:
            raise ParseError(
                f"node {name!r} has no <probabilities>; add its table", path=path, line=el.line
            )
        values = parse_numbers(
            probs.text.split(), path, probs.line, f"the probabilities of {name!r}"
        )
        return RawNode(name, "chance", states, parents, values, el.line)
    result = el.find("resultingstates")
    if result is None:
        raise ParseError(
            f"deterministic node {name!r} has no <resultingstates>; add them",
            path=path,
            line=el.line,
        )
    table: list[float] = []
    for s in result.text.split():
        if unescape(s) not in states:
            raise ParseError(
                f"deterministic node {name!r} results in {s!r}, not one of its states {states}",
                path=path,
                line=result.line,
            )
        table.extend(1.0 if st == unescape(s) else 0.0 for st in states)
    return RawNode(name, "chance", states, parents, table, el.line)


def parse_xdsl(
    text: str, path: str = "<string>", on_unsupported: OnUnsupported = "error"
) -> BayesNet:
    """Read GeNIe XDSL text.

    Raises
    ------
    ParseError
        Malformed XML or a missing element (with the line).
    UnsupportedNodeError
        Decision, utility, noisy-MAX or continuous nodes (unless ``on_unsupported="drop"``).
    """
    root = parse_xml(text, path)
    if root.tag != "smile":
        raise ParseError(
            f"the root element is <{root.tag}>, not <smile>; is this a GeNIe XDSL file?",
            path=path,
            line=root.line,
        )
    nodes_el = root.find("nodes")
    if nodes_el is None:
        raise ParseError(
            "no <nodes> element; add one holding the network's <cpt> nodes",
            path=path,
            line=root.line,
        )
    return assemble([_node(el, path) for el in nodes_el.children], path, on_unsupported)


def format_xdsl(net: BayesNet, name: str = "bnlab") -> str:
    """Write a network as XDSL text (numbers at ``repr`` precision: exact round trip)."""
    ident = {v: escape_identifier(v) for v in net.variables}
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<smile version="1.0" id="{escape_identifier(name)}" numsamples="10000" '
        'discsamples="10000">\n\t<nodes>\n',
    ]
    for v in net.variables:
        out.append(f'\t\t<cpt id="{ident[v]}">\n')
        out.extend(f'\t\t\t<state id="{escape_identifier(s)}" />\n' for s in net.states[v])
        if net.parents[v]:
            out.append(f"\t\t\t<parents>{' '.join(ident[p] for p in net.parents[v])}</parents>\n")
        values = " ".join(map(repr, net.cpt(v).ravel().tolist()))
        out.append(f"\t\t\t<probabilities>{values}</probabilities>\n\t\t</cpt>\n")
    out.append(
        f'\t</nodes>\n\t<extensions>\n\t\t<genie version="1.0" app="bnlab" '
        f'name="{xml_text(name)}">\n'
    )
    for i, v in enumerate(net.variables):
        x, y = 40 + 160 * (i % 8), 40 + 100 * (i // 8)
        out.append(
            f'\t\t\t<node id="{ident[v]}">\n\t\t\t\t<name>{xml_text(v)}</name>\n'
            '\t\t\t\t<interior color="e5f6f7" />\n\t\t\t\t<outline color="000080" />\n'
            '\t\t\t\t<font color="000000" name="Arial" size="8" />\n'
            f"\t\t\t\t<position>{x} {y} {x + 120} {y + 40}</position>\n\t\t\t</node>\n"
        )
    out.append("\t\t</genie>\n\t</extensions>\n</smile>\n")
    return "".join(out)
