"""Oracles for the causal tests: random DAGs with latent roots, brute-force (do-)distributions,
and the same graphs as pgmpy / pyAgrum objects."""

from __future__ import annotations

import string
import warnings
from itertools import product

import numpy as np

from bnlab import BayesNet, Structure


def random_latent_dag(
    seed: int, n_observed: int = 5, max_latent: int = 2, p_edge: float = 0.4, cards: int = 2
) -> tuple[Structure, list[str], list[str]]:
    """A random DAG over ``V0..`` plus latent roots ``U0..`` with 2-3 observed children each.

    Returns the structure (latents included), the observed names and the latent names.
    """
    rng = np.random.default_rng(seed)
    obs = [f"V{i}" for i in range(n_observed)]
    parents: dict[str, list[str]] = {v: [] for v in obs}
    for j in range(n_observed):
        for i in range(j):
            if rng.random() < p_edge:
                parents[obs[j]].append(obs[i])
    latents = []
    for k in range(int(rng.integers(0, max_latent + 1))):
        u = f"U{k}"
        size = int(rng.integers(2, min(3, n_observed) + 1))
        for child in rng.choice(obs, size=size, replace=False):
            parents[str(child)].append(u)
        parents[u] = []
        latents.append(u)
    names = obs + latents
    card = {v: cards if v in obs else 2 for v in names}
    states = {v: tuple(string.ascii_lowercase[:c]) for v, c in card.items()}
    return Structure(names, states, parents), obs, latents


def random_net(structure: Structure, seed: int, alpha: float = 1.0) -> BayesNet:
    """Dirichlet(alpha) CPT rows for every variable."""
    rng = np.random.default_rng(seed)
    cpts = {
        v: rng.dirichlet(np.full(structure.cards[v], alpha), size=structure.family_shape(v)[:-1])
        for v in structure.variables
    }
    return BayesNet(structure=structure, cpts=cpts)


def joint(net: BayesNet, do: dict[str, str] | None = None) -> np.ndarray:
    """The full joint table (axes in ``net.variables`` order), under ``do`` if given."""
    s = net.structure
    names = list(s.variables)
    shape = [s.cards[v] for v in names]
    table = np.ones(shape)
    do = do or {}
    for config in product(*[range(c) for c in shape]):
        value = 1.0
        pos = dict(zip(names, config, strict=True))
        for v in names:
            if v in do:
                value *= float(pos[v] == s.states[v].index(do[v]))
            else:
                idx = tuple(pos[p] for p in s.parents[v]) + (pos[v],)
                value *= net.cpt(v)[idx]
        table[config] = value
    return table


def prob(
    net: BayesNet,
    target: str,
    state: str,
    given: dict[str, str] | None = None,
    do: dict[str, str] | None = None,
) -> float:
    """``P(target = state | do, given)`` by enumeration."""
    s = net.structure
    names = list(s.variables)
    table = joint(net, do)
    index: list[object] = [slice(None)] * len(names)
    for v, st in (given or {}).items():
        index[names.index(v)] = s.states[v].index(st)
    sub = table[tuple(index)]
    rest = [v for v in names if v not in (given or {})]
    total = sub.sum()
    marg = sub.sum(axis=tuple(i for i, v in enumerate(rest) if v != target))
    return float(marg[s.states[target].index(state)] / total)


def observed_marginal(net: BayesNet, observed: list[str]) -> BayesNet:
    """A network over the observed variables with the same observational joint (a full DAG
    in the structure's order: each variable's CPT given all its observed predecessors)."""
    s = net.structure
    names = list(s.variables)
    table = joint(net)
    keep = [v for v in names if v in observed]
    marg = table.sum(axis=tuple(i for i, v in enumerate(names) if v not in observed))
    parents = {v: keep[:i] for i, v in enumerate(keep)}
    cpts = {}
    for i, v in enumerate(keep):
        m = marg.sum(axis=tuple(range(i + 1, len(keep))))
        cpts[v] = m / m.sum(axis=-1, keepdims=True)
    return BayesNet(structure=Structure(keep, {v: s.states[v] for v in keep}, parents), cpts=cpts)


def pgmpy_inference(structure: Structure, latents: list[str]):  # noqa: ANN201
    from pgmpy.base import DAG
    from pgmpy.inference import CausalInference

    dag = DAG(ebunch=structure.edges, latents=set(latents))  # every latent has children
    dag.add_nodes_from(structure.variables)
    return CausalInference(dag)


def quiet(fn, *args, **kwargs):  # noqa: ANN001, ANN201
    """Call a pgmpy method that warns about its own deprecation, or a pyAgrum function (a
    warning turned into an error inside pyAgrum's SWIG code segfaults)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


_WARMED: list[object] = []


def import_pyagrum():  # noqa: ANN201
    """pyAgrum, imported and its causal types first used with warnings ignored.

    Its SWIG modules warn when imported and when a type is first used; under
    filterwarnings=error that warning is raised inside the extension and segfaults.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyagrum as gum

        if not _WARMED:
            bn = gum.fastBN("A->B")
            cm = gum.CausalModel(bn, [("U", ["A", "B"])], True)
            _WARMED.extend([bn, cm, gum.causalImpact(cm, on="B", doing="A")])
            _WARMED.append(gum.counterfactual(cm, on="B", whatif="A", profile={"A": "0"}))
            _WARMED.append(gum.DoorCriteria.enumerateBackdoorSets(cm.causalDAG(), 0, 1))
    return gum


def pyagrum_model(structure: Structure, observed: list[str], latents: list[str]):  # noqa: ANN201
    """A pyAgrum CausalModel: observed BN (observed arcs kept) plus each latent root."""
    gum = import_pyagrum()

    bn = gum.BayesNet()
    for v in observed:
        bn.add(gum.LabelizedVariable(v, v, list(structure.states[v])))
    for a, b in structure.edges:
        if a in observed and b in observed:
            bn.addArc(a, b)
    bn.generateCPTs()  # pyAgrum evaluates the formulas it finds: give it positive CPTs
    lat = [(u, [c for c in structure.variables if u in structure.parents[c]]) for u in latents]
    with warnings.catch_warnings():  # a warning raised inside the SWIG call segfaults
        warnings.simplefilter("ignore")
        cm = gum.CausalModel(bn, lat, True)
    cm._keep_bn = bn  # the C++ model points into bn: keep it alive as long as cm
    return cm
