"""Variable-elimination circuit and the EM start of NUTS, against independent computations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.special import logsumexp

import bnlab
from bnlab.backends.elimination import EliminationCircuit, build_circuit, circuit_loglik, describe
from bnlab.backends.model_spec import ModelSpec, build_spec, flat_params, log_likelihood
from bnlab.errors import BackendError
from bnlab.fitting import fit  # `bnlab.fit` is shadowed by the subpackage once imported
from bnlab.priors import prior_alpha
from tests.conftest import network_path
from tests.test_fit_mcmc_spec import _brute_force_loglik

pytestmark = pytest.mark.filterwarnings("ignore::bnlab.backends.diagnostics.ConvergenceWarning")


def _numpy_loglik(circuit: EliminationCircuit, flat: np.ndarray) -> float:
    with np.errstate(divide="ignore"):
        logp = np.log(flat)
    return float(
        circuit_loglik(circuit, logp, circuit.arrays(), np, lambda x, axis: logsumexp(x, axis=axis))
    )


def _random_cpts(net: bnlab.BayesNet, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {v: rng.dirichlet(np.ones(c.shape[-1]), size=c.shape[:-1]) for v, c in net.cpts.items()}


def _rows(spec: ModelSpec, cpts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {v: cpts[v].reshape(spec.n_configs(v), -1) for v in spec.structure.variables}


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("asia"))


@pytest.mark.parametrize("pad", ["none", "fan_in", "all"])
@pytest.mark.parametrize("missing", [0.2, 0.6])
def test_circuit_matches_brute_force(asia: bnlab.BayesNet, missing: float, pad: str) -> None:
    """Elimination (any padding) = enumeration of the full joint, with a latent variable."""
    codes = bnlab.sample(asia, 300, seed=7, missing=missing, as_codes=True).copy()
    codes[:, asia.structure.index["either"]] = -1
    spec = build_spec(asia.structure, codes, prior_alpha(asia, "k2"), latent=["either"])
    cpts = _random_cpts(asia, 1)
    net = bnlab.BayesNet(asia.variables, asia.states, asia.parents, cpts)
    circuit = build_circuit(spec, pad=pad)
    got = _numpy_loglik(circuit, flat_params(spec, _rows(spec, cpts), np))
    assert got == pytest.approx(_brute_force_loglik(net, codes), rel=1e-10)


def test_circuit_on_a_grid_of_four_state_variables() -> None:
    """Components with loops (a v-structure and a diamond) and unequal cards."""
    names = ["A", "B", "C", "D", "E", "F"]
    states = {"A": ("0", "1", "2"), "B": ("0", "1"), "C": ("0", "1", "2", "3")}
    states |= {"D": ("0", "1", "2"), "E": ("0", "1"), "F": ("0", "1", "2", "3")}
    parents = {"B": ("A",), "C": ("A",), "D": ("B", "C"), "E": ("D",), "F": ("D", "E")}
    s = bnlab.Structure(names, states, parents)
    rng = np.random.default_rng(3)
    cpts = {
        v: rng.dirichlet(np.ones(len(states[v])), size=s.n_parent_configs(v)).reshape(
            s.family_shape(v)
        )
        for v in names
    }
    net = bnlab.BayesNet(names, states, parents, cpts)
    codes = bnlab.sample(net, 400, seed=4, missing=0.45, as_codes=True)
    spec = build_spec(s, codes, prior_alpha(s, "k2"))
    circuit = build_circuit(spec)
    got = _numpy_loglik(circuit, flat_params(spec, _rows(spec, cpts), np))
    assert got == pytest.approx(_brute_force_loglik(net, codes), rel=1e-10)
    assert got == pytest.approx(log_likelihood(spec, cpts), rel=1e-10)


def test_circuit_value_and_gradient_match_enumeration() -> None:
    """ALARM: JAX elimination and the enumerated packed form agree, value and gradient."""
    import jax
    import jax.numpy as jnp

    from bnlab.backends.numpyro_backend import log_likelihood_jax, packed_log_likelihood_jax

    alarm = bnlab.read_network(network_path("alarm"))
    codes = bnlab.sample(alarm, 400, seed=0, missing=0.2, as_codes=True)
    spec = build_spec(alarm.structure, codes, prior_alpha(alarm, "k2"))
    rows = _rows(spec, _random_cpts(alarm, 2))
    with jax.enable_x64(True):
        th = {v: jnp.asarray(x) for v, x in rows.items()}
        v1, g1 = jax.value_and_grad(lambda t: log_likelihood_jax(spec, t))(th)
        v2, g2 = jax.value_and_grad(lambda t: packed_log_likelihood_jax(spec, t))(th)
    assert float(v1) == pytest.approx(float(v2), rel=1e-11)
    assert float(v1) == pytest.approx(log_likelihood(spec, rows), rel=1e-11)
    for v in rows:
        np.testing.assert_allclose(np.asarray(g1[v]), np.asarray(g2[v]), rtol=1e-8, atol=1e-8)
    sizes = describe(spec.circuit)
    assert sizes["gathered_entries"] < spec.packed.elem_index.size


def test_circuit_equals_the_engine_on_alarm() -> None:
    """ALARM, 20% missing and a latent variable: the circuit's log-likelihood is the sum over
    records of the inference engine's exact ``log P(observed cells)`` (an independent plan)."""
    import jax

    alarm = bnlab.read_network(network_path("alarm"))
    codes = bnlab.sample(alarm, 300, seed=11, missing=0.2, as_codes=True).copy()
    codes[:, alarm.structure.index["LVFAILURE"]] = -1
    spec = build_spec(alarm.structure, codes, prior_alpha(alarm, "k2"), latent=["LVFAILURE"])
    cpts = _random_cpts(alarm, 4)
    net = bnlab.BayesNet(alarm.variables, alarm.states, alarm.parents, cpts)
    got = _numpy_loglik(build_circuit(spec), flat_params(spec, _rows(spec, cpts), np))
    with jax.enable_x64(True):
        per_row = bnlab.Engine(net, dtype="float64").log_prob(codes)
    assert got == pytest.approx(float(per_row.sum()), rel=1e-10)


def test_expected_counts_on_complete_data_are_the_counts(asia: bnlab.BayesNet) -> None:
    import jax

    from bnlab.backends.numpyro_backend import device_data
    from bnlab.backends.nuts_start import expected_counts

    codes = bnlab.sample(asia, 200, seed=5, as_codes=True)
    spec = build_spec(asia.structure, codes, prior_alpha(asia, "k2"))
    p = spec.packed
    want = np.zeros(p.n_params)
    np.add.at(want, p.count_index, p.count_value)
    with jax.enable_x64(True):
        got = expected_counts(spec, np.full(p.n_params, 0.5), device_data(spec))
    np.testing.assert_allclose(got, want)


def test_expected_counts_match_finite_differences(asia: bnlab.BayesNet) -> None:
    """The E-step counts are d loglik / d log theta (checked against the numpy reference)."""
    import jax

    from bnlab.backends.numpyro_backend import device_data
    from bnlab.backends.nuts_start import expected_counts

    codes = bnlab.sample(asia, 200, seed=6, missing=0.3, as_codes=True)
    spec = build_spec(asia.structure, codes, prior_alpha(asia, "k2"))
    rows = _rows(spec, _random_cpts(asia, 3))
    flat = flat_params(spec, rows, np)
    with jax.enable_x64(True):
        got = expected_counts(spec, flat, device_data(spec))
    offsets = spec.packed.offsets
    eps = 1e-6
    for i in (0, offsets["either"] + 1, offsets["dysp"] + 5):
        up, down = flat.copy(), flat.copy()
        up[i] *= np.exp(eps)
        down[i] *= np.exp(-eps)

        def ll(x: np.ndarray) -> float:
            cpts = {
                v: x[offsets[v] : offsets[v] + rows[v].size].reshape(rows[v].shape) for v in rows
            }
            return log_likelihood(spec, cpts)

        assert got[i] == pytest.approx((ll(up) - ll(down)) / (2 * eps), rel=1e-5, abs=1e-6)
    assert (got >= -1e-9).all()


def test_nuts_start_shapes(asia: bnlab.BayesNet) -> None:
    import jax

    from bnlab.backends.numpyro_backend import device_data
    from bnlab.backends.nuts_start import nuts_start

    codes = bnlab.sample(asia, 300, seed=8, missing=0.2, as_codes=True)
    spec = build_spec(asia.structure, codes, prior_alpha(asia, "k2"), prior="hierarchical")
    with jax.enable_x64(True):
        init, inv_mass = nuts_start(spec, device_data(spec), chains=3, seed=0)
    (g,) = spec.groups  # asia: all binary
    rows_name, mean_name, conc_name = spec.row_names(g)
    assert init[rows_name].shape == (3, g.n_rows, 1)
    assert init[mean_name].shape == (3, len(g.pooled), 1)
    assert init[conc_name].shape == (3, len(g.pooled))
    assert not np.allclose(init[rows_name][0], init[rows_name][1])  # chains start apart
    assert inv_mass[(rows_name,)].shape == (g.n_rows,)
    assert all(np.isfinite(x).all() for x in init.values())
    assert (inv_mass[(rows_name,)] > 0).all()


@pytest.mark.parametrize("init", ["uniform", "em"])
def test_both_starts_sample(asia: bnlab.BayesNet, init: str) -> None:
    df = bnlab.sample(asia, 200, seed=9, missing=0.2)
    post = fit(asia, df, backend="numpyro", chains=2, draws=30, tune=30, init=init, seed=1)
    assert post.attrs["init"] == init
    assert post.stored_draws["dysp"].shape == (2, 30, 2, 2, 2)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"init": "magic"}, "init="), ({"dense_mass": "yes"}, "dense_mass")],
)
def test_bad_start_options(asia: bnlab.BayesNet, options: dict[str, Any], match: str) -> None:
    with pytest.raises(BackendError, match=match):
        fit(asia, bnlab.sample(asia, 50, seed=0), backend="numpyro", **options)


def test_numpyro_loads_whole_after_arviz_registered_it_lazily() -> None:
    """``import arviz_base`` puts a lazy ``numpyro`` placeholder in ``sys.modules``. The NUTS
    start, the first NumPyro user of a fit, must leave NumPyro whole: it once loaded
    ``numpyro.distributions`` twice, and every later ``numpyro.factor`` failed with "module
    'numpyro.distributions' has no attribute 'distribution'"."""
    import subprocess
    import sys

    code = (
        "import sys, arviz_base, jax, bnlab\n"
        "from bnlab.backends.model_spec import build_spec\n"
        "from bnlab.backends.numpyro_backend import device_data\n"
        "from bnlab.backends.nuts_start import nuts_start\n"
        "from bnlab.priors import prior_alpha\n"
        "print(type(sys.modules['numpyro']).__name__)\n"
        "net = bnlab.load_example('asia')\n"
        "codes = bnlab.sample(net, 100, seed=0, missing=0.2, as_codes=True)\n"
        "spec = build_spec(net.structure, codes, prior_alpha(net, 'k2'))\n"
        "with jax.enable_x64(True):\n"
        "    nuts_start(spec, device_data(spec), chains=2, seed=0)\n"
        "import numpyro\n"
        "print(numpyro.distributions.distribution.Unit.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["_LazyModule", "Unit"]  # the placeholder was there
