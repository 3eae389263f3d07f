"""Network files (BIF, JSON, XMLBIF, Hugin NET, UAI, XDSL, DSL), examples, converters.

Reading and writing dispatch on the file suffix or ``format=`` (:mod:`bnlab.io.formats`).
:func:`write_network` is atomic: it writes a temp file in the target's folder and renames
it, so a failed write leaves no partial file. Structure-only files (no CPTs) use the JSON
format ``bnlab.structure`` through :func:`read_structure` / :func:`write_structure`; see
:mod:`bnlab.io.json_format`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from bnlab.errors import BNError, ParseError
from bnlab.io import json_format, uai
from bnlab.io.assemble import OnUnsupported, check_on_unsupported
from bnlab.io.bif import parse_bif
from bnlab.io.bif_writer import format_bif
from bnlab.io.convert import convert, from_pgmpy, from_pyagrum, to_pgmpy, to_pyagrum
from bnlab.io.examples import list_examples, load_example
from bnlab.io.files import atomic_write, decode, gzip_bytes
from bnlab.io.formats import detect, format_text, parse_text
from bnlab.network import BayesNet, Structure

__all__ = [
    "convert",
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


def _read_text(path: str | os.PathLike[str], gzipped: bool) -> str:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ParseError("no such file", path=str(path)) from None
    except IsADirectoryError:
        raise ParseError("is a folder, not a network file", path=str(path)) from None
    return decode(data, str(path), gzipped=gzipped)


def read_network(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    on_unsupported: OnUnsupported = "error",
    names: uai.Names | str | os.PathLike[str] | None = None,
) -> BayesNet:
    """Read a network file: BIF, bnlab JSON, XMLBIF, Hugin NET, UAI, XDSL or DSL.

    Parameters
    ----------
    path
        The file; its suffix selects the format (see :mod:`bnlab.io.formats`); a trailing
        ``.gz`` means gzip-compressed (all formats but JSON).
    format
        The format, overriding the suffix: ``bif``, ``json``, ``xmlbif``, ``net``, ``uai``,
        ``xdsl`` or ``dsl``.
    on_unsupported
        What to do with decision, utility or continuous nodes (NET, XMLBIF, XDSL, DSL):
        ``"error"`` (default) raises :class:`~bnlab.errors.UnsupportedNodeError` naming them;
        ``"drop"`` drops them with a warning.
    names
        UAI only: names by position (a names file, a network or structure, or
        ``[(name, states), ...]``); default: ``NAME.uai.names.json`` beside the file if it
        exists, else ``var_0``, ``var_1`` ... with states ``0``, ``1`` ...

    Returns
    -------
    BayesNet
        Variables in topological order, parents in the file's order.

    Raises
    ------
    ParseError
        An unknown suffix, a missing file, or a malformed file (with the line or element).
    CPTError, StructureError
        A table that is not a distribution, or a cycle (the message names the file).

    Examples
    --------
    >>> import bnlab
    >>> net = bnlab.read_network("alarm.bif.gz")  # doctest: +SKIP
    >>> net = bnlab.read_network("model.xdsl")  # doctest: +SKIP
    """
    fmt, gzipped = detect(path, format)
    check_on_unsupported(on_unsupported)
    if names is not None and fmt != "uai":
        raise BNError("names= applies to UAI files only; the other formats carry names.")
    text = _read_text(path, gzipped)
    if fmt == "json":
        doc = json_format.loads(
            text, str(path), (json_format.NETWORK_FORMAT, json_format.STRUCTURE_FORMAT)
        )
        if doc["format"] == json_format.STRUCTURE_FORMAT:
            raise ParseError(
                "this is a structure file (no CPTs); read it with bnlab.io.read_structure",
                path=str(path),
            )
        return json_format.network_from_dict(doc, str(path))
    if fmt == "uai":
        sidecar = uai.names_path(path)
        if names is None and sidecar.is_file():
            names = sidecar
        return uai.parse_uai(text, str(path), names)
    return parse_text(fmt, text, str(path), on_unsupported)


def write_network(
    net: BayesNet, path: str | os.PathLike[str], *, format: str | None = None
) -> None:
    """Write a network as BIF, bnlab JSON, XMLBIF, Hugin NET, UAI, XDSL or DSL, atomically.

    Numbers are written at full ``repr`` precision, so reading the file back gives an
    equal network. A network's data schema (:attr:`~bnlab.BayesNet.schema`) is saved in the
    JSON format only; other formats warn (:class:`~bnlab.schema.SchemaNotSavedWarning`).
    Gzipped files (``.gz``) carry no time stamp (same network, same bytes).
    Names a format cannot hold are escaped reversibly (:mod:`bnlab.io.names`). A UAI file
    gets its names in ``NAME.uai.names.json`` beside it (unless they are the defaults).

    Parameters
    ----------
    net
        The network.
    path
        The file; its suffix selects the format unless ``format`` is given.
    format
        As for :func:`read_network`.

    Raises
    ------
    BNError
        An unknown suffix or format, or a value that is not a ``BayesNet`` (write a
        ``Structure`` with :func:`write_structure`).
    """
    if not isinstance(net, BayesNet):
        hint = (
            " Write a structure with bnlab.io.write_structure."
            if isinstance(net, Structure)
            else ""
        )
        raise BNError(f"write_network expects a BayesNet, got {type(net).__name__}.{hint}")
    fmt, gzipped = detect(path, format, writing=True)
    if net.schema is not None and fmt != "json":
        from bnlab.schema import SchemaNotSavedWarning

        warnings.warn(
            f"{Path(path).name}: the {fmt} format cannot hold the network's data schema (its "
            "bins and raw types), so it is not saved; write .json to keep it.",
            SchemaNotSavedWarning,
            stacklevel=2,
        )
    if fmt == "json":
        data = json_format.dumps(json_format.network_to_dict(net)).encode("utf-8")
    elif fmt == "uai":
        data = uai.format_uai(net).encode("utf-8")
    else:
        data = format_text(fmt, net).encode("utf-8")
    if gzipped:
        data = gzip_bytes(data)
    if fmt == "uai" and not uai.has_default_names(net):
        names = json_format.dumps(uai.names_doc(net)).encode("utf-8")
        atomic_write(uai.names_path(path), names)
    atomic_write(path, data)


def read_structure(path: str | os.PathLike[str]) -> Structure:
    """Read a structure (no CPTs) from any network file or a ``bnlab.structure`` JSON file.

    Raises
    ------
    ParseError
        As for :func:`read_network`.
    """
    if detect(path)[0] != "json":
        return read_network(path).structure
    text = _read_text(path, False)
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
    if detect(path, writing=True)[0] != "json":
        raise BNError(
            f"structures are written as .json only (BIF needs CPTs), got {Path(path).name!r}; "
            "use write_network for a BayesNet."
        )
    doc = json_format.structure_to_dict(structure.structure)
    atomic_write(path, json_format.dumps(doc).encode("utf-8"))
