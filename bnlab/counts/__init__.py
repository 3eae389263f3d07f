"""Counting: every table bnlab learns from, in memory, from Parquet, or on Dask.

:mod:`bnlab.counts.memory` counts integer codes in memory (family tables, distinct rows);
:mod:`bnlab.counts.csv_file` reads a CSV file of categories into codes without pandas;
:func:`counts_source` (:mod:`bnlab.counts.sources`) is the one dispatcher that turns data
— codes, a DataFrame, Parquet files, a Dask DataFrame — into a :class:`CountsSource` that
answers batches of table requests in one pass. The conjugate fit, structure search, the
independence audit and the bootstrap all count through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlab.counts.memory import (
    CHUNK_ROWS,
    FamilyCounts,
    column_reduce,
    count_families,
    family_counts,
    family_counts_array,
    flat_family_index,
    unique_rows,
)
from bnlab.lazy import lazy_exports

# sources stream Parquet through pyarrow: imported on first use
_LAZY: dict[str, tuple[str, ...]] = {
    "bnlab.counts.sources": (
        "ArrayCounts",
        "CountsSource",
        "ParquetCounts",
        "counts_source",
        "family_tables",
        "is_partitioned",
        "partitioned_counts",
    ),
    "bnlab.counts.dask": ("DaskCounts", "DaskFrameCounts"),
    "bnlab.counts.csv_file": ("read_csv_codes",),
}

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.counts.csv_file import read_csv_codes as read_csv_codes
    from bnlab.counts.dask import DaskCounts as DaskCounts
    from bnlab.counts.dask import DaskFrameCounts as DaskFrameCounts
    from bnlab.counts.sources import ArrayCounts as ArrayCounts
    from bnlab.counts.sources import CountsSource as CountsSource
    from bnlab.counts.sources import ParquetCounts as ParquetCounts
    from bnlab.counts.sources import counts_source as counts_source
    from bnlab.counts.sources import family_tables as family_tables
    from bnlab.counts.sources import is_partitioned as is_partitioned
    from bnlab.counts.sources import partitioned_counts as partitioned_counts

__getattr__, __dir__, _lazy_names = lazy_exports(globals(), _LAZY)

__all__ = [
    "CHUNK_ROWS",
    "FamilyCounts",
    "column_reduce",
    "count_families",
    "family_counts",
    "family_counts_array",
    "flat_family_index",
    "unique_rows",
    *_lazy_names,
]
