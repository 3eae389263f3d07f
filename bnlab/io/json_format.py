"""bnlab's native, versioned JSON formats for networks and structures.

A network file (``format`` ``"bnlab.network"``)::

    {
      "format": "bnlab.network",
      "version": 1,
      "variables": [
        {"name": "rain", "states": ["no", "yes"], "parents": []},
        {"name": "wet", "states": ["no", "yes"], "parents": ["rain"]}
      ],
      "cpts": {
        "rain": [0.8, 0.2],
        "wet": [[0.9, 0.1], [0.2, 0.8]]
      }
    }

``variables`` lists every variable in topological order with its ordered states and its
parents (in CPT axis order). ``cpts`` maps each variable to its table as nested lists of
shape ``(*parent cards, card)``; the last axis sums to one. Numbers are written with
``repr`` precision, so a round trip is exact. A structure file (``format``
``"bnlab.structure"``) has the same fields without ``cpts``.

A network fitted from raw data may carry an optional ``"schema"`` entry: the
:meth:`bnlab.Schema.to_dict` document (plain JSON: per column its kind, ordered states, raw
type and, for a discretized column, its cut points and training range). Reading checks it
field by field and against the variables' states (a malformed one is a
:class:`~bnlab.errors.ParseError` naming the file), and the network carries it
(:attr:`bnlab.BayesNet.schema`). Files without it load as before.

Loading is plain ``json`` parsing followed by a schema check: no code is ever executed.
``NaN`` and ``Infinity`` are refused, as are unknown formats and versions other than
:data:`VERSION`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from bnlab.errors import CPTError, ParseError, StructureError
from bnlab.io.files import with_path
from bnlab.network import BayesNet, Structure

#: The version written, and the only version read.
VERSION = 1
NETWORK_FORMAT = "bnlab.network"
STRUCTURE_FORMAT = "bnlab.structure"


def structure_to_dict(structure: Structure) -> dict[str, Any]:
    """Return the JSON document (as a dict) of a structure."""
    return {
        "format": STRUCTURE_FORMAT,
        "version": VERSION,
        "variables": _variables(structure),
    }


def network_to_dict(net: BayesNet) -> dict[str, Any]:
    """Return the JSON document (as a dict) of a network, its schema included if it has one."""
    doc = {
        "format": NETWORK_FORMAT,
        "version": VERSION,
        "variables": _variables(net.structure),
        "cpts": {v: net.cpt(v).tolist() for v in net.variables},
    }
    if net.schema is not None:
        doc["schema"] = net.schema.to_dict()
    return doc


def _variables(structure: Structure) -> list[dict[str, Any]]:
    return [
        {"name": v, "states": list(structure.states[v]), "parents": list(structure.parents[v])}
        for v in structure.variables
    ]


def dumps(doc: Mapping[str, Any]) -> str:
    """Serialise a document; refuses NaN and infinities."""
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed; every number must be finite")


def loads(text: str, path: str, formats: tuple[str, ...]) -> dict[str, Any]:
    """Parse JSON text and check the ``format`` and ``version`` header.

    Raises
    ------
    ParseError
        Invalid JSON (with its line), a non-finite number, or a wrong format or version.
    """
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise ParseError(f"invalid JSON: {err.msg}", path=path, line=err.lineno) from None
    except ValueError as err:
        raise ParseError(f"invalid JSON: {err}", path=path) from None
    if not isinstance(doc, dict):
        raise ParseError(
            f"expected a JSON object with a 'format' field, found {type(doc).__name__}",
            path=path,
        )
    fmt = doc.get("format")
    if fmt not in formats:
        raise ParseError(
            f"expected 'format' to be one of {list(formats)}, found {fmt!r}. "
            "Is this a bnlab file? Network files are written by bnlab.write_network.",
            path=path,
        )
    version = doc.get("version")
    if type(version) is not int or version != VERSION:
        raise ParseError(
            f"unsupported {fmt} version: expected {VERSION}, found {version!r}. "
            "Write the file again with this version of bnlab.",
            path=path,
        )
    return doc


def structure_from_dict(doc: Mapping[str, Any], path: str) -> Structure:
    """Build the structure of a checked document (network or structure format)."""
    items = doc.get("variables")
    if not isinstance(items, list):
        raise ParseError("'variables' must be a list of objects", path=path)
    names: list[str] = []
    states: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        where = f"variables[{i}]"
        if not isinstance(item, dict) or set(item) != {"name", "states", "parents"}:
            found = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise ParseError(
                f"{where} must be an object with exactly the keys 'name', 'states' and "
                f"'parents', found {found}",
                path=path,
            )
        name = item["name"]
        if not isinstance(name, str):
            raise ParseError(f"{where}.name must be a string, found {name!r}", path=path)
        for key in ("states", "parents"):
            value = item[key]
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise ParseError(
                    f"{where}.{key} (variable {name!r}) must be a list of strings, found {value!r}",
                    path=path,
                )
        names.append(name)
        states[name] = item["states"]
        parents[name] = item["parents"]
    try:
        return Structure(names, states, parents)
    except StructureError as err:
        raise with_path(err, path) from err


def network_from_dict(doc: Mapping[str, Any], path: str) -> BayesNet:
    """Build the network of a checked ``bnlab.network`` document."""
    structure = structure_from_dict(doc, path)
    cpts_doc = doc.get("cpts")
    if not isinstance(cpts_doc, dict):
        raise ParseError("'cpts' must be an object mapping each variable to its table", path=path)
    extra = sorted(set(cpts_doc) - set(structure.variables))
    if extra:
        raise ParseError(f"'cpts' names unknown variables {extra}", path=path)
    cpts = {}
    for v in structure.variables:
        if v not in cpts_doc:
            raise ParseError(f"'cpts' has no table for variable {v!r}", path=path)
        try:
            arr = np.array(cpts_doc[v])
        except ValueError:
            raise ParseError(
                f"the table of {v!r} is ragged; it must be nested lists of shape "
                f"{structure.family_shape(v)}",
                path=path,
            ) from None
        if arr.dtype.kind not in "iuf":
            raise ParseError(
                f"the table of {v!r} must hold only numbers (found {arr.dtype} values)",
                path=path,
            )
        if arr.shape != structure.family_shape(v):
            raise ParseError(
                f"the table of {v!r} has shape {arr.shape}, expected "
                f"{structure.family_shape(v)} (parents {list(structure.parents[v])}, then "
                f"the states of {v!r})",
                path=path,
            )
        cpts[v] = arr.astype(np.float64)
    try:
        net = BayesNet(cpts=cpts, structure=structure)
    except CPTError as err:
        raise with_path(err, path) from err
    return net if doc.get("schema") is None else _with_schema(net, doc["schema"], path)


def _with_schema(net: BayesNet, schema_doc: Any, path: str) -> BayesNet:
    """``net`` carrying the checked ``schema`` entry of its file."""
    from bnlab.schema import SchemaError  # pandas: only for files that carry a schema

    if not isinstance(schema_doc, dict):
        raise ParseError(
            f"'schema' must be an object (a bnlab schema document), found "
            f"{type(schema_doc).__name__}",
            path=path,
        )
    try:
        return net.with_schema(schema_doc)
    except SchemaError as err:
        raise ParseError(
            f"the 'schema' entry is not valid ({err}); write the file again with "
            "bnlab.write_network, or remove the entry to load the network without it",
            path=path,
        ) from None
