"""The BIF writer: labelled rows at ``repr`` precision, so that reading back is exact."""

from __future__ import annotations

import re

from bnlab.errors import BNError
from bnlab.io.names import escape_bif_word
from bnlab.network import BayesNet

#: a name the writer can emit as a bare BIF word and the reader reads back unchanged
_SAFE_NAME = re.compile(r"[^\s{}()\[\],;|\"/]+|[^\s{}()\[\],;|\"/][^\s{}()\[\],;|\"]*")


def _check_name(name: str, what: str) -> None:
    if not _SAFE_NAME.fullmatch(name) or "//" in name or "/*" in name:
        raise BNError(
            f"cannot write {what} {name!r} to BIF: BIF names may not contain whitespace, "
            "quotes, comment markers or any of {}()[],;|. Rename it, or write the network "
            "to .json, which takes any name."
        )


def format_bif(net: BayesNet, name: str = "unknown") -> str:
    """Write a network as BIF text.

    Numbers are written with ``repr``, the shortest text that reads back to the same
    float, so ``parse_bif(format_bif(net))`` equals ``net`` exactly. Names that are not
    plain BIF words (``Asy/Patch``, ``<5``, ``has space``) are escaped reversibly
    (``Asy_x002F_Patch``; see :func:`bnlab.io.names.escape_bif_word`), so pyAgrum and
    pgmpy can read every file bnlab writes, and bnlab reads the names back unchanged.
    Roots get a ``table`` line; other variables one labelled row per parent configuration,
    in row-major order.

    Raises
    ------
    BNError
        A network name that BIF cannot hold, or an empty name.
    """
    _check_name(name, "network name")
    if any(escape_bif_word(v, variable=True) != v for v in net.variables) or any(
        escape_bif_word(s, variable=False) != s for v in net.variables for s in net.states[v]
    ):
        net = _escaped(net)
    out = [f"network {name} {{\n}}\n"]
    for v in net.variables:
        states = ", ".join(net.states[v])
        out.append(
            f"variable {v} {{\n  type discrete [ {len(net.states[v])} ] {{ {states} }};\n}}\n"
        )
    for v in net.variables:
        ps = net.parents[v]
        cpt = net.cpt(v)
        if not ps:
            out.append(
                f"probability ( {v} ) {{\n  table {', '.join(map(repr, cpt.tolist()))};\n}}\n"
            )
            continue
        out.append(f"probability ( {v} | {', '.join(ps)} ) {{\n")
        rows = cpt.reshape(-1, cpt.shape[-1]).tolist()
        labels = _row_labels([net.states[p] for p in ps])
        out.extend(
            f"  ({lab}) {', '.join(map(repr, row))};\n"
            for lab, row in zip(labels, rows, strict=True)
        )
        out.append("}\n")
    return "".join(out)


def _escaped(net: BayesNet) -> BayesNet:
    """``net`` with every name escaped into a BIF word (:func:`escape_bif_word`)."""
    e = {v: escape_bif_word(v, variable=True) for v in net.variables}
    return BayesNet(
        [e[v] for v in net.variables],
        {e[v]: [escape_bif_word(s, variable=False) for s in net.states[v]] for v in net.variables},
        {e[v]: [e[p] for p in net.parents[v]] for v in net.variables},
        {e[v]: net.cpt(v) for v in net.variables},
    )


def _row_labels(parent_states: list[tuple[str, ...]]) -> list[str]:
    """Return the ``a, b`` labels of every parent configuration, in row-major order."""
    labels = [""]
    for st in parent_states:
        labels = [f"{lab}, {s}" if lab else s for lab in labels for s in st]
    return labels
