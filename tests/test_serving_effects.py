"""Causal effects through the served model: the effect params of the bnlab pyfunc.

The answer must equal :func:`bnlab.causal.effect` on the same posterior, draws and seed
(itself checked against enumeration in test_causal_effects), row by row as subgroups, through
MLflow's params schema and through the serving batcher; bad questions are typed errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_registry_helpers import fit_asia, verdict

import bnlab
import bnlab.mlflow as flavor
from bnlab import causal
from bnlab.errors import EvidenceError
from bnlab.ops import requests
from bnlab.ops.pyfunc import BNPyfunc
from bnlab.ops.serving.predict import BatchPredictor

QUESTION = {
    "effect_treatment": "smoke",
    "effect_treated": "yes",
    "effect_control": "no",
    "effect_outcome": "dysp",
    "effect_outcome_state": "yes",
}


@pytest.fixture(scope="module")
def asia() -> tuple[bnlab.BayesNet, bnlab.Posterior]:
    return fit_asia()


@pytest.fixture(scope="module")
def saved(asia: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, post = asia
    path = tmp_path_factory.mktemp("effects") / "model"
    flavor.save_model(post, path, targets=["dysp"], verdict=verdict(True), draws=200)
    return path


def test_effect_request_equals_causal_effect_per_subgroup(saved: Path, asia: Any) -> None:
    import mlflow.pyfunc

    _, post = asia
    rows = pd.DataFrame({"asia": [None, "yes", None], "tub": [None, None, "no"]}, dtype=object)
    loaded = mlflow.pyfunc.load_model(str(saved))  # through MLflow's params schema
    for kind in ("ate", "rr"):
        out = loaded.predict(rows, params={**QUESTION, "effect_kind": kind, "seed": 3})
        assert list(out.columns) == list(requests.EFFECT_COLUMNS)
        given = [{}, {"asia": "yes"}, {"tub": "no"}]
        want = causal.effect(
            post, "smoke", "dysp", treated="yes", control="no", outcome_state="yes",
            given=given, kind=kind, draws=200, seed=3,
        )  # fmt: skip
        for col in ("mean", "lower", "upper"):
            np.testing.assert_allclose(out[f"effect_{col}"], want[col], rtol=1e-12)
        assert (out["effect_kind"] == kind).all()
        assert "do(smoke)" in out["effect_formula"][0]
    # the three subgroups differ, and the interval is a real one: the comparison can fail
    assert out["effect_mean"].nunique() == 3
    assert (out["effect_lower"] < out["effect_upper"]).all()


def test_effect_request_through_the_serving_batcher(saved: Path, asia: Any) -> None:
    pyfunc = BNPyfunc(flavor.load_model(str(saved)))
    predictor = BatchPredictor(pyfunc)
    frame = pd.DataFrame({"asia": [None]}, dtype=object)
    effect = predictor.prepare(frame, {**QUESTION, "seed": 1})
    plain = predictor.prepare(frame, {"seed": 1})
    assert predictor.key(effect) != predictor.key(plain)  # never batched together
    (answer,) = predictor.run(predictor.key(effect), [effect])
    want = causal.effect(
        asia[1], "smoke", "dysp", treated="yes", control="no", outcome_state="yes",
        draws=200, seed=1,
    )  # fmt: skip
    assert answer["effect_mean"][0] == pytest.approx(float(want["mean"].iloc[0]), rel=1e-12)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"effect_treatment": "smoke"}, "missing effect_treated"),
        ({**QUESTION, "effect_treatment": "smok"}, "not a variable"),
        ({**QUESTION, "effect_treated": "maybe"}, "not a state of 'smoke'"),
        ({**QUESTION, "effect_kind": "hr"}, "effect_kind must be"),
        ({**QUESTION, "explain": True}, "cannot be explained"),
    ],
)
def test_bad_effect_requests_are_typed_errors(saved: Path, params: dict, message: str) -> None:
    pyfunc = BNPyfunc(flavor.load_model(str(saved)))
    with pytest.raises(EvidenceError, match=message):
        pyfunc.predict(pd.DataFrame({"asia": [None]}, dtype=object), params=params)


def test_subgroup_naming_the_treatment_is_refused(saved: Path) -> None:
    pyfunc = BNPyfunc(flavor.load_model(str(saved)))
    with pytest.raises(bnlab.BNError, match="the treatment"):
        pyfunc.predict(pd.DataFrame({"smoke": ["yes"]}), params=QUESTION)
