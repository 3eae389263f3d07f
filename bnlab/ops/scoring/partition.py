"""Score one partition: Arrow record batches in, answer batches (with kept columns) out.

A partition is streamed in record batches of ``batch_rows`` rows; each batch is encoded,
answered (:mod:`bnlab.ops.scoring.kernel`) and handed to the writer before the next is read,
so memory follows ``batch_rows``, not the partition or the data set.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bnlab.errors import DataError
from bnlab.ops.scoring.codes import batch_codes
from bnlab.ops.scoring.kernel import target_answers
from bnlab.ops.scoring.model import ModelFiles, Scorer, Settings, scorer_for

#: Explanation columns holding numbers (the others hold names).
NUMBER_SUFFIXES = ("_baseline", "_shapley", "_lower", "_upper", "_se")


def answer_names(scorer_states: dict[str, tuple[str, ...]], targets: Sequence[str]) -> list[str]:
    """Answer columns in order: the pyfunc's ``P(T=s)_{mean,lower,upper}``, then flags."""
    names = [
        f"P({t}={s})_{stat}"
        for t in targets
        for s in scorer_states[t]
        for stat in ("mean", "lower", "upper")
    ]
    return names + [f"impossible({t})" for t in targets]


def answer_batch(
    scorer: Scorer,
    batch: pa.RecordBatch,
    evidence: Sequence[str],
    keep: Sequence[str],
    *,
    where: str,
    first_row: int,
) -> pa.Table:
    """The kept columns of ``batch`` followed by the answer columns, as an Arrow table."""
    structure = scorer.engine.structure
    codes = batch_codes(batch, structure, evidence, where=where, first_row=first_row)
    arrays: list[Any] = [batch.column(c) for c in keep]
    names: list[str] = list(keep)
    flags = {}
    answers = {}
    for t in scorer.settings.targets:
        got = target_answers(scorer, codes, t)
        answers[t] = got
        for k, s in enumerate(structure.states[t]):
            for stat in ("mean", "lower", "upper"):
                arrays.append(pa.array(getattr(got, stat)[:, k], type=pa.float64()))
                names.append(f"P({t}={s})_{stat}")
        flags[t] = got.impossible
    for t in scorer.settings.targets:
        arrays.append(pa.array(flags[t], type=pa.bool_()))
        names.append(f"impossible({t})")
    table = pa.Table.from_arrays(arrays, names=names)
    if scorer.settings.explain:
        table = _with_explanations(scorer, table, codes, evidence, flags)
    return table


def _with_explanations(
    scorer: Scorer,
    table: pa.Table,
    codes: Any,
    evidence: Sequence[str],
    flags: dict[str, Any],
) -> pa.Table:
    """Add the pyfunc's explanation columns (rows with impossible evidence get nulls)."""
    from bnlab.data import decode
    from bnlab.ops.requests import EXPLAIN_TOP, explanation_columns

    settings = scorer.settings
    structure = scorer.engine.structure
    names = explanation_columns(settings.targets, EXPLAIN_TOP)
    possible = ~np.logical_or.reduce([*flags.values(), np.zeros(len(codes), dtype=bool)])
    rows = np.flatnonzero(possible)
    frame = decode(codes[rows], structure)[list(evidence)]
    params = {
        "targets": ",".join(settings.targets),
        "interval": settings.interval,
        "draws": settings.draws,
        "seed": settings.seed,
        "explain": True,
    }
    got = scorer.pyfunc.predict(frame, params=params) if rows.size else None
    for name in names:
        values: list[Any] = [None] * len(codes)
        if got is not None:
            for i, v in zip(rows, got[name].tolist(), strict=True):
                values[int(i)] = v
        kind = pa.float64() if name.endswith(NUMBER_SUFFIXES) else pa.string()
        table = table.append_column(name, pa.array(values, type=kind))
    return table


def file_batches(
    path: str, columns: Sequence[str], batch_rows: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Record batches of a Parquet file with the first row number of each.

    Raises
    ------
    DataError
        A file that cannot be read as Parquet (naming it and the row reached).
    """
    start = 0
    try:
        reader = pq.ParquetFile(path)
        for batch in reader.iter_batches(batch_size=batch_rows, columns=list(columns)):
            yield start, batch
            start += batch.num_rows
    except (pa.ArrowException, OSError) as err:
        raise DataError(
            f"{path}, from row {start}: cannot be read as Parquet ({err}); rewrite or remove "
            "that file."
        ) from None


def frame_batches(
    frame: pd.DataFrame, columns: Sequence[str], batch_rows: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Record batches of a pandas frame (its index is not kept)."""
    table = pa.Table.from_pandas(frame[list(columns)], preserve_index=False).combine_chunks()
    start = 0
    for batch in table.to_batches(max_chunksize=batch_rows):
        yield start, batch
        start += batch.num_rows


def score_batches(
    files: ModelFiles,
    settings: Settings,
    batches: Iterator[tuple[int, pa.RecordBatch]],
    evidence: Sequence[str],
    keep: Sequence[str],
    where: str,
    empty: pa.RecordBatch,
) -> Iterator[pa.Table]:
    """Answer tables, one per batch, on this process's cached scorer.

    A partition without rows gives one empty table (so its output file has the schema).
    """
    scorer = scorer_for(files, settings)
    seen = False
    for start, batch in batches:
        seen = True
        yield answer_batch(scorer, batch, evidence, keep, where=where, first_row=start)
    if not seen:
        yield answer_batch(scorer, empty, evidence, keep, where=where, first_row=0)
