"""ID / IDC: identifiability against pyAgrum's causalImpact, numbers against enumeration."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from causal_fixtures import (
    import_pyagrum,
    observed_marginal,
    prob,
    pyagrum_model,
    quiet,
    random_latent_dag,
    random_net,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from bnlab import Structure, causal
from bnlab.causal import NotIdentifiableError


def _structure(edges: list[tuple[str, str]]) -> Structure:
    names = sorted({v for e in edges for v in e})
    parents: dict[str, list[str]] = {v: [] for v in names}
    for a, b in edges:
        parents[b].append(a)
    return Structure(names, {v: ("a", "b") for v in names}, parents)


def _check_numbers(formula, net, observed, x, y, z=None) -> None:  # noqa: ANN001
    """The formula on the observed joint equals P(y | do(x), z) of the full network."""
    value = causal.evaluate_formula(formula, observed_marginal(net, observed))
    s = net.structure
    axes = [y, x] + ([z] if z else [])
    arr = value.aligned(axes)[0]
    for idx in product(*[range(s.cards[v]) for v in axes]):
        states = {v: s.states[v][i] for v, i in zip(axes, idx, strict=True)}
        truth = prob(net, y, states[y], given={z: states[z]} if z else None, do={x: states[x]})
        got = arr[tuple(i if arr.shape[k] > 1 else 0 for k, i in enumerate(idx))]
        assert got == pytest.approx(truth, abs=1e-9), (states, str(formula))


# -- textbook graphs ------------------------------------------------------------------------
def test_front_door_formula_and_value() -> None:
    s = _structure([("U", "X"), ("U", "Y"), ("X", "M"), ("M", "Y")])
    f = causal.identify(s, "X", "Y", latent=["U"])
    assert str(f) == "P(Y | do(X)) = Σ_{M} P(M | X) [Σ_{X} P(X) P(Y | M, X)]"
    _check_numbers(f, random_net(s, 3), ["M", "X", "Y"], "X", "Y")


def test_bow_arc_is_a_hedge() -> None:
    s = _structure([("X", "Y")])
    with pytest.raises(NotIdentifiableError) as err:
        causal.identify(s, "X", "Y", latent=[("X", "Y")])
    assert err.value.hedge == (frozenset({"X", "Y"}), frozenset({"Y"}))
    assert "F = {X, Y}" in str(err.value) and "F' = {Y}" in str(err.value)


def test_instrument_does_not_identify_and_napkin_does() -> None:
    iv = _structure([("Z", "X"), ("X", "Y")])
    with pytest.raises(NotIdentifiableError):
        causal.identify(iv, "X", "Y", latent=[("X", "Y")])
    # the napkin graph (Pearl 2009, Fig. 3.9-like): identified by ID but by no adjustment
    napkin = _structure([("W1", "W2"), ("W2", "X"), ("X", "Y"), ("U1", "W1"), ("U1", "X"),
                         ("U2", "W1"), ("U2", "Y")])  # fmt: skip
    f = causal.identify(napkin, "X", "Y", latent=["U1", "U2"])
    assert causal.backdoor_sets(napkin, "X", "Y", latent=["U1", "U2"]) == []
    _check_numbers(f, random_net(napkin, 5), ["W1", "W2", "X", "Y"], "X", "Y")


def test_fully_observed_is_the_truncated_factorisation() -> None:
    s = _structure([("Z", "X"), ("Z", "Y"), ("X", "Y")])
    f = causal.identify(s, "X", "Y")
    assert str(f) == "P(Y | do(X)) = Σ_{Z} P(Z) P(Y | X, Z)"
    g = causal.identify(s, "X", "Y", given="Z")
    assert str(g) == "P(Y | do(X), Z) = P(Y | X, Z)"


def test_conditional_effect_of_the_front_door() -> None:
    s = _structure([("U", "X"), ("U", "Y"), ("X", "M"), ("M", "Y")])
    f = causal.identify(s, "X", "Y", given=["M"], latent=["U"])
    _check_numbers(f, random_net(s, 11), ["M", "X", "Y"], "X", "Y", "M")


# -- random graphs with latent confounders --------------------------------------------------------
SEEDS = st.integers(0, 2**32 - 1)


def _pyagrum_identified(s, obs, lat, x, y, knowing=None) -> bool:  # noqa: ANN001
    gum = import_pyagrum()
    cm = pyagrum_model(s, obs, lat)
    kw = {"knowing": {knowing}} if knowing else {}
    impact, _, _ = quiet(gum.causalImpact, cm, on=y, doing=x, **kw)
    return bool(impact.isIdentified())


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS)
def test_identification_matches_pyagrum_and_enumeration(seed: int) -> None:
    s, obs, lat = random_latent_dag(seed, n_observed=5, max_latent=3)
    rng = np.random.default_rng(seed)
    x, y = (str(v) for v in rng.choice(obs, size=2, replace=False))
    try:
        f = causal.identify(s, x, y, latent=lat)
    except NotIdentifiableError as err:
        f_set, f_prime = err.hedge
        assert f_prime < f_set and x in f_set and x not in f_prime
        assert not _pyagrum_identified(s, obs, lat, x, y)
        return
    assert _pyagrum_identified(s, obs, lat, x, y)
    _check_numbers(f, random_net(s, seed), obs, x, y)


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS)
def test_conditional_identification_matches_enumeration(seed: int) -> None:
    s, obs, lat = random_latent_dag(seed, n_observed=5, max_latent=2)
    rng = np.random.default_rng(seed + 7)
    x, y, z = (str(v) for v in rng.choice(obs, size=3, replace=False))
    try:
        f = causal.identify(s, x, y, given=[z], latent=lat)
    except NotIdentifiableError:
        assert not _pyagrum_identified(s, obs, lat, x, y, knowing=z)
        return
    _check_numbers(f, random_net(s, seed), obs, x, y, z)
