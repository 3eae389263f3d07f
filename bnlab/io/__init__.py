"""Network files: BIF (``.bif``, ``.bif.gz``), bnlab's JSON format, examples, converters.

Reading and writing dispatch on the file suffix. :func:`write_network` is atomic: it
writes a temp file in the target's folder and renames it, so a failed write leaves no
partial file. Structure-only files (no CPTs) use the JSON format ``bnlab.structure``
through :func:`read_structure` / :func:`write_structure`; see :mod:`bnlab.io.json_format`.
"""

from __future__ import annotations

import os
from pathlib import Path

from bnlab.errors import BNError, ParseError
from bnlab.io import json_format
from bnlab.io.bif import parse_bif
from bnlab.io.bif_writer import format_bif
from bnlab.io.convert import from_pgmpy, from_pyagrum, to_pgmpy, to_pyagrum
from bnlab.io.examples import list_examples, load_example
from bnlab.io.files import atomic_write, decode, file_kind, gzip_bytes
from bnlab.network import BayesNet, Structure

__all__ = [
    "format_bif",
    "from_pgmpy",
    "from_pyagrum",
    "list_examples",
    "load_example",
    "parse_bif",
    "read_network",
    "read_structure",
    "to_pgmpy",
    "to_pyagrum",
    "write_network",
    "write_structure",
]


def _read_text(path: str | os.PathLike[str], kind: str) -> str:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ParseError("no such file", path=str(path)) from None
    except IsADirectoryError:
        raise ParseError("is a folder, not a network file", path=str(path)) from None
    return decode(data, str(path), gzipped=kind == "bif.gz")


def read_network(path: str | os.PathLike[str]) -> BayesNet:
    """Read a network from a ``.bif``, ``.bif.gz`` or bnlab ``.json`` file.

    Parameters
    ----------
    path
        The file; its suffix selects the format.

    Returns
    -------
    BayesNet
        Variables in topological order, parents in the file's order.

    Raises
    ------
    ParseError
        An unknown suffix, a missing file, or a malformed file (with the line number).
    CPTError, StructureError
        A table that is not a distribution, or a cycle (the message names the file).

    Examples
    --------
    >>> import bnlab
    >>> net = bnlab.read_network("alarm.bif.gz")  # doctest: +SKIP
    """
    kind = file_kind(path)
    text = _read_text(path, kind)
    if kind == "json":
        doc = json_format.loads(
            text, str(path), (json_format.NETWORK_FORMAT, json_format.STRUCTURE_FORMAT)
        )
        if doc["format"] == json_format.STRUCTURE_FORMAT:
            raise ParseError(
                "this is a structure file (no CPTs); read it with bnlab.io.read_structure",
                path=str(path),
            )
        return json_format.network_from_dict(doc, str(path))
    return parse_bif(text, str(path))


def write_network(net: BayesNet, path: str | os.PathLike[str]) -> None:
    """Write a network to ``.bif``, ``.bif.gz`` or bnlab ``.json``, atomically.

    Numbers are written at full ``repr`` precision, so reading the file back gives an
    equal network. ``.bif.gz`` files carry no time stamp (same network, same bytes).

    Raises
    ------
    BNError
        An unknown suffix, a value that is not a ``BayesNet`` (write a ``Structure`` with
        :func:`write_structure`), or a name that BIF cannot hold.
    """
    if not isinstance(net, BayesNet):
        hint = (
            " Write a structure with bnlab.io.write_structure."
            if isinstance(net, Structure)
            else ""
        )
        raise BNError(f"write_network expects a BayesNet, got {type(net).__name__}.{hint}")
    kind = file_kind(path, writing=True)
    if kind == "json":
        data = json_format.dumps(json_format.network_to_dict(net)).encode("utf-8")
    else:
        data = format_bif(net).encode("utf-8")
        if kind == "bif.gz":
            data = gzip_bytes(data)
    atomic_write(path, data)


def read_structure(path: str | os.PathLike[str]) -> Structure:
    """Read a structure (no CPTs) from any network file or a ``bnlab.structure`` JSON file.

    Raises
    ------
    ParseError
        As for :func:`read_network`.
    """
    kind = file_kind(path)
    if kind != "json":
        return read_network(path).structure
    text = _read_text(path, kind)
    doc = json_format.loads(
        text, str(path), (json_format.STRUCTURE_FORMAT, json_format.NETWORK_FORMAT)
    )
    if doc["format"] == json_format.NETWORK_FORMAT:
        return json_format.network_from_dict(doc, str(path)).structure
    return json_format.structure_from_dict(doc, str(path))


def write_structure(structure: Structure | BayesNet, path: str | os.PathLike[str]) -> None:
    """Write the structure of a structure or network to a ``.json`` file, atomically.

    Raises
    ------
    BNError
        A suffix other than ``.json`` (BIF cannot hold a structure without CPTs).
    """
    if not isinstance(structure, (Structure, BayesNet)):
        raise BNError(
            f"write_structure expects a Structure or BayesNet, got {type(structure).__name__}."
        )
    if file_kind(path, writing=True) != "json":
        raise BNError(
            f"structures are written as .json only (BIF needs CPTs), got {Path(path).name!r}; "
            "use write_network for a BayesNet."
        )
    doc = json_format.structure_to_dict(structure.structure)
    atomic_write(path, json_format.dumps(doc).encode("utf-8"))
