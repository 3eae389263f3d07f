"""bnlab.fit with the conjugate backend: against hand computation and pgmpy's BDeu estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnlab
from bnlab.errors import BackendError, DataError, PriorError
from bnlab.fitting import BACKENDS, FitInput, fit, register_backend
from bnlab.network import BayesNet, Structure
from bnlab.posterior import Posterior


def _small() -> Structure:
    return Structure(["a", "b"], {"a": ("x", "y"), "b": ("u", "v", "w")}, {"b": ("a",)})


def _small_data() -> pd.DataFrame:
    return pd.DataFrame({"a": ["x", "x", "y", "x", "y"], "b": ["u", "v", "w", "u", "u"]})


def test_hand_computed_small_case() -> None:
    # BDeu, ess = 6: a has q=1, r=2 -> 3 per cell; b has q=2, r=3 -> 1 per cell.
    # counts a: x=3, y=2.  counts b|a=x: u=2, v=1, w=0; b|a=y: u=1, v=0, w=1.
    post = fit(_small(), _small_data(), prior="bdeu", ess=6.0)
    np.testing.assert_allclose(post.alpha["a"], [6.0, 5.0])
    np.testing.assert_allclose(post.alpha["b"], [[3.0, 2.0, 1.0], [2.0, 1.0, 2.0]])
    mean = post.mean()
    np.testing.assert_allclose(mean.cpt("a"), [6 / 11, 5 / 11])
    np.testing.assert_allclose(mean.cpt("b"), [[3 / 6, 2 / 6, 1 / 6], [2 / 5, 1 / 5, 2 / 5]])
    assert post.backend == "conjugate" and post.prior == "bdeu" and post.ess == 6.0
    assert post.n_rows == 5 and post.n_dropped == {"a": 0, "b": 0}
    assert post.elapsed_s is not None and post.elapsed_s >= 0
    # K2 and uniform priors on the same counts
    k2 = fit(_small(), _small_data(), prior="k2")
    np.testing.assert_allclose(k2.alpha["b"], [[3.0, 2.0, 1.0], [2.0, 1.0, 2.0]])
    uni = fit(_small(), _small_data(), prior="uniform", alpha=0.5)
    np.testing.assert_allclose(uni.alpha["a"], [3.5, 2.5])


def _pgmpy_cpts(net: BayesNet, df: pd.DataFrame, ess: float) -> dict[str, np.ndarray]:
    """pgmpy's BDeu posterior means, re-ordered to bnlab's axes and state order."""
    from pgmpy.models import DiscreteBayesianNetwork
    from pgmpy.parameter_estimator import DiscreteBayesianEstimator

    model = DiscreteBayesianNetwork(net.edges)
    model.add_nodes_from(net.variables)
    est = DiscreteBayesianEstimator(
        state_names={v: list(net.states[v]) for v in net.variables},
        prior_type="BDeu",
        equivalent_sample_size=ess,
    )
    cpds = {cpd.variable: cpd for cpd in est.fit(model, df.astype(str)).parameters_}
    out = {}
    for v in net.variables:
        cpd = cpds[v]
        axes = list(cpd.variables)  # child first, then evidence
        values = np.asarray(cpd.values)
        for i, name in enumerate(axes):  # put each axis's states in bnlab's order
            order = [list(cpd.state_names[name]).index(s) for s in net.states[name]]
            values = np.take(values, order, axis=i)
        wanted = [*net.parents[v], v]
        out[v] = np.transpose(values, [axes.index(n) for n in wanted])
    return out


@pytest.mark.parametrize("ess", [1.0, 10.0])
def test_posterior_mean_equals_pgmpy_bdeu_on_asia(ess: float) -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, 3000, seed=11)
    post = fit(net, df, prior="bdeu", ess=ess)
    oracle = _pgmpy_cpts(net, df, ess)
    mean = post.mean()
    for v in net.variables:
        np.testing.assert_allclose(mean.cpt(v), oracle[v], rtol=0, atol=1e-12, err_msg=v)


def test_pgmpy_oracle_disagrees_with_a_different_ess() -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, 300, seed=1)
    oracle = _pgmpy_cpts(net, df, 1.0)
    mean = fit(net, df, prior="bdeu", ess=50.0).mean()
    assert max(np.abs(mean.cpt(v) - oracle[v]).max() for v in net.variables) > 1e-3


def test_missing_values_are_dropped_per_family_and_reported() -> None:
    net = bnlab.load_example("asia")
    codes = bnlab.sample(net, 20_000, seed=5, missing={"smoke": 0.1}, as_codes=True)
    post = fit(net, codes, prior="k2")
    n_missing = int((codes[:, net.structure.index["smoke"]] == -1).sum())
    for v in net.variables:
        family = [*net.parents[v], v]
        expected = n_missing if "smoke" in family else 0
        assert post.n_dropped[v] == expected, v
        # the family's counts are exactly those of its complete rows
        cols = [net.structure.index[u] for u in family]
        keep = (codes[:, cols] >= 0).all(axis=1)
        assert post.alpha[v].sum() == pytest.approx(keep.sum() + np.prod(post.alpha[v].shape))


def test_dataframe_codes_and_parquet_inputs_agree(tmp_path: Path) -> None:
    net = bnlab.load_example("asia")
    df = bnlab.sample(net, 2000, seed=2, missing=0.05)
    a = fit(net.structure, df)
    b = fit(net.structure, bnlab.encode(df, net))
    bnlab.write_parquet(df.iloc[:1000], tmp_path / "part-0.parquet")
    bnlab.write_parquet(df.iloc[1000:], tmp_path / "part-1.parquet")
    c = fit(net.structure, str(tmp_path / "part-*.parquet"))
    for v in net.variables:
        np.testing.assert_array_equal(a.alpha[v], b.alpha[v])
        np.testing.assert_array_equal(a.alpha[v], c.alpha[v])
    assert a.n_dropped == b.n_dropped == c.n_dropped


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(
        BackendError, match=r"unknown backend 'stan'; known backends are \[.*'conjugate'"
    ):
        fit(_small(), _small_data(), backend="stan")


def test_conjugate_backend_takes_no_options() -> None:
    with pytest.raises(BackendError, match=r"takes no options, got \['num_samples'\]"):
        fit(_small(), _small_data(), num_samples=10)


def test_a_registered_backend_receives_codes_and_prior() -> None:
    seen: dict[str, object] = {}

    def fake(inputs: FitInput, **options: object) -> Posterior:
        seen.update(options=options, prior=inputs.prior, ess=inputs.ess, rows=len(inputs.codes))
        return Posterior(inputs.structure, alpha=inputs.alpha, backend="fake")

    register_backend("fake-for-test", fake)
    try:
        post = fit(_small(), _small_data(), ess=2.0, backend="fake-for-test", chains=2)
    finally:
        del BACKENDS["fake-for-test"]
    assert seen == {"options": {"chains": 2}, "prior": "bdeu", "ess": 2.0, "rows": 5}
    assert post.backend == "fake" and post.elapsed_s is not None


def test_a_backend_module_that_cannot_import_is_reported() -> None:
    register_backend("broken-for-test", "bnlab.no_such_module:fit")
    try:
        with pytest.raises(BackendError, match="backend 'broken-for-test' is not available"):
            fit(_small(), _small_data(), backend="broken-for-test")
    finally:
        del BACKENDS["broken-for-test"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((3, 3), dtype=np.int8), r"codes must be a 2-D integer array \(rows, 2\)"),
        (np.zeros((3, 2), dtype=np.float64), "got dtype float64"),
        (np.array([[0, 3]], dtype=np.int8), r"codes of 'b' \(column 1\) lie in \[3, 3\]"),
        (np.array([[-2, 0]], dtype=np.int8), r"codes of 'a' \(column 0\) lie in \[-2, -2\]"),
        ([[0, 1]], "cannot fit from list"),
    ],
)
def test_bad_data(data: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        fit(_small(), data)


def test_bad_prior_parameters() -> None:
    with pytest.raises(PriorError, match="ess .* must be a positive finite number, got 0"):
        fit(_small(), _small_data(), ess=0)
    with pytest.raises(PriorError, match="unknown prior 'bde'"):
        fit(_small(), _small_data(), prior="bde")


def test_bnlab_fit_stays_callable_after_its_submodules_are_imported() -> None:
    # importing bnlab.fit.* binds the package to the attribute bnlab.fit, hiding the lazy
    # function; the package is callable so that bnlab.fit(...) works in any import order
    import importlib

    importlib.import_module("bnlab.backends.conjugate")
    post = bnlab.fit(_small(), _small_data(), ess=6.0)
    np.testing.assert_allclose(post.alpha["a"], [6.0, 5.0])


def test_empty_data_is_refused_unless_the_prior_is_asked_for(tmp_path: Path) -> None:
    empty = _small_data().iloc[:0]
    with pytest.raises(DataError, match="no rows.*allow_empty=True"):
        fit(_small(), empty)
    empty.to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(DataError, match="no rows"):
        fit(_small(), tmp_path / "empty.parquet")
    prior_only = fit(_small(), empty, prior="k2", allow_empty=True)
    np.testing.assert_array_equal(prior_only.alpha["b"], np.ones((2, 3)))
    assert prior_only.n_rows == 0
