"""Names that a file format cannot hold: a reversible escape, or a refusal that says why.

Formats whose names must be identifiers (Hugin NET node names, GeNIe XDSL and SMILE DSL ids)
get every other name escaped as in Office Open XML: a character that the format cannot hold
becomes ``_xHHHH_`` (its code point in hex), and a literal ``_xHHHH_`` in a name has its
underscore escaped, so :func:`unescape` gives back the exact name. ``<5`` is written ``_x003C_5``
and read back as ``<5``; pyAgrum, pgmpy and GeNIe see the escaped identifier. Names that are
already legal are written unchanged, so ordinary files look as their authors expect.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bnlab.errors import BNError
from bnlab.network import BayesNet

_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_identifier(name: str) -> bool:
    """Whether ``name`` is a C-like identifier (letter or ``_`` first, then ``[A-Za-z0-9_]``)."""
    return _IDENTIFIER.fullmatch(name) is not None and _ESCAPED.search(name) is None


def _hex(ch: str) -> str:
    if ord(ch) > 0xFFFF:
        raise BNError(f"cannot escape the character {ch!r} (beyond U+FFFF) in a name; rename it.")
    return f"_x{ord(ch):04X}_"


def escape_identifier(name: str) -> str:
    """Escape ``name`` into an identifier (``_xHHHH_`` for each character outside one).

    A leading digit is escaped too, and an existing ``_xHHHH_`` has its ``_`` escaped, so
    :func:`unescape` inverts this exactly.
    """
    if is_identifier(name):
        return name
    if name == "":
        raise BNError("cannot write an empty name; give every variable and state a name.")
    protected = _ESCAPED.sub(lambda m: "_x005F_" + m.group(0)[1:], name)
    out = []
    for i, ch in enumerate(protected):
        legal = _IDENT_CHAR.fullmatch(ch) is not None and not (i == 0 and ch.isdigit())
        out.append(ch if legal else _hex(ch))
    return "".join(out)


def unescape(name: str) -> str:
    """Undo :func:`escape_identifier` (and any ``_xHHHH_`` escape in a name read from a file)."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), name)


def escape_text(name: str, illegal: Callable[[str], bool]) -> str:
    """Escape the characters of ``name`` for which ``illegal(ch)`` is true (and ``_xHHHH_``)."""
    if name == "":
        raise BNError("cannot write an empty name; give every variable and state a name.")
    protected = _ESCAPED.sub(lambda m: "_x005F_" + m.group(0)[1:], name)
    return "".join(_hex(ch) if illegal(ch) else ch for ch in protected)


_BIF_WORD = re.compile(r"[A-Za-z0-9_]+(?:[-.][A-Za-z0-9_]+)*")


def escape_bif_word(name: str, *, variable: bool) -> str:
    """Escape ``name`` into a bare BIF word that pyAgrum, pgmpy and bnlab all read.

    Kept as they are: letters, digits, ``_``, and ``-`` or ``.`` between two of those but
    not after digits alone; a variable name may not be all digits (pyAgrum reads ``5-12``,
    ``5.1`` and a variable ``12`` as numbers). Every other
    character becomes ``_xHHHH_``: ``Asy/Patch`` is written ``Asy_x002F_Patch``.
    """
    plain = _BIF_WORD.fullmatch(name) is not None and _ESCAPED.search(name) is None
    numeric_head = re.match(r"\d+[-.]", name) is not None
    if plain and not numeric_head and not (variable and name.isdigit()):
        return name
    if name == "":
        raise BNError("cannot write an empty name; give every variable and state a name.")
    protected = _ESCAPED.sub(lambda m: "_x005F_" + m.group(0)[1:], name)
    out = []
    for i, ch in enumerate(protected):
        if _IDENT_CHAR.fullmatch(ch):
            legal = not (i == 0 and variable and protected.isdigit())
        elif ch in "-.":
            # pyAgrum lexes 5-12 and 5.1 as numbers: a letter or _ must come before - or .
            inside = 0 < i < len(protected) - 1 and not protected[:i].isdigit()
            legal = inside and all(
                _IDENT_CHAR.fullmatch(c) for c in (protected[i - 1], protected[i + 1])
            )
        else:
            legal = False
        out.append(ch if legal else _hex(ch))
    return "".join(out)


def unescape_network(net: BayesNet) -> BayesNet:
    """``net`` with :func:`unescape` applied to every name (itself if none is escaped)."""
    names = [*net.variables, *(s for v in net.variables for s in net.states[v])]
    if not any(_ESCAPED.search(n) for n in names):
        return net
    u = {v: unescape(v) for v in net.variables}
    return BayesNet(
        [u[v] for v in net.variables],
        {u[v]: [unescape(s) for s in net.states[v]] for v in net.variables},
        {u[v]: [u[p] for p in net.parents[v]] for v in net.variables},
        {u[v]: net.cpt(v) for v in net.variables},
    )
