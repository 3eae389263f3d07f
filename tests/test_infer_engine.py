"""The labelled Engine: evidence forms, bad input, posterior draws, intervals, MPE.

One module-level asia engine (point) and one Dirichlet-posterior engine are shared, so the
kernels compile once per test session.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import EvidenceError
from bnlab.infer import Engine, encode_evidence, evidence_likelihoods
from bnlab.posterior import Posterior


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.load_example("asia")


@pytest.fixture(scope="module")
def engine(asia: bnlab.BayesNet) -> Engine:
    return Engine(asia)


def _pyagrum_posteriors(net: bnlab.BayesNet, rows: list[dict[str, str]]) -> list[dict]:
    # pyAgrum's SWIG module emits a DeprecationWarning at import (under filterwarnings=error
    # that exception inside the extension's init segfaults) and its Tensor.toarray sets
    # ndarray.shape (deprecated in NumPy 2.5): ignore DeprecationWarning around pyAgrum only
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum

        from bnlab.io import to_pyagrum

        ie = gum.LazyPropagation(to_pyagrum(net))
        out = []
        for row in rows:
            ie.setEvidence(row)
            ie.makeInference()
            out.append({v: ie.posterior(v).toarray() for v in net.variables})
    return out


def test_evidence_forms_agree(engine: Engine, asia: bnlab.BayesNet) -> None:
    rows = [{"smoke": "yes", "dysp": "no"}, {"xray": "yes"}, {}]
    df = pd.DataFrame(rows)  # NaN where unobserved
    cat = df.astype({c: pd.CategoricalDtype(["no", "yes"]) for c in df.columns})  # other order
    codes = encode_evidence(asia, rows)
    assert codes.shape == (3, 8) and codes[2].tolist() == [-1] * 8
    ref = _pyagrum_posteriors(asia, rows)
    for ev in (rows, df, cat, codes):
        m = engine.marginals(ev)
        for r in range(3):
            for v in asia.variables:
                np.testing.assert_allclose(m[v][r], ref[r][v], atol=1e-9)


def test_none_values_mean_unobserved(engine: Engine) -> None:
    df = pd.DataFrame({"smoke": ["yes", None], "xray": [None, None]}, dtype=object)
    m = engine.marginals(df)
    single = engine.marginals([{"smoke": "yes"}, {}])
    np.testing.assert_allclose(m["lung"], single["lung"], atol=1e-12)


def test_soft_evidence_equals_virtual_child(engine: Engine, asia: bnlab.BayesNet) -> None:
    # soft evidence (0.8, 0.2) on xray == observing a virtual child with that likelihood
    soft = engine.marginals([{}], soft={"xray": [0.8, 0.2]})
    joint_yes = engine.marginals([{"xray": "yes"}]).log_prob[0]
    joint_no = engine.marginals([{"xray": "no"}]).log_prob[0]
    p_yes, p_no = 0.8 * np.exp(joint_yes), 0.2 * np.exp(joint_no)
    assert soft.log_prob[0] == pytest.approx(np.log(p_yes + p_no), abs=1e-12)
    assert soft["xray"][0, 0] == pytest.approx(p_yes / (p_yes + p_no), abs=1e-12)


@pytest.mark.parametrize(
    ("evidence", "match"),
    [
        ([{"smoke": "yes"}, {"smokes": "yes"}], r"row 1, column 'smokes'"),
        ([{"smoke": "maybe"}], r"row 0, column 'smoke'.*'maybe'"),
        (pd.DataFrame({"smoke": ["yes", "perhaps"]}), r"row 1, column 'smoke'"),
        (pd.DataFrame({"smoke": ["yes"], "colour": ["red"]}), r"column 'colour'"),
        (np.array([[0, 0, 0, 0, 0, 0, 0, 5]]), r"column 'dysp'"),
        ("smoke=yes", r"not understood"),
    ],
)
def test_bad_evidence_is_named(engine: Engine, evidence: object, match: str) -> None:
    with pytest.raises(EvidenceError, match=match):
        engine.marginals(evidence)  # type: ignore[arg-type]


def test_bad_query_and_do(engine: Engine) -> None:
    with pytest.raises(EvidenceError, match=r"row 1, column 'lung'.*target is observed"):
        engine.query("lung", [{"smoke": "yes"}, {"lung": "no"}])
    with pytest.raises(EvidenceError, match="'cancer' is not a variable"):
        engine.query("cancer", [{}])
    with pytest.raises(EvidenceError, match=r"do column 'smoker'"):
        engine.marginals([{}], do={"smoker": "yes"})
    with pytest.raises(EvidenceError, match=r"do column 'smoke'.*'often'"):
        engine.marginals([{}], do={"smoke": "often"})
    with pytest.raises(EvidenceError, match="soft evidence on 'xray' has shape"):
        engine.marginals([{}], soft={"xray": [0.1, 0.2, 0.7]})


def test_do_differs_from_conditioning(engine: Engine) -> None:
    # do(lung=yes) leaves its cause smoke at its prior; observing lung=yes moves it
    prior = engine.marginals([{}])["smoke"][0]
    did = engine.marginals([{}], do={"lung": "yes"})
    seen = engine.marginals([{"lung": "yes"}])
    np.testing.assert_allclose(did["smoke"][0], prior, atol=1e-12)
    assert seen["smoke"][0, 0] > prior[0] + 0.1
    np.testing.assert_allclose(did["lung"][0], [1.0, 0.0])
    # the effect downstream is the same either way (lung has no other route to either)
    np.testing.assert_allclose(did["either"][0], [1.0, 0.0], atol=1e-12)


def test_point_query_table(engine: Engine) -> None:
    q = engine.query("lung", [{"smoke": "yes"}, {"xray": "yes"}])
    assert list(q.columns) == ["row", "state", "mean", "lower", "upper"]
    assert q["row"].tolist() == [0, 0, 1, 1]
    assert q["state"].astype(str).tolist() == ["yes", "no", "yes", "no"]
    assert q["mean"].iloc[0] == pytest.approx(0.1, abs=1e-12)  # P(lung | smoke) in asia
    np.testing.assert_array_equal(q["lower"], q["mean"])


def test_mpe_table(engine: Engine, asia: bnlab.BayesNet) -> None:
    out = engine.mpe([{"dysp": "yes", "xray": "yes"}, {}])
    assert list(out.columns) == [*asia.variables, "log_prob"]
    assert out["dysp"].iloc[0] == "yes" and out["xray"].iloc[0] == "yes"
    # the most probable unconditional state of asia's root is 'no'
    assert out["asia"].iloc[1] == "no"
    # log_prob is log P(x*, e): the joint of that assignment
    lp = engine.log_prob([{v: out[v].iloc[0] for v in asia.variables}])[0]
    assert out["log_prob"].iloc[0] == pytest.approx(lp, abs=1e-12)


def test_evidence_likelihoods_helper(asia: bnlab.BayesNet) -> None:
    lk = evidence_likelihoods(asia, [{"smoke": "no"}, {}], soft={"xray": [0.3, 0.6]})
    assert lk["smoke"].tolist() == [[0.0, 1.0], [1.0, 1.0]]
    assert lk["xray"].tolist() == [[0.3, 0.6], [0.3, 0.6]]


def joint_marginal(
    structure: bnlab.Structure, cpts: dict[str, np.ndarray], rows: list[dict], target: str
) -> np.ndarray:
    """P(target | row) by brute force over the full joint (numpy only), (rows, states)."""
    names = list(structure.variables)
    cards = [structure.cards[v] for v in names]
    letters = "abcdefghijklmnop"
    joint = np.einsum(
        ",".join(
            "".join(letters[names.index(u)] for u in (*structure.parents[v], v)) for v in names
        )
        + "->"
        + letters[: len(names)],
        *[cpts[v] for v in names],
    )
    out = []
    for row in rows:
        sl = [slice(None)] * len(names)
        for v, st in row.items():
            sl[names.index(v)] = structure.states[v].index(st)
        sub = np.zeros(cards)
        sub[tuple(sl)] = joint[tuple(sl)]
        t = names.index(target)
        m = sub.sum(axis=tuple(a for a in range(len(names)) if a != t))
        out.append(m / m.sum())
    return np.array(out)


# -- posterior draws and intervals -----------------------------------------------------------


@pytest.fixture(scope="module")
def posterior(asia: bnlab.BayesNet) -> Posterior:
    # alpha = large counts times the true CPTs (+ a pseudo-count): a concentrated posterior
    alpha = {v: 400.0 * asia.cpt(v) + 1.0 for v in asia.variables}
    return Posterior(asia.structure, alpha=alpha)


@pytest.fixture(scope="module")
def post_engine(posterior: Posterior) -> Engine:
    return Engine(posterior, draws=400, seed=3)


def test_posterior_marginals_are_per_draw(post_engine: Engine, posterior: Posterior) -> None:
    rows = [{"smoke": "yes"}, {"dysp": "yes"}]
    m = post_engine.marginals(rows)
    assert m["lung"].shape == (400, 2, 2)
    assert m.log_prob.shape == (400, 2)
    # draw k equals a point engine on the k-th drawn network (same seed -> same draws)
    d = posterior.draws(400, seed=3)
    for k in (0, 199):
        net_k = bnlab.BayesNet(structure=posterior.structure, cpts={v: d[v][k] for v in d})
        ref = Engine(net_k, jit=False).marginals(rows)
        np.testing.assert_allclose(m["lung"][k], ref["lung"], atol=1e-12)
    point = post_engine.marginals(rows, point=True)
    assert point["lung"].shape == (2, 2)
    # the same draws given by hand (e.g. from MCMC) give the same answers
    by_hand = Engine.from_draws(posterior.structure, d).log_prob(rows)
    np.testing.assert_allclose(by_hand, m.log_prob, atol=1e-12)


@pytest.mark.parametrize("kind", ["eti", "hdi"])
def test_sampled_interval_is_the_numpy_quantile(
    post_engine: Engine, posterior: Posterior, kind: str
) -> None:
    rows = [{"smoke": "yes", "xray": "yes"}, {"dysp": "no"}]
    q = post_engine.query("lung", rows, interval=0.8, kind=kind)
    # independent recomputation: each draw's network, brute-force joint, numpy quantiles
    d = posterior.draws(400, seed=3)
    samples = np.stack(
        [
            joint_marginal(posterior.structure, {v: d[v][k] for v in d}, rows, "lung")
            for k in range(400)
        ]
    )  # (draws, rows, states)
    if kind == "eti":
        lo, hi = np.quantile(samples, [0.1, 0.9], axis=0)
    else:
        s = np.sort(samples, axis=0)
        m = int(np.ceil(0.8 * 400))
        width = s[m - 1 :] - s[: 400 - m + 1]
        start = width.argmin(axis=0)
        lo = np.take_along_axis(s, start[None], 0)[0]
        hi = np.take_along_axis(s, (start + m - 1)[None], 0)[0]
    np.testing.assert_allclose(q["mean"], samples.mean(axis=0).reshape(-1), atol=1e-10)
    np.testing.assert_allclose(q["lower"], lo.reshape(-1), atol=1e-10)
    np.testing.assert_allclose(q["upper"], hi.reshape(-1), atol=1e-10)
    assert (q["lower"] < q["mean"]).all() and (q["mean"] < q["upper"]).all()


def test_delta_interval_close_to_sampled(post_engine: Engine) -> None:
    rows = [{"smoke": "yes", "xray": "yes"}, {"dysp": "no"}, {"asia": "yes", "xray": "no"}]
    sampled = post_engine.query("lung", rows, interval=0.9)
    delta = post_engine.query("lung", rows, interval=0.9, method="delta")
    width = sampled["upper"] - sampled["lower"]
    # stated tolerance: bounds within 15% of the sampled width (400 draws carry ~5-8%
    # Monte Carlo error in a 90% bound), means within 10% of the width
    assert np.all(np.abs(delta["lower"] - sampled["lower"]) <= 0.15 * width)
    assert np.all(np.abs(delta["upper"] - sampled["upper"]) <= 0.15 * width)
    assert np.all(np.abs(delta["mean"] - sampled["mean"]) <= 0.1 * width)
    # a wrong variance (ignore every CPT but one) is caught by the same tolerance
    narrow = post_engine.query("lung", rows, interval=0.5, method="delta")
    assert np.any(np.abs(narrow["upper"] - sampled["upper"]) > 0.15 * width)


def test_delta_needs_dirichlet(engine: Engine) -> None:
    with pytest.raises(bnlab.BNError, match="Dirichlet"):
        engine.query("lung", [{}], method="delta")
