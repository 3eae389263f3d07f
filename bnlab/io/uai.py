"""UAI (``.uai``) Bayes networks, the inference-competition format; names kept in a sidecar.

Layout (whitespace-separated; ``#`` comments, as pyAgrum writes them, are skipped)::

    BAYES
    3                 number of variables
    2 2 3             their cardinalities
    3                 number of functions (one per variable)
    1 0               scope of each: its size, then variable indices, the child LAST
    2 0 1
    3 0 1 2
    2  0.4 0.6        each table: its size, then the numbers, the last scope variable
    ...               fastest (bnlab's (*parent cards, card) layout in C order)

UAI holds no names: variables are ``var_0``, ``var_1`` ... (as pgmpy names them) and states
``0``, ``1`` ... unless names are given. :func:`bnlab.io.write_network` writes them beside
the file, in ``NAME.uai.names.json`` (``{"format": "bnlab.uai-names", "variables":
[{"name": ..., "states": [...]}, ...]}``, by position), and :func:`bnlab.io.read_network`
reads that file when it is there, or the names given as ``names=``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bnlab.errors import ParseError
from bnlab.io.assemble import RawNode, assemble, parse_number
from bnlab.network import BayesNet, Structure

NAMES_FORMAT = "bnlab.uai-names"
Names = Structure | BayesNet | Sequence[tuple[str, Sequence[str]]]


def names_path(path: str | os.PathLike[str]) -> Path:
    """The names file beside a UAI file: ``m.uai`` and ``m.uai.gz`` -> ``m.uai.names.json``."""
    p = Path(path)
    base = p.name[:-3] if p.name.lower().endswith(".gz") else p.name
    return p.with_name(base + ".names.json")


def _tokens(text: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        out.extend((tok, lineno) for tok in line.split("#", 1)[0].split())
    return out


def _default_names(cards: Sequence[int]) -> list[tuple[str, list[str]]]:
    return [(f"var_{i}", [str(k) for k in range(c)]) for i, c in enumerate(cards)]


def read_names(path: str | os.PathLike[str]) -> list[tuple[str, list[str]]]:
    """Read a ``bnlab.uai-names`` JSON file.

    Raises
    ------
    ParseError
        Not such a file.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("format") != NAMES_FORMAT:
            raise ValueError("format")
        return [(str(v["name"]), [str(s) for s in v["states"]]) for v in doc["variables"]]
    except FileNotFoundError:
        raise ParseError("no such names file", path=str(path)) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ParseError(
            f'not a UAI names file; expected {{"format": "{NAMES_FORMAT}", "variables": '
            '[{"name": ..., "states": [...]}, ...]}',
            path=str(path),
        ) from None


def names_doc(net: BayesNet) -> dict[str, Any]:
    """The names file of ``net`` (variables in the order the UAI writer numbers them)."""
    return {
        "format": NAMES_FORMAT,
        "variables": [{"name": v, "states": list(net.states[v])} for v in net.variables],
    }


def _as_names(names: Names | str | os.PathLike[str]) -> list[tuple[str, list[str]]]:
    if isinstance(names, (str, os.PathLike)):
        return read_names(names)
    if isinstance(names, (Structure, BayesNet)):
        return [(v, list(names.states[v])) for v in names.variables]
    return [(str(n), [str(s) for s in st]) for n, st in names]


def parse_uai(
    text: str,
    path: str = "<string>",
    names: Names | str | os.PathLike[str] | None = None,
) -> BayesNet:
    """Read a UAI ``BAYES`` file.

    Parameters
    ----------
    text, path
        The file's text and name (for messages).
    names
        Names by position: a names file, a ``Structure``/``BayesNet`` with the same
        variables in the same order, or ``[(name, states), ...]``; default ``var_i`` / ``k``.

    Raises
    ------
    ParseError
        A malformed file (with the line), a Markov network, or names that do not fit.
    """
    toks = _tokens(text)
    pos = 0

    def take(what: str) -> tuple[str, int]:
        nonlocal pos
        if pos >= len(toks):
            last = toks[-1][1] if toks else 1
            raise ParseError(
                f"the file ends where {what} should be; it is truncated or a count is too big",
                path=path,
                line=last,
            )
        pos += 1
        return toks[pos - 1]

    def integer(what: str, low: int = 0) -> int:
        tok, line = take(what)
        if not re.fullmatch(r"\d+", tok) or int(tok) < low:
            raise ParseError(
                f"expected {what} (an integer >= {low}), found {tok!r}; write it as digits "
                "(is a count above it wrong?)",
                path=path,
                line=line,
            )
        return int(tok)

    kind, line = take("the network type")
    if kind.upper() != "BAYES":
        raise ParseError(
            f"the file starts with {kind!r}; bnlab reads UAI Bayes networks, which start with "
            "BAYES (a MARKOV network has no conditional tables)",
            path=path,
            line=line,
        )
    n = integer("the number of variables", 1)
    cards = [integer(f"the cardinality of variable {i}", 1) for i in range(n)]
    n_functions = integer("the number of functions")
    if n_functions != n:
        raise ParseError(
            f"{n_functions} functions for {n} variables; a Bayes network has one conditional "
            "table per variable",
            path=path,
            line=toks[pos - 1][1],
        )
    scopes: list[tuple[list[int], int]] = []
    for f in range(n_functions):
        size = integer(f"the scope size of function {f}", 1)
        scope_line = toks[pos - 1][1]
        scope = [integer(f"a variable index in the scope of function {f}") for _ in range(size)]
        bad = [i for i in scope if i >= n]
        if bad:
            raise ParseError(
                f"function {f} names variable {bad[0]}, but there are only {n} (0 to {n - 1})",
                path=path,
                line=scope_line,
            )
        scopes.append((scope, scope_line))
    given = _default_names(cards) if names is None else _as_names(names)
    if len(given) != n or any(len(st) != c for (_, st), c in zip(given, cards, strict=False)):
        raise ParseError(
            f"the names given do not fit the file: it has {n} variables with cardinalities "
            f"{cards}, the names {len(given)} variables with "
            f"{[len(st) for _, st in given]} states; give names in the file's variable order",
            path=path,
        )
    nodes: dict[int, RawNode] = {}
    for f, (scope, scope_line) in enumerate(scopes):
        count = integer(f"the table size of function {f}")
        expected = math.prod(cards[i] for i in scope)
        if count != expected:
            raise ParseError(
                f"function {f} announces {count} numbers, but its scope {scope} has {expected} "
                "configurations",
                path=path,
                line=toks[pos - 1][1],
            )
        if pos + count > len(toks):
            pos = len(toks)
            take(f"the {count} numbers of table {f}")  # raises: the file ends early
        chunk = toks[pos : pos + count]
        pos += count
        try:
            values: list[float] = np.array([t for t, _ in chunk], dtype=np.float64).tolist()
        except ValueError:  # name the first bad token and its line
            values = [parse_number(t, path, ln, f"table {f}") for t, ln in chunk]
        child = scope[-1]
        if child in nodes:
            raise ParseError(
                f"variable {child} is the last (child) variable of two functions; each "
                "variable needs exactly one conditional table, with itself last in its scope",
                path=path,
                line=scope_line,
            )
        nodes[child] = RawNode(
            given[child][0],
            "chance",
            given[child][1],
            [given[i][0] for i in scope[:-1]],
            values,
            scope_line,
        )
    if pos != len(toks):
        raise ParseError(
            f"unexpected {toks[pos][0]!r} after the last table; a count is too small or the "
            "file has extra text",
            path=path,
            line=toks[pos][1],
        )
    return assemble([nodes[i] for i in sorted(nodes)], path)


def format_uai(net: BayesNet) -> str:
    """Write a network as UAI text (variables numbered in ``net.variables`` order)."""
    index = {v: i for i, v in enumerate(net.variables)}
    out = ["BAYES\n", f"{len(net.variables)}\n"]
    out.append(" ".join(str(net.cards[v]) for v in net.variables) + "\n")
    out.append(f"{len(net.variables)}\n")
    for v in net.variables:
        scope = [index[p] for p in net.parents[v]] + [index[v]]
        out.append(f"{len(scope)} " + " ".join(map(str, scope)) + "\n")
    for v in net.variables:
        table = net.cpt(v)
        out.append(f"\n{table.size}\n")
        rows = table.reshape(-1, table.shape[-1]).tolist()
        out.extend(" " + " ".join(map(repr, row)) + "\n" for row in rows)
    return "".join(out)


def has_default_names(net: BayesNet) -> bool:
    """Whether ``net``'s names are the ones a UAI file without names reads back to."""
    return [(v, list(net.states[v])) for v in net.variables] == _default_names(
        [net.cards[v] for v in net.variables]
    )
