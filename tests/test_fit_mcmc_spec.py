"""The shared model specification: exact missing-data likelihood against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.typing import NDArray

import bnlab
from bnlab.backends.model_spec import PackedLikelihood, build_spec, element_values, log_likelihood
from bnlab.errors import BackendError, DataError
from bnlab.priors import prior_alpha
from tests.conftest import network_path


def _brute_force_loglik(net: bnlab.BayesNet, codes: np.ndarray) -> float:
    """Sum over rows of log P(observed cells), by enumerating the full joint."""
    s = net.structure
    cards = [s.cards[v] for v in s.variables]
    joint = np.array(list(itertools.product(*[range(c) for c in cards])))  # (states, vars)
    logp = np.zeros(joint.shape[0])
    for v in s.variables:
        cols = [s.index[p] for p in s.parents[v]] + [s.index[v]]
        with np.errstate(divide="ignore"):  # asia's "either" is deterministic: log 0 = -inf
            logp += np.log(net.cpt(v)[tuple(joint[:, c] for c in cols)])
    total = 0.0
    for row in codes:
        obs = row >= 0
        match = (joint[:, obs] == row[obs]).all(axis=1)
        total += np.log(np.exp(logp[match]).sum())
    return float(total)


@pytest.fixture(scope="module")
def asia() -> bnlab.BayesNet:
    return bnlab.read_network(network_path("asia"))


@pytest.mark.parametrize("missing", [0.0, 0.2, 0.5])
def test_loglik_matches_brute_force(asia: bnlab.BayesNet, missing: float) -> None:
    codes = bnlab.sample(asia, 300, seed=1, missing=missing, as_codes=True)
    spec = build_spec(asia.structure, codes, prior_alpha(asia, "k2"))
    got = log_likelihood(spec, asia.cpts)
    want = _brute_force_loglik(asia, codes)
    assert got == pytest.approx(want, rel=1e-10)
    if missing:
        assert spec.blocks, "rows with missing cells must produce summed-out terms"


def log_likelihood_packed(packed: PackedLikelihood, flat: NDArray[np.float64]) -> float:
    """Numpy evaluation of a packed likelihood (``flat``: the parameter vector): the oracle
    that the packing itself is right, beside the JAX form the backend compiles."""
    with np.errstate(divide="ignore"):
        logp = np.log(np.asarray(flat, dtype=np.float64))
    total = float(packed.count_value @ logp[packed.count_index])
    if packed.n_terms == 0:
        return total
    vals = element_values(packed, logp, packed.elem_index, np)
    for _, k, t, start, first, _ in packed.buckets:
        x = vals[start : start + t * k].reshape(t, k)
        mx = x.max(axis=1, keepdims=True)
        w = packed.term_weight[first : first + t]
        total += float(w @ (mx[:, 0] + np.log(np.exp(x - mx).sum(axis=1))))
    return total


@pytest.mark.parametrize("missing", [0.2, 0.5])
def test_packed_loglik_matches_brute_force(asia: bnlab.BayesNet, missing: float) -> None:
    """The flat arrays the backends compile (numpy and JAX) give the brute-force likelihood."""
    import jax

    from bnlab.backends.model_spec import flat_params
    from bnlab.backends.numpyro_backend import device_data, log_likelihood_jax

    codes = bnlab.sample(asia, 300, seed=6, missing=missing, as_codes=True).copy()
    codes[:, asia.structure.index["either"]] = -1  # plus a latent variable
    spec = build_spec(asia.structure, codes, prior_alpha(asia, "k2"), latent=["either"])
    # smooth CPTs (no zeros) so that every term is finite
    rng = np.random.default_rng(0)
    cpts = {v: rng.dirichlet(np.ones(c.shape[-1]), size=c.shape[:-1]) for v, c in asia.cpts.items()}
    want = _brute_force_loglik(
        bnlab.BayesNet(asia.variables, asia.states, asia.parents, cpts), codes
    )
    rows = {v: cpts[v].reshape(spec.n_configs(v), -1) for v in asia.variables}
    packed = spec.packed
    assert packed.n_terms > 0 and packed.elem_term.size == packed.n_elements
    assert log_likelihood_packed(packed, flat_params(spec, rows, np)) == pytest.approx(
        want, rel=1e-10
    )
    with jax.enable_x64(True):
        got = float(log_likelihood_jax(spec, rows, device_data(spec)))
    assert got == pytest.approx(want, rel=1e-10)


def test_barren_missing_cells_add_no_terms() -> None:
    """A missing variable with no observed descendant sums out to one: no block, same value."""
    s = bnlab.Structure(
        ["A", "B", "C"], dict.fromkeys("ABC", ("0", "1")), {"B": ("A",), "C": ("B",)}
    )
    codes = np.array([[0, 1, -1], [1, -1, -1], [-1, 0, 1]], dtype=np.int8)
    spec = build_spec(s, codes, prior_alpha(s, "k2"))
    # rows 0 and 1: C (and B in row 1) have no observed descendant; only row 2's A is summed
    assert [b.missing for b in spec.blocks] == [("A",)]
    cpts = {"A": np.array([0.3, 0.7]), "B": np.array([[0.9, 0.1], [0.2, 0.8]])}
    cpts["C"] = np.array([[0.6, 0.4], [0.5, 0.5]])
    net = bnlab.BayesNet(s.variables, s.states, s.parents, cpts)
    assert log_likelihood(spec, cpts) == pytest.approx(_brute_force_loglik(net, codes), rel=1e-12)


def test_latent_variable_loglik(asia: bnlab.BayesNet) -> None:
    codes = bnlab.sample(asia, 200, seed=2, missing=0.1, as_codes=True).copy()
    codes[:, asia.structure.index["either"]] = -1
    spec = build_spec(asia.structure, codes, prior_alpha(asia, "k2"), latent=["either"])
    assert log_likelihood(spec, asia.cpts) == pytest.approx(
        _brute_force_loglik(asia, codes), rel=1e-10
    )
    # a wrong CPT gives a different likelihood: the check can fail
    other = {v: np.full_like(c, 1.0 / c.shape[-1]) for v, c in asia.cpts.items()}
    assert log_likelihood(spec, other) != pytest.approx(log_likelihood(spec, asia.cpts))


def test_bad_latent(asia: bnlab.BayesNet) -> None:
    codes = bnlab.sample(asia, 50, seed=3, as_codes=True).copy()
    alpha = prior_alpha(asia, "k2")
    with pytest.raises(BackendError, match="not in the structure"):
        build_spec(asia.structure, codes, alpha, latent=["nope"])
    with pytest.raises(DataError, match="have observed cells"):
        build_spec(asia.structure, codes, alpha, latent=["either"])
    codes[:, asia.structure.index["either"]] = -1
    with pytest.raises(DataError, match=r"latent=\['either'\]"):
        build_spec(asia.structure, codes, alpha)


def test_convergence_warning_states_the_numbers() -> None:
    from bnlab.backends.diagnostics import ConvergenceWarning, diagnose, warn_if_poor

    rng = np.random.default_rng(0)
    good = rng.normal(size=(4, 1000, 3))
    diag = diagnose({"x": good}, np.zeros((4, 1000), dtype=bool))
    assert diag.max_rhat < 1.01 and diag.min_ess_bulk > 400 and diag.n_divergent == 0
    warn_if_poor(diag, "test")  # passes silently (warnings are errors in this suite)
    stuck = good + np.arange(4)[:, None, None]  # chains disagree: R-hat far above 1.01
    divergent = np.zeros((4, 1000), dtype=bool)
    divergent[0, :3] = True
    bad = diagnose({"x": stuck}, divergent)
    with pytest.warns(ConvergenceWarning, match=r"max R-hat \d\.\d+ > 1.01.*3 divergent"):
        warn_if_poor(bad, "test")
    # the analytic MCSE of a mean of independent draws is sd / sqrt(n)
    assert diag.mcse_mean["x"] == pytest.approx(np.full(3, 1 / np.sqrt(4000)), rel=0.1)


def test_too_large_missing_component_is_refused() -> None:
    names = [f"X{i}" for i in range(12)]
    s = bnlab.Structure(
        names,
        dict.fromkeys(names, ("a", "b", "c", "d")),
        {names[i]: (names[i - 1],) for i in range(1, 12)},
    )
    codes = np.zeros((3, 12), dtype=np.int8)
    codes[0, :11] = -1  # X0..X10 summed out together: 4**11 joint states
    with pytest.raises(BackendError, match="4194304 joint states"):
        build_spec(s, codes, prior_alpha(s, "k2"))
    codes[0, :5] = 0  # X5..X10 only: 4**6 states, fine
    spec = build_spec(s, codes, prior_alpha(s, "k2"))
    assert [b.missing for b in spec.blocks] == [tuple(names[5:11])]


def test_flat_vector_from_the_stacked_group_rows_equals_the_per_variable_one() -> None:
    """What the samplers now compile (one concatenation and one gather of the group rows)
    against the per-variable layout the likelihood is packed in, on ALARM: 37 variables in
    cards 2, 3 and 4, plus a one-state variable."""
    from bnlab.backends.model_spec import flat_from_groups, flat_params

    alarm = bnlab.read_network(network_path("alarm"))
    s = alarm.structure
    states = {**s.states, "CONST": ("only",)}
    parents = {**s.parents, "CONST": ("HISTORY",)}
    structure = bnlab.Structure([*s.variables, "CONST"], states, parents)
    codes = np.column_stack([bnlab.sample(alarm, 50, seed=0, as_codes=True), np.zeros(50, int)])
    spec = build_spec(structure, codes, prior_alpha(structure, "k2"))
    assert len(spec.groups) >= 4 and any(g.card == 1 for g in spec.groups)
    rng = np.random.default_rng(0)
    stacked = [rng.random((g.n_rows, g.card)) for g in spec.groups]
    thetas: dict[str, np.ndarray] = {}
    for g, rows in zip(spec.groups, stacked, strict=True):
        thetas.update(spec.split(g, rows))
    want = flat_params(spec, thetas, np)
    np.testing.assert_array_equal(flat_from_groups(spec, stacked, np), want)
    assert sorted(spec.group_gather.tolist()) == list(range(want.size))  # a permutation
    assert not np.array_equal(spec.group_gather, np.arange(want.size))  # and not the identity
