"""Loopy belief propagation, batched over evidence rows and CPT draws, on the host.

Sum-product on the factor graph of the network: one factor per CPT (over its family) and
one unary factor per variable (its evidence likelihood vector, hard or soft). Every
iteration updates all messages at once (flooding schedule) with damping ``d``::

    m_new = (1 - d) * m_computed + d * m_old        (messages normalised to sum 1)

Variable-to-factor messages are the products of the other incoming messages (prefix and
suffix products, no division), factor-to-variable messages one contraction per family
position (:func:`bnlab.infer.contract.contract`). A row has converged when no message of
any draw moved by more than ``tol`` in the last iteration; rows keep iterating until all
have converged or ``max_iter`` is reached, and each row reports whether it converged, at
which iteration, and its last change.

On a polytree (a network whose factor graph has no cycle) the fixed point is exact:
marginals and ``log P(e)``, here the Bethe approximation of the log partition function
(Yedidia, Freeman & Weiss 2005), equal exact inference. On loopy networks both are
approximations without an error bound; the engine reports convergence, not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import BNError
from bnlab.infer.contract import contract
from bnlab.infer.layout import split_cpts, split_liks
from bnlab.infer.plan import Plan

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"


@dataclass(frozen=True)
class FactorGraph:
    """The factor graph of a plan: each CPT's scope and each variable's (factor, slot)s."""

    scopes: tuple[tuple[int, ...], ...]
    neighbours: tuple[tuple[tuple[int, int], ...], ...]


@cache
def factor_graph(plan: Plan) -> FactorGraph:
    """Scopes (plan order of each CPT's axes) and the factors around every variable."""
    scopes = tuple(tuple(plan.tensor_indices[i]) for i in range(plan.n))
    around: list[list[tuple[int, int]]] = [[] for _ in range(plan.n)]
    for f, scope in enumerate(scopes):
        if len(scope) > len(LETTERS):
            raise BNError(f"a family of {len(scope)} variables is too large for method='lbp'.")
        for k, v in enumerate(scope):
            around[v].append((f, k))
    return FactorGraph(scopes, tuple(tuple(a) for a in around))


@cache
def message_equations(plan: Plan, draws: bool) -> tuple[tuple[str, ...], ...]:
    """The einsum of every factor-to-variable message, per factor and slot.

    ``""`` marks a root's prior, which takes no incoming message. Built once per plan,
    not once per iteration.
    """
    f_lead, m_lead = ("Z", "ZY") if draws else ("", "Y")
    out = []
    for scope in factor_graph(plan).scopes:
        idx = LETTERS[: len(scope)]
        out.append(
            tuple(
                f_lead
                + idx
                + "".join("," + m_lead + c for c in idx if c != idx[k])
                + "->"
                + m_lead
                + idx[k]
                if len(scope) > 1
                else ""
                for k in range(len(scope))
            )  # fmt: skip
        )
    return tuple(out)


def _normalised(x: NDArray[np.float64]) -> NDArray[np.float64]:
    s = x.sum(axis=-1, keepdims=True)
    out: NDArray[np.float64] = np.divide(x, s, out=np.zeros_like(x), where=s > 0)
    return out


def _exclusive_products(stack: NDArray[np.float64]) -> NDArray[np.float64]:
    """``out[k] = prod_{j != k} stack[j]`` along axis 0, without division."""
    ones = np.ones_like(stack[:1])
    prefix = np.concatenate([ones, np.cumprod(stack[:-1], axis=0)])
    suffix = np.concatenate([np.cumprod(stack[:0:-1], axis=0)[::-1], ones])
    out: NDArray[np.float64] = prefix * suffix
    return out


def _entropy_terms(p: NDArray[np.float64], q: NDArray[np.float64], axes: tuple[int, ...]) -> Any:
    """``sum p * log q`` over ``axes``, with ``0 * log 0 = 0``."""
    safe = np.where(p > 0, q, 1.0)
    return np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=axes)


@dataclass
class LBPResult:
    """Beliefs and convergence of one batch (leading axes ``(draws, rows)`` or ``(rows,)``)."""

    log_z: NDArray[np.float64]
    marginals: NDArray[np.float64]
    converged: NDArray[np.bool_]
    iterations: NDArray[np.int64]
    delta: NDArray[np.float64]


def belief_propagation(
    plan: Plan,
    cpts: Sequence[NDArray[Any]],
    liks: Sequence[NDArray[Any]],
    *,
    draws: bool,
    max_iter: int = 100,
    damping: float = 0.5,
    tol: float = 1e-8,
) -> LBPResult:
    """Loopy BP on one batch: Bethe ``log P(e)``, beliefs and convergence per row.

    Parameters
    ----------
    plan
        The engine's plan (variables, cards, CPT axes).
    cpts
        CPTs in plan order, ``(draws, *family)`` with ``draws`` else ``(*family)``.
    liks
        Likelihood vectors per variable, ``(rows, card)``.
    draws
        Whether the CPTs carry a leading draw axis.
    max_iter, damping, tol
        Most iterations, the damping weight of the old message, and the largest message
        change of a converged row.

    Returns
    -------
    LBPResult
        ``log_z``, ``converged``, ``iterations`` and ``delta`` per row and draw
        (``(draws, rows)`` or ``(rows,)``), marginals ``(..., rows, sum(cards))``; rows of
        probability zero have ``log_z = -inf`` and NaN marginals.
    """
    graph = factor_graph(plan)
    psi = [np.asarray(c, dtype=np.float64) for c in cpts]
    lik = [np.asarray(x, dtype=np.float64) for x in liks]
    rows = lik[0].shape[0]
    lead: tuple[int, ...] = (psi[0].shape[0], rows) if draws else (rows,)
    f_lead, m_lead = ("Z", "ZY") if draws else ("", "Y")
    card = plan.cards
    equations = message_equations(plan, draws)
    # factor -> variable messages, uniform to start
    to_var = [[np.full((*lead, card[v]), 1.0 / card[v]) for v in s] for s in graph.scopes]
    to_fac = [[np.empty(0) for _ in s] for s in graph.scopes]
    converged = np.zeros(lead, dtype=bool)
    iterations = np.full(lead, max_iter, dtype=np.int64)
    delta = np.full(lead, np.inf)
    for it in range(1, max_iter + 1):
        for v, around in enumerate(graph.neighbours):
            stack = np.stack([to_var[f][k] for f, k in around])
            excl = _exclusive_products(stack) * lik[v]
            for (f, k), msg in zip(around, excl, strict=True):
                to_fac[f][k] = _normalised(msg)
        change = np.zeros(lead)
        for f, scope in enumerate(graph.scopes):
            for k, equation in enumerate(equations[f]):
                if not equation:  # a root's prior: the same message for every row
                    table = psi[f][:, None] if draws else psi[f][None]
                    computed = np.broadcast_to(table, (*lead, card[scope[k]]))
                else:
                    others = [m for j, m in enumerate(to_fac[f]) if j != k]
                    computed = contract(equation, psi[f], *others)
                new = _normalised(computed)
                new = (1.0 - damping) * new + damping * to_var[f][k]
                change = np.maximum(change, np.abs(new - to_var[f][k]).max(axis=-1))
                to_var[f][k] = new
        done = (change <= tol) & ~converged
        iterations[done] = it
        converged |= change <= tol
        delta = change
        if converged.all():
            break
    beliefs = []
    log_z = np.zeros(lead)
    factors_of = [len(a) for a in graph.neighbours]
    for v, around in enumerate(graph.neighbours):
        stack = np.stack([to_var[f][k] for f, k in around])
        b = _normalised(np.prod(stack, axis=0) * lik[v])
        beliefs.append(b)
        # unary factor (E log lik + H) and the Bethe count correction (1 - c_v) H(b_v)
        log_z += _entropy_terms(b, lik[v], (-1,)) + (factors_of[v] - 1) * _entropy_terms(
            b, b, (-1,)
        )
    for f, scope in enumerate(graph.scopes):
        idx = LETTERS[: len(scope)]
        equation = f_lead + idx + "".join("," + m_lead + c for c in idx) + "->" + m_lead + idx
        joint = contract(equation, psi[f], *to_fac[f])
        axes = tuple(range(len(lead), joint.ndim))
        total = joint.sum(axis=axes, keepdims=True)
        b_f = np.divide(joint, total, out=np.zeros_like(joint), where=total > 0)
        table = psi[f][:, None] if draws else psi[f][None]
        log_z += _entropy_terms(b_f, np.broadcast_to(table, b_f.shape), axes)
        log_z -= _entropy_terms(b_f, b_f, axes)
    flat = np.concatenate(beliefs, axis=-1)
    possible = np.all([b.sum(axis=-1) > 0 for b in beliefs], axis=0)
    log_z = np.where(possible, log_z, -np.inf)
    flat = np.where(possible[..., None], flat, np.nan)
    return LBPResult(log_z, flat, converged, iterations, delta)


class LBPOptions(NamedTuple):
    """Settings of ``method="lbp"`` (see :func:`belief_propagation`)."""

    max_iter: int = 100
    damping: float = 0.5
    tol: float = 1e-8


class LBPRunner:
    """``f(flat_cpts, flat_liks)`` in the layout of the exact kernels, plus convergence.

    Returns ``(log_z, flat marginals, converged, iterations, delta)`` for ``"marginals"``
    and ``log_z`` for ``"log_evidence"``.
    """

    def __init__(self, plan: Plan, what: str, draws: bool, options: LBPOptions) -> None:
        if what not in ("marginals", "log_evidence"):
            raise BNError(
                f"{what} needs exact inference: method='lbp' answers marginals, queries and "
                "log_prob (the Bethe approximation)."
            )
        self.plan, self.what, self.draws = plan, what, draws
        self.options = options

    def __call__(self, flat_cpts: Any, flat_liks: Any) -> Any:
        """Beliefs of one chunk of rows."""
        res = belief_propagation(
            self.plan,
            split_cpts(self.plan, np.asarray(flat_cpts)),
            split_liks(self.plan, np.asarray(flat_liks)),
            draws=self.draws,
            max_iter=self.options.max_iter,
            damping=self.options.damping,
            tol=self.options.tol,
        )
        if self.what == "log_evidence":
            return res.log_z
        return res.log_z, res.marginals, res.converged, res.iterations, res.delta
