"""A hardened XML reader: no entity declarations, no external entities, line numbers kept.

Built on expat directly (the standard library's parser) rather than ``xml.etree``, because
the tree it builds keeps each element's line for error messages. A document type
declaration is allowed (pyAgrum's XMLBIF files carry an internal DTD), but any ``<!ENTITY``
declaration, internal or external, is refused before it can expand (billion laughs,
external entity injection), and external DTDs are never fetched. Writers escape text with
:func:`xml_text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat

from bnlab.errors import ParseError

#: characters XML 1.0 cannot hold at all (escaped by the writers, as ``_xHHHH_``)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Element:
    """An XML element: tag, attributes, text (stripped), children and the line it starts on."""

    tag: str
    attrib: dict[str, str]
    line: int
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> Element | None:
        """First child with this tag (case-sensitive), or ``None``."""
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[Element]:
        """All children with this tag, in document order."""
        return [c for c in self.children if c.tag == tag]


class _EntityRefused(Exception):
    pass


def parse_xml(text: str, path: str) -> Element:
    """Parse ``text`` into an :class:`Element` tree, refusing entity declarations.

    Raises
    ------
    ParseError
        Malformed XML (with expat's line and reason), or an entity declaration.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Element] = []
    texts: list[list[str]] = []
    root: list[Element] = []

    def refuse(*_args: object) -> int:
        raise _EntityRefused()

    def start(tag: str, attrib: dict[str, str]) -> None:
        el = Element(tag, dict(attrib), parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(el)
        else:
            root.append(el)
        stack.append(el)
        texts.append([])

    def end(_tag: str) -> None:
        stack.pop().text = "".join(texts.pop()).strip()

    def data(chunk: str) -> None:
        if texts:
            texts[-1].append(chunk)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(strip_declaration(text).encode("utf-8"), True)
    except _EntityRefused:
        raise ParseError(
            "the XML declares an entity (<!ENTITY ...>), which bnlab refuses to expand for "
            "safety; remove the entity declarations and write their text in place",
            path=path,
            line=parser.CurrentLineNumber,
        ) from None
    except expat.ExpatError as err:
        reason = expat.errors.messages[err.code] if err.code else str(err)
        raise ParseError(
            f"not well-formed XML ({reason}, column {err.offset}); fix the markup there "
            "(unclosed tag, stray '<' or '&' not written as &lt; / &amp;)",
            path=path,
            line=err.lineno,
        ) from None
    return root[0]


def strip_declaration(text: str) -> str:
    """Blank out an ``<?xml ... encoding=...?>`` declaration (the text is already decoded).

    Its newlines are kept, so line numbers still match the file.
    """
    return re.sub(
        r"^\ufeff?\s*<\?xml[^>]*\?>", lambda m: "\n" * m.group().count("\n"), text, count=1
    )


def xml_text(value: str) -> str:
    """Escape ``value`` for XML text or a double-quoted attribute."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def xml_illegal(ch: str) -> bool:
    """Whether XML 1.0 cannot hold the character ``ch``."""
    return _XML_ILLEGAL.fullmatch(ch) is not None
