"""Effects against enumeration of the interventional distribution and the engine's do()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from causal_fixtures import prob, random_latent_dag, random_net
from hypothesis import given, settings
from hypothesis import strategies as st

import bnlab
from bnlab import BayesNet, Structure, causal
from bnlab.causal import CausalGraphError, NotIdentifiableError
from bnlab.causal.effects import contrast
from bnlab.errors import BNError
from bnlab.infer.engine import Engine


def _truth(net: BayesNet, x: str, y: str, t: str, c: str, ys: str, kind: str, g=None) -> float:  # noqa: ANN001
    p1 = prob(net, y, ys, given=g, do={x: t})
    p0 = prob(net, y, ys, given=g, do={x: c})
    return float(contrast(np.array(p1), np.array(p0), kind))


def _confounded() -> Structure:
    names = ["Z", "T", "Y"]
    return Structure(names, {"Z": ("z0", "z1"), "T": ("t0", "t1"), "Y": ("n", "y")},
                     {"T": ["Z"], "Y": ["T", "Z"]})  # fmt: skip


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["ate", "rr", "or"]))
def test_effect_on_a_network_equals_enumeration(seed: int, kind: str) -> None:
    s, obs, _ = random_latent_dag(seed, n_observed=4, max_latent=0, p_edge=0.6, cards=3)
    net = random_net(s, seed)
    rng = np.random.default_rng(seed)
    x, y, w = (str(v) for v in rng.choice(obs, size=3, replace=False))
    out = causal.effect(net, x, y, treated="a", control="c", outcome_state="b", kind=kind)
    assert out["mean"].iloc[0] == pytest.approx(
        _truth(net, x, y, "a", "c", "b", kind), rel=1e-9, abs=1e-12
    )
    assert (out["lower"] == out["mean"]).all() and (out["upper"] == out["mean"]).all()
    # conditional effects: one row per subgroup, each the enumerated P(y | do(x), w)
    rows = [{w: st_} for st_ in ("a", "b", "c")]
    sub = causal.effect(net, x, y, treated="a", control="c", outcome_state="b", kind=kind,
                        given=rows)  # fmt: skip
    want = [_truth(net, x, y, "a", "c", "b", kind, g) for g in rows]
    np.testing.assert_allclose(sub["mean"], want, rtol=1e-9, atol=1e-12)
    # a batch is the stack of single calls
    one = causal.effect(net, x, y, treated="a", control="c", outcome_state="b", kind=kind,
                        given=rows[1])  # fmt: skip
    assert one["mean"].iloc[0] == pytest.approx(sub["mean"].iloc[1], rel=1e-12, abs=1e-15)


def test_effect_equals_the_do_query_difference_on_asia() -> None:
    net = bnlab.load_example("asia")
    out = causal.effect(net, "smoke", "dysp", treated="yes", control="no", outcome_state="yes")
    eng = Engine(net)
    p1 = eng.query("dysp", [{}], do={"smoke": "yes"})["mean"].iloc[0]
    p0 = eng.query("dysp", [{}], do={"smoke": "no"})["mean"].iloc[0]
    assert out["mean"].iloc[0] == pytest.approx(p1 - p0, abs=1e-12)
    assert out.attrs["method"] == "surgery"
    assert out.attrs["formula"] == "P(dysp | do(smoke)) = P(dysp | smoke)"
    # and differs from the observational difference where there is confounding (a check that
    # can fail): P(either | lung) mixes smoking's path
    obs = eng.query("dysp", [{"smoke": "yes"}, {"smoke": "no"}])
    diff = obs.loc[obs["state"] == "yes", "mean"].to_numpy()
    assert out["mean"].iloc[0] == pytest.approx(diff[0] - diff[1], abs=1e-9)  # smoke is a root


def test_confounding_is_adjusted_for() -> None:
    s = _confounded()
    net = random_net(s, 4)
    out = causal.effect(net, "T", "Y", treated="t1", control="t0", outcome_state="y")
    truth = _truth(net, "T", "Y", "t1", "t0", "y", "ate")
    naive = prob(net, "Y", "y", {"T": "t1"}) - prob(net, "Y", "y", {"T": "t0"})
    assert out["mean"].iloc[0] == pytest.approx(truth, abs=1e-12)
    assert abs(naive - truth) > 1e-3  # the observational contrast is not the effect
    assert out.attrs["formula"] == "P(Y | do(T)) = Σ_{Z} P(Y | T, Z) P(Z)"
    adj = causal.effect(net, "T", "Y", treated="t1", control="t0", outcome_state="y",
                        adjust=["Z"])  # fmt: skip
    assert adj["mean"].iloc[0] == pytest.approx(truth, abs=1e-12)
    with pytest.raises(CausalGraphError, match="not a valid adjustment set"):
        causal.effect(net, "T", "Y", treated="t1", control="t0", outcome_state="y", adjust=[])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_effect_with_latent_confounders_equals_enumeration(seed: int) -> None:
    s, obs, lat = random_latent_dag(seed, n_observed=4, max_latent=2, p_edge=0.5)
    net = random_net(s, seed)
    rng = np.random.default_rng(seed + 3)
    x, y = (str(v) for v in rng.choice(obs, size=2, replace=False))
    try:
        out = causal.effect(net, x, y, treated="a", control="b", outcome_state="a", latent=lat)
    except NotIdentifiableError:
        with pytest.raises(NotIdentifiableError):
            causal.identify(s, x, y, latent=lat)
        return
    assert out["mean"].iloc[0] == pytest.approx(_truth(net, x, y, "a", "b", "a", "ate"), abs=1e-9)


def test_bow_arc_effect_names_the_hedge() -> None:
    s = Structure(["T", "Y"], {"T": ("a", "b"), "Y": ("a", "b")}, {"Y": ["T"]})
    with pytest.raises(NotIdentifiableError, match="hedge"):
        causal.effect(random_net(s, 0), "T", "Y", treated="a", control="b", outcome_state="a",
                      latent=[("T", "Y")])  # fmt: skip


def _fit(seed: int, rows: int = 400) -> tuple[BayesNet, bnlab.Posterior]:
    net = random_net(_confounded(), seed)
    data = bnlab.sample(net, rows, seed=seed)
    return net, bnlab.fit(net.structure, data, prior="bdeu", ess=1.0)


def test_posterior_effect_is_the_contrast_per_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    _, post = _fit(1)
    calls = []
    real_run = Engine._run

    def counting(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(1)
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "_run", counting)
    out = causal.effect(post, "T", "Y", treated="t1", control="t0", outcome_state="y",
                        kind="or", draws=60, seed=3, interval=0.8)  # fmt: skip
    assert len(calls) == 1  # every draw, treated and control rows: one batched engine call
    draws = post.draws(60, seed=3)
    values = []
    for k in range(60):
        net_k = BayesNet(structure=post.structure, cpts={v: d[k] for v, d in draws.items()})
        values.append(_truth(net_k, "T", "Y", "t1", "t0", "y", "or"))
    values_arr = np.array(values)
    assert out["mean"].iloc[0] == pytest.approx(values_arr.mean(), rel=1e-9)
    lo, hi = np.quantile(values_arr, [0.1, 0.9])
    assert out["lower"].iloc[0] == pytest.approx(lo, rel=1e-9)
    assert out["upper"].iloc[0] == pytest.approx(hi, rel=1e-9)
    # the formula path (latent pair declared elsewhere: here a valid back-door graph) also
    # makes one engine call
    calls.clear()
    causal.effect(post, "T", "Y", treated="t1", control="t0", outcome_state="y", draws=60,
                  adjust=["Z"])  # fmt: skip
    assert len(calls) == 1


def test_given_dataframe_rows_keep_their_index() -> None:
    _, post = _fit(2)
    given = pd.DataFrame({"Z": ["z0", "z1", np.nan]}, index=[10, 11, 12])
    out = causal.effect(post, "T", "Y", treated="t1", control="t0", outcome_state="y",
                        given=given, draws=50)  # fmt: skip
    assert list(out.index) == [10, 11, 12] and list(out.columns) == ["mean", "lower", "upper"]
    whole = causal.effect(post, "T", "Y", treated="t1", control="t0", outcome_state="y", draws=50)
    assert out["mean"].iloc[2] == pytest.approx(whole["mean"].iloc[0], rel=1e-9)  # NaN: no subgroup
    assert (out["lower"] < out["mean"]).all() and (out["mean"] < out["upper"]).all()


def test_bad_questions_raise() -> None:
    net = random_net(_confounded(), 0)
    kw = {"treated": "t1", "control": "t0", "outcome_state": "y"}
    with pytest.raises(BNError, match="not a state of 'T'"):
        causal.effect(net, "T", "Y", **{**kw, "treated": "t9"})
    with pytest.raises(BNError, match="kind"):
        causal.effect(net, "T", "Y", kind="diff", **kw)  # type: ignore[arg-type]
    with pytest.raises(CausalGraphError, match="outcome"):
        causal.effect(net, "T", "Y", given={"Y": "y"}, **kw)
    with pytest.raises(BNError, match="BayesNet or a Posterior"):
        causal.effect(net.structure, "T", "Y", **kw)
