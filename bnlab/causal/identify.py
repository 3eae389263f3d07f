"""Identification of causal effects: the ID and IDC algorithms (Shpitser & Pearl 2006).

``identify(structure, treatment, outcome, given=..., latent=...)`` returns a
:class:`~bnlab.causal.formula.Formula` expressing ``P(outcome | do(treatment), given)`` in
terms of the observational distribution of the observed variables, or raises
:class:`~bnlab.causal.errors.NotIdentifiableError` naming the hedge that makes it impossible.

ID ("Identification of joint interventional distributions in recursive semi-Markovian
causal models", AAAI 2006, Fig. 3) recurses on the graph's ancestral sets and districts
(C-components); IDC ("Identification of conditional interventional distributions", UAI
2006) first moves conditioning variables into the intervention by rule 2 of do-calculus,
then normalises ID's answer. The algorithms are sound and complete: a failure is a proof
that no formula exists.

Conditionals ``P(v_i | v_1 .. v_{i-1})`` of the observational distribution are written with
the smallest conditioning set that the graph makes equivalent (Tian & Pearl 2002: the
district of ``v_i`` among its predecessors, and that district's parents).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bnlab.causal.adjustment import GraphLike, _node
from bnlab.causal.errors import CausalGraphError, NotIdentifiableError
from bnlab.causal.formula import (
    Expr,
    Formula,
    Prob,
    conditional,
    marginal,
    product,
    ratio,
)
from bnlab.causal.graph import CausalGraph, Latent, causal_graph


class _Hedge(Exception):
    def __init__(self, f: frozenset[str], f_prime: frozenset[str]) -> None:
        super().__init__()
        self.hedge = (f, f_prime)


def _markov_set(g: CausalGraph, before: Sequence[str], v: str) -> frozenset[str]:
    """Smallest set among ``before`` that ``v`` depends on given all of ``before``."""
    sub = g.subgraph([*before, v])
    district = next(d for d in sub.districts() if v in d)
    pa: set[str] = set()
    for d in district:
        pa |= sub.parents[d]
    return frozenset((district | pa) - {v})


def _cond_product(g: CausalGraph, p: Expr, nodes: Iterable[str]) -> Expr:
    """``Π_{v in nodes} p(v | v's predecessors in g)``."""
    keep = set(nodes)
    order = list(g.nodes)
    factors = []
    for i, v in enumerate(order):
        if v not in keep:
            continue
        before = order[:i]
        # the observational distribution is Markov to g: the smallest equivalent conditioning
        # set; a product from line 7 keeps every predecessor (its factors then cancel)
        given = _markov_set(g, before, v) if isinstance(p, Prob) else frozenset(before)
        factors.append(conditional(p, order, v, given))
    return product(factors)


def _id(y: frozenset[str], x: frozenset[str], p: Expr, g: CausalGraph) -> Expr:
    v_all = frozenset(g.nodes)
    # line 1: no intervention left
    if not x:
        return marginal(p, v_all - y)
    # line 2: only ancestors of y matter
    an = g.ancestors(y)
    if an != v_all:
        return _id(y, x & an, marginal(p, v_all - an), g.subgraph(an))
    # line 3: intervene on whatever the intervention already cuts off from y
    w = (v_all - x) - g.cut_incoming(x).ancestors(y)
    if w:
        return _id(y, x | w, p, g)
    # line 4: several districts once x is removed
    rest = g.subgraph(v_all - x)
    parts = rest.districts()
    if len(parts) > 1:
        terms = [_id(s, v_all - s, p, g) for s in parts]
        return marginal(product(terms), v_all - (y | x))
    (s,) = parts
    whole = g.districts()
    # line 5: a hedge
    if len(whole) == 1:
        raise _Hedge(v_all, s)
    # line 6: s is a district of g
    if s in whole:
        return marginal(_cond_product(g, p, s), s - y)
    # line 7: s sits inside a larger district s_prime
    s_prime = next(d for d in whole if s < d)
    new_p = _cond_product(g, p, s_prime)
    return _id(y, x & s_prime, new_p, g.subgraph(s_prime))


def _observed(g: CausalGraph, names: str | Iterable[str], role: str) -> frozenset[str]:
    items = [names] if isinstance(names, str) else list(names)
    return frozenset(_node(g, str(v), role) for v in items)


def identify(
    structure: GraphLike,
    treatment: str | Iterable[str],
    outcome: str | Iterable[str],
    given: str | Iterable[str] = (),
    latent: Latent = (),
) -> Formula:
    """The formula of ``P(outcome | do(treatment), given)`` in observational terms.

    Parameters
    ----------
    structure
        The causal diagram: a :class:`bnlab.Structure`, a network or a
        :class:`~bnlab.causal.graph.CausalGraph`.
    treatment, outcome
        A variable or a collection of variables each (observed, disjoint).
    given
        Observed variables the effect is conditioned on (a subgroup), or none.
    latent
        Unobserved variables of the structure and/or confounded pairs ``(a, b)``.

    Returns
    -------
    Formula
        ``str(formula)`` prints it; :func:`bnlab.causal.evaluate_formula` computes it.

    Raises
    ------
    NotIdentifiableError
        No formula exists; ``.hedge`` holds the two C-forests that prove it.
    CausalGraphError
        Unknown or latent variables, overlapping roles.

    Examples
    --------
    >>> from bnlab import Structure
    >>> s = Structure(list("XMY"), {v: ("0", "1") for v in "XMY"},
    ...               {"M": ["X"], "Y": ["M"]})
    >>> print(identify(s, "X", "Y", latent=[("X", "Y")]))
    P(Y | do(X)) = Σ_{M} P(M | X) [Σ_{X} P(X) P(Y | M, X)]
    """
    g = causal_graph(structure, latent)
    xs = _observed(g, treatment, "treatment")
    ys = _observed(g, outcome, "outcome")
    zs = _observed(g, given, "given variable")
    if not xs or not ys:
        raise CausalGraphError("treatment and outcome must each name at least one variable.")
    if xs & ys or xs & zs or ys & zs:
        raise CausalGraphError(
            "treatment, outcome and given variables overlap; give disjoint sets."
        )
    try:
        return _idc(g, ys, xs, zs)
    except _Hedge as hedge:
        raise NotIdentifiableError(xs, ys, hedge.hedge) from None


def _idc(g: CausalGraph, ys: frozenset[str], xs: frozenset[str], zs: frozenset[str]) -> Formula:
    x, z = set(xs), set(zs)
    moved = True
    while moved:  # rule 2: observing z_j is acting on z_j when it is separated that way
        moved = False
        for zj in sorted(z):
            cut = g.cut_incoming(x).cut_outgoing({zj})
            if cut.m_separated(ys, {zj}, x | (z - {zj})):
                x.add(zj)
                z.discard(zj)
                moved = True
                break
    top = Prob(frozenset(g.nodes))
    joint = _id(ys | frozenset(z), frozenset(x), top, g)
    expr = ratio(joint, marginal(joint, ys)) if z else joint
    # line 3 may intervene on variables that cannot affect y: the formula is the same for
    # every value of them in every model of the graph; average them over their observed
    # distribution (zero-probability values get no weight)
    extra = expr.free - (ys | xs | zs)
    if extra:
        expr = marginal(product([Prob(extra), expr]), extra)
    return Formula(ys, xs, zs, expr)
