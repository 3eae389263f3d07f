"""Counts sources: contingency tables on request, from memory, chunked Parquet or Dask.

Everything structure search and the CI audit need from data is the contingency table of
a few variables at a time; counts add across any partition of the rows, so a table
counted in memory, batch by batch from Parquet, or on Dask workers is the same, bit for
bit. A :class:`CountsSource` answers a *batch* of table requests in one pass over the
data — the search asks for every candidate family of a move at once, the audit for every
statement — so partitioned data are read once per batch, never loaded whole.

- :class:`ArrayCounts`: integer codes in memory;
- :class:`ParquetCounts`: Parquet files streamed in record batches of ``batch_rows`` rows;
- :class:`DaskCounts`: one task per Parquet file on a Dask cluster, each counting every
  requested table of its file; the client sums the (small) arrays.

Tables are complete-case: a row counts in a table when none of its variables is missing.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bnlab.counts import count_families
from bnlab.errors import ConfigError, DataError
from bnlab.network import BayesNet, Structure, as_structure

type PathSource = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
type Table = NDArray[np.int64]

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
    def _count(self, specs: list[tuple[list[int], list[int]]]) -> list[Table]:
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
        arr = np.asarray(codes)
        if arr.ndim != 2 or arr.shape[1] != len(s.variables):
            raise DataError(
                f"codes have shape {arr.shape}; expected (rows, {len(s.variables)}) in "
                "structure.variables order (see bnlab.data.encode)."
            )
        self.structure = Structure(s.variables, s.states, {})
        self.codes = arr
        self.n_rows = int(arr.shape[0])
        self.passes = 0

    def _count(self, specs: list[tuple[list[int], list[int]]]) -> list[Table]:
        return [table for table, _ in count_families(self.codes, specs)]


def _local_specs(
    specs: list[tuple[list[int], list[int]]], structure: Structure
) -> tuple[list[str], list[tuple[list[int], list[int]]]]:
    """The columns the specs use (structure order) and the specs re-indexed into them."""
    used = sorted({c for cols, _ in specs for c in cols})
    local = {c: j for j, c in enumerate(used)}
    names = [structure.variables[c] for c in used]
    return names, [([local[c] for c in cols], cards) for cols, cards in specs]


def file_tables(
    files: Sequence[str | os.PathLike[str]],
    structure: Structure,
    specs: list[tuple[list[int], list[int]]],
    batch_rows: int,
) -> list[Table]:
    """Tables of ``specs`` over Parquet ``files``, streamed in record batches (no checks)."""
    from bnlab.partitioned import batch_codes, iter_batches

    names, local = _local_specs(specs, structure)
    totals = [np.zeros(tuple(cards), dtype=np.int64) for _, cards in specs]
    for f, batch in iter_batches([Path(x) for x in files], names, batch_rows):
        codes = batch_codes(batch, structure, str(f), names)
        for total, (table, _) in zip(totals, count_families(codes, local), strict=True):
            total += table
    return totals


class ParquetCounts(CountsSource):
    """Tables of partitioned Parquet data, streamed in bounded memory on this machine.

    Parameters
    ----------
    source
        A folder, a glob pattern, a file, or a list of files.
    structure
        Variables and states; inferred from the files when ``None``
        (:func:`bnlab.partitioned.parquet_structure`).
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
        from bnlab.partitioned import check_partitions, parquet_files, parquet_structure

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

    def _count(self, specs: list[tuple[list[int], list[int]]]) -> list[Table]:
        return file_tables(self.files, self.structure, specs, self.batch_rows)


def _task_tables(path: str, structure_json: str, specs_json: str, batch_rows: int) -> list[Table]:
    """Dask task: every requested table of one Parquet file."""
    from bnlab.io.json_format import loads, structure_from_dict

    s = structure_from_dict(loads(structure_json, "<task>", ("bnlab.structure",)), "<task>")
    specs = [(list(cols), list(cards)) for cols, cards in json.loads(specs_json)]
    return file_tables([path], s, specs, batch_rows)


class DaskCounts(ParquetCounts):
    """Tables of partitioned Parquet data on a Dask cluster: per batch, one task per file.

    Workers read their own files; only the structure (JSON), the file name and the
    requested variable indices go out, and one small array per table comes back.

    Parameters
    ----------
    source, structure, batch_rows, check
        As :class:`ParquetCounts` (the files must be readable by the workers under the
        same paths).
    client
        A ``distributed.Client``; left open by :meth:`close`.
    address
        Scheduler address (``tcp://host:8786``) when no ``client`` is given; the client
        opened for it is closed by :meth:`close`.
    timeout
        Seconds to wait for the scheduler before a :class:`~bnlab.errors.ConfigError`.
    """

    def __init__(
        self,
        source: PathSource,
        structure: Structure | BayesNet | None = None,
        *,
        client: Any = None,
        address: str | None = None,
        timeout: float = 10.0,
        batch_rows: int = 1_000_000,
        check: bool = True,
    ) -> None:
        from bnlab.io.json_format import dumps, structure_to_dict
        from bnlab.partitioned import connect

        super().__init__(source, structure, batch_rows=batch_rows, check=check)
        self._own = client is None
        self.client = client if client is not None else connect(address, timeout)
        self._payload = dumps(structure_to_dict(self.structure))

    def _count(self, specs: list[tuple[list[int], list[int]]]) -> list[Table]:
        # the request travels as one JSON string: large list arguments of client.map are
        # turned into tasks of their own, which this distributed version fails to schedule
        request = json.dumps(specs)
        futures = [
            self.client.submit(
                _task_tables, str(f), self._payload, request, self.batch_rows, pure=False
            )
            for f in self.files
        ]
        totals = [np.zeros(tuple(cards), dtype=np.int64) for _, cards in specs]
        for part in self.client.gather(futures):
            for total, table in zip(totals, part, strict=True):
                total += table
        return totals

    def close(self) -> None:
        """Close the client if this source opened it."""
        if self._own and self.client is not None:
            self.client.close()
            self.client = None


def counts_source(
    data: Any,
    structure: Structure | BayesNet | None = None,
    *,
    compute: str = "local",
    scheduler: str | None = None,
    client: Any = None,
    timeout: float = 10.0,
    batch_rows: int = 1_000_000,
) -> CountsSource:
    """A counts source for ``data``: a source as is, codes or a DataFrame, or Parquet files.

    Parameters
    ----------
    data
        A :class:`CountsSource`; a DataFrame or integer codes (kept in memory); or a
        Parquet folder, glob, file or list of files.
    structure
        Variables and states (inferred from a DataFrame or the Parquet files if ``None``).
    compute
        For Parquet: ``"local"`` (stream in this process) or ``"dask"`` (one task per file
        on the scheduler at ``scheduler``, or on ``client``).
    scheduler, client, timeout
        Where the Dask work goes, and how long to wait for the scheduler.
    batch_rows
        Rows per streamed record batch.
    """
    if isinstance(data, CountsSource):
        return data
    if compute not in ("local", "dask"):
        raise ConfigError(f"compute must be 'local' or 'dask', got {compute!r}.")
    if is_path_source(data):
        if compute == "dask":
            return DaskCounts(
                data,
                structure,
                client=client,
                address=scheduler,
                timeout=timeout,
                batch_rows=batch_rows,
            )
        return ParquetCounts(data, structure, batch_rows=batch_rows)
    from bnlab.learn.core import prepare_data

    base, codes = prepare_data(data, structure)
    return ArrayCounts(codes, base)


def is_path_source(data: Any) -> bool:
    """Whether ``data`` names Parquet files (a path, a glob, or a list of them)."""
    if isinstance(data, (str, os.PathLike)):
        return True
    return (
        isinstance(data, (list, tuple))
        and bool(data)
        and all(isinstance(x, (str, os.PathLike)) for x in data)
    )
