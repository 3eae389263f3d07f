"""Parquet partitions: file discovery, schema checks, state codes and streamed tables.

Counts add across any partition of the rows, so tables streamed record batch by record
batch from Parquet equal the in-memory ones bit for bit. Batches are read through Arrow
(dictionary indices are remapped to state codes without going through pandas), so peak
memory is set by ``batch_rows``, not by the data.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bnlab.codes import code_dtype
from bnlab.counts.memory import count_families, unique_rows
from bnlab.errors import DataError
from bnlab.network import BayesNet, Structure, as_structure

type PathSource = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
type Table = NDArray[np.int64]
type Spec = tuple[list[int], list[int]]


def parquet_files(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand a folder, a glob pattern, a file or a list of them into sorted Parquet files.

    Raises
    ------
    DataError
        If nothing matches.
    """
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            files.extend(sorted(p.rglob("*.parquet")))
        elif any(ch in str(item) for ch in "*?["):
            files.extend(Path(f) for f in sorted(glob.glob(str(item), recursive=True)))
        elif p.is_file():
            files.append(p)
    if not files:
        raise DataError(
            f"no Parquet files found at {source!s}; give a folder, a glob such as "
            "'data/train/*.parquet', or a list of files."
        )
    return files


def _dictionary_of(column: pa.ChunkedArray | pa.Array) -> list[str] | None:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(arr.type):
        return [str(x) for x in arr.dictionary.to_pylist()]
    return None


def check_partitions(files: Sequence[Path], structure: Structure | BayesNet) -> None:
    """Check that every file has the structure's columns with consistent types and categories.

    Reads each file's schema and the dictionaries of its first row group only.

    Raises
    ------
    DataError
        Naming the first file whose columns, column types or categories differ from the
        first file's (or miss a variable).
    """
    s = as_structure(structure)
    reference: dict[str, tuple[str, list[str] | None]] | None = None
    ref_file: Path | None = None
    for f in files:
        pf = pq.ParquetFile(f)
        names = set(pf.schema_arrow.names)
        missing = [v for v in s.variables if v not in names]
        if missing:
            raise DataError(
                f"partition {f} has no column for {missing}; every partition needs the "
                "same columns. Rewrite that file or remove it from the data set."
            )
        if pf.metadata.num_row_groups == 0:
            continue
        first = pf.read_row_group(0, columns=list(s.variables))
        found = {
            v: (str(first.schema.field(v).type), _dictionary_of(first.column(v)))
            for v in s.variables
        }
        if reference is None:
            reference, ref_file = found, f
            continue
        for v in s.variables:
            if found[v] != reference[v]:
                raise DataError(
                    f"partition {f} differs from {ref_file} in column {v!r}: type/categories "
                    f"{found[v][0]} {found[v][1]} vs {reference[v][0]} {reference[v][1]}. "
                    "Write all partitions with the same schema and categories "
                    "(bnlab.write_parquet does)."
                )


def parquet_structure(files: Sequence[Path]) -> Structure:
    """Variables and states (no edges) of Parquet files.

    A dictionary (Categorical) column's states are its dictionary, in order, read from the
    first file's first row group; any other column's are its distinct non-null values as
    text, sorted, collected in one streaming pass over the files.

    Raises
    ------
    DataError
        If a column has no values and no categories.
    """
    first = pq.ParquetFile(files[0])
    meta = first.schema_arrow.pandas_metadata or {}
    index_cols = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    names = [v for v in first.schema_arrow.names if v not in index_cols]
    states: dict[str, list[str] | None] = dict.fromkeys(names)
    if first.metadata.num_row_groups:
        group = first.read_row_group(0)
        for v in names:
            states[v] = _dictionary_of(group.column(v))
    plain = [v for v in names if states[v] is None]
    if plain:
        seen: dict[str, set[str]] = {v: set() for v in plain}
        for _, batch in iter_batches(files, plain, 1_000_000):
            for v in plain:
                col = batch.column(v)
                text = pc.cast(col, pa.string()) if not pa.types.is_string(col.type) else col
                seen[v].update(str(x) for x in pc.unique(text.drop_null()).to_pylist())
        for v in plain:
            if not seen[v]:
                raise DataError(
                    f"column {v!r} of {files[0]} has no values and no categories, so its "
                    "states are unknown; write it as a Categorical or pass `structure=`."
                )
            states[v] = sorted(seen[v])
    return Structure(names, {v: list(states[v] or []) for v in names}, {})


def _column_codes(column: pa.Array, variable: str, states: Sequence[str], where: str) -> Any:
    """State codes of one Arrow column (-1 for null); dictionary columns are remapped."""
    lookup = {st: i for i, st in enumerate(states)}
    if pa.types.is_dictionary(column.type):
        dictionary = [str(x) for x in column.dictionary.to_pylist()]
        mapping = np.array([lookup.get(x, -2) for x in dictionary] + [-1], dtype=np.int64)
        indices = column.indices.fill_null(len(dictionary))
        codes = mapping[indices.to_numpy(zero_copy_only=False)]
    else:
        text = pc.cast(column, pa.string()) if not pa.types.is_string(column.type) else column
        idx = pc.index_in(text, value_set=pa.array(list(states), pa.string()))
        codes = idx.fill_null(-2).to_numpy(zero_copy_only=False).astype(np.int64)
        codes[np.asarray(text.is_null().to_numpy(zero_copy_only=False))] = -1
    bad = np.flatnonzero(codes == -2)
    if bad.size:
        values = sorted({str(column[int(i)]) for i in bad[:50]})
        raise DataError(
            f"{where}: column {variable!r} has {bad.size} value(s) that are not states of "
            f"the variable, e.g. {values[:10]}. Its states are {list(states)}."
        )
    return codes


def batch_codes(
    batch: pa.RecordBatch | pa.Table,
    structure: Structure,
    where: str,
    columns: Sequence[str] | None = None,
) -> Any:
    """Integer codes ``(rows, columns)`` of an Arrow batch, -1 = missing.

    ``columns`` defaults to all of ``structure.variables``, in that order.
    """
    names = list(structure.variables if columns is None else columns)
    dtype = code_dtype(max(structure.cards.values()))
    out = np.empty((batch.num_rows, len(names)), dtype=dtype)
    for j, v in enumerate(names):
        col = batch.column(v)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        out[:, j] = _column_codes(col, v, structure.states[v], where)
    return out


def iter_batches(
    files: Iterable[Path], columns: Sequence[str], batch_rows: int
) -> Iterator[tuple[Path, pa.RecordBatch]]:
    """Stream record batches of at most ``batch_rows`` rows from each file in turn."""
    for f in files:
        pf = pq.ParquetFile(f)
        for batch in pf.iter_batches(batch_size=batch_rows, columns=list(columns)):
            yield f, batch


def _local_specs(specs: list[Spec], structure: Structure) -> tuple[list[str], list[Spec]]:
    """The columns the specs use (structure order) and the specs re-indexed into them."""
    used = sorted({c for cols, _ in specs for c in cols})
    local = {c: j for j, c in enumerate(used)}
    names = [structure.variables[c] for c in used]
    return names, [([local[c] for c in cols], cards) for cols, cards in specs]


def file_tables(
    files: Sequence[str | os.PathLike[str]],
    structure: Structure,
    specs: list[Spec],
    batch_rows: int,
) -> list[Table]:
    """Tables of ``specs`` over Parquet ``files``, streamed in record batches (no checks)."""
    from bnlab.counts.parquet import batch_codes, iter_batches

    names, local = _local_specs(specs, structure)
    totals = [np.zeros(tuple(cards), dtype=np.int64) for _, cards in specs]
    for f, batch in iter_batches([Path(x) for x in files], names, batch_rows):
        codes = batch_codes(batch, structure, str(f), names)
        for total, (table, _) in zip(totals, count_families(codes, local), strict=True):
            total += table
    return totals


def _file_distinct_rows(
    path: str, structure_json: str, batch_rows: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    from bnlab.io.json_format import loads, structure_from_dict

    s = structure_from_dict(loads(structure_json, "<task>", ("bnlab.structure",)), "<task>")
    return distinct_rows([Path(path)], s, batch_rows=batch_rows, check=False)


def distinct_rows(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    structure: Structure | BayesNet,
    *,
    client: Any = None,
    batch_rows: int = 1_000_000,
    check: bool = True,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Distinct rows of partitioned Parquet data and their multiplicities.

    Each record batch (or, with a Dask ``client``, each file on a worker) is reduced to its
    distinct rows, and those are merged, so memory follows the number of distinct rows, not
    of rows. The result equals :func:`bnlab.learn.scores.unique_rows` of the concatenated
    codes: rows in lexicographic order, multiplicities as float64.
    """
    s = as_structure(structure)
    files = parquet_files(source)
    if check:
        check_partitions(files, s)
    parts: list[tuple[NDArray[np.int64], NDArray[np.float64]]] = []
    if client is not None:
        from bnlab.io.json_format import dumps, structure_to_dict

        payload = dumps(structure_to_dict(s))
        futures = [
            client.submit(_file_distinct_rows, str(f), payload, batch_rows, pure=False)
            for f in files
        ]
        parts = list(client.gather(futures))
    else:
        pending = 0
        for f, batch in iter_batches(files, s.variables, batch_rows):
            part = unique_rows(batch_codes(batch, s, str(f)))
            parts.append(part)
            pending += len(part[0])
            if len(parts) > 1 and pending > max(len(parts[0][0]), batch_rows):
                # merge as we go: memory follows the distinct rows, not the batches read
                merged = unique_rows(
                    np.concatenate([u for u, _ in parts]), np.concatenate([c for _, c in parts])
                )
                parts, pending = [merged], 0
    if not parts:
        return np.zeros((0, len(s.variables)), dtype=np.int64), np.zeros(0)
    rows = np.concatenate([u for u, _ in parts], axis=0)
    weights = np.concatenate([c for _, c in parts])
    return unique_rows(rows, weights)
