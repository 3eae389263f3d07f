"""XMLBIF 0.3 (``.xml``, ``.xmlbif``, ``.bifxml``): the XML interchange format of Cozman.

Layout::

    <BIF VERSION="0.3"><NETWORK><NAME>...</NAME>
      <VARIABLE TYPE="nature"><NAME>X</NAME><OUTCOME>s1</OUTCOME>...</VARIABLE>
      <DEFINITION><FOR>X</FOR><GIVEN>P1</GIVEN>...<TABLE>v v ...</TABLE></DEFINITION>
    </NETWORK></BIF>

``TABLE`` lists the numbers with the ``GIVEN`` parents in order, the last fastest, and the
child's outcomes fastest of all: bnlab's ``(*parent cards, card)`` layout in C order (as
pyAgrum and pgmpy read and write it). ``TYPE="decision"`` and ``"utility"`` variables are
not part of a Bayesian network. Tags are matched case-insensitively; ``PROBABILITY`` is
read as an older name of ``DEFINITION``.
"""

from __future__ import annotations

from bnlab.errors import ParseError
from bnlab.io.assemble import OnUnsupported, RawNode, assemble, parse_numbers
from bnlab.io.names import escape_text, unescape
from bnlab.io.safexml import Element, parse_xml, xml_illegal, xml_text
from bnlab.network import BayesNet


def _children(el: Element, tag: str) -> list[Element]:
    return [c for c in el.children if c.tag.upper() == tag]


def _one(el: Element, tag: str, path: str) -> Element:
    found = _children(el, tag)
    if len(found) != 1:
        raise ParseError(
            f"<{el.tag}> needs exactly one <{tag}>, found {len(found)}; "
            f"give it one <{tag}>...</{tag}>",
            path=path,
            line=el.line,
        )
    return found[0]


def parse_xmlbif(
    text: str, path: str = "<string>", on_unsupported: OnUnsupported = "error"
) -> BayesNet:
    """Read XMLBIF 0.3 text.

    Raises
    ------
    ParseError
        Malformed XML or a missing element (with the line), an unknown ``FOR`` variable.
    UnsupportedNodeError
        A decision or utility variable (unless ``on_unsupported="drop"``).
    """
    root = parse_xml(text, path)
    if root.tag.upper() != "BIF":
        raise ParseError(
            f"the root element is <{root.tag}>, not <BIF>; is this an XMLBIF file?",
            path=path,
            line=root.line,
        )
    network = _one(root, "NETWORK", path)
    nodes: dict[str, RawNode] = {}
    for var in _children(network, "VARIABLE"):
        name = unescape(_one(var, "NAME", path).text)
        kind = var.attrib.get("TYPE", var.attrib.get("type", "nature")).strip().lower()
        outcomes = [unescape(o.text) for o in _children(var, "OUTCOME")]
        if not outcomes and kind == "nature":
            raise ParseError(
                f"variable {name!r} has no <OUTCOME>; list its states, one <OUTCOME> each",
                path=path,
                line=var.line,
            )
        if name in nodes:
            raise ParseError(
                f"variable {name!r} is declared twice; give each variable once",
                path=path,
                line=var.line,
            )
        nodes[name] = RawNode(
            name, "chance" if kind == "nature" else kind, outcomes, [], None, var.line
        )
    for d in [*_children(network, "DEFINITION"), *_children(network, "PROBABILITY")]:
        name = unescape(_one(d, "FOR", path).text)
        if name not in nodes:
            raise ParseError(
                f"<DEFINITION> for {name!r}, which no <VARIABLE> declares; declare it",
                path=path,
                line=d.line,
            )
        node = nodes[name]
        if node.values is not None:
            raise ParseError(
                f"variable {name!r} has two <DEFINITION>s; keep one", path=path, line=d.line
            )
        table = _one(d, "TABLE", path)
        node.parents = [unescape(g.text) for g in _children(d, "GIVEN")]
        node.values = parse_numbers(
            table.text.replace(",", " ").split(), path, table.line, f"the table of {name!r}"
        )
    return assemble(list(nodes.values()), path, on_unsupported)


def _name(name: str) -> str:
    # XML holds any text but a few control characters; readers strip surrounding blanks
    text = escape_text(name, xml_illegal)
    if text != text.strip():
        head = len(text) - len(text.lstrip())
        tail = len(text.rstrip())
        text = (
            "".join(f"_x{ord(c):04X}_" for c in text[:head])
            + text[head:tail]
            + "".join(f"_x{ord(c):04X}_" for c in text[tail:])
        )
    return xml_text(text)


def format_xmlbif(net: BayesNet, name: str = "bnlab") -> str:
    """Write a network as XMLBIF 0.3 text (numbers at ``repr`` precision: exact round trip)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<BIF VERSION="0.3">\n<NETWORK>\n',
        f"<NAME>{_name(name)}</NAME>\n",
    ]
    for v in net.variables:
        out.append(f'<VARIABLE TYPE="nature">\n\t<NAME>{_name(v)}</NAME>\n')
        out.extend(f"\t<OUTCOME>{_name(s)}</OUTCOME>\n" for s in net.states[v])
        out.append("</VARIABLE>\n")
    for v in net.variables:
        out.append(f"<DEFINITION>\n\t<FOR>{_name(v)}</FOR>\n")
        out.extend(f"\t<GIVEN>{_name(p)}</GIVEN>\n" for p in net.parents[v])
        out.append(f"\t<TABLE>{' '.join(map(repr, net.cpt(v).ravel().tolist()))}</TABLE>\n")
        out.append("</DEFINITION>\n")
    out.append("</NETWORK>\n</BIF>\n")
    return "".join(out)
