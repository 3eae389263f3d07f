"""``bnlab.score``: answers equal the in-process engine's, Parquet out, resume, bad input, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import bnlab
from bnlab.data import encode
from bnlab.errors import ArtifactError, DataError
from bnlab.infer.blanket import blanket_predictive, complete_rows
from bnlab.infer.intervals import sampled_interval
from bnlab.ops.scoring import ScoreOutputError
from bnlab.ops.scoring.writer import MANIFEST

TARGET = "lung"
DRAWS, SEED = 40, 3


@pytest.fixture(scope="module")
def asia() -> tuple[bnlab.BayesNet, pd.DataFrame, Any]:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, n=9_000, seed=1, missing=0.1)  # > one full engine chunk per device
    df.insert(0, "id", np.arange(len(df), dtype=np.int64))
    post = bnlab.fit(net.structure, df.drop(columns="id"), prior="bdeu", ess=1.0)
    return net, df, post


@pytest.fixture(scope="module")
def folder(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    _, df, _ = asia
    root = tmp_path_factory.mktemp("asia_parts")
    for i, rows in enumerate(np.array_split(np.arange(len(df)), 4)):
        df.iloc[rows].to_parquet(root / f"in-{i}.parquet", index=False)
    return root


def engine_oracle(model: Any, df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The in-process engine's compiled program on all rows at once: P(lung | every other
    column). (Scoring always runs the program; the engine's host tier would differ from it in
    the last bits.)"""
    with jax.enable_x64(True):
        if isinstance(model, bnlab.BayesNet):
            eng = bnlab.Engine(model, execution="program")
        else:
            eng = bnlab.Engine(model, draws=DRAWS, seed=SEED, execution="program")
        codes = encode(df.drop(columns=["id"]), eng.structure)
        codes[:, eng.structure.index[TARGET]] = -1
        p = eng.marginals(codes, variables=[TARGET])[TARGET]
    if p.ndim == 3:
        mean, lower, upper = sampled_interval(p, 0.9)
    else:
        mean = lower = upper = p
    return {"mean": mean, "lower": lower, "upper": upper, "engine": eng, "codes": codes}


def answers(frame: pd.DataFrame, stat: str) -> np.ndarray:
    return frame[[f"P({TARGET}={s})_{stat}" for s in ("yes", "no")]].to_numpy()


@pytest.mark.parametrize("kind", ["network", "posterior"])
def test_engine_method_equals_the_engine_exactly(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any], kind: str
) -> None:
    net, df, post = asia
    model = net if kind == "network" else post
    oracle = engine_oracle(model, df)
    got = bnlab.score(model, df, [TARGET], draws=DRAWS, seed=SEED, method="engine")
    for stat in ("mean", "lower", "upper"):
        np.testing.assert_array_equal(answers(got, stat), oracle[stat])
    assert not got[f"impossible({TARGET})"].any()
    assert got["id"].tolist() == df["id"].tolist()  # the input's columns come first
    # a different seed gives different draws: the comparison can fail
    if kind == "posterior":
        other = bnlab.score(model, df.iloc[:50], [TARGET], draws=DRAWS, seed=SEED + 1)
        assert not np.array_equal(answers(other, "lower"), oracle["lower"][:50])


def test_auto_method_is_the_blanket_closed_form_on_complete_rows(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any],
) -> None:
    _, df, post = asia
    oracle = engine_oracle(post, df)
    got = bnlab.score(post, df, [TARGET], draws=DRAWS, seed=SEED)
    eng, codes = oracle["engine"], oracle["codes"]
    full = complete_rows(eng.structure, codes, TARGET)
    assert 0 < full.sum() < len(df)  # both paths run
    closed = blanket_predictive(
        eng.structure, eng.cpt_arrays(), codes[full], TARGET, draw_axis=True
    )
    for stat, value in zip(("mean", "lower", "upper"), sampled_interval(closed, 0.9), strict=True):
        np.testing.assert_array_equal(answers(got, stat)[full], value)  # bit for bit
        np.testing.assert_array_equal(answers(got, stat)[~full], oracle[stat][~full])
        np.testing.assert_allclose(answers(got, stat), oracle[stat], rtol=0, atol=1e-12)


def test_impossible_rows_are_flagged_not_fatal() -> None:
    net = bnlab.load_example("asia")
    # 'either' is a deterministic OR of tub and lung: tub=yes with either=no is impossible
    rows = pd.DataFrame({"tub": ["yes", "no", "yes"], "either": ["no", "no", "yes"]})
    got = bnlab.score(net, rows, [TARGET])
    assert got[f"impossible({TARGET})"].tolist() == [True, False, False]
    assert np.isnan(answers(got, "mean")[0]).all()
    assert np.isfinite(answers(got, "mean")[1:]).all()


def test_parquet_out_local_equals_in_memory(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any], folder: Path, tmp_path: Path
) -> None:
    _, df, post = asia
    expected = bnlab.score(post, df, [TARGET], draws=DRAWS, seed=SEED)
    result = bnlab.score(post, folder, [TARGET], out=tmp_path / "out", draws=DRAWS, seed=SEED)
    assert (result.partitions, result.scored, result.skipped, result.rows) == (4, 4, 0, len(df))
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-0000{i}.parquet" for i in range(4)]
    got = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_exact=True)
    # only the id column with id_column=
    slim = bnlab.score(
        post, folder, [TARGET], out=tmp_path / "slim", draws=DRAWS, seed=SEED, id_column="id"
    )
    first = pd.read_parquet(slim.out / "part-00000.parquet")
    assert list(first.columns)[0] == "id" and "smoke" not in first.columns


def test_resume_after_interruption_gives_identical_output(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any],
    folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, post = asia
    whole = bnlab.score(post, folder, [TARGET], out=tmp_path / "whole", draws=DRAWS, seed=SEED)
    import bnlab.ops.scoring.partition as partition

    real = partition.answer_batch
    calls = {"n": 0}

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:  # 3 batches a partition: the second dies half-way (Ctrl-C)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(partition, "answer_batch", interrupted)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        bnlab.score(post, folder, [TARGET], out=out, draws=DRAWS, seed=SEED, batch_rows=1000)
    names = sorted(p.name for p in out.iterdir())
    assert names == [MANIFEST, "part-00000.parquet"]  # no temp file, no half partition
    monkeypatch.setattr(partition, "answer_batch", real)
    again = bnlab.score(post, folder, [TARGET], out=out, draws=DRAWS, seed=SEED)
    assert (again.scored, again.skipped) == (3, 1)
    for i in range(4):
        name = f"part-0000{i}.parquet"
        assert pq.read_table(out / name).equals(pq.read_table(whole.out / name))
    done = bnlab.score(post, folder, [TARGET], out=out, draws=DRAWS, seed=SEED)
    assert (done.scored, done.skipped) == (0, 4)
    with pytest.raises(ScoreOutputError, match="another model, settings or input"):
        bnlab.score(post, folder, [TARGET], out=out, draws=DRAWS, seed=SEED + 1)


def test_unknown_state_names_file_and_row_and_leaves_nothing_half_written(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any], tmp_path: Path
) -> None:
    net, df, _ = asia
    data = tmp_path / "data"
    data.mkdir()
    df.iloc[:100].to_parquet(data / "a.parquet", index=False)
    bad = df.iloc[100:200].astype({"smoke": str})
    bad.iloc[57, bad.columns.get_loc("smoke")] = "sometimes"
    bad.to_parquet(data / "b.parquet", index=False)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"b\.parquet, row 57: column 'smoke' holds 'sometimes'"):
        bnlab.score(net, data, [TARGET], out=out, batch_rows=40)
    # the good partition is complete; the bad one left no file and no temp file
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "part-00000.parquet"]


def test_missing_column_and_unreadable_file_write_nothing(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any], tmp_path: Path
) -> None:
    net, df, _ = asia
    data = tmp_path / "data"
    data.mkdir()
    df.iloc[:100].to_parquet(data / "a.parquet", index=False)
    df.iloc[100:200].drop(columns="xray").to_parquet(data / "b.parquet", index=False)
    with pytest.raises(DataError, match=r"b\.parquet, row 0: partition has no column \['xray'\]"):
        bnlab.score(net, data, [TARGET], out=tmp_path / "out1")
    assert not (tmp_path / "out1").exists()
    (data / "b.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"b\.parquet, row 0: cannot be read as Parquet"):
        bnlab.score(net, data, [TARGET], out=tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
    with pytest.raises(ArtifactError, match="not a bnlab model folder"):
        bnlab.score(tmp_path, data, [TARGET])


def test_model_folder_and_cli(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any],
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bnlab.cli import main
    from bnlab.mlflow import save_model

    _, df, post = asia
    model = tmp_path / "model"
    save_model(post, model, targets=[TARGET], draws=DRAWS, seed=SEED)
    out = tmp_path / "cli"
    argv = ["score", str(model), str(folder), "--targets", TARGET, "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "rows/s" in captured.err and "ETA" in captured.err  # the progress lines
    assert f"scored {len(df):,} rows in 4 partition(s)" in captured.out
    got = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("part-*"))], ignore_index=True)
    expected = bnlab.score(post, df, [TARGET], draws=DRAWS, seed=SEED)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_exact=True)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["settings"]["draws"] == DRAWS  # the model folder's defaults
    assert main(argv) == 0  # a rerun has nothing left to do
    assert "0 rows in 0 partition(s) (4 already done)" in capsys.readouterr().out
    # bad input: exit 2, one message, nothing written
    bad = ["score", str(model), str(folder), "--targets", "nope", "--out", str(tmp_path / "x")]
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert "bnlab: error: targets ['nope']" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
    both = [*argv[:-1], str(tmp_path / "y"), "--workers", "2", "--scheduler", "tcp://x:1"]
    assert main(both) == 2


def test_registered_model_uri_and_posterior_file(
    asia: tuple[bnlab.BayesNet, pd.DataFrame, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow

    import bnlab.mlflow as flavor

    _, df, post = asia
    rows = df.iloc[:300]
    expected = bnlab.score(post, rows, [TARGET], draws=DRAWS, seed=SEED)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment("score-test")
        with mlflow.start_run():
            flavor.log_model(post, "model", registered_model_name="asia-score", draws=DRAWS,
                             seed=SEED, targets=[TARGET])  # fmt: skip
        mlflow.MlflowClient().set_registered_model_alias("asia-score", "champion", "1")
        got = bnlab.score("models:/asia-score@champion", rows, [TARGET])
    finally:
        mlflow.set_tracking_uri(None)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    post.save(tmp_path / "posterior.nc")
    from_file = bnlab.score(tmp_path / "posterior.nc", rows, [TARGET], draws=DRAWS, seed=SEED)
    pd.testing.assert_frame_equal(from_file, expected, check_exact=True)
    with pytest.raises(ArtifactError, match="cannot fetch the model"):
        bnlab.score("models:/no-such-model@champion", rows, [TARGET])


def test_explain_columns_equal_the_pyfunc(asia: tuple[bnlab.BayesNet, pd.DataFrame, Any]) -> None:
    from bnlab.ops.model_folder import BNModel
    from bnlab.ops.pyfunc import BNPyfunc
    from bnlab.ops.requests import explanation_columns

    net, df, _ = asia
    rows = pd.concat(
        [df.iloc[:4], pd.DataFrame({"tub": ["yes"], "either": ["no"]})], ignore_index=True
    )  # the last row is impossible: its explanation is empty
    got = bnlab.score(net, rows, [TARGET], explain=True)
    model = BNModel(network=net, posterior=None, targets=(TARGET,), interval=0.9, draws=2, seed=0)
    expected = BNPyfunc(model).predict(rows.iloc[:4].drop(columns="id"), params={"explain": True})
    cols = explanation_columns([TARGET], 3)
    pd.testing.assert_frame_equal(
        got[cols].iloc[:4], expected[cols], check_exact=True, check_dtype=False
    )
    assert got[f"impossible({TARGET})"].tolist() == [False] * 4 + [True]
    assert got[cols].iloc[4].isna().all()
