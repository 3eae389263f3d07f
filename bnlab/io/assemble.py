"""Build a :class:`BayesNet` from the nodes a format reader found, with file-level errors.

Every reader turns its file into :class:`RawNode` records whose ``values`` are the CPT in
bnlab's layout flattened in C order (parents in the node's order, the child's state
fastest), then calls :func:`assemble`. Nodes of other kinds (decision, utility,
continuous) raise :class:`~bnlab.errors.UnsupportedNodeError`, or are dropped with a warning.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bnlab.errors import BNError, CPTError, ParseError, UnsupportedNodeError
from bnlab.io.files import with_message, with_path
from bnlab.network import BayesNet, Structure, _as_cpt

OnUnsupported = Literal["error", "drop"]


@dataclass
class RawNode:
    """One node as a file declares it; ``line`` is where it starts (``None`` if unknown)."""

    name: str
    kind: str  # "chance" for a discrete chance node, else e.g. "decision", "utility"
    states: list[str]
    parents: list[str]
    values: list[float] | None
    line: int | None = None


def check_on_unsupported(on_unsupported: str) -> None:
    """Refuse any value but ``"error"`` and ``"drop"``."""
    if on_unsupported not in ("error", "drop"):
        raise BNError(f"on_unsupported must be 'error' or 'drop', got {on_unsupported!r}.")


def assemble(nodes: list[RawNode], path: str, on_unsupported: OnUnsupported = "error") -> BayesNet:
    """Check the nodes against each other and build the network.

    Raises
    ------
    UnsupportedNodeError
        A node that is not a discrete chance node (unless ``on_unsupported="drop"``).
    ParseError
        A duplicate or missing node, an unknown parent, a table of the wrong length.
    CPTError, StructureError
        A table that is not a distribution, or a cycle (the message names the file).
    """
    check_on_unsupported(on_unsupported)
    other = [n for n in nodes if n.kind != "chance"]
    if other:
        if on_unsupported == "error":
            raise UnsupportedNodeError([(n.name, n.kind, n.line) for n in other], path=path)
        dropped = {n.name for n in other}
        warnings.warn(
            f"{path}: dropped {len(other)} node(s) a Bayesian network cannot hold: "
            + ", ".join(f"{n.name} ({n.kind})" for n in other),
            UserWarning,
            stacklevel=5,  # the caller of read_network
        )
        nodes = [n for n in nodes if n.name not in dropped]
        for n in nodes:
            bad = [p for p in n.parents if p in dropped]
            if bad:
                raise ParseError(
                    f"cannot drop {bad}: the chance node {n.name!r} depends on them, so its "
                    "table would lose its meaning. Remove that dependence in the tool that "
                    "made the file.",
                    path=path,
                    line=n.line,
                )
    seen: dict[str, RawNode] = {}
    for n in nodes:
        if n.name in seen:
            raise ParseError(
                f"node {n.name!r} is declared twice (first at line {seen[n.name].line}); "
                "give each node once",
                path=path,
                line=n.line,
            )
        seen[n.name] = n
    if not nodes:
        raise ParseError("the file declares no nodes; is it the right file?", path=path)
    for n in nodes:
        for p in n.parents:
            if p not in seen:
                raise ParseError(
                    f"node {n.name!r} has parent {p!r}, which the file does not declare; "
                    "declare it or remove it from the parents",
                    path=path,
                    line=n.line,
                )
        if n.values is None:
            raise ParseError(
                f"node {n.name!r} has no probability table; add one", path=path, line=n.line
            )
        expected = math.prod(len(seen[p].states) for p in n.parents) * len(n.states)
        if len(n.values) != expected:
            raise ParseError(
                f"the table of {n.name!r} has {len(n.values)} numbers, expected {expected} "
                f"({len(n.states)} states for each configuration of the parents "
                f"{n.parents}); add or remove numbers",
                path=path,
                line=n.line,
            )
    try:
        structure = Structure(
            [n.name for n in nodes],
            {n.name: n.states for n in nodes},
            {n.name: n.parents for n in nodes},
        )
    except BNError as err:
        raise with_path(err, path) from None
    cpts = {}
    for n in nodes:
        try:
            cpts[n.name] = _as_cpt(structure, n.name, n.values or [])
        except CPTError as err:
            where = f"{path}, line {n.line}" if n.line is not None else path
            raise with_message(err, f"{where}: {err}") from None
    return BayesNet(cpts=cpts, structure=structure)


def parse_numbers(texts: list[str], path: str, line: int | None, what: str) -> list[float]:
    """Probabilities written as text, converted at once; a typed error names a bad one."""
    try:
        return np.array(texts, dtype=np.float64).tolist()  # type: ignore[no-any-return]
    except ValueError:
        return [parse_number(t, path, line, what) for t in texts]


def parse_number(text: str | float, path: str, line: int | None, what: str) -> float:
    """A probability written as text; a typed error naming the file, line and token if not."""
    if isinstance(text, float):
        return text
    try:
        value = float(text)
    except ValueError:
        raise ParseError(
            f"{text!r} in {what} is not a number; write probabilities as decimals such as 0.25",
            path=path,
            line=line,
        ) from None
    return value
