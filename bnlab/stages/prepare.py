"""Stage ``prepare``: simulate or load the data, then split off the held-out rows."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from bnlab.errors import DataError
from bnlab.network import BayesNet
from bnlab.ops.config import DatasetConfig, EvaluateConfig, load_params, resolve_path
from bnlab.schema import Schema, infer_schema
from bnlab.stages import common


class Prepared(NamedTuple):
    """Training and held-out rows (Categorical columns), and the true network if simulated.

    ``schema`` is the :class:`bnlab.Schema` of file data whose states were inferred (or
    declared per column), fitted on the training rows only; ``None`` otherwise.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    truth: BayesNet | None
    schema: Schema | None = None


def load_network(ref: str, root: Path) -> BayesNet:
    """A network by example name or file path (relative to ``root``)."""
    from bnlab.io import list_examples, load_example, read_network

    if ref in list_examples():
        return load_example(ref)
    return read_network(resolve_path(ref, root))


def _declared_states(d: DatasetConfig, root: Path) -> dict[str, list[str]]:
    if d.schema:
        return {str(k): [str(s) for s in v] for k, v in d.schema.items()}
    if d.network is None:  # pragma: no cover - the config check requires one of them
        raise DataError("file data need dataset.schema or dataset.network to declare states.")
    net = load_network(d.network, root)
    return {v: list(net.states[v]) for v in net.variables}


def read_data_file(d: DatasetConfig, root: Path) -> pd.DataFrame:
    """Read the user's CSV/Parquet file and type its columns with the declared states.

    Raises
    ------
    DataError
        A declared variable without a column, or a value that is not a declared state.
    """
    if d.path is None:  # pragma: no cover - the config check requires it
        raise DataError("dataset.path is not set.")
    path = resolve_path(d.path, root)
    if path.suffix.lower() == ".csv":
        raw = pd.read_csv(path, dtype=str, keep_default_na=True)
    else:
        raw = pd.read_parquet(path)
    states = _declared_states(d, root)
    missing = [v for v in states if v not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: no column for declared variable(s) {missing}; add the columns or remove "
            "them from dataset.schema."
        )
    out = {}
    for var, allowed in states.items():
        col = raw[var]
        text = col.astype("string")
        bad = sorted(set(text.dropna().unique()) - set(allowed))
        if bad:
            raise DataError(
                f"{path}: column {var!r} has value(s) {bad[:10]} outside its declared states "
                f"{allowed}; fix the data or add the states to dataset.schema.{var}."
            )
        out[var] = pd.Categorical(text, categories=allowed)
    return pd.DataFrame(out)


def split(
    frame: pd.DataFrame, test_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random train/held-out split; both parts keep the original row order.

    Raises
    ------
    DataError
        Too few rows for both parts to be non-empty.
    """
    n = len(frame)
    n_test = int(round(n * test_fraction))
    if n_test < 1 or n_test >= n:
        raise DataError(
            f"cannot hold out {test_fraction:.0%} of {n} rows and keep both parts non-empty; "
            "use more rows or another evaluate.test_fraction."
        )
    rng = np.random.default_rng(seed)
    is_test = np.zeros(n, dtype=bool)
    is_test[rng.choice(n, size=n_test, replace=False)] = True
    train = frame.loc[~is_test].reset_index(drop=True)
    test = frame.loc[is_test].reset_index(drop=True)
    return train, test


def prepare(dataset: DatasetConfig, evaluate: EvaluateConfig, root: Path) -> Prepared:
    """Simulate (``source: network``) or read (``source: file``) the data and split them."""
    from bnlab.sampling import sample

    truth: BayesNet | None = None
    if dataset.source == "network":
        if dataset.network is None:  # pragma: no cover - the config check requires it
            raise DataError("dataset.network is not set.")
        truth = load_network(dataset.network, root)
        frame = sample(truth, dataset.rows, seed=dataset.seed, missing=dataset.missing)
        if not isinstance(frame, pd.DataFrame):  # pragma: no cover - as_codes=False
            raise DataError("sampling returned codes instead of a DataFrame")
    elif dataset.network is None:  # states inferred (or declared per column) from the file
        raw = read_raw_file(dataset, root)
        raw_train, raw_test = split(raw, evaluate.test_fraction, evaluate.split_seed)
        schema = infer_schema(
            raw_train,
            target=dataset.targets[0] if dataset.targets else None,
            max_states=dataset.max_states,
            discretize=dataset.discretize,
            bins=dataset.bins,
            declared=dataset.schema or None,
        )
        test, report = schema.encode_report(raw_test, unseen="nan")
        declared = [c for c in report.unseen_rows if schema.column(c).declared]
        if declared:  # a declaration holds for every row, held-out ones included
            c = declared[0]
            bad = sorted({str(v) for v in raw_test[c].to_numpy()[report.unseen_rows[c]]})
            raise DataError(
                f"{dataset.path}: column {c!r} has value(s) {bad[:10]} outside its declared "
                f"states {list(schema.states[c])}; fix the data or add them to dataset.schema."
            )
        if report.n_out_of_range or report.unseen_rows:
            unseen = {k: len(v) for k, v in report.unseen_rows.items()}
            print(
                f"held-out rows: {report.n_out_of_range} value(s) outside the training range "
                f"(edge bins), unseen categories treated as missing: {unseen}",
                file=sys.stderr,
            )
        return Prepared(schema.encode(raw_train), test, None, schema)
    else:
        frame = read_data_file(dataset, root)
        truth = load_network(dataset.network, root)
    train, test = split(frame, evaluate.test_fraction, evaluate.split_seed)
    return Prepared(train, test, truth)


def read_raw_file(d: DatasetConfig, root: Path) -> pd.DataFrame:
    """The user's CSV/Parquet file as pandas reads it (numbers as numbers, empty = missing)."""
    if d.path is None:  # pragma: no cover - the config check requires it
        raise DataError("dataset.path is not set.")
    path = resolve_path(d.path, root)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, keep_default_na=True)
    return pd.read_parquet(path)


def data_hash(frame: pd.DataFrame) -> str:
    """A short SHA-256 of a frame's values and column names (stable across runs)."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m bnlab.stages.prepare``."""
    p = common.parser("prepare", __doc__ or "")
    p.add_argument("--train", required=True, help="output: training rows (.parquet)")
    p.add_argument("--test", required=True, help="output: held-out rows (.parquet)")
    return p


def run(args: argparse.Namespace) -> None:
    """Read the parameters, prepare the data, write both splits."""
    cfg = load_params(args.params, root=args.root)
    out = prepare(cfg.dataset, cfg.evaluate, Path(args.root))
    common.write_frame(args.train, out.train)
    common.write_frame(args.test, out.test)
    if out.schema is not None:  # next to the training rows; the fit stage stores it
        from bnlab.io.files import atomic_write

        atomic_write(schema_path(args.train), out.schema.to_json().encode())


def schema_path(train: str | Path) -> Path:
    """Where the prepare stage leaves the inferred schema: ``schema.json`` beside ``train``."""
    return Path(train).parent / "schema.json"


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 on a bnlab error."""
    return common.main(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
