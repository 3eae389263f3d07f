"""fit(raw Parquet partitions, schema=s) equals fit(the same rows in one frame, schema=s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import DataError
from bnlab.network import Structure
from bnlab.schema import OutOfRangeWarning, Schema, SchemaError, UnseenCategoryError, infer_schema

PARENTS = {"insured": ["age", "region"], "income": ["insured"], "size": ["smoker"]}


def raw_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 63, n)
    df = pd.DataFrame(
        {
            "age": age.astype(float),
            "income": rng.normal(50, 10, n) + (age > 40) * 10,
            "size": rng.choice([1, 2, 3, 10], n).astype(float),
            "region": rng.choice(["north", "south", "East"], n).astype(object),
            "smoker": rng.choice([True, False], n).astype(object),
            "insured": np.where(age + rng.normal(0, 5, n) > 40, "yes", "no"),
        }
    )
    for col, rate in (("age", 0.05), ("size", 0.1), ("region", 0.05), ("smoker", 0.05)):
        df.loc[rng.random(n) < rate, col] = None
    return df


def write_parts(df: pd.DataFrame, folder: Path, cuts: tuple[int, ...] = (150, 151, 420)) -> Path:
    """Partitions of ``df`` with their own dtypes (a part without missing sizes has ints)."""
    folder.mkdir()
    bounds = [0, *cuts, len(df)]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        part = df.iloc[a:b].copy()
        if part["size"].notna().all():
            part["size"] = part["size"].astype(np.int64)
        part.to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder


def structure(s: Schema) -> Structure:
    return Structure(s.variables, s.states, PARENTS)


def assert_same_posterior(a: bnlab.Posterior, b: bnlab.Posterior) -> None:
    assert a.variables == b.variables
    for v in a.variables:
        assert np.array_equal(a.alpha[v], b.alpha[v]), v
    assert a.attrs["schema"] == b.attrs["schema"]


def test_partitioned_fit_with_a_schema_equals_the_in_memory_fit(tmp_path: Path) -> None:
    df = raw_frame()
    s = infer_schema(df, bins=4)
    folder = write_parts(df, tmp_path / "parts")
    dtypes = {str(pd.read_parquet(f)["size"].dtype) for f in sorted(folder.iterdir())}
    assert dtypes == {"int64", "float64"}  # the partitions really differ in type
    st = structure(s)
    parts = bnlab.fit(st, folder, prior="uniform", schema=s, batch_rows=37)
    whole = bnlab.fit(st, df, prior="uniform", schema=s)
    assert_same_posterior(parts, whole)
    assert Schema.from_dict(parts.attrs["schema"]) == s
    # and both equal counts made by hand from the raw values (uniform prior: counts + 1)
    cuts = s.column("income").bins.cuts  # type: ignore[union-attr]
    insured = df["insured"].to_numpy()
    income_bin = np.searchsorted(np.asarray(cuts), df["income"].to_numpy(), side="right")
    for j, state in enumerate(s.states["insured"]):
        expected = np.bincount(income_bin[insured == state], minlength=len(cuts) + 1) + 1.0
        assert np.array_equal(parts.alpha["income"][j], expected)
    region = df["region"].dropna().value_counts()
    assert parts.alpha["region"].tolist() == [region.get(r, 0) + 1.0 for r in s.states["region"]]


def test_a_glob_of_files_and_the_mean_network_carry_the_schema(tmp_path: Path) -> None:
    df = raw_frame(200, seed=1)
    s = infer_schema(df)
    folder = write_parts(df, tmp_path / "parts", cuts=(100,))
    post = bnlab.fit(structure(s), str(folder / "*.parquet"), schema=s)
    assert_same_posterior(post, bnlab.fit(structure(s), df, schema=s))
    assert post.mean().schema == s


def test_out_of_range_values_warn_once_and_still_match(tmp_path: Path) -> None:
    df = raw_frame()
    s = infer_schema(df.iloc[:300], bins=3)  # later rows reach beyond this range
    folder = write_parts(df, tmp_path / "parts")
    with pytest.warns(OutOfRangeWarning) as parts_warnings:
        parts = bnlab.fit(structure(s), folder, schema=s)
    with pytest.warns(OutOfRangeWarning) as whole_warnings:
        whole = bnlab.fit(structure(s), df, schema=s)
    assert len(parts_warnings) == len(whole_warnings) == 1
    assert str(parts_warnings[0].message) == str(whole_warnings[0].message)
    assert_same_posterior(parts, whole)


def test_the_gibbs_backend_reads_raw_partitions_whole(tmp_path: Path) -> None:
    df = raw_frame(120, seed=2)
    s = infer_schema(df, bins=3)
    folder = write_parts(df, tmp_path / "parts", cuts=(60,))
    opts = {"chains": 1, "draws": 20, "tune": 5, "seed": 3, "warn": False}
    parts = bnlab.fit(structure(s), folder, backend="gibbs", schema=s, **opts)
    whole = bnlab.fit(structure(s), df, backend="gibbs", schema=s, **opts)
    for v in s.variables:
        assert np.array_equal(parts.stored_draws[v], whole.stored_draws[v]), v
    assert parts.attrs["schema"] == whole.attrs["schema"] == s.to_dict()


def test_unseen_values_and_missing_columns_name_the_file(tmp_path: Path) -> None:
    df = raw_frame(200)
    s = infer_schema(df)
    bad = df.copy()
    bad.loc[150, "region"] = "west"
    folder = write_parts(bad, tmp_path / "parts", cuts=(100,))
    with pytest.raises(UnseenCategoryError, match=r"part-1\.parquet.*'region'.*'west'"):
        bnlab.fit(structure(s), folder, schema=s)
    other = write_parts(df, tmp_path / "other", cuts=(100,))
    pd.read_parquet(other / "part-1.parquet").drop(columns="income").to_parquet(
        other / "part-1.parquet", index=False
    )
    with pytest.raises(DataError, match=r"part-1\.parquet has no column for \['income'\]"):
        bnlab.fit(structure(s), other, schema=s)


def test_what_cannot_be_done_correctly_is_refused(tmp_path: Path) -> None:
    df = raw_frame(200)
    s = infer_schema(df)
    folder = write_parts(df, tmp_path / "parts", cuts=(100,))
    with pytest.raises(SchemaError, match="needs the rows in memory"):
        bnlab.fit(structure(s), folder, schema="infer")
    with pytest.raises(SchemaError, match="compute='dask'"):
        bnlab.fit(structure(s), folder, schema=s, compute="dask")
    renamed = Structure(s.variables, {**s.states, "region": ["N", "S", "E"]}, PARENTS)
    with pytest.raises(SchemaError, match="'region'"):
        bnlab.fit(renamed, folder, schema=s)
