"""Counts of raw Parquet partitions, encoded record batch by record batch with a schema.

:class:`SchemaParquetCounts` is :class:`~bnlab.counts.sources.ParquetCounts` for files of
*raw* columns (numbers, text, bool): each streamed record batch becomes a pandas frame, the
:class:`~bnlab.schema.Schema` turns it into state codes (bins included), and the codes are
counted. Encoding is value by value, so the tables equal, bit for bit, those of the same
rows encoded in one frame: ``bnlab.fit(files, schema=s)`` is ``bnlab.fit(frame, schema=s)``.
Values beyond a discretized column's training range go to the edge bins and are counted
once per pass (one :class:`~bnlab.schema.OutOfRangeWarning`, as ``Schema.encode`` gives);
a value that is no state raises :class:`~bnlab.schema.UnseenCategoryError` naming the file.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bnlab.counts.memory import count_families
from bnlab.counts.parquet import PathSource, Spec, Table, iter_batches, parquet_files
from bnlab.counts.sources import CountsSource
from bnlab.errors import ConfigError, DataError
from bnlab.io.files import with_path
from bnlab.network import BayesNet, Structure, as_structure
from bnlab.schema import OutOfRangeWarning, Schema, SchemaError


def schema_structure(schema: Schema, structure: Structure | BayesNet | None) -> Structure:
    """The variables and states (no edges) the source counts: ``structure``'s, or the schema's.

    Raises
    ------
    SchemaError
        A variable of ``structure`` that the schema does not have, or with other states.
    """
    if structure is None:
        return Structure(schema.variables, schema.states, {})
    s = as_structure(structure)
    absent = [v for v in s.variables if v not in schema.variables]
    if absent:
        raise SchemaError(
            f"variable(s) {absent[:10]} of the structure are not columns of the schema; a "
            "schema-encoded Parquet source counts only schema columns. Add them to the schema "
            "or fit a structure over the schema's variables."
        )
    other = [v for v in s.variables if tuple(s.states[v]) != schema.states[v]]
    if other:
        v = other[0]
        raise SchemaError(
            f"the structure's states of {other[:10]} differ from the schema's (e.g. {v!r}: "
            f"{list(s.states[v])[:6]} vs {list(schema.states[v])[:6]}); build the structure "
            "from the schema (Structure(schema.variables, schema.states, parents))."
        )
    return Structure(s.variables, s.states, {})


def check_columns(files: Sequence[Path], names: Sequence[str]) -> None:
    """Check that every file has the columns ``names`` (file metadata only).

    Raises
    ------
    DataError
        Naming the first file without one of them.
    """
    for f in files:
        have = set(pq.ParquetFile(f).schema_arrow.names)
        missing = [v for v in names if v not in have]
        if missing:
            raise DataError(
                f"partition {f} has no column for {missing}; every partition needs the "
                "schema's columns. Rewrite that file or remove it from the data set."
            )


def schema_file_tables(
    files: Sequence[Path],
    schema: Schema,
    structure: Structure,
    specs: list[Spec],
    batch_rows: int,
) -> tuple[list[Table], dict[str, int]]:
    """Tables of ``specs`` over raw Parquet ``files``, each batch encoded with ``schema``.

    Returns the tables and the values per column sent to an edge bin (out of range).
    """
    used = sorted({c for cols, _ in specs for c in cols})
    local = {c: j for j, c in enumerate(used)}
    names = [structure.variables[c] for c in used]
    sub = Schema(tuple(schema.column(v) for v in names))
    local_specs = [([local[c] for c in cols], cards) for cols, cards in specs]
    totals = [np.zeros(tuple(cards), dtype=np.int64) for _, cards in specs]
    outside = dict.fromkeys(names, 0)
    for f, batch in iter_batches(files, names, batch_rows):
        try:
            codes, _, report = sub.encode_codes(batch.to_pandas())
        except SchemaError as err:
            raise with_path(err, str(f)) from None
        for name, n in report.out_of_range.items():
            outside[name] += n
        for total, (table, _) in zip(totals, count_families(codes, local_specs), strict=True):
            total += table
    return totals, outside


class SchemaParquetCounts(CountsSource):
    """Tables of raw Parquet data encoded by a schema, streamed in bounded memory.

    Parameters
    ----------
    source
        A folder, a glob pattern, a file, or a list of files, with raw columns.
    schema
        Turns each record batch's raw columns into states.
    structure
        Variables and states (the schema's when ``None``); their states must be the
        schema's.
    batch_rows
        Rows per streamed record batch.
    """

    def __init__(
        self,
        source: PathSource,
        schema: Schema,
        structure: Structure | BayesNet | None = None,
        *,
        batch_rows: int = 1_000_000,
    ) -> None:
        if not isinstance(schema, Schema):
            raise SchemaError(f"schema must be a bnlab.Schema, got {type(schema).__name__}.")
        if int(batch_rows) < 1:
            raise ConfigError(f"batch_rows must be a positive integer, got {batch_rows!r}.")
        self.files = parquet_files(source)
        self.schema = schema
        self.structure = schema_structure(schema, structure)
        check_columns(self.files, self.structure.variables)
        self.batch_rows = int(batch_rows)
        self.n_rows = sum(int(pq.ParquetFile(f).metadata.num_rows) for f in self.files)
        self.passes = 0
        #: values sent to an edge bin in the last pass, per column
        self.out_of_range: dict[str, int] = {}

    def _count(self, specs: list[Spec]) -> list[NDArray[np.int64]]:
        tables, self.out_of_range = schema_file_tables(
            self.files, self.schema, self.structure, specs, self.batch_rows
        )
        n = sum(self.out_of_range.values())
        if n:
            shown = {k: v for k, v in self.out_of_range.items() if v}
            warnings.warn(
                f"{n} value(s) outside the training range went to the edge bins: {shown}",
                OutOfRangeWarning,
                stacklevel=4,
            )
        return tables
