"""Identifying formulas: sums, products and ratios of observational conditionals.

An expression is built from :class:`Prob` leaves ``P(A | B)`` of the *observational*
distribution of the observed variables, combined by :class:`Product`, :class:`Sum` and
:class:`Ratio`. Every variable name stands for one value throughout (the do-values of the
treatment are the values of the treatment variables), except inside a :class:`Sum`, which
binds its variables. The constructors :func:`product`, :func:`marginal` and :func:`ratio`
simplify as they build (a summed-out target disappears, common factors cancel), so the
formulas the ID algorithm returns read like the textbook ones.

``str(expr)`` prints it (``Σ_{Z} P(Y | X, Z) P(Z)``); :func:`bnlab.causal.factors.evaluate`
computes it on a joint table with a leading draw axis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def _names(vs: Iterable[str]) -> str:
    return ", ".join(sorted(vs))


@dataclass(frozen=True)
class Prob:
    """``P(target | given)`` of the observational distribution."""

    target: frozenset[str]
    given: frozenset[str] = frozenset()

    @property
    def free(self) -> frozenset[str]:
        """Variables whose values the expression depends on."""
        return self.target | self.given

    def __str__(self) -> str:
        if self.given:
            return f"P({_names(self.target)} | {_names(self.given)})"
        return f"P({_names(self.target)})"


@dataclass(frozen=True)
class Product:
    """Product of factors (the empty product is 1)."""

    factors: tuple[Expr, ...]

    @property
    def free(self) -> frozenset[str]:
        """Variables whose values the expression depends on."""
        out: frozenset[str] = frozenset()
        for f in self.factors:
            out |= f.free
        return out

    def __str__(self) -> str:
        if not self.factors:
            return "1"
        return " ".join(f"[{f}]" if isinstance(f, (Sum, Ratio)) else str(f) for f in self.factors)


@dataclass(frozen=True)
class Sum:
    """Sum of ``body`` over every value of the variables ``over``."""

    over: frozenset[str]
    body: Expr

    @property
    def free(self) -> frozenset[str]:
        """Variables whose values the expression depends on."""
        return self.body.free - self.over

    def __str__(self) -> str:
        return f"Σ_{{{_names(self.over)}}} {self.body}"


@dataclass(frozen=True)
class Ratio:
    """``num / den`` (0 where both are 0)."""

    num: Expr
    den: Expr

    @property
    def free(self) -> frozenset[str]:
        """Variables whose values the expression depends on."""
        return self.num.free | self.den.free

    def __str__(self) -> str:
        return f"[{self.num}] / [{self.den}]"


Expr = Prob | Product | Sum | Ratio

ONE = Product(())


def _factors(e: Expr) -> list[Expr]:
    return list(e.factors) if isinstance(e, Product) else [e]


def product(factors: Iterable[Expr]) -> Expr:
    """The product of ``factors``, flattened, without unit factors."""
    flat: list[Expr] = []
    for f in factors:
        flat.extend(_factors(f))
    return flat[0] if len(flat) == 1 else Product(tuple(flat))


def marginal(expr: Expr, over: Iterable[str]) -> Expr:
    """``Σ_over expr``, simplified where a summed variable is the target of one factor only."""
    over_set = frozenset(over) & expr.free
    if not over_set:
        return expr
    if isinstance(expr, Sum):
        return marginal(expr.body, over_set | expr.over)
    factors = _factors(expr)
    left = set(over_set)
    changed = True
    while changed:
        changed = False
        for v in sorted(left):
            users = [i for i, f in enumerate(factors) if v in f.free]
            if not users:  # summed out of every factor (after earlier drops): a no-op sum
                left.discard(v)
                changed = True
                continue
            if len(users) != 1:
                continue
            f = factors[users[0]]
            if isinstance(f, Prob) and v in f.target and v not in f.given:
                rest = f.target - {v}
                if rest:
                    factors[users[0]] = Prob(rest, f.given)
                else:
                    del factors[users[0]]
                left.discard(v)
                changed = True
    body = product(factors) if factors else ONE
    if not left:
        return body
    # factors free of the summed variables move out of the sum
    inside = [f for f in _factors(body) if f.free & left]
    outside = [f for f in _factors(body) if not f.free & left]
    return product([*outside, Sum(frozenset(left), product(inside))])


def ratio(num: Expr, den: Expr) -> Expr:
    """``num / den`` with common factors cancelled and ``P(A, C | B) / P(C | B)`` reduced."""
    n, d = _factors(num), _factors(den)
    for f in list(d):
        if f in n:
            n.remove(f)
            d.remove(f)
    if not d:
        return product(n) if n else ONE
    if len(n) == 1 and len(d) == 1:
        a, b = n[0], d[0]
        if isinstance(a, Prob) and isinstance(b, Prob) and a.given == b.given:
            if b.target < a.target:
                return Prob(a.target - b.target, a.given | b.target)
    return Ratio(product(n) if n else ONE, product(d))


def conditional(p: Expr, scope: Sequence[str], target: str, given: Iterable[str]) -> Expr:
    """``p(target | given)`` of a distribution ``p`` over ``scope``.

    ``given`` and ``target`` are in ``scope``; variables outside ``scope`` stay fixed.
    """
    g = frozenset(given)
    if isinstance(p, Prob) and frozenset(scope) == p.target:
        return Prob(frozenset({target}), g | p.given)
    keep_num = g | {target}
    num = marginal(p, [v for v in scope if v not in keep_num])
    den = marginal(p, [v for v in scope if v not in g])
    return ratio(num, den)


def leaves(e: Expr) -> list[Prob]:
    """Every :class:`Prob` in the expression (with repeats), depth first."""
    if isinstance(e, Prob):
        return [e]
    if isinstance(e, Product):
        return [p for f in e.factors for p in leaves(f)]
    if isinstance(e, Sum):
        return leaves(e.body)
    return leaves(e.num) + leaves(e.den)


@dataclass(frozen=True)
class Formula:
    """An identified causal quantity ``P(outcome | do(treatment), given)`` and its formula.

    ``str()`` prints ``P(Y | do(X)) = <expression>``; :func:`bnlab.causal.evaluate_formula`
    computes it on a network or over posterior draws.
    """

    outcome: frozenset[str]
    treatment: frozenset[str]
    given: frozenset[str]
    expr: Expr

    @property
    def variables(self) -> frozenset[str]:
        """The observed variables whose joint distribution the formula reads."""
        out: frozenset[str] = frozenset()
        for p in leaves(self.expr):
            out |= p.free
        return out

    def query(self) -> str:
        """The left-hand side, e.g. ``P(Y | do(X), Z)``."""
        cond = f"do({_names(self.treatment)})" if self.treatment else ""
        if self.given:
            cond = f"{cond}, {_names(self.given)}" if cond else _names(self.given)
        return f"P({_names(self.outcome)} | {cond})" if cond else f"P({_names(self.outcome)})"

    def __str__(self) -> str:
        return f"{self.query()} = {self.expr}"
