"""Scored partitions on disk: written under a temp name then renamed; a rerun resumes.

The output folder holds one Parquet file per input partition (``part-00000.parquet``, ...)
and ``_bnlab_score.json``, which records what the run scores (the model's digest, the
settings, each input partition and its row count). A partition is written to a hidden temp
file and renamed when complete, so the folder never holds a half-written partition; a
rerun with the same manifest skips every partition whose file is there with the right row
count and scores the rest. A folder written by a different run (another model, other
settings or inputs) is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bnlab.errors import BNError

MANIFEST = "_bnlab_score.json"
FORMAT = "bnlab.score"
VERSION = 1


class ScoreOutputError(BNError):
    """An output folder that holds something other than this scoring run's partitions."""


def partition_name(index: int) -> str:
    """File name of the ``index``-th scored partition."""
    return f"part-{index:05d}.parquet"


def write_partition(path: str | os.PathLike[str], tables: Iterable[pa.Table]) -> int:
    """Write ``tables`` (one schema) to ``path`` atomically; return the rows written.

    The file is built under a hidden temp name in the same folder and renamed at the end;
    on any error (bad input found half-way included) the temp file is removed and ``path``
    is left as it was.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(6)}")
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            rows += table.num_rows
        if writer is None:
            raise BNError(f"nothing to write for {target.name}.")
        writer.close()
        writer = None
        os.replace(tmp, target)
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return rows


def finished(path: Path, rows: int) -> bool:
    """Whether ``path`` is a complete scored partition of ``rows`` rows."""
    if not path.is_file():
        return False
    try:
        return int(pq.ParquetFile(path).metadata.num_rows) == int(rows)
    except (pa.ArrowException, OSError):
        return False


def prepare_folder(out: Path, manifest: Mapping[str, Any]) -> None:
    """Create ``out`` with ``manifest``, or check that an existing one matches (resume).

    Stale temp files of an interrupted run are removed.

    Raises
    ------
    ScoreOutputError
        ``out`` is a file, holds files but no manifest, or a manifest of another run.
    """
    text = json.dumps(manifest, indent=2, sort_keys=True)
    where = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise ScoreOutputError(f"--out {out} is a file; give a folder for the scored partitions.")
    if where.is_file():
        try:
            found = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = None
        if found != json.loads(text):
            raise ScoreOutputError(
                f"{out} holds partitions scored with another model, settings or input; choose "
                "a new output folder or remove that one."
            )
    else:
        if out.is_dir() and any(out.iterdir()):
            raise ScoreOutputError(
                f"{out} is not empty and is not a bnlab score folder (no {MANIFEST}); choose "
                "an empty or new output folder."
            )
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".{MANIFEST}.tmp-{secrets.token_hex(6)}"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, where)
    for stale in out.glob(".part-*.tmp-*"):
        stale.unlink(missing_ok=True)
