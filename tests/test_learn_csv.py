"""Learning straight from a CSV file: the pandas-free reader against pandas, and the process
that learns from a file loads neither pandas nor pyarrow."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.counts.csv_file import read_csv_codes
from bnlab.data import ExtraColumnsWarning, encode, infer_structure
from bnlab.errors import DataError
from bnlab.learn import structure_score
from tests.conftest import network_path

MESSY = (
    'colour,size,note\n'
    'red,10,"a, b"\n'
    'blue,9,NA\n'
    '\n'
    ',10,x\n'
    'green,,"y"\n'
    'red,NaN,null\n'
)  # fmt: skip


def pandas_codes(path: Path) -> tuple[bnlab.Structure, np.ndarray]:
    """What the pipeline's pandas path gives: text columns, default NA texts missing."""
    df = pd.read_csv(path, dtype=str, keep_default_na=True)
    s = infer_structure(df)
    return s, encode(df, s)


@pytest.mark.parametrize("gz", [False, True])
def test_reader_equals_pandas(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("t.csv.gz" if gz else "t.csv")
    path.write_bytes(gzip.compress(MESSY.encode()) if gz else MESSY.encode())
    plain = tmp_path / "plain.csv"
    plain.write_text(MESSY)
    got_s, got = read_csv_codes(path)
    want_s, want = pandas_codes(plain)
    assert got_s == want_s
    assert got_s.states["size"] == ("10", "9")  # texts, sorted as texts
    assert got_s.states["note"] == ("a, b", "x", "y")  # a quoted comma stays in its field
    np.testing.assert_array_equal(got, want)
    assert (got == -1).sum() == 5  # "", NA, NaN, null and an empty field


def test_reader_with_a_structure_maps_onto_its_states(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("b,a,extra\nyes,lo,1\nno,hi,2\n,lo,3\n")
    s = bnlab.Structure(["a", "b"], {"a": ["lo", "mid", "hi"], "b": ["no", "yes"]}, {})
    with pytest.warns(ExtraColumnsWarning, match="extra"):
        base, codes = read_csv_codes(path, s)
    assert base.variables == ("a", "b")
    np.testing.assert_array_equal(codes, [[0, 1], [2, 0], [0, -1]])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nlow,no\n")
    with pytest.raises(DataError, match=r"column 'a' holds \['low'\], which are not states"):
        read_csv_codes(bad, s)
    short = tmp_path / "short.csv"
    short.write_text("a\nlo\n")
    with pytest.raises(DataError, match=r"no column for the variables \['b'\]"):
        read_csv_codes(short, s)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3\n", r"a row has 1 fields where the header names 2 \(the 2th data row\)"),
        ("a,a\n1,2\n", r"column names repeat: \['a'\]"),
        ("a,b\n", "has a header but no rows"),
        ("", "the first line must name the columns"),
        ("a,b\n1,\n2,NA\n", "column 'b' has no observed values"),
    ],
)
def test_malformed_files_get_typed_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_csv_codes(path)


def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such CSV file"):
        bnlab.learn_structure(tmp_path / "nope.csv")


def test_learning_from_the_file_equals_learning_from_pandas(tmp_path: Path) -> None:
    net = bnlab.read_network(network_path("asia"))
    df = bnlab.sample(net, 3000, seed=1, missing=0.05)
    path = tmp_path / "asia.csv"
    df.to_csv(path, index=False)
    for method in ("hc", "pc"):
        got = bnlab.learn_structure(path, method=method, return_info=True)
        want = bnlab.learn_structure(
            pd.read_csv(path, dtype="category"), method=method, return_info=True
        )
        assert got.structure == want.structure, method
        assert got.score == pytest.approx(want.score, rel=1e-12)
    s = got.structure
    assert structure_score(s, path) == pytest.approx(structure_score(s, df), rel=1e-12)
    # a schema reads the file with pandas (numbers as numbers) and encodes it
    with_schema = bnlab.learn_structure(path, schema="infer")
    assert set(with_schema.variables) == set(net.variables)


def test_learning_from_a_csv_loads_neither_pandas_nor_pyarrow(tmp_path: Path) -> None:
    net = bnlab.read_network(network_path("asia"))
    path = tmp_path / "asia.csv"
    bnlab.sample(net, 500, seed=0).to_csv(path, index=False)
    code = (
        "import sys, bnlab\n"
        f"s = bnlab.learn_structure({str(path)!r})\n"
        "assert len(s.variables) == 8\n"
        "print(','.join(m for m in ('pandas', 'pyarrow', 'scipy', 'jax', 'numba', 'yaml') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"learning from a CSV loaded {done.stdout.strip()}"
