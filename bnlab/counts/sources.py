"""Counts sources: contingency tables on request, from memory, chunked Parquet or Dask.

Everything bnlab learns from complete data — the conjugate fit, structure search, the
independence audit — reduces to contingency tables of a few variables at a time, and counts
add across any partition of the rows, so a table counted in memory, batch by batch from
Parquet, or on Dask workers is the same, bit for bit. A :class:`CountsSource` answers a
*batch* of table requests in one pass over the data (the search asks for every candidate
family of a move at once, the audit for every statement, the fit for every family), so
partitioned data are read once per batch, never loaded whole. :func:`counts_source` is the
one place that turns data into a source:

- :class:`ArrayCounts`: integer codes or a DataFrame in memory;
- :class:`ParquetCounts`: Parquet files streamed in record batches of ``batch_rows`` rows;
- :class:`~bnlab.counts.dask.DaskCounts`: one task per Parquet file on a Dask cluster;
- :class:`~bnlab.counts.dask.DaskFrameCounts`: one task per partition of a Dask DataFrame.

Tables are complete-case: a row counts in a table when none of its variables is missing.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bnlab.counts.memory import count_families
from bnlab.counts.parquet import (
    PathSource,
    Spec,
    Table,
    check_partitions,
    file_tables,
    parquet_files,
    parquet_structure,
)
from bnlab.data import check_codes, prepare_data
from bnlab.errors import ConfigError, DataError
from bnlab.network import BayesNet, Structure, as_structure

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.schema import Schema

#: Largest dense table (cells) a source counts: 2**26 int64 cells are 512 MiB.
MAX_TABLE_CELLS = 1 << 26


class CountsSource(ABC):
    """Contingency tables of the variables of a structure, a batch per pass over the data.

    Attributes
    ----------
    structure
        Variables and states (its edges are irrelevant).
    n_rows
        Rows in the data.
    passes
        Passes over the data so far (one per :meth:`table_counts` call that counted).
    """

    structure: Structure
    n_rows: int
    passes: int = 0

    def table_counts(self, tables: Sequence[Sequence[str]]) -> list[Table]:
        """Count a batch of tables in one pass.

        Parameters
        ----------
        tables
            Variable names per table; a table's axes follow its names' order.

        Returns
        -------
        list of numpy.ndarray
            One int64 array per table, shaped by the variables' numbers of states; rows
            with a missing value in a table's variables are left out of that table.

        Raises
        ------
        DataError
            A table names an unknown variable, or is too large to count densely.
        """
        specs = [self._spec(t) for t in tables]
        if not specs:
            return []
        self.passes += 1
        return self._count(specs)

    def family_counts_batch(self, families: Sequence[tuple[str, Sequence[str]]]) -> list[Table]:
        """Family tables ``(*parent cards, child card)`` of ``(child, parents)`` pairs."""
        return self.table_counts([(*parents, child) for child, parents in families])

    def _spec(self, names: Sequence[str]) -> tuple[list[int], list[int]]:
        s = self.structure
        unknown = [v for v in names if v not in s.index]
        if unknown:
            raise DataError(
                f"counts requested for unknown variable(s) {unknown}; the data have "
                f"{list(s.variables)}."
            )
        if len(set(names)) != len(names):
            raise DataError(f"a table names a variable twice: {list(names)}.")
        cards = [s.cards[v] for v in names]
        cells = int(np.prod(cards, dtype=np.float64))
        if cells > MAX_TABLE_CELLS:
            raise DataError(
                f"the table of {list(names)} has {cells} cells, more than the {MAX_TABLE_CELLS} "
                "a counts source builds densely; lower max_indegree (structure search) or "
                "audit in memory, where sparse tables are used."
            )
        return [s.index[v] for v in names], cards

    @abstractmethod
    def _count(self, specs: list[Spec]) -> list[Table]:
        """Tables of ``(column indices, cards)`` specs, one pass."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release what the source holds (a Dask client it opened); idempotent."""

    def __enter__(self) -> CountsSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ArrayCounts(CountsSource):
    """Tables of integer codes in memory (columns in ``structure.variables`` order)."""

    def __init__(self, codes: NDArray[np.integer], structure: Structure | BayesNet) -> None:
        s = as_structure(structure)
        self.structure = Structure(s.variables, s.states, {})
        self.codes = check_codes(codes, s)
        self.n_rows = int(self.codes.shape[0])
        self.passes = 0

    def _count(self, specs: list[Spec]) -> list[Table]:
        return [table for table, _ in count_families(self.codes, specs)]


class ParquetCounts(CountsSource):
    """Tables of partitioned Parquet data, streamed in bounded memory on this machine.

    Parameters
    ----------
    source
        A folder, a glob pattern, a file, or a list of files.
    structure
        Variables and states; inferred from the files when ``None``
        (:func:`bnlab.counts.parquet.parquet_structure`).
    batch_rows
        Rows per streamed record batch: peak memory is about ``batch_rows`` times the
        requested columns, whatever the data size.
    check
        Check that every partition has the same columns and categories first.
    """

    def __init__(
        self,
        source: PathSource,
        structure: Structure | BayesNet | None = None,
        *,
        batch_rows: int = 1_000_000,
        check: bool = True,
    ) -> None:
        self.files = parquet_files(source)
        s = parquet_structure(self.files) if structure is None else as_structure(structure)
        if check:
            check_partitions(self.files, s)
        if int(batch_rows) < 1:
            raise ConfigError(f"batch_rows must be a positive integer, got {batch_rows!r}.")
        self.structure = Structure(s.variables, s.states, {})
        self.batch_rows = int(batch_rows)
        self.n_rows = sum(int(pq.ParquetFile(f).metadata.num_rows) for f in self.files)
        self.passes = 0

    def _count(self, specs: list[Spec]) -> list[Table]:
        return file_tables(self.files, self.structure, specs, self.batch_rows)


def is_path_source(data: Any) -> bool:
    """Whether ``data`` names Parquet files (a path, a glob, or a list of them)."""
    if isinstance(data, (str, os.PathLike)):
        return True
    return (
        isinstance(data, (list, tuple))
        and bool(data)
        and all(isinstance(x, (str, os.PathLike)) for x in data)
    )


def is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (checked without importing Dask)."""
    return type(data).__module__.split(".")[0] == "dask"


def is_partitioned(data: Any) -> bool:
    """Whether ``data`` is a counts source, Parquet location or Dask DataFrame."""
    return isinstance(data, CountsSource) or is_path_source(data) or is_dask_frame(data)


def check_source_structure(source: CountsSource, structure: Structure | BayesNet) -> None:
    """Check that ``source`` has every variable of ``structure``, with the same states.

    Raises
    ------
    DataError
        Naming the variables that are missing or have other states, and the fix.
    """
    s, have = as_structure(structure), source.structure
    bad = [
        v for v in s.variables if v not in have.index or tuple(have.states[v]) != tuple(s.states[v])
    ]
    if bad:
        raise DataError(
            f"the counts source lacks, or has other states for, {bad[:10]}; build it with "
            "that structure (e.g. bnlab.counts.counts_source(files, structure))."
        )


def counts_source(
    data: Any,
    structure: Structure | BayesNet | None = None,
    *,
    compute: str = "local",
    scheduler: str | None = None,
    client: Any = None,
    timeout: float = 10.0,
    batch_rows: int = 1_000_000,
    schema: Schema | None = None,
) -> CountsSource:
    """A counts source for ``data``: the one dispatcher from data to contingency tables.

    Parameters
    ----------
    data
        A :class:`CountsSource` (checked against ``structure`` and returned as is); a
        DataFrame or integer codes (kept in memory); a Parquet folder, glob, file or list of
        files; or a Dask DataFrame.
    structure
        Variables and states (inferred from a DataFrame or the Parquet files if ``None``).
    compute
        For Parquet: ``"local"`` (stream in this process) or ``"dask"`` (one task per file
        on the scheduler at ``scheduler``, or on ``client``).
    scheduler, client, timeout
        Where the Dask work goes, and how long to wait for the scheduler.
    batch_rows
        Rows per streamed record batch.
    schema
        For raw data (numbers, text, bool): the :class:`~bnlab.schema.Schema` that encodes
        them; a DataFrame is encoded in memory, Parquet files record batch by record batch
        (:class:`~bnlab.counts.raw.SchemaParquetCounts`, local ``compute`` only).

    Raises
    ------
    DataError
        Data that do not match ``structure``.
    ConfigError
        An unknown ``compute``, or an unreachable scheduler.
    SchemaError
        ``schema`` with a counts source, a Dask DataFrame or ``compute="dask"``.
    """
    if schema is not None:
        return _schema_source(data, structure, schema, compute, batch_rows)
    if isinstance(data, CountsSource):
        if structure is not None:
            check_source_structure(data, structure)
        return data
    if compute not in ("local", "dask"):
        raise ConfigError(f"compute must be 'local' or 'dask', got {compute!r}.")
    if is_dask_frame(data):
        from bnlab.counts.dask import DaskFrameCounts

        if structure is None:
            raise DataError("a Dask DataFrame needs `structure=` to give the variables and states.")
        return DaskFrameCounts(data, structure)
    if is_path_source(data):
        if compute == "dask":
            from bnlab.counts.dask import DaskCounts

            return DaskCounts(
                data,
                structure,
                client=client,
                address=scheduler,
                timeout=timeout,
                batch_rows=batch_rows,
            )
        return ParquetCounts(data, structure, batch_rows=batch_rows)
    base, codes = prepare_data(data, structure)
    return ArrayCounts(codes, base)


def _schema_source(
    data: Any,
    structure: Structure | BayesNet | None,
    schema: Schema,
    compute: str,
    batch_rows: int,
) -> CountsSource:
    """The counts source of raw ``data`` encoded by ``schema`` (see :func:`counts_source`)."""
    from bnlab.counts.raw import SchemaParquetCounts, schema_structure
    from bnlab.schema import SchemaError

    if isinstance(data, CountsSource) or is_dask_frame(data) or compute != "local":
        what = (
            "a counts source"
            if isinstance(data, CountsSource)
            else "a Dask DataFrame"
            if is_dask_frame(data)
            else f"compute={compute!r}"
        )
        raise SchemaError(
            f"schema= encodes raw Parquet files or a DataFrame on this machine, not {what}; "
            "encode the data first (schema.encode on each partition, then write_parquet) and "
            "count those, or use compute='local'."
        )
    if is_path_source(data):
        return SchemaParquetCounts(data, schema, structure, batch_rows=batch_rows)
    s = schema_structure(schema, structure)
    base, codes = prepare_data(schema.encode(data), s)
    return ArrayCounts(codes, base)


def family_tables(
    source: CountsSource,
    families: Mapping[str, Sequence[str]],
) -> dict[str, Table]:
    """Family tables ``(*parent cards, card)`` of ``{child: parents}``, in one pass."""
    tables = source.family_counts_batch([(v, tuple(ps)) for v, ps in families.items()])
    return dict(zip(families, tables, strict=True))


def partitioned_counts(
    data: Any,
    structure: Structure | BayesNet,
    *,
    compute: str = "local",
    scheduler: str | None = None,
    batch_rows: int = 1_000_000,
    timeout: float = 10.0,
    schema: Schema | None = None,
) -> tuple[dict[str, Table], int]:
    """Family counts and row count of partitioned data (see :func:`counts_source`).

    Equal, bit for bit, to :func:`bnlab.counts.family_counts` of the concatenated rows
    (encoded by ``schema`` if given).
    """
    s = as_structure(structure)
    with counts_source(
        data,
        s,
        compute=compute,
        scheduler=scheduler,
        timeout=timeout,
        batch_rows=batch_rows,
        schema=schema,
    ) as source:
        return family_tables(source, s.parents), source.n_rows
