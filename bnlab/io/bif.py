"""The BIF (Bayesian Interchange Format) reader, written by hand (the writer: ``bif_writer``).

Grammar accepted (the bnlearn-repository dialect, plus comments and properties)::

    network NAME { property ...; }
    variable NAME { type discrete [ N ] { s1, s2, ... }; property ...; }
    probability ( X | P1, P2 ) {
      (p1, p2) v1, v2, ...;     a row per parent configuration, in any order
      table v1, v2, ...;        or the whole table at once
      default v1, v2, ...;      a row for every configuration not listed
    }

``//`` and ``/* */`` comments are ignored anywhere between tokens. In a ``table`` of a
variable with parents the child's state varies SLOWEST: first the probabilities of state 0
for every parent configuration (parents in row-major order, the last parent fastest), then
those of state 1, and so on; that is an array of shape ``(card, *parent cards)`` in C order,
the layout pyAgrum's and pgmpy's BIF readers use (checked against both in the tests). Values
may be separated by commas, whitespace or both. The writer avoids the question: it writes
one labelled row per parent configuration.

Every error in a file raises :class:`bnlab.errors.ParseError` with the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import CPTError, ParseError, StructureError
from bnlab.io.files import with_message, with_path
from bnlab.io.names import unescape_network
from bnlab.network import BayesNet, Structure, _as_cpt

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<comment>//[^\n]*|/\*.*?\*/)
    |(?P<punct>[{}()\[\],;|])
    |(?P<string>"[^"\n]*")
    |(?P<word>(?!//|/\*)[^\s{}()\[\],;|"]+)
    """,
    re.VERBOSE | re.DOTALL,
)
# everything up to the end of a value list, when it holds no comment
_VALUES_CHUNK = re.compile(r"[^;{}()/\"]*(?:/(?![/*])[^;{}()/\"]*)*")
_VALUE = re.compile(r"[^\s,]+")
# the names of a row label up to its ')', when it holds no comment or quote
_LABELS_CHUNK = re.compile(r"([^;{}()\[\]|/\"]*(?:/(?![/*])[^;{}()\[\]|/\"]*)*)\)")

Token = tuple[str, str, int]  # (kind, text, offset): kind is "punct", "word" or "eof"


@dataclass
class _Entry:
    kind: str  # "row", "table" or "default"
    labels: list[tuple[str, int]]
    values: list[float]
    offset: int  # where the entry starts
    values_offset: int


@dataclass
class _Block:
    child: tuple[str, int]
    parents: list[tuple[str, int]]
    offset: int
    entries: list[_Entry] = field(default_factory=list)


@dataclass
class _Variable:
    name: str
    states: list[str]
    offset: int


class _Lexer:
    """Tokens of a BIF text, read on demand; positions are character offsets."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self._peeked: Token | None = None

    def line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def error(self, message: str, offset: int) -> ParseError:
        return ParseError(message, path=self.path, line=self.line(offset))

    def _scan(self) -> Token:
        text, n = self.text, len(self.text)
        while self.pos < n:
            m = _TOKEN.match(text, self.pos)
            if m is None:  # only an unterminated /* comment or "string" gets here
                raise self.error("unterminated comment or quoted name", self.pos)
            start, self.pos = self.pos, m.end()
            kind = m.lastgroup
            if kind == "ws" or kind == "comment":
                continue
            if kind == "string":
                return ("word", m.group()[1:-1], start)
            return (str(kind), m.group(), start)
        return ("eof", "", n)

    def peek(self) -> Token:
        if self._peeked is None:
            self._peeked = self._scan()
        return self._peeked

    def next(self) -> Token:
        tok = self.peek()
        self._peeked = None
        return tok

    def expect(self, text: str, context: str) -> Token:
        tok = self.next()
        if tok[1] != text or tok[0] == "eof":
            raise self._unexpected(tok, f"'{text}'", context)
        return tok

    def word(self, context: str) -> Token:
        tok = self.next()
        if tok[0] != "word":
            raise self._unexpected(tok, "a name", context)
        return tok

    def _unexpected(self, tok: Token, wanted: str, context: str) -> ParseError:
        if tok[0] == "eof":
            return self.error(
                f"unexpected end of file: expected {wanted} {context} (is the file truncated?)",
                tok[2],
            )
        return self.error(f"expected {wanted} {context}, found {tok[1]!r}", tok[2])

    def skip_statement(self) -> None:
        """Skip tokens up to and including the next ';' (for ``property`` lines)."""
        while True:
            tok = self.next()
            if tok[0] == "eof":
                raise self._unexpected(tok, "';'", "to end the property")
            if tok[1] == ";" and tok[0] == "punct":
                return

    def labels(self) -> list[tuple[str, int]] | None:
        """Read the names of a row label after its '(' up to ')' when no comment is inside.

        Returns None (consuming nothing) when the slow, token-by-token path is needed.
        """
        if self._peeked is not None:
            return None
        m = _LABELS_CHUNK.match(self.text, self.pos)
        if m is None:
            return None
        start = self.pos
        self.pos = m.end()
        return [(v.group(), start + v.start()) for v in _VALUE.finditer(m.group(1))]

    def values(self, context: str) -> tuple[list[float], int]:
        """Read a list of numbers ending with ';' (consumed); return them and their offset."""
        if self._peeked is not None:  # values never follow a peek; keep the lexer honest
            raise self.error("internal lexer state: a token was peeked before values", self.pos)
        m = _VALUES_CHUNK.match(self.text, self.pos)
        end = m.end() if m is not None else self.pos
        if end < len(self.text) and self.text[end] == ";":
            start = self.pos
            chunk = self.text[start:end]
            self.pos = end + 1
            try:
                return [float(v) for v in _VALUE.findall(chunk)], start
            except ValueError:
                for v in _VALUE.finditer(chunk):
                    try:
                        float(v.group())
                    except ValueError:
                        raise self.error(
                            f"non-numeric value {v.group()!r} {context}", start + v.start()
                        ) from None
                raise  # pragma: no cover - float() failed on the whole but on no part
        # slow path: comments inside the list, or a syntax error to locate precisely
        out: list[float] = []
        first = self.peek()[2]
        while True:
            tok = self.next()
            if tok[0] == "eof":
                raise self._unexpected(tok, "';'", f"to end the values {context}")
            if tok[0] == "punct":
                if tok[1] == ";":
                    return out, first
                if tok[1] == ",":
                    continue
                raise self._unexpected(tok, "a number or ';'", context)
            try:
                out.append(float(tok[1]))
            except ValueError:
                raise self.error(f"non-numeric value {tok[1]!r} {context}", tok[2]) from None


def _parse_variable(lx: _Lexer) -> _Variable:
    _, name, offset = lx.word("after 'variable'")
    lx.expect("{", f"to open variable {name!r}")
    states: list[str] | None = None
    while True:
        tok = lx.next()
        if tok[1] == "}" and tok[0] == "punct":
            break
        if tok[1] == "property" and tok[0] == "word":
            lx.skip_statement()
            continue
        if tok[1] != "type" or tok[0] != "word":
            raise lx._unexpected(tok, "'type', 'property' or '}'", f"in variable {name!r}")
        kind = lx.word(f"after 'type' in variable {name!r}")
        if kind[1] != "discrete":
            raise lx.error(
                f"variable {name!r} has type {kind[1]!r}; only 'discrete' variables are supported",
                kind[2],
            )
        lx.expect("[", f"before the number of states of {name!r}")
        n_tok = lx.word(f"for the number of states of {name!r}")
        try:
            n_states = int(n_tok[1])
        except ValueError:
            raise lx.error(
                f"the number of states of {name!r} must be an integer, found {n_tok[1]!r}",
                n_tok[2],
            ) from None
        lx.expect("]", f"after the number of states of {name!r}")
        lx.expect("{", f"to open the states of {name!r}")
        states = []
        while True:
            st = lx.next()
            if st[0] == "punct" and st[1] == ",":
                continue
            if st[0] == "punct" and st[1] == "}":
                break
            if st[0] != "word":
                raise lx._unexpected(st, "a state name or '}'", f"in the states of {name!r}")
            states.append(st[1])
        if len(states) != n_states:
            raise lx.error(
                f"variable {name!r} declares [ {n_states} ] states but lists {len(states)}: "
                f"{states}; make the count match the list",
                n_tok[2],
            )
        lx.expect(";", f"after the states of {name!r}")
    if states is None:
        raise lx.error(f"variable {name!r} has no 'type discrete [ N ] {{ ... }};' line", offset)
    return _Variable(name, states, offset)


def _parse_probability(lx: _Lexer, offset: int) -> _Block:
    lx.expect("(", "after 'probability'")
    child = lx.word("as the variable of the probability block")
    parents: list[tuple[str, int]] = []
    tok = lx.next()
    if tok[1] in ("|", ",") and tok[0] == "punct":
        while True:
            p = lx.next()
            if p[0] == "punct" and p[1] == ",":
                continue
            if p[0] == "punct" and p[1] == ")":
                break
            if p[0] != "word":
                raise lx._unexpected(p, "a parent name or ')'", f"in the block of {child[1]!r}")
            parents.append((p[1], p[2]))
    elif tok[1] != ")" or tok[0] != "punct":
        raise lx._unexpected(tok, "'|' or ')'", f"after {child[1]!r}")
    block = _Block((child[1], child[2]), parents, offset)
    lx.expect("{", f"to open the probability block of {child[1]!r}")
    where = f"in the probability block of {child[1]!r}"
    while True:
        tok = lx.next()
        if tok[0] == "punct" and tok[1] == "}":
            return block
        if tok[0] == "word" and tok[1] == "property":
            lx.skip_statement()
        elif tok[0] == "word" and tok[1] in ("table", "default"):
            values, voff = lx.values(where)
            block.entries.append(_Entry(tok[1], [], values, tok[2], voff))
        elif tok[0] == "punct" and tok[1] == "(":
            labels = lx.labels()
            if labels is None:  # comments or quotes inside the label list: token by token
                labels = []
                while True:
                    lab = lx.next()
                    if lab[0] == "punct" and lab[1] == ",":
                        continue
                    if lab[0] == "punct" and lab[1] == ")":
                        break
                    if lab[0] != "word":
                        raise lx._unexpected(lab, "a parent state or ')'", where)
                    labels.append((lab[1], lab[2]))
            values, voff = lx.values(where)
            block.entries.append(_Entry("row", labels, values, tok[2], voff))
        else:
            raise lx._unexpected(tok, "'(', 'table', 'default', 'property' or '}'", where)


def _parse(lx: _Lexer) -> tuple[list[_Variable], list[_Block]]:
    variables: list[_Variable] = []
    blocks: list[_Block] = []
    while True:
        tok = lx.next()
        if tok[0] == "eof":
            return variables, blocks
        if tok[0] == "punct" and tok[1] == ";":
            continue
        if tok[0] == "word" and tok[1] == "network":
            nxt = lx.next()
            if nxt[0] == "word":  # the network's name is optional
                nxt = lx.next()
            if nxt[1] != "{" or nxt[0] != "punct":
                raise lx._unexpected(nxt, "'{'", "to open the network block")
            while True:
                t = lx.next()
                if t[0] == "punct" and t[1] == "}":
                    break
                if t[0] == "word" and t[1] == "property":
                    lx.skip_statement()
                    continue
                raise lx._unexpected(t, "'property' or '}'", "in the network block")
        elif tok[0] == "word" and tok[1] == "variable":
            variables.append(_parse_variable(lx))
        elif tok[0] == "word" and tok[1] == "probability":
            blocks.append(_parse_probability(lx, tok[2]))
        else:
            raise lx._unexpected(tok, "'network', 'variable' or 'probability'", "at top level")


def _table(lx: _Lexer, block: _Block, states: dict[str, list[str]]) -> NDArray[np.float64]:
    """Assemble the CPT of one probability block, shape ``(*parent cards, card)``."""
    child = block.child[0]
    pnames = [p for p, _ in block.parents]
    card = len(states[child])
    pcards = [len(states[p]) for p in pnames]
    n_rows = int(np.prod(pcards, dtype=np.int64))
    table = np.zeros((n_rows, card))
    filled = np.zeros(n_rows, dtype=bool)
    default: list[float] | None = None
    index = [{s: i for i, s in enumerate(states[p])} for p in pnames]
    seen_table = False
    for e in block.entries:
        if e.kind == "table":
            if seen_table or filled.any():
                raise lx.error(
                    f"the probability block of {child!r} gives its values twice "
                    "('table' together with another 'table' or with rows); give one or the other",
                    e.offset,
                )
            seen_table = True
            if len(e.values) != n_rows * card:
                raise lx.error(
                    f"wrong number of values in the table of {child!r}: expected {n_rows * card} "
                    f"({n_rows} parent configurations x {card} states), found {len(e.values)}",
                    e.values_offset,
                )
            # child slowest: one run over the parent configurations per state
            table[:] = np.asarray(e.values, dtype=np.float64).reshape(card, n_rows).T
            filled[:] = True
            continue
        if len(e.values) != card:
            raise lx.error(
                f"wrong number of values in a row of {child!r}: expected {card} (one per state "
                f"{states[child]}), found {len(e.values)}",
                e.values_offset,
            )
        if e.kind == "default":
            default = e.values
            continue
        if seen_table:
            raise lx.error(
                f"the probability block of {child!r} has both a 'table' and rows; "
                "give one or the other",
                e.offset,
            )
        if len(e.labels) != len(pnames):
            raise lx.error(
                f"a row of {child!r} names {len(e.labels)} parent states but {child!r} has "
                f"{len(pnames)} parents {pnames}",
                e.offset,
            )
        coords = []
        for (label, loff), p, idx in zip(e.labels, pnames, index, strict=True):
            i = idx.get(label)
            if i is None:
                raise lx.error(
                    f"unknown state {label!r} of parent {p!r} (states: {states[p]})", loff
                )
            coords.append(i)
        r = int(np.ravel_multi_index(coords, pcards)) if pcards else 0
        if filled[r]:
            raise lx.error(
                f"the row ({', '.join(lab for lab, _ in e.labels)}) of {child!r} is given twice",
                e.offset,
            )
        table[r] = e.values
        filled[r] = True
    if not filled.all():
        if default is not None:
            table[~filled] = default
        else:
            missing = np.unravel_index(int(np.argmin(filled)), pcards) if pcards else ()
            shown = ", ".join(states[p][int(i)] for p, i in zip(pnames, missing, strict=True))
            what = f"the row ({shown}) and {int((~filled).sum()) - 1} more" if pcards else "values"
            raise lx.error(
                f"the probability block of {child!r} lacks {what}; give every parent "
                "configuration a row, or a 'table' or 'default' line",
                block.offset,
            )
    return table.reshape((*pcards, card))


def parse_bif(text: str, path: str = "<string>") -> BayesNet:
    """Parse BIF text into a :class:`~bnlab.network.BayesNet`.

    Parameters
    ----------
    text
        The content of a ``.bif`` file.
    path
        The file name used in error messages.

    Returns
    -------
    BayesNet
        Variables in a stable topological order (the file's order where it allows),
        parents in the order of each probability block.

    Raises
    ------
    ParseError
        Malformed text; the message names the file and line.
    CPTError, StructureError
        A table that is not a distribution, or a cycle; the message names the file and,
        for a table, the line of its probability block.
    """
    lx = _Lexer(text, path)
    variables, blocks = _parse(lx)
    states: dict[str, list[str]] = {}
    declared: dict[str, int] = {}
    for v in variables:
        if v.name in states:
            raise lx.error(
                f"variable {v.name!r} is declared twice "
                f"(first at line {lx.line(declared[v.name])})",
                v.offset,
            )
        states[v.name] = v.states
        declared[v.name] = v.offset
    by_child: dict[str, _Block] = {}
    for b in blocks:
        name, off = b.child
        if name not in states:
            raise lx.error(f"probability block for undeclared variable {name!r}", off)
        if name in by_child:
            raise lx.error(
                f"duplicated probability block for {name!r} "
                f"(first at line {lx.line(by_child[name].offset)}); keep one",
                b.offset,
            )
        for p, poff in b.parents:
            if p not in states:
                raise lx.error(f"unknown parent variable {p!r} in the block of {name!r}", poff)
        by_child[name] = b
    for v in variables:
        if v.name not in by_child:
            raise lx.error(
                f"variable {v.name!r} has no probability block; add 'probability ( {v.name} "
                "... ) { ... }'",
                v.offset,
            )
    order = [v.name for v in variables]
    parents = {v: [p for p, _ in by_child[v].parents] for v in order}
    try:
        structure = Structure(order, states, parents)
    except StructureError as err:
        raise with_path(err, path) from err
    cpts = {v: _table(lx, by_child[v], states) for v in order}
    try:
        return unescape_network(BayesNet(cpts=cpts, structure=structure))
    except CPTError as err:
        for name in order:  # find the table at fault to name its line
            try:
                _as_cpt(structure, name, cpts[name])
            except CPTError as inner:
                where = f"{path}, line {lx.line(by_child[name].offset)}"
                raise with_message(inner, f"{where}: {inner}") from err
        raise with_path(err, path) from err  # pragma: no cover - every CPT passed alone
