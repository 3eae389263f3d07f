"""The serving predictor in process: requisite rows, engine rows and request parsing.

Sampled answers computed row by row from the requisite factors must equal the engine's
(over the same draws), whichever path a row takes; a model with a zero CPT entry goes to
the engine; the JSON body is read without a DataFrame and bad cells are typed errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd
import pytest

import bnlab
import bnlab.mlflow as flavor
from bnlab.errors import EvidenceError
from bnlab.infer import requisite
from bnlab.ops.pyfunc import BNPyfunc
from bnlab.ops.serving.invocations import RequestError, parse_body
from bnlab.ops.serving.predict import BatchPredictor, EvidenceRows

TARGET = "LVFAILURE"
DRAWS = 200


@pytest.fixture(scope="module")
def alarm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    net = bnlab.load_example("alarm")
    post = bnlab.fit(net.structure, bnlab.sample(net, n=2_000, seed=0), ess=10)
    path = tmp_path_factory.mktemp("predict") / "model"
    flavor.save_model(post, path, targets=[TARGET], draws=DRAWS)
    rows = bnlab.sample(net, n=24, seed=9).drop(columns=[TARGET]).astype(object)
    rows = rows.mask(np.random.default_rng(9).random(rows.shape) < 0.5, None)
    return {"net": net, "post": post, "path": path, "rows": rows}


def predictor_of(model: Path) -> BatchPredictor:
    """The serving predictor of a model folder."""
    return BatchPredictor(BNPyfunc(flavor.load_model(str(model))))


def answer(predictor: BatchPredictor, rows: pd.DataFrame, **params: Any) -> dict[str, Any]:
    items = [predictor.prepare(rows.iloc[[i]], params or None) for i in range(len(rows))]
    out = predictor.run(predictor.key(items[0]), items)
    return {c: np.concatenate([o[c] for o in out]) for c in out[0]}


def engine_answer(post: bnlab.Posterior, rows: pd.DataFrame) -> pd.DataFrame:
    with jax.enable_x64(True):
        engine = bnlab.Engine(post, draws=DRAWS, seed=0)
        return engine.query(TARGET, rows.dropna(axis=1, how="all"), interval=0.9)


def test_requisite_rows_equal_the_engine(alarm: dict[str, Any]) -> None:
    predictor = predictor_of(alarm["path"])
    requisite.requisite_program.cache_clear()
    got = answer(predictor, alarm["rows"])
    assert requisite.requisite_program.cache_info().currsize > 0  # the per-row path ran
    want = engine_answer(alarm["post"], alarm["rows"])
    for k, s in enumerate(alarm["net"].states[TARGET]):
        for col in ("mean", "lower", "upper"):
            np.testing.assert_allclose(
                got[f"P({TARGET}={s})_{col}"], want[col].to_numpy()[k::2], atol=1e-12
            )


def test_rows_left_to_the_engine_give_the_same_answers(
    alarm: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = answer(predictor_of(alarm["path"]), alarm["rows"])
    monkeypatch.setattr(requisite, "MAX_COMPONENT", 0)  # every row to the engine
    requisite.requisite_program.cache_clear()
    try:
        slow = answer(predictor_of(alarm["path"]), alarm["rows"])
    finally:
        requisite.requisite_program.cache_clear()
    for col, values in fast.items():
        np.testing.assert_allclose(values, slow[col], atol=1e-12)


def test_a_model_with_a_zero_entry_is_answered_by_the_engine(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")  # a point network with exact zeros (either = or)
    assert not requisite.strictly_positive(dict(net.cpts))
    flavor.save_model(net, tmp_path / "m", targets=["dysp"])
    predictor = predictor_of(tmp_path / "m")
    rows = pd.DataFrame({"tub": ["yes"], "lung": ["yes"], "either": ["no"]}, dtype=object)
    item = predictor.prepare(rows, None)
    (result,) = predictor.run(predictor.key(item), [item])
    assert isinstance(result, bnlab.errors.ImpossibleEvidenceError)


def test_the_json_body_is_read_into_cells_and_codes(alarm: dict[str, Any]) -> None:
    body = {"dataframe_split": {"columns": ["HR", "CVP"], "data": [["HIGH", None], [None, 1]]}}
    table, params = parse_body(json.dumps(body).encode())
    assert isinstance(table, EvidenceRows) and params is None
    assert table.rows == [["HIGH", None], [None, "1"]]
    predictor = predictor_of(alarm["path"])
    with pytest.raises(EvidenceError, match=r"row 1, column 'CVP'.*not a state of 'CVP'"):
        predictor.prepare(table, None)
    good = {"dataframe_split": {"columns": ["HR"], "data": [["HIGH"], [None]]}}
    item = predictor.prepare(parse_body(json.dumps(good).encode())[0], None)
    s = alarm["net"].structure
    assert item.codes[0, s.index["HR"]] == s.states["HR"].index("HIGH")
    assert (item.codes[1] == -1).all()
    twice = {"dataframe_split": {"columns": ["HR", "HR"], "data": [["HIGH", "LOW"]]}}
    with pytest.raises(RequestError, match="more than once"):
        parse_body(json.dumps(twice).encode())
    records = {"dataframe_records": [{"HR": "HIGH"}, {"CVP": "LOW"}]}
    table, _ = parse_body(json.dumps(records).encode())
    assert table.columns == ["HR", "CVP"] and table.rows == [["HIGH", None], [None, "LOW"]]


def test_request_settings_are_validated_once_and_bad_ones_every_time(
    alarm: dict[str, Any],
) -> None:
    predictor = predictor_of(alarm["path"])
    table = EvidenceRows(["HR"], [["HIGH"]])
    first = predictor.prepare(table, {"interval_method": "delta", "interval": 0.8})
    again = predictor.prepare(table, {"interval": 0.8, "interval_method": "delta"})
    assert again.request is first.request and first.request.interval == 0.8
    assert predictor.prepare(table, None).request.interval != 0.8
    for _ in range(2):
        with pytest.raises(EvidenceError, match="unknown params"):
            predictor.prepare(table, {"intervall": 0.8})
