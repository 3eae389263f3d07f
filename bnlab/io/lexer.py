"""A small tokenizer shared by the Hugin NET and SMILE DSL readers (line numbers kept)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bnlab.errors import ParseError

_NUMBER = r"[-+.\d][-+.\deE]*"
# number-like words separated by blanks or commas, ending where a word would end (their
# text is kept: a state may be called 0 or 5-12)
_NUMBERS = rf"{_NUMBER}(?:[\s,]+{_NUMBER})*(?=[\s,;(){{}}\[\]=|]|$)"


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is ``"punct"``, ``"word"``, ``"string"``, ``"numbers"`` or ``"eof"``.

    A ``"numbers"`` token is a run of numbers separated by blanks or commas.
    """

    kind: str
    text: str
    line: int


def tokenize(text: str, path: str, comment: str) -> list[Token]:
    """Split ``text`` into tokens; ``comment`` is the regex of a comment to skip.

    Raises
    ------
    ParseError
        An unterminated string or comment, or a character that starts no token (with the line).
    """
    pattern = re.compile(
        rf"""(?P<ws>\s+)|(?P<comment>{comment})|(?P<numbers>{_NUMBERS})|(?P<punct>[{{}}()=;|,\[\]])
        |(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<word>[^\s{{}}()=;|,\[\]"]+)""",
        re.VERBOSE | re.DOTALL,
    )
    tokens: list[Token] = []
    pos, line, n = 0, 1, len(text)
    while pos < n:
        m = pattern.match(text, pos)
        if m is None:
            raise ParseError(
                'unterminated string or comment; close it (a string ends with " on its line)',
                path=path,
                line=line,
            )
        kind = str(m.lastgroup)
        if kind == "string":
            body = m.group()[1:-1]
            tokens.append(Token("string", re.sub(r"\\(.)", r"\1", body), line))
        elif kind == "numbers":  # a run of numbers, one token (tables are long)
            tokens.append(Token("numbers", m.group(), line))
        elif kind in ("punct", "word"):
            tokens.append(Token(kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    tokens.append(Token("eof", "", line))
    return tokens


class _Run(list[str]):
    """The texts of a run of numbers inside a list (flattened into it)."""


class TokenStream:
    """Tokens read one at a time, with ``expect`` giving a typed error at the right line."""

    def __init__(self, tokens: list[Token], path: str, what: str) -> None:
        self.tokens = tokens
        self.path = path
        self.what = what
        self.pos = 0

    def peek(self) -> Token:
        """The next token, not consumed."""
        return self.tokens[self.pos]

    def next(self) -> Token:
        """Consume and return the next token."""
        tok = self.tokens[self.pos]
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> ParseError:
        """A :class:`ParseError` at ``tok`` (default: the next token)."""
        tok = tok or self.peek()
        return ParseError(message, path=self.path, line=tok.line)

    def expect(self, text: str, context: str) -> Token:
        """Consume a token that must read ``text``."""
        tok = self.next()
        if tok.text != text or tok.kind == "string":
            found = "the end of the file" if tok.kind == "eof" else repr(tok.text)
            raise self.error(
                f"expected {text!r} {context}, found {found}; is a bracket or ';' missing "
                f"before it? (see the {self.what} layout)",
                tok,
            )
        return tok

    def name(self, context: str) -> Token:
        """Consume a name (a bare word or a quoted string)."""
        tok = self.next()
        if tok.kind not in ("word", "string"):
            found = "the end of the file" if tok.kind == "eof" else repr(tok.text)
            raise self.error(f"expected a name {context}, found {found}", tok)
        return tok

    def value(self) -> object:
        """Consume an attribute value: a word, a string, numbers, or a nested ``( ... )`` list.

        A run of numbers inside a list becomes that many texts in the list; alone, a
        single number is returned as its text.
        """
        tok = self.next()
        if tok.text == "(" and tok.kind == "punct":
            items: list[object] = []
            while not (self.peek().kind == "punct" and self.peek().text == ")"):
                if self.peek().kind == "eof":
                    raise self.error("a '(' list is never closed; add the ')'", tok)
                if self.peek().text == "," and self.peek().kind == "punct":
                    self.next()
                    continue
                if self.peek().kind == "numbers":
                    run = self.next()
                    items.append(_Run(re.split(r"[\s,]+", run.text.strip())))
                    continue
                items.append(self.value())
            self.next()
            return items
        if tok.kind == "numbers":
            if re.search(r"[\s,]", tok.text):
                raise self.error(f"expected one value, found a list {tok.text!r}; put it in ( )")
            return tok.text
        if tok.kind in ("word", "string"):
            return tok if tok.kind == "string" else tok.text
        raise self.error(f"expected a value, found {tok.text or 'the end of the file'!r}", tok)

    def skip_block(self) -> None:
        """Skip a balanced ``{ ... }`` block whose ``{`` is next."""
        start = self.expect("{", "to open a block")
        depth = 1
        while depth:
            tok = self.next()
            if tok.kind == "eof":
                raise self.error("a '{' block is never closed; add the '}'", start)
            if tok.kind == "punct":
                depth += {"{": 1, "}": -1}.get(tok.text, 0)


def flatten(value: object) -> list[object]:
    """Flatten nested lists in order."""
    if not isinstance(value, list):
        return [value]
    out: list[object] = []
    for item in value:
        if type(item) is _Run:
            out.extend(item)
        elif isinstance(item, list):
            out.extend(flatten(item))
        else:
            out.append(item)
    return out
