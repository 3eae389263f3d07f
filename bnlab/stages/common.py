"""Plumbing shared by the stages: argument parsing, atomic writes, the error boundary."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bnlab.errors import BNError, DataError
from bnlab.io.files import atomic_path as atomic_path  # re-exported for the stages

if TYPE_CHECKING:
    from bnlab.ops.config import ComputeConfig


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


#: Digits of every float a stage writes, both significant and after the decimal point: far
#: beyond what any result means, and far above where float64 summation order shows (~1e-16
#: relative; absolute for differences of probabilities such as a leave-one-out effect), so a
#: rerun on another device split or chunking writes the same bytes.
WRITTEN_DIGITS = 12


def written_float(value: float) -> float:
    """``value`` rounded to :data:`WRITTEN_DIGITS` decimals and significant digits."""
    return float(f"{round(value, WRITTEN_DIGITS):.{WRITTEN_DIGITS}g}")


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, non-finite floats to None, floats rounded."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return written_float(value) if math.isfinite(value) else None
    return value


def write_json(path: str | os.PathLike[str], doc: Any) -> None:
    """Write ``doc`` as indented, key-sorted JSON, atomically."""
    write_text(path, json.dumps(_plain(doc), indent=2, sort_keys=True) + "\n")


def write_frame(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write a DataFrame as Parquet (``.parquet``) or CSV (``.csv``), atomically."""
    with atomic_path(path) as tmp:
        if str(path).endswith(".csv"):
            floats = frame.select_dtypes("floating").columns
            rounded = frame.assign(**{c: frame[c].map(written_float) for c in floats})
            rounded.to_csv(tmp, index=False, float_format=f"%.{WRITTEN_DIGITS}g")
        else:
            frame.to_parquet(tmp, index=False)


def read_frame(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_frame`.

    Raises
    ------
    DataError
        The file is missing or unreadable.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"no such data file {str(p)!r}; run the stage that writes it first.")
    try:
        return pd.read_parquet(p)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {str(p)!r} as Parquet: {err}") from None


def parser(name: str, description: str) -> argparse.ArgumentParser:
    """A stage's argument parser with the common ``--params`` and ``--root`` options."""
    p = argparse.ArgumentParser(prog=f"python -m bnlab.stages.{name}", description=description)
    add_common(p)
    return p


def add_common(p: argparse.ArgumentParser) -> None:
    """Add ``--params`` (composed parameters) and ``--root`` (folder for relative paths)."""
    p.add_argument("--params", default="params.yaml", help="composed parameters (params.yaml)")
    p.add_argument(
        "--root", default=".", help="folder that relative paths in the parameters start from"
    )


def use_compile_cache() -> None:
    """Let JAX keep compiled inference kernels on disk between command runs.

    XLA compilation of a network's plan takes seconds; every stage, sweep job and CLI call
    is a new process. Set at the entry points only (``BNLAB_JAX_CACHE=""`` turns it off);
    an explicit ``JAX_COMPILATION_CACHE_DIR`` wins.
    """
    from bnlab.infer.compile_cache import default_cache_dir

    folder = default_cache_dir()
    if folder:
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", folder)
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")


def report_error(err: BaseException) -> int:
    """Print a bnlab error as one paragraph on stderr and return exit code 2."""
    message = " ".join(str(err).split())
    print(f"bnlab: error: {message}", file=sys.stderr)
    return 2


def main(
    run: Callable[[argparse.Namespace], None],
    build: Callable[[], argparse.ArgumentParser],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``argv``, run the stage, turn a :class:`BNError` into exit code 2."""
    use_compile_cache()
    args = build().parse_args(argv)
    try:
        run(args)
    except BNError as err:
        return report_error(err)
    return 0


def partitioned(compute: ComputeConfig) -> bool:
    """Whether learn and fit count the training rows in place rather than in memory."""
    return compute.name == "dask" or compute.train_data is not None


def train_location(compute: ComputeConfig, prepared: str | Path, root: Path) -> str:
    """The Parquet location of the training rows: ``compute.train_data``, else ``prepared``."""
    from bnlab.ops.config import resolve_path

    if compute.train_data is None:
        return str(prepared)
    return str(resolve_path(compute.train_data, root))
