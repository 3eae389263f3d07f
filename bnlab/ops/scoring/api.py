"""``bnlab.score``: batch scoring of partitioned data, in this process or on Dask workers."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bnlab.errors import BNError, DataError
from bnlab.ops.scoring.model import ModelFiles, Settings, load_files, resolve_model
from bnlab.ops.scoring.partition import (
    answer_names,
    file_batches,
    frame_batches,
    score_batches,
)
from bnlab.ops.scoring.progress import Progress
from bnlab.ops.scoring.writer import (
    FORMAT,
    VERSION,
    finished,
    partition_name,
    prepare_folder,
    write_partition,
)

#: Rows per record batch: the unit of memory (codes, answers and kept columns of a batch).
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run with ``out=`` wrote."""

    out: Path
    partitions: int
    scored: int  # partitions scored by this call
    skipped: int  # partitions found finished (a resumed run)
    rows: int  # rows scored by this call
    seconds: float


@dataclass(frozen=True)
class Layout:
    """Which input columns are evidence and which are copied to the output."""

    evidence: tuple[str, ...]
    keep: tuple[str, ...]


def _is_dask_frame(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "to_delayed")


def _layout(names: Sequence[str], states: Any, settings: Settings, id_column: str | None) -> Layout:
    evidence = tuple(c for c in names if c in states)
    if not evidence:
        raise DataError(
            f"none of the data's columns {list(names)[:10]} is a variable of the model; the "
            f"model's variables are {list(states)[:10]}."
        )
    if id_column is not None and id_column not in names:
        raise DataError(
            f"id column {id_column!r} is not a column of the data (columns: {list(names)[:10]})."
        )
    keep = tuple(names) if id_column is None else (id_column,)
    clash = sorted(set(keep) & set(answer_names(states, settings.targets)))
    if clash:
        raise DataError(
            f"input columns {clash} have the names of answer columns; rename them or pass "
            "id_column= to keep only an id column."
        )
    return Layout(evidence, keep)


def _schema(path: Path) -> pa.Schema:
    try:
        schema = pq.ParquetFile(path).schema_arrow
    except (pa.ArrowException, OSError) as err:
        raise DataError(
            f"{path}, row 0: cannot be read as Parquet ({err}); rewrite or remove that file."
        ) from None
    meta = schema.pandas_metadata or {}
    index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    return pa.schema([f for f in schema if f.name not in index])


def _check_files(files: Sequence[Path], layout: Layout) -> list[int]:
    """Check every file before anything is written; return their row counts."""
    rows = []
    for f in files:
        names = set(_schema(f).names)
        missing = [c for c in _columns(layout) if c not in names]
        if missing:
            raise DataError(
                f"{f}, row 0: partition has no column {missing}, which the first partition "
                "has; every partition needs the same columns."
            )
        rows.append(int(pq.ParquetFile(f).metadata.num_rows))
    return rows


def _columns(layout: Layout) -> list[str]:
    return list(dict.fromkeys([*layout.keep, *layout.evidence]))


def _empty(schema: pa.Schema, layout: Layout) -> pa.RecordBatch:
    fields = [schema.field(c) for c in _columns(layout)]
    return pa.RecordBatch.from_pylist([], schema=pa.schema(fields))


def _file_tables(
    files: ModelFiles, settings: Settings, path: str, layout: Layout
) -> Iterator[pa.Table]:
    schema = _schema(Path(path))
    batches = file_batches(path, _columns(layout), settings.batch_rows)
    return score_batches(
        files, settings, batches, layout.evidence, layout.keep, path, _empty(schema, layout)
    )


def _frame_tables(
    files: ModelFiles, settings: Settings, frame: pd.DataFrame, layout: Layout, where: str
) -> Iterator[pa.Table]:
    columns = _columns(layout)
    schema = pa.Schema.from_pandas(frame[columns].iloc[:0], preserve_index=False)
    batches = frame_batches(frame, columns, settings.batch_rows)
    return score_batches(
        files, settings, batches, layout.evidence, layout.keep, where, _empty(schema, layout)
    )


def score_file_task(
    files: ModelFiles, settings: Settings, path: str, layout: Layout, target: str | None
) -> Any:
    """One partition (a Parquet file): written to ``target``, or returned as a table."""
    tables = _file_tables(files, settings, path, layout)
    if target is not None:
        return write_partition(target, tables)
    return pa.concat_tables(list(tables))


def score_frame_task(
    frame: pd.DataFrame,
    files: ModelFiles,
    settings: Settings,
    layout: Layout,
    where: str,
    target: str | None,
) -> Any:
    """One partition (a pandas frame): written to ``target``, or returned as a frame."""
    tables = _frame_tables(files, settings, frame, layout, where)
    if target is not None:
        return write_partition(target, tables)
    out = pa.concat_tables(list(tables)).to_pandas()
    out.index = frame.index
    return out


def _settings(
    files: ModelFiles,
    targets: Sequence[str] | str | None,
    interval: float,
    draws: int | None,
    seed: int | None,
    method: str,
    explain: bool,
    batch_rows: int,
) -> tuple[Settings, Any]:
    from bnlab.ops.requests import check_settings

    model = load_files(files)
    wanted = [targets] if isinstance(targets, str) else list(targets or model.targets)
    chosen_draws = model.draws if draws is None else int(draws)
    chosen_seed = model.seed if seed is None else int(seed)
    chosen = check_settings(model.network, wanted, interval, chosen_draws, chosen_seed)
    if method not in ("auto", "engine"):
        raise BNError(f"method must be 'auto' or 'engine', got {method!r}.")
    if int(batch_rows) < 1:
        raise BNError(f"batch_rows must be a positive number of rows, got {batch_rows}.")
    settings = Settings(
        targets=tuple(chosen),
        interval=float(interval),
        draws=chosen_draws,
        seed=chosen_seed,
        method=method,
        explain=bool(explain),
        batch_rows=int(batch_rows),
    )
    return settings, model


def score(
    model: Any,
    data: Any,
    targets: Sequence[str] | str | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    interval: float = 0.9,
    draws: int | None = None,
    seed: int | None = None,
    explain: bool = False,
    client: Any = None,
    id_column: str | None = None,
    method: Literal["auto", "engine"] = "auto",
    batch_rows: int = BATCH_ROWS,
    progress: bool = False,
) -> Any:
    """Score every row of partitioned data: ``P(target = state | row)`` with intervals.

    Parameters
    ----------
    model
        A :class:`bnlab.BayesNet`, a :class:`bnlab.Posterior`, a model folder (exported by
        :func:`bnlab.mlflow.save_model`), a posterior ``.nc`` or network file, or an MLflow
        URI such as ``models:/NAME@ALIAS``.
    data
        A DataFrame, a Parquet file, folder or glob (one partition per file), a list of
        files, or a Dask DataFrame. Columns named after model variables are evidence
        (null = unobserved); a target's own column is ignored for that target.
    targets
        Variables to answer about (default: the model's targets).
    out
        Folder for the scored partitions (``part-00000.parquet``, ...: the input's columns,
        or ``id_column`` alone, then the answer columns). Each is written under a temp name
        and renamed; a rerun skips finished partitions. ``None``: return the answers.
    interval
        Equal-tailed credible interval over the posterior draws.
    draws, seed
        Posterior draws and their seed (default: the model's; ignored for a BayesNet).
    explain
        Add the pyfunc's evidence-contribution columns (one engine call per row: slow).
    client
        A ``dask.distributed`` client: Parquet partitions (or the Dask DataFrame's) are
        scored on its workers; the model travels as its JSON and NetCDF files, and each
        worker builds its engine once for all its partitions.
    id_column
        Copy only this input column to the output, instead of all of them.
    method
        ``"auto"``: rows observing every variable but the target by the Markov-blanket
        closed form, others by the engine; ``"engine"``: every row by the engine (the
        pyfunc's numbers, bit for bit).
    batch_rows
        Rows per record batch: memory follows this, not the partition or data size.
    progress
        Print progress lines (rows, rows/s, ETA) on stderr.

    Returns
    -------
    ScoreResult or pandas.DataFrame or dask.dataframe.DataFrame
        With ``out``: what was written. Without: the answers (input columns or id column,
        then per target and state ``P(T=s)_mean``, ``_lower``, ``_upper``, and
        ``impossible(T)``: True where the row's evidence has probability zero, its numbers
        NaN); a Dask DataFrame gives a lazy Dask DataFrame.

    Raises
    ------
    DataError
        A missing column, an unknown state, an unreadable file — naming the file and row.
        Partitions finished before the error stay (complete); nothing half-written does.
    ArtifactError
        A model folder or URI that holds no valid bnlab model.

    Examples
    --------
    >>> bnlab.score("models:/alarm@champion", "data/*.parquet", ["LVFAILURE"],
    ...             out="scored/", client=client)  # doctest: +SKIP
    """
    started = time.perf_counter()
    files = resolve_model(model, [targets] if isinstance(targets, str) else targets)
    settings, loaded = _settings(files, targets, interval, draws, seed, method, explain, batch_rows)
    states = loaded.network.states
    if _is_dask_frame(data):
        return _score_dask_frame(files, settings, data, states, id_column, out, client, progress)
    if isinstance(data, pd.DataFrame):
        layout = _layout([str(c) for c in data.columns], states, settings, id_column)
        if out is None:
            return score_frame_task(data, files, settings, layout, "DataFrame", None)
        jobs = [(0, len(data), data)]
        return _run_local_frames(files, settings, layout, Path(out), jobs, progress, started)
    from bnlab.counts.parquet import parquet_files

    paths = parquet_files(data)
    layout = _layout(_schema(paths[0]).names, states, settings, id_column)
    rows = _check_files(paths, layout)
    if out is None:
        if client is not None:
            futures = [
                client.submit(score_file_task, files, settings, str(p), layout, None, pure=False)
                for p in paths
            ]
            tables = client.gather(futures)
        else:
            tables = [score_file_task(files, settings, str(p), layout, None) for p in paths]
        return pa.concat_tables(tables).to_pandas()
    folder = Path(out)
    manifest = _manifest(files, settings, layout, [str(p.resolve()) for p in paths], rows)
    return _run_files(files, settings, layout, folder, manifest, paths, rows, client, progress,
                      started)  # fmt: skip


def _manifest(
    files: ModelFiles, settings: Settings, layout: Layout, inputs: list[str], rows: list[int]
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_sha256": files.digest,
        "settings": {
            "targets": list(settings.targets),
            "interval": settings.interval,
            "draws": settings.draws,
            "seed": settings.seed,
            "method": settings.method,
            "explain": settings.explain,
        },
        "columns": {"evidence": list(layout.evidence), "kept": list(layout.keep)},
        "partitions": [
            {"input": name, "rows": n, "output": partition_name(i)}
            for i, (name, n) in enumerate(zip(inputs, rows, strict=True))
        ],
    }


class _Cleanup:
    """Remove an output folder this call created if it ends with no partition in it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.created = not folder.exists()

    def __call__(self) -> None:
        if self.created and self.folder.is_dir() and not any(self.folder.glob("part-*")):
            shutil.rmtree(self.folder, ignore_errors=True)


def _run_files(
    files: ModelFiles,
    settings: Settings,
    layout: Layout,
    folder: Path,
    manifest: dict[str, Any],
    paths: list[Path],
    rows: list[int],
    client: Any,
    progress: bool,
    started: float,
) -> ScoreResult:
    cleanup = _Cleanup(folder)
    prepare_folder(folder, manifest)
    todo = [i for i in range(len(paths)) if not finished(folder / partition_name(i), rows[i])]
    bar = Progress(sum(rows[i] for i in todo), None if not progress else Progress.stream_default())
    try:
        if client is None:
            for i in todo:
                target = str(folder / partition_name(i))
                bar.add(score_file_task(files, settings, str(paths[i]), layout, target))
        else:
            from distributed import as_completed

            shared = client.scatter(files, broadcast=True)
            futures = [
                client.submit(
                    score_file_task,
                    shared,
                    settings,
                    str(paths[i]),
                    layout,
                    str(folder / partition_name(i)),
                    pure=False,
                )  # fmt: skip
                for i in todo
            ]
            try:
                for future in as_completed(futures):  # type: ignore[no-untyped-call]
                    bar.add(future.result())
            except BaseException:
                client.cancel(futures)
                raise
    except BaseException:
        cleanup()
        raise
    bar.close()
    return ScoreResult(
        out=folder,
        partitions=len(paths),
        scored=len(todo),
        skipped=len(paths) - len(todo),
        rows=sum(rows[i] for i in todo),
        seconds=time.perf_counter() - started,
    )


def _run_local_frames(
    files: ModelFiles,
    settings: Settings,
    layout: Layout,
    folder: Path,
    jobs: list[tuple[int, int, pd.DataFrame]],
    progress: bool,
    started: float,
) -> ScoreResult:
    inputs = [f"DataFrame partition {i}" for i, _, _ in jobs]
    manifest = _manifest(files, settings, layout, inputs, [n for _, n, _ in jobs])
    cleanup = _Cleanup(folder)
    prepare_folder(folder, manifest)
    todo = [(i, n, f) for i, n, f in jobs if not finished(folder / partition_name(i), n)]
    bar = Progress(sum(n for _, n, _ in todo), Progress.stream_default() if progress else None)
    try:
        for i, _, frame in todo:
            target = str(folder / partition_name(i))
            where = f"DataFrame partition {i}"
            bar.add(score_frame_task(frame, files, settings, layout, where, target))
    except BaseException:
        cleanup()
        raise
    bar.close()
    return ScoreResult(
        out=folder,
        partitions=len(jobs),
        scored=len(todo),
        skipped=len(jobs) - len(todo),
        rows=sum(n for _, n, _ in todo),
        seconds=time.perf_counter() - started,
    )


def _score_dask_frame(
    files: ModelFiles,
    settings: Settings,
    frame: Any,
    states: Any,
    id_column: str | None,
    out: str | os.PathLike[str] | None,
    client: Any,
    progress: bool,
) -> Any:
    """A Dask DataFrame: lazily mapped (``out=None``) or written, one task per partition."""
    import dask

    layout = _layout([str(c) for c in frame.columns], states, settings, id_column)
    if out is None:
        meta = score_frame_task(frame._meta, files, settings, layout, "meta", None)
        return frame.map_partitions(
            score_frame_task, files, settings, layout, "Dask partition", None, meta=meta
        )
    started = time.perf_counter()
    folder = Path(out)
    parts = frame.to_delayed()
    inputs = [f"Dask partition {i}" for i in range(len(parts))]
    # the partitions' lengths are unknown until computed: recorded as -1 (no resume check)
    manifest = _manifest(files, settings, layout, inputs, [-1] * len(parts))
    cleanup = _Cleanup(folder)
    prepare_folder(folder, manifest)
    todo = [i for i in range(len(parts)) if not (folder / partition_name(i)).is_file()]
    tasks = [
        dask.delayed(score_frame_task)(  # type: ignore[attr-defined]
            parts[i], files, settings, layout, inputs[i], str(folder / partition_name(i))
        )
        for i in todo
    ]
    bar = Progress(None, Progress.stream_default() if progress else None)
    try:
        if client is not None:
            from distributed import as_completed

            futures = client.compute(tasks)
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                bar.add(future.result())
        else:
            for n in dask.compute(*tasks):  # type: ignore[attr-defined,no-untyped-call]
                bar.add(n)
    except BaseException:
        cleanup()
        raise
    bar.close()
    return ScoreResult(folder, len(parts), len(todo), len(parts) - len(todo), bar.done,
                       time.perf_counter() - started)  # fmt: skip
