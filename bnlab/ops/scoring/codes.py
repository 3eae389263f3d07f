"""Arrow columns to state codes, with errors that name the file, the row and the value.

Batch scoring reads Parquet (or a partition of a DataFrame) as Arrow record batches and
turns the model's columns into integer codes (``-1`` = missing) without going through
pandas: a dictionary column's indices are remapped through its dictionary, any other
column is matched as text against the states.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from bnlab.codes import code_dtype
from bnlab.errors import DataError
from bnlab.network import Structure

UNKNOWN = -2


def column_codes(column: pa.Array | pa.ChunkedArray, states: Sequence[str]) -> NDArray[np.int64]:
    """Codes of one Arrow column: state index, ``-1`` for null, ``-2`` for an unknown value."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lookup = {st: i for i, st in enumerate(states)}
    if pa.types.is_dictionary(column.type):
        dictionary = [str(x) for x in column.dictionary.to_pylist()]
        mapping = np.array([lookup.get(x, UNKNOWN) for x in dictionary] + [-1], dtype=np.int64)
        indices = column.indices.fill_null(len(dictionary))
        codes: NDArray[np.int64] = mapping[indices.to_numpy(zero_copy_only=False)]
        return codes
    if pa.types.is_null(column.type):
        return np.full(len(column), -1, dtype=np.int64)
    text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    idx = pc.index_in(text, value_set=pa.array(list(states), pa.string()))
    codes = np.asarray(idx.fill_null(UNKNOWN).to_numpy(zero_copy_only=False), dtype=np.int64)
    codes[np.asarray(text.is_null().to_numpy(zero_copy_only=False))] = -1
    return codes


def batch_codes(
    batch: pa.RecordBatch,
    structure: Structure,
    columns: Sequence[str],
    *,
    where: str,
    first_row: int,
) -> NDArray[np.signedinteger]:
    """Codes ``(rows, variables)`` in ``structure.variables`` order; absent columns are -1.

    Parameters
    ----------
    batch
        The rows.
    structure
        Variables and states of the model.
    columns
        The model variables the data observe (columns of ``batch``).
    where
        The file (or partition) the rows come from, for error messages.
    first_row
        Position of the batch's first row in that file, for error messages.

    Raises
    ------
    DataError
        Naming the file, the row, the column and the value that is not a state.
    """
    dtype = code_dtype(max(structure.cards.values()))
    out = np.full((batch.num_rows, len(structure.variables)), -1, dtype=dtype)
    for v in columns:
        states = structure.states[v]
        try:
            codes = column_codes(batch.column(v), states)
        except pa.ArrowException as err:
            raise DataError(
                f"{where}: column {v!r} cannot be read as states of {v!r} ({err}); write it "
                "as strings or a Categorical."
            ) from None
        bad = np.flatnonzero(codes == UNKNOWN)
        if bad.size:
            row = int(bad[0])
            value = batch.column(v)[row].as_py()
            raise DataError(
                f"{where}, row {first_row + row}: column {v!r} holds {value!r}, which is not "
                f"a state of {v!r} ({bad.size} such row(s) in this batch); its states are "
                f"{list(states)}. Fix or drop those rows, or refit the model with that state."
            )
        out[:, structure.index[v]] = codes
    return out
