"""BNClassifier: scikit-learn's estimator checks, known-truth predictions, pipelines, export."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.naive_bayes import CategoricalNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator

import bnlab
from bnlab.sklearn import BNClassifier

#: checks scikit-learn itself skips here: array-API input needs SCIPY_ARRAY_API=1 and an
#: estimator that declares array-API support (BNClassifier works on pandas/numpy only)
NOT_APPLICABLE = {"check_array_api_input"}


def mixed_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 63, n).astype(float)
    income = rng.normal(50, 10, n)
    region = rng.choice(["north", "south"], n)
    y = np.where(age / 10 + (region == "north") + rng.normal(0, 1, n) > 4.5, "high", "low")
    return pd.DataFrame({"age": age, "income": income, "region": region}), y


@pytest.mark.parametrize("structure", ["naive_bayes", "tan", "chow_liu", "learned"])
def test_check_estimator_passes(structure: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's own SkipTestWarning / cast warnings
        results = check_estimator(BNClassifier(structure=structure), on_fail=None)
    failed = [
        (r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"
    ]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert failed == []
    assert skipped <= NOT_APPLICABLE
    assert sum(r["status"] == "passed" for r in results) > 40


def test_naive_bayes_equals_categorical_nb_with_laplace_smoothing() -> None:
    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, size=(400, 4))
    y = (X[:, 0] + rng.integers(0, 2, 400) > 2).astype(int)
    clf = BNClassifier(structure="naive_bayes", prior="k2").fit(X, y)  # K2: one pseudo-count
    counts = np.bincount(y)
    oracle = CategoricalNB(alpha=1.0, class_prior=(counts + 1) / (len(y) + 2)).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), oracle.predict_proba(X), rtol=1e-10)
    wrong = CategoricalNB(alpha=1.0).fit(X, y)  # empirical class prior: not the same model
    assert not np.allclose(clf.predict_proba(X), wrong.predict_proba(X), rtol=1e-10)


@pytest.mark.parametrize("structure", ["tan", "learned"])
def test_complete_and_missing_rows_equal_the_engine(structure: str) -> None:
    X, y = mixed_frame()
    clf = BNClassifier(structure=structure).fit(X, y)
    net = clf.posterior_.mean()
    new = X.iloc[:6].copy()
    new.loc[new.index[3], "income"] = np.nan
    codes = clf.schema_.encode(new, partial=True)
    engine = bnlab.Engine(net)
    expected = np.asarray(engine.marginals(codes)[clf.target_])
    np.testing.assert_allclose(clf.predict_proba(new), expected, rtol=1e-5, atol=1e-7)


def test_intervals_equal_the_engine_over_draws_and_shrink_with_data() -> None:
    X, y = mixed_frame(200)
    small = BNClassifier(structure="tan", draws=400).fit(X, y)
    new = X.iloc[:20].copy()
    new.loc[new.index[4], "age"] = np.nan  # one row through the engine path
    lo, hi = small.predict_proba_interval(new, interval=0.9)
    engine = bnlab.Engine(small.posterior_, draws=400, seed=0)
    per_draw = np.asarray(engine.marginals(small.schema_.encode(new, partial=True))["class"])
    q_lo, q_hi = np.quantile(per_draw, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(lo, q_lo, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(hi, q_hi, rtol=1e-5, atol=1e-9)
    assert np.all(lo <= hi)
    Xb, yb = mixed_frame(4000, seed=1)
    big = BNClassifier(structure="tan", draws=400).fit(Xb, yb)
    lo_b, hi_b = big.predict_proba_interval(X.iloc[:20], interval=0.9)
    assert np.mean(hi_b - lo_b) < np.mean(hi - lo)


def test_pipeline_cross_val_and_grid_search() -> None:
    X, y = mixed_frame(300)
    pipe = Pipeline([("id", FunctionTransformer(validate=False)), ("bn", BNClassifier())])
    scores = cross_val_score(pipe, X, y, cv=3, scoring="neg_log_loss")
    assert scores.shape == (3,) and np.all(scores < 0)
    grid = GridSearchCV(
        BNClassifier(), {"structure": ["naive_bayes", "tan"], "n_bins": [3, 5]}, cv=3
    ).fit(X, y)
    assert grid.best_params_["structure"] in ("naive_bayes", "tan")
    assert clone(grid.best_estimator_).get_params()["n_bins"] in (3, 5)


def test_bins_are_fitted_on_the_training_rows_only() -> None:
    X, y = mixed_frame(300)
    a = BNClassifier().fit(X.iloc[:150], y[:150]).schema_.column("income").bins
    b = BNClassifier().fit(X.iloc[150:], y[150:]).schema_.column("income").bins
    assert a is not None and b is not None and a.cuts != b.cuts


def test_unseen_category_is_missing_or_an_error() -> None:
    X, y = mixed_frame()
    new = X.iloc[:3].copy()
    new.loc[new.index[0], "region"] = "west"
    p = BNClassifier().fit(X, y).predict_proba(new)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    with pytest.raises(bnlab.BNError, match="'region'.*'west'"):
        BNClassifier(unseen="error").fit(X, y).predict_proba(new)


def test_exported_through_the_mlflow_flavor_answers_raw_numbers(tmp_path: Path) -> None:
    import mlflow.pyfunc

    import bnlab.mlflow

    X, y = mixed_frame()
    clf = BNClassifier(structure="tan").fit(X, y)
    bnlab.mlflow.save_model(clf.posterior_, tmp_path / "m", targets=[clf.target_], draws=200)
    model = mlflow.pyfunc.load_model(str(tmp_path / "m"))
    out = model.predict(X.iloc[:5])
    p = clf.predict_proba(X.iloc[:5])
    for k in range(len(clf.classes_)):
        mean = out[f"P({clf.target_}={k})_mean"].to_numpy()
        np.testing.assert_allclose(mean, p[:, k], atol=0.03)
        assert np.all(out[f"P({clf.target_}={k})_lower"] <= mean)


def test_learned_keeps_the_search_of_lower_leave_one_out_loss() -> None:
    from sklearn.datasets import load_breast_cancer

    from bnlab.evaluate.loo import best_ess

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [f"f{j}" for j in range(X.shape[1])]
    clf = BNClassifier(structure="learned").fit(X, y)
    names, t = list(clf.schema_.variables), clf.target_
    codes, _, _ = clf.schema_.encode_codes(X.assign(**{t: y}))
    s = bnlab.Structure(names, clf.schema_.states, {n: () for n in names})
    # the two searches through the public API: from the empty graph (a climb, and a climb
    # from the Chow-Liu tree) and from naive Bayes (a climb, then tabu search)
    nb = {n: () if n == t else (t,) for n in names}
    graphs = [
        bnlab.learn_structure(codes, method="hc", tree_start=True, structure=s),
        bnlab.learn_structure(codes, method="tabu", tree_start=False, structure=s, start=nb),
    ]
    losses = []
    for g in graphs:
        by_column = {names.index(v): [names.index(p) for p in g.parents[v]] for v in names}
        cards = [len(clf.schema_.states[v]) for v in names]
        losses.append(best_ess(codes, cards, by_column, names.index(t))[1].min())
    blankets = [{v for v in names if t in g.parents[v]} | set(g.parents[t]) for g in graphs]
    assert len(blankets[1]) > len(blankets[0])  # the class keeps more features from NB
    kept = graphs[int(np.argmin(losses))]
    assert dict(clf.structure_.parents) == dict(kept.parents)
    assert clf.loo_log_loss_.min() == pytest.approx(min(losses), rel=1e-12)


@pytest.mark.filterwarnings("ignore::bnlab.schema.OutOfRangeWarning")
def test_learned_beats_plain_hill_climbing_on_correlated_features() -> None:
    """The benchmark's finding, pinned: on breast cancer (30 correlated features) the kept
    graph's cross-validated log loss is well below that of one climb from the empty graph."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [f"f{j}" for j in range(X.shape[1])]
    learned, plain = [], []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        clf = BNClassifier(structure="learned").fit(X.iloc[train], y.iloc[train])
        learned.append(log_loss(y.iloc[test], clf.predict_proba(X.iloc[test])))
        names, t = list(clf.schema_.variables), clf.target_
        codes, _, _ = clf.schema_.encode_codes(X.iloc[train].assign(**{t: y.iloc[train]}))
        s = bnlab.Structure(names, clf.schema_.states, {n: () for n in names})
        climbed = bnlab.learn_structure(codes, method="hc", structure=s)
        order = [names.index(v) for v in climbed.variables]
        cpts = bnlab.fit(climbed, codes[:, order], prior="bdeu", ess=clf.ess_).mean()
        test_codes = clf.schema_.encode(X.iloc[test], partial=True)
        p = np.asarray(bnlab.Engine(cpts).marginals(test_codes)[t])
        plain.append(log_loss(y.iloc[test], p))
    assert np.mean(learned) < np.mean(plain) - 0.02
