"""Parquet files of categorical data, with the categories and their order preserved.

Categorical columns are stored as Arrow dictionary columns, whose dictionary keeps the
categories in order even when some never occur, so a file read back has exactly the states
it was written with. Writes are atomic (a temp file in the same folder, then a rename).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bnlab.data import decode, encode
from bnlab.errors import DataError
from bnlab.io.files import atomic_path
from bnlab.network import BayesNet, Structure, as_structure


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame to a Parquet file atomically, keeping Categorical categories.

    Parameters
    ----------
    df
        The data; the index is not written.
    path
        Target file; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"write_parquet needs a pandas DataFrame, got {type(df).__name__}.")
    target = Path(path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    return target


def read_parquet(
    path: str | os.PathLike[str], structure: Structure | BayesNet | None = None
) -> pd.DataFrame:
    """Read a Parquet file; with a structure, validate it and cast to the structure's states.

    Parameters
    ----------
    path
        A Parquet file (or a folder of them, as pyarrow reads it).
    structure
        If given, the result has one Categorical column per variable, categories = the
        variable's states in order, columns in ``structure.variables`` order, validated by
        :func:`bnlab.data.encode` (missing column, unknown state, wrong type raise
        :class:`~bnlab.errors.DataError`; extra columns are dropped with a warning).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataError
        If the file does not exist or is not Parquet, or the data do not fit the structure.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"no such Parquet file: {p}; check the path.")
    try:
        df = pq.read_table(p).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{p} cannot be read as Parquet ({exc}).") from None
    if structure is None:
        return df
    s = as_structure(structure)
    return decode(encode(df, s), s)
