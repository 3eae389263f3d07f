"""PyMC backend: the same log density as the NumPyro model, and closed-form agreement."""

from __future__ import annotations

import numpy as np
import pytest

import bnlab
from bnlab.backends.diagnostics import diagnose
from bnlab.backends.model_spec import build_spec
from bnlab.errors import BackendError
from bnlab.fitting import fit  # `bnlab.fit` is shadowed by the subpackage once imported
from bnlab.priors import prior_alpha
from tests.conftest import network_path
from tests.mcmc_checks import MCSE_MULTIPLE, check_against_conjugate

pytestmark = pytest.mark.filterwarnings(
    # short chains in the default suite have ESS < 400 by design
    "ignore::bnlab.backends.diagnostics.ConvergenceWarning",
)


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("asia"))


def _value_point(model: object, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyMC's value variables live in unconstrained space: map constrained values there."""
    import pytensor.tensor as pt

    out = {}
    for name, value in point.items():
        rv = model[name]  # type: ignore[index]
        tr = model.rvs_to_transforms[rv]  # type: ignore[attr-defined]
        out[model.rvs_to_values[rv].name] = (  # type: ignore[attr-defined]
            value if tr is None else tr.forward(pt.as_tensor_variable(value)).eval()
        )
    return out


@pytest.mark.parametrize(
    "prior",
    ["dirichlet", pytest.param("hierarchical", marks=pytest.mark.slow)],
)
def test_pymc_and_numpyro_log_densities_agree(asia: bnlab.BayesNet, prior: str) -> None:
    """Both backends build the same density from the spec: compare at random points."""
    import jax
    from numpyro.infer.util import log_density

    from bnlab.backends.numpyro_backend import make_model
    from bnlab.backends.pymc_backend import build_model

    codes = bnlab.sample(asia, 200, seed=4, missing=0.25, as_codes=True)
    spec = build_spec(asia.structure, codes, prior_alpha(asia, "bdeu"), prior=prior)  # type: ignore[arg-type]
    model = build_model(spec)
    logp = model.compile_logp(jacobian=False)
    rng = np.random.default_rng(0)
    values = []
    for _ in range(2):
        point: dict[str, np.ndarray] = {}
        for g in spec.groups:
            rows, mean, conc = spec.row_names(g)
            point[rows] = rng.dirichlet(np.ones(g.card), size=g.n_rows)
            if g.pooled:
                point[mean] = rng.dirichlet(np.ones(g.card), size=len(g.pooled))
                point[conc] = rng.gamma(2.0, 2.0, size=len(g.pooled))
        with jax.enable_x64(True):
            want, _ = log_density(make_model(spec), (), {}, point)
        got = float(logp(_value_point(model, point)))
        values.append(got)
        assert got == pytest.approx(float(want), rel=1e-9)
    assert values[0] != pytest.approx(values[1])  # the density depends on the point


def test_pymc_complete_data_matches_conjugate(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, 1000, seed=0)
    exact = fit(asia, df, prior="k2", backend="conjugate")
    post = fit(asia, df, prior="k2", backend="pymc", chains=4, draws=300, tune=300, seed=2)
    assert post.backend == "pymc" and post.attrs["nuts_sampler"] == "numpyro"
    assert post.stored_draws["either"].shape == (4, 300, 2, 2, 2)
    assert post.sample_stats is not None and post.sample_stats["diverging"].shape == (4, 300)
    check_against_conjugate(post, exact)


def test_pymc_bad_sampler(asia: bnlab.BayesNet) -> None:
    df = bnlab.sample(asia, 20, seed=0)
    with pytest.raises(BackendError, match="nuts_sampler"):
        fit(asia, df, backend="pymc", nuts_sampler="stan")
    with pytest.raises(BackendError, match="no option"):
        fit(asia, df, backend="pymc", chain_method="vectorized")


@pytest.mark.slow(expected_s=35)
def test_pymc_own_nuts_on_missing_data() -> None:
    s = bnlab.Structure(["A", "B"], {"A": ("0", "1"), "B": ("0", "1")}, {"B": ("A",)})
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 2, size=(80, 2)).astype(np.int8)
    codes[rng.random(80) < 0.3, 0] = -1
    a = fit(s, codes, prior="k2", backend="pymc", nuts_sampler="pymc", draws=300, tune=300)
    b = fit(s, codes, prior="k2", backend="numpyro", draws=300, tune=300)
    da, db = diagnose(a.stored_draws), diagnose(b.stored_draws)
    for v in s.variables:
        se = np.sqrt(da.mcse_mean[v] ** 2 + db.mcse_mean[v] ** 2)
        assert (np.abs(a.mean_cpts()[v] - b.mean_cpts()[v]) / se).max() < MCSE_MULTIPLE
