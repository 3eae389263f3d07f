"""Numbers of a formula: labelled tables with a leading draw axis, and the joint they read.

A :class:`Factor` is ``(variables, values)`` with ``values`` shaped ``(draws, *cards)``, one
axis per variable in the order given. :func:`evaluate` computes an expression of
:mod:`bnlab.causal.formula` on the joint table of the observed variables it reads;
:func:`joint_table` gets that table from the inference engine in one batched call (every
configuration of the variables is one evidence row; a posterior adds the draw axis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product as cartesian
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnlab.causal.formula import Expr, Prob, Product, Sum
from bnlab.errors import BNError

#: Largest joint table (configurations x draws) :func:`joint_table` builds.
MAX_JOINT_CELLS = 50_000_000


class Factor(NamedTuple):
    """A table over ``variables`` with a leading draw axis."""

    variables: tuple[str, ...]
    values: NDArray[np.float64]

    def aligned(self, order: Sequence[str]) -> NDArray[np.float64]:
        """The values with axes in ``order`` (size-1 axes for absent variables)."""
        present = [v for v in order if v in self.variables]
        perm = [0] + [1 + self.variables.index(v) for v in present]
        arr = self.values.transpose(perm)
        shape = [arr.shape[0]]
        it = iter(arr.shape[1:])
        for v in order:
            shape.append(next(it) if v in self.variables else 1)
        return arr.reshape(shape)

    def summed(self, over: Sequence[str] | frozenset[str]) -> Factor:
        """The factor summed over the given variables (those it has)."""
        axes = tuple(1 + self.variables.index(v) for v in over if v in self.variables)
        keep = tuple(v for v in self.variables if v not in over)
        return Factor(keep, self.values.sum(axis=axes) if axes else self.values)


def _union(*fs: Factor, order: Sequence[str]) -> list[str]:
    names = set().union(*(f.variables for f in fs))
    return [v for v in order if v in names]


def _divide(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    num, den = np.broadcast_arrays(num, den)
    out = np.zeros(num.shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def evaluate(expr: Expr, joint: Factor) -> Factor:
    """The value of ``expr`` for every configuration of its free variables, per draw.

    Parameters
    ----------
    expr
        A formula expression whose :class:`~bnlab.causal.formula.Prob` leaves are
        conditionals of the distribution ``joint`` tabulates.
    joint
        Joint table ``P(V)`` of (at least) the variables the leaves name; normalised per draw.
    """
    order = joint.variables
    cache: dict[frozenset[str], Factor] = {}

    def marg(keep: frozenset[str]) -> Factor:
        if keep not in cache:
            cache[keep] = joint.summed([v for v in order if v not in keep])
        return cache[keep]

    def ev(e: Expr) -> Factor:
        if isinstance(e, Prob):
            num, den = marg(e.free), marg(e.given)
            names = _union(num, den, order=order)
            return Factor(tuple(names), _divide(num.aligned(names), den.aligned(names)))
        if isinstance(e, Product):
            parts = [ev(f) for f in e.factors]
            names = _union(*parts, order=order)
            value: NDArray[np.float64] = np.ones((joint.values.shape[0],) + (1,) * len(names))
            for f in parts:
                value = value * f.aligned(names)
            full = np.broadcast_to(value, value.shape[:1] + _shape(names, joint))
            return Factor(tuple(names), np.array(full))
        if isinstance(e, Sum):
            return ev(e.body).summed(e.over)
        num_f, den_f = ev(e.num), ev(e.den)
        names = _union(num_f, den_f, order=order)
        value = _divide(num_f.aligned(names), den_f.aligned(names))
        return Factor(tuple(names), np.array(np.broadcast_to(value, value.shape)))

    return ev(expr)


def _shape(names: Sequence[str], joint: Factor) -> tuple[int, ...]:
    return tuple(joint.values.shape[1 + joint.variables.index(v)] for v in names)


def joint_table(engine: Any, variables: Sequence[str]) -> Factor:
    """``P(variables)`` per draw (or once for a point network) from one batched engine call.

    Parameters
    ----------
    engine
        A :class:`bnlab.Engine`; its structure holds ``variables``.
    variables
        Variables of the table, in this axis order.

    Raises
    ------
    BNError
        The table would exceed :data:`MAX_JOINT_CELLS` cells.
    """
    s = engine.structure
    cards = [s.cards[v] for v in variables]
    rows = int(np.prod(cards, dtype=np.int64))
    draws = engine.n_draws or 1
    if rows * draws > MAX_JOINT_CELLS:
        raise BNError(
            f"the formula reads the joint table of {list(variables)}: {rows:,} configurations x "
            f"{draws} draws exceed {MAX_JOINT_CELLS:,} cells; ask with fewer draws, or for an "
            "effect whose formula involves fewer or smaller variables."
        )
    codes = np.array(list(cartesian(*[range(c) for c in cards])), dtype=np.int32)
    index = s.index
    full = np.full((rows, len(s.variables)), -1, dtype=np.int32)
    for k, v in enumerate(variables):
        full[:, index[v]] = codes[:, k]
    logp = np.asarray(engine.log_prob(full), dtype=np.float64)
    p = np.exp(logp).reshape(draws, *cards)
    return Factor(tuple(variables), p)


def states_index(states: Mapping[str, Sequence[str]], var: str, state: Any, role: str) -> int:
    """Position of ``state`` among the states of ``var``, or a typed error naming them."""
    st = states[var]
    if str(state) not in st:
        raise BNError(f"{role}={state!r} is not a state of {var!r}; its states are {list(st)}.")
    return st.index(str(state))


def evaluate_formula(formula: Any, model: Any, *, draws: int = 1000, seed: int = 0) -> Factor:
    """A :class:`~bnlab.causal.formula.Formula` computed on a network or posterior.

    Parameters
    ----------
    formula
        From :func:`bnlab.causal.identify`.
    model
        A :class:`bnlab.BayesNet` or :class:`bnlab.Posterior` holding the formula's variables
        (its observational distribution is what the formula reads).
    draws, seed
        Posterior CPT draws (ignored for a network).

    Returns
    -------
    Factor
        Values per draw (one draw for a network) over the formula's free variables, e.g.
        ``(draws, card(Y), card(X))`` for ``P(Y | do(X))``.
    """
    from bnlab.infer import Engine
    from bnlab.network import BayesNet

    s = model.structure
    missing = sorted(formula.variables - set(s.variables))
    if missing:
        raise BNError(f"the formula reads {missing}, which are not variables of the model.")
    if isinstance(model, BayesNet):
        engine = Engine(model)
    else:
        engine = Engine(model, draws=draws, seed=seed)
    order = [v for v in s.variables if v in formula.variables]
    return evaluate(formula.expr, joint_table(engine, order))
