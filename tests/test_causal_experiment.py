"""conf/causal/: the schema, the evaluate hook's metrics, and the report's table."""

from __future__ import annotations

from pathlib import Path

import pytest

import bnlab
from bnlab.causal.questions import effect_metrics, effects_table
from bnlab.errors import ConfigError
from bnlab.ops.config import EffectQuestion, validate
from bnlab.ops.experiment import compose
from bnlab.report import build_report

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def test_example_questions_compose_and_validate() -> None:
    cfg = validate(compose(CONF, ["causal=alarm_effects"]), root=ROOT)
    names = [q.name for q in cfg.causal.questions]
    assert names == ["hypovolemia_on_low_bp", "anaphylaxis_on_low_bp",
                     "catechol_on_high_hr_given_tpr_low"]  # fmt: skip
    assert cfg.causal.questions[2].given == {"TPR": "LOW"}
    assert validate(compose(CONF, []), root=ROOT).causal.questions == []  # causal=none


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("causal.questions.0.kind=diff", "kind"),
        ("causal.questions.0.treatment=NOPE", "NOPE"),
        ("causal.questions.1.name=hypovolemia_on_low_bp", "unique"),
        ("causal.draws=0", "causal.draws"),
    ],
)
def test_bad_questions_are_refused(override: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        validate(compose(CONF, ["causal=alarm_effects", override]), root=ROOT)


def test_metrics_and_report_table() -> None:
    net = bnlab.load_example("asia")
    post = bnlab.fit(net.structure, bnlab.sample(net, 2000, seed=0))
    q = EffectQuestion(
        name="smoke_dysp",
        treatment="smoke",
        outcome="dysp",
        treated="yes",
        control="no",
        outcome_state="yes",
        given={"asia": "no"},
    )
    metrics = effect_metrics(post, [q], draws=100, interval=0.9, seed=0)
    assert set(metrics) == {f"causal.smoke_dysp.{k}" for k in ("mean", "lower", "upper")}
    assert metrics["causal.smoke_dysp.lower"] < metrics["causal.smoke_dysp.mean"]
    table = effects_table({**metrics, "audit.tests": 3.0}, [q.__dict__])
    assert list(table["name"]) == ["smoke_dysp"]
    assert table["question"].iloc[0] == "P(dysp=yes | do(smoke=yes), asia=no) vs do(smoke=no)"
    page = build_report(structure=net.structure, causal_effects=table)
    assert "Causal effects" in page and "smoke_dysp" in page
    assert "Causal effects" not in build_report(structure=net.structure)


def test_evaluate_step_answers_the_questions() -> None:
    from bnlab.ops.config import CausalConfig, DatasetConfig, EvaluateConfig, ExperimentConfig
    from bnlab.stages.evaluate import evaluate_model

    net = bnlab.load_example("asia")
    post = bnlab.fit(net.structure, bnlab.sample(net, 2000, seed=0))
    q = EffectQuestion(
        name="smoke_dysp",
        treatment="smoke",
        outcome="dysp",
        treated="yes",
        control="no",
        outcome_state="yes",
        kind="rr",
    )
    cfg = ExperimentConfig(
        dataset=DatasetConfig(name="asia", network="asia"),
        evaluate=EvaluateConfig(targets=[], draws=50, example_rows=0, explain_rows=0),
        causal=CausalConfig(questions=[q]),
    )
    ev = evaluate_model(cfg, net.structure, post, bnlab.sample(net, 300, seed=1), None)
    mean = ev.metrics["causal.smoke_dysp.mean"]
    assert ev.metrics["causal.smoke_dysp.lower"] < mean < ev.metrics["causal.smoke_dysp.upper"]
    assert mean > 1.0  # smoking raises the risk of dyspnoea
