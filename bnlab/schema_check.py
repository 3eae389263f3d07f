"""Validation of a schema document (the JSON form of :class:`bnlab.schema.Schema`).

A schema travels in posterior attributes and in network JSON files, both of which a user can
edit or a foreign tool can write, so :meth:`Schema.from_dict` checks every field before any
of it is used: a malformed document fails here with a :class:`~bnlab.schema.SchemaError`
naming the field, never later inside ``encode`` or ``decode``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bnlab.schema import KINDS, RAW_TYPES, SchemaError

#: the schema document version written and read
SCHEMA_VERSION = 1


def _fail(where: str, message: str) -> SchemaError:
    return SchemaError(f"malformed schema document: {where} {message}.")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_bins(bins: Any, where: str, n_states: int) -> None:
    if not isinstance(bins, Mapping):
        raise _fail(where, f"must be an object with cuts, low, high and method, found {bins!r}")
    missing = [k for k in ("cuts", "low", "high", "method") if k not in bins]
    if missing:
        raise _fail(where, f"lacks {missing}")
    cuts = bins["cuts"]
    if not isinstance(cuts, list) or not all(_is_number(c) for c in cuts):
        raise _fail(f"{where}.cuts", f"must be a list of finite numbers, found {cuts!r}")
    if any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
        raise _fail(f"{where}.cuts", f"must increase strictly, found {cuts!r}")
    low, high = bins["low"], bins["high"]
    if not (_is_number(low) and _is_number(high)) or low > high:
        raise _fail(
            where, f"low/high must be finite numbers with low <= high, found {low!r}, {high!r}"
        )
    if cuts and (cuts[0] < low or cuts[-1] > high):
        raise _fail(f"{where}.cuts", f"must lie within [low, high] = [{low}, {high}]")
    if not isinstance(bins["method"], str) or not isinstance(bins.get("integer", False), bool):
        raise _fail(where, "method must be text and integer a boolean")
    if len(cuts) + 1 != n_states:
        raise _fail(where, f"has {len(cuts) + 1} bins for {n_states} states")


def _check_column(col: Any, where: str) -> str:
    if not isinstance(col, Mapping):
        raise _fail(where, f"must be an object, found {type(col).__name__}")
    missing = [k for k in ("name", "kind", "states") if k not in col]
    if missing:
        raise _fail(where, f"lacks {missing}")
    name = col["name"]
    if not isinstance(name, str) or not name:
        raise _fail(f"{where}.name", f"must be non-empty text, found {name!r}")
    kind = col["kind"]
    if kind not in KINDS:
        raise _fail(
            f"{where}.kind (column {name!r})", f"must be one of {list(KINDS)}, found {kind!r}"
        )
    states = col["states"]
    if not isinstance(states, list) or not states or not all(isinstance(s, str) for s in states):
        raise _fail(
            f"{where}.states (column {name!r})",
            f"must be a non-empty list of text, found {states!r}",
        )
    if len(set(states)) != len(states):
        raise _fail(f"{where}.states (column {name!r})", f"repeat a state: {states!r}")
    if kind == "integer":
        try:
            [float(s) for s in states]
        except ValueError:
            raise _fail(
                f"{where}.states (column {name!r})",
                f"of an integer column must be numbers, found {states!r}",
            ) from None
    bins = col.get("bins")
    if (kind == "discretized") != (bins is not None):
        raise _fail(
            f"{where}.bins (column {name!r})",
            "must be given for a discretized column and only for one",
        )
    if bins is not None:
        _check_bins(bins, f"{where}.bins (column {name!r})", len(states))
    raw = col.get("raw_type")
    if raw is not None and raw not in RAW_TYPES:
        raise _fail(
            f"{where}.raw_type (column {name!r})",
            f"must be one of {list(RAW_TYPES)}, found {raw!r}",
        )
    if not isinstance(col.get("reason", ""), str) or not isinstance(
        col.get("declared", False), bool
    ):
        raise _fail(where, "reason must be text and declared a boolean")
    return name


def check_schema_doc(doc: Any) -> None:
    """Check a schema document field by field.

    Raises
    ------
    SchemaError
        Naming the first malformed field: not a ``bnlab-schema`` object, an unknown version,
        a column without name, kind or states, repeated names or states, bins that do not
        fit the states, or a wrong type anywhere.
    """
    if not isinstance(doc, Mapping) or doc.get("format") != "bnlab-schema":
        raise SchemaError("not a bnlab schema document (format != 'bnlab-schema').")
    version = doc.get("version", SCHEMA_VERSION)
    if type(version) is not int or version != SCHEMA_VERSION:
        raise _fail("version", f"must be {SCHEMA_VERSION}, found {version!r}")
    target, dropped = doc.get("target"), doc.get("dropped", [])
    if target is not None and not isinstance(target, str):
        raise _fail("target", f"must be text or null, found {target!r}")
    if not isinstance(dropped, (list, tuple)) or not all(isinstance(d, str) for d in dropped):
        raise _fail("dropped", f"must be a list of text, found {dropped!r}")
    columns = doc.get("columns")
    if not isinstance(columns, (list, tuple)):
        raise _fail("columns", f"must be a list of objects, found {type(columns).__name__}")
    names = [_check_column(c, f"columns[{i}]") for i, c in enumerate(columns)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise _fail("columns", f"name a column twice: {repeated}")
