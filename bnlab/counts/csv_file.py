"""A CSV file straight to integer codes, without pandas.

Structure learning and fitting count integer codes; reading a CSV of categories through
pandas costs a fresh process half a second of imports before the first row. This reader
uses the standard library's :mod:`csv` and numpy only, and gives the same states and codes
as ``pandas.read_csv(path, dtype=str)`` followed by :func:`bnlab.data.infer_structure`:
every column's states are its distinct non-missing texts, sorted, and the texts pandas
reads as missing by default (``""``, ``NA``, ``NaN``, ``null``, ...) are missing (code -1).
Raw tables that need types, binning or an identifier column dropped go through a
:class:`bnlab.Schema` instead.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

from bnlab.codes import ExtraColumnsWarning, code_dtype
from bnlab.errors import DataError
from bnlab.network import BayesNet, Structure, as_structure

#: pandas' default missing-value texts (``keep_default_na=True``)
MISSING_TEXTS = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip


def is_csv_path(data: object) -> bool:
    """Whether ``data`` names a CSV file (``.csv`` or ``.csv.gz``)."""
    if not isinstance(data, str | os.PathLike):
        return False
    name = os.fspath(data).lower()
    return name.endswith((".csv", ".csv.gz"))


def _open_text(path: Path) -> IO[str]:
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode("utf-8-sig"), newline="")


def read_csv_columns(path: str | os.PathLike[str]) -> tuple[list[str], list[Sequence[str]]]:
    """Header and columns (texts) of a CSV file; blank lines are skipped.

    Raises
    ------
    DataError
        No such file, no header, a repeated column name, or a row with another number of
        fields than the header (the line is named).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"no such CSV file: {os.fspath(path)!r}; check the path.")
    try:
        reader = csv.reader(_open_text(p))
        header = next(reader, None)
        rows = [r for r in reader if r]
    except (UnicodeDecodeError, csv.Error, OSError, EOFError) as err:
        raise DataError(f"{p}: not a readable UTF-8 CSV file ({err}).") from None
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{p}: the first line must name the columns; it is empty.")
    repeated = sorted(name for name, n in Counter(header).items() if n > 1)
    if repeated:
        raise DataError(f"{p}: column names repeat: {repeated}; give every column its own name.")
    width = len(header)
    for line, row in enumerate(rows, start=2):
        if len(row) != width:
            raise DataError(
                f"{p}: a row has {len(row)} fields where the header names {width} (the "
                f"{line - 1}th data row); fix the row or quote fields that hold commas."
            )
    columns: list[Sequence[str]] = list(zip(*rows, strict=True)) if rows else [()] * width
    return header, columns


def _text_codes(texts: Sequence[str]) -> tuple[list[str], NDArray[np.intp]]:
    """Sorted distinct non-missing texts, and each row's index among them (-1: missing)."""
    states = sorted(set(texts) - MISSING_TEXTS)  # code-point order, as numpy's and pandas'
    index = {state: k for k, state in enumerate(states)}
    codes = np.fromiter((index.get(t, -1) for t in texts), dtype=np.intp, count=len(texts))
    return states, codes


def read_csv_codes(
    path: str | os.PathLike[str], structure: Structure | BayesNet | None = None
) -> tuple[Structure, NDArray[np.signedinteger]]:
    """``(structure without edges, codes)`` of a CSV file of categories.

    Parameters
    ----------
    path
        A ``.csv`` or ``.csv.gz`` file with a header line, one column per variable.
    structure
        Variables and states to encode against (columns in its order; a text that is not
        one of its states is refused, extra columns are ignored with an
        :class:`~bnlab.data.ExtraColumnsWarning`). Default: every column, its states its
        distinct texts, sorted.

    Raises
    ------
    DataError
        A malformed file, no data rows, a column with no observed value, a variable of
        ``structure`` without a column, or a text that is not one of its states.
    """
    header, columns = read_csv_columns(path)
    if not columns or len(columns[0]) == 0:
        raise DataError(
            f"{os.fspath(path)}: the file has a header but no rows; learning needs data."
        )
    if structure is None:
        states: dict[str, list[str]] = {}
        cols = []
        for name, texts in zip(header, columns, strict=True):
            states[name], c = _text_codes(texts)
            if not states[name]:
                raise DataError(
                    f"column {name!r} has no observed values, so its states are unknown; "
                    "drop it or pass `structure=` with its states."
                )
            cols.append(c)
        base = Structure(list(header), states, {})
        dtype = code_dtype(max(base.cards.values()))
        return base, np.stack(cols, axis=1).astype(dtype)
    s = as_structure(structure)
    base = Structure(s.variables, s.states, {})
    lacking = [v for v in base.variables if v not in header]
    if lacking:
        raise DataError(
            f"{os.fspath(path)}: no column for the variables {lacking[:10]}; add them, or "
            "learn without `structure=` to take the file's columns."
        )
    extra = [h for h in header if h not in base.index]
    if extra:
        warnings.warn(
            f"ignoring {len(extra)} column(s) that are not variables of the structure: "
            f"{extra[:10]}",
            ExtraColumnsWarning,
            stacklevel=2,
        )
    out = np.empty(
        (len(columns[0]), len(base.variables)), dtype=code_dtype(max(base.cards.values()))
    )
    for j, v in enumerate(base.variables):
        texts = columns[header.index(v)]
        found, codes = _text_codes(texts)
        known = {state: k for k, state in enumerate(base.states[v])}
        unknown = [t for t in found if t not in known]
        if unknown:
            raise DataError(
                f"column {v!r} holds {unknown[:5]}, which are not states of {v} "
                f"{list(base.states[v])}; fix the data or the structure's states."
            )
        lookup = np.array([known[t] for t in found], dtype=np.intp)
        out[:, j] = np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1)
    return base, out
