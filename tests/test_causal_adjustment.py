"""Adjustment sets against pgmpy's CausalInference, pyAgrum's DoorCriteria and numbers."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from causal_fixtures import (
    import_pyagrum,
    joint,
    pgmpy_inference,
    pyagrum_model,
    quiet,
    random_latent_dag,
    random_net,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from bnlab import Structure, causal
from bnlab.causal import CausalGraphError


def _structure(edges: list[tuple[str, str]], extra: tuple[str, ...] = ()) -> Structure:
    names = sorted({v for e in edges for v in e} | set(extra))
    parents: dict[str, list[str]] = {v: [] for v in names}
    for a, b in edges:
        parents[b].append(a)
    return Structure(names, {v: ("0", "1") for v in names}, parents)


def _pgmpy_backdoor(ci, x: str, y: str) -> list[frozenset[str]]:  # noqa: ANN001
    try:
        sets = quiet(ci.get_all_backdoor_adjustment_sets, x, y)
    except ValueError:  # pgmpy: "No valid adjustment set found"
        return []
    if not sets:  # pgmpy's answer when the empty set is valid
        return [frozenset()]
    return sorted(sets, key=lambda s: (len(s), sorted(s)))


def _minimal(sets) -> list[frozenset[str]]:  # noqa: ANN001
    sets = [frozenset(s) for s in sets]
    out = [s for s in sets if not any(t < s for t in sets)]
    return sorted(set(out), key=lambda s: (len(s), sorted(s)))


# -- documented examples ---------------------------------------------------------------------
def test_pgmpy_docstring_examples() -> None:
    game1 = _structure([("X", "A"), ("A", "Y"), ("A", "B")])
    assert causal.backdoor_sets(game1, "X", "Y") == [frozenset()]  # pgmpy: frozenset()
    assert causal.frontdoor_sets(game1, "X", "Y") == [frozenset({"A"})]
    dag = _structure([("X_1", "X_2"), ("Z", "X_1"), ("Z", "X_2")])
    assert causal.minimal_backdoor_set(dag, "X_1", "X_2") == frozenset({"Z"})


def test_smoking_tar_cancer_frontdoor() -> None:
    # Pearl's front-door example: the genotype U confounds smoking and cancer
    s = _structure([("U", "smoking"), ("U", "cancer"), ("smoking", "tar"), ("tar", "cancer")])
    assert causal.backdoor_sets(s, "smoking", "cancer", latent=["U"]) == []
    assert causal.minimal_backdoor_set(s, "smoking", "cancer", latent=["U"]) is None
    assert causal.frontdoor_sets(s, "smoking", "cancer", latent=["U"]) == [frozenset({"tar"})]
    # the same with the confounder declared as a pair
    t = _structure([("smoking", "tar"), ("tar", "cancer")])
    assert causal.frontdoor_sets(t, "smoking", "cancer", latent=[("smoking", "cancer")]) == [
        frozenset({"tar"})
    ]
    # observed U: it is the back-door set, and front-door still holds
    assert causal.backdoor_sets(s, "smoking", "cancer") == [frozenset({"U"})]


def test_m_bias_and_two_sets() -> None:
    # M-bias: adjusting for the collider M opens X <- A -> M <- B -> Y
    s = _structure([("A", "X"), ("A", "M"), ("B", "M"), ("B", "Y"), ("X", "Y")])
    assert causal.backdoor_sets(s, "X", "Y") == [frozenset()]
    assert causal.is_valid_adjustment(s, "X", "Y", [])
    assert not causal.is_valid_adjustment(s, "X", "Y", ["M"])
    assert causal.is_valid_adjustment(s, "X", "Y", ["M", "A"])
    # confounding through two paths: two minimal sets
    c = _structure([("A", "X"), ("A", "Y"), ("B", "A"), ("B", "X"), ("X", "Y")])
    assert causal.backdoor_sets(c, "X", "Y") == [frozenset({"A"})]
    d = _structure([("A", "X"), ("C", "A"), ("C", "Y"), ("X", "Y")])
    assert causal.backdoor_sets(d, "X", "Y") == [frozenset({"A"}), frozenset({"C"})]


def test_mediator_is_not_an_adjustment() -> None:
    s = _structure([("X", "M"), ("M", "Y")])
    assert causal.is_valid_adjustment(s, "X", "Y", [])
    assert not causal.is_valid_adjustment(s, "X", "Y", ["M"])  # forbidden: on the causal path
    assert not causal.is_valid_backdoor(s, "X", "Y", ["M"])  # a descendant of X


def test_bad_names_raise() -> None:
    s = _structure([("X", "Y")])
    with pytest.raises(CausalGraphError, match="'Q'"):
        causal.backdoor_sets(s, "Q", "Y")
    with pytest.raises(CausalGraphError, match="latent"):
        causal.backdoor_sets(s, "X", "Y", latent=["Q"])
    with pytest.raises(CausalGraphError, match="both"):
        causal.backdoor_sets(s, "X", "X")
    u = _structure([("U", "X"), ("U", "Y"), ("X", "Y")])
    with pytest.raises(CausalGraphError, match="latent variable cannot"):
        causal.is_valid_adjustment(u, "X", "Y", ["U"], latent=["U"])


# -- random graphs with latent confounders ------------------------------------------------------
SEEDS = st.integers(0, 2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS)
def test_backdoor_and_frontdoor_sets_match_pgmpy(seed: int) -> None:
    s, obs, lat = random_latent_dag(seed, n_observed=6, max_latent=2)
    ci = pgmpy_inference(s, lat)
    rng = np.random.default_rng(seed)
    x, y = (str(v) for v in rng.choice(obs, size=2, replace=False))
    assert causal.backdoor_sets(s, x, y, latent=lat) == _pgmpy_backdoor(ci, x, y)
    fd = quiet(ci.get_all_frontdoor_adjustment_sets, x, y)
    assert causal.frontdoor_sets(s, x, y, latent=lat) == _minimal(fd)


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS)
def test_backdoor_and_frontdoor_sets_match_pyagrum(seed: int) -> None:
    gum = import_pyagrum()
    s, obs, lat = random_latent_dag(seed, n_observed=6, max_latent=2)
    cm = pyagrum_model(s, obs, lat)
    dag = quiet(cm.causalDAG)
    rng = np.random.default_rng(seed + 1)
    x, y = (str(v) for v in rng.choice(obs, size=2, replace=False))
    ix, iy = cm.idFromName(x), cm.idFromName(y)
    excluded = set(cm.latentVariablesIds())

    def names(sets) -> list[frozenset[str]]:  # noqa: ANN001
        return _minimal([{cm.nameFromId(i) for i in z} for z in sets])

    bd = quiet(gum.DoorCriteria.enumerateBackdoorSets, dag, ix, iy, excluded_nodes=excluded)
    fd = quiet(gum.DoorCriteria.enumerateFrontdoorSets, dag, ix, iy, excluded_nodes=excluded)
    assert causal.backdoor_sets(s, x, y, latent=lat) == names(bd)
    if y in causal.causal_graph(s, lat).descendants({x}):
        assert causal.frontdoor_sets(s, x, y, latent=lat) == names(fd)
    else:  # pyAgrum accepts vacuous front doors (no directed path); pgmpy and bnlab do not
        assert causal.frontdoor_sets(s, x, y, latent=lat) == []


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS)
def test_valid_adjustment_sets_give_the_interventional_distribution(seed: int) -> None:
    """Every subset: the criterion says valid <=> sum_z P(y|x,z) P(z) = P(y|do(x))
    (random Dirichlet CPTs are generic: an invalid set misses by far more than 1e-7)."""
    s, obs, lat = random_latent_dag(seed, n_observed=5, max_latent=2)
    net = random_net(s, seed)
    rng = np.random.default_rng(seed + 2)
    x, y = (str(v) for v in rng.choice(obs, size=2, replace=False))
    names = list(s.variables)
    full = joint(net)
    truth = joint(net, {x: "a"})

    def marg(table: np.ndarray, keep: list[str]) -> np.ndarray:
        return table.sum(axis=tuple(i for i, v in enumerate(names) if v not in keep))

    p_do = marg(truth, [y])[0]
    others = [v for v in obs if v not in (x, y)]
    for size in range(len(others) + 1):
        for z in combinations(others, size):
            keep = [v for v in names if v in {x, y, *z}]
            pxyz = marg(full, keep)  # axes in `keep` order
            ax = {v: i for i, v in enumerate(keep)}
            pxyz = np.moveaxis(pxyz, [ax[x], ax[y]], [0, 1])[0]  # x = "a": (y, *z)
            pz = pxyz.sum(axis=0)  # P(x=a, z)
            pz_all = marg(full, [v for v in names if v in z])
            with np.errstate(invalid="ignore", divide="ignore"):
                cond = pxyz[0] / pz  # P(y=a | x=a, z)
            adjusted = float(np.nansum(cond * pz_all))
            valid = causal.is_valid_adjustment(s, x, y, list(z), latent=lat)
            assert valid == bool(abs(adjusted - p_do) < 1e-7), (x, y, z)
