"""``P(target | one row of hard evidence)`` from the requisite part of the network alone.

For hard evidence ``e`` on a set of observed variables, three kinds of factor drop out of
``P(T | e)``:

* barren variables — neither observed nor ancestors of ``T`` or of an observed variable —
  sum out to one;
* factors outside the target's component — the moral graph of the remaining (ancestral)
  variables, cut at the observed ones — multiply ``P(t, e)`` for every ``t`` by the same
  constant, which normalising removes;
* what is left is ``P(T = t | e) ∝ Σ Π_f f(·, e)``: the product of the factors that touch
  the component, summed over its unobserved variables other than ``T``.

On ALARM with half the variables observed at random that is six factors and three or four
unobserved variables on average, against 37 and 37 of the whole network: a per-row
contraction over the posterior draws costs far less than a run of the compiled all-marginals
program. That is what a scoring server answering single rows needs.

The constant factors are dropped, so a row whose probability they make zero would not be
seen as impossible here: callers use this only for CPTs without a zero entry
(:func:`strictly_positive`; a Dirichlet posterior with a positive prior, every sampled
posterior drawn from one), where every row is possible under every draw.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnlab.network import Structure

#: Most unobserved variables in the target's component (einsum letters, and a bound on cost).
MAX_COMPONENT = 40
#: A product below this (per draw) may have lost precision: answer with the engine instead.
UNDERFLOW = 1e-280
#: Requisite programs kept per process (one per structure, target and observed set).
PROGRAM_CACHE = 4096
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Program(NamedTuple):
    """The contraction for one structure, target and observed set.

    ``factors`` names the CPTs that take part; ``slots`` gives, per factor and CPT axis,
    the column of the evidence codes that fixes it (``-1``: a free axis). ``steps`` are
    ``(inputs, equation)`` pairs: each sums one variable out of the operands it lists
    (positions in the list of operands, to which each step's result is appended); the
    draw axis is the last of every operand, ``a``.
    """

    factors: tuple[str, ...]
    slots: tuple[tuple[int, ...], ...]
    steps: tuple[tuple[tuple[int, ...], str], ...]
    flops_per_draw: float


def requisite(
    structure: Structure, target: str, observed: Collection[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The factors ``P(T | e)`` needs and the unobserved variables they are summed over.

    Parameters
    ----------
    structure
        The network's structure.
    target
        The query variable (not in ``observed``).
    observed
        The variables with hard evidence.

    Returns
    -------
    tuple
        ``(factors, component)``: the variables whose CPTs take part, and the unobserved
        variables connected to the target (the target included), each in network order.
    """
    seen = set(observed)
    relevant = structure.ancestral_set(seen | {target})  # every other variable is barren
    component, factors = {target}, set()
    stack = [target]
    while stack:  # the moral graph of the ancestral set, cut at the observed variables
        u = stack.pop()
        for f in (u, *(c for c in structure.children[u] if c in relevant)):
            if f in factors:
                continue
            factors.add(f)
            for w in (*structure.parents[f], f):
                if w not in seen and w not in component:
                    component.add(w)
                    stack.append(w)
    order = structure.index
    return (
        tuple(sorted(factors, key=order.__getitem__)),
        tuple(sorted(component, key=order.__getitem__)),
    )


@functools.lru_cache(maxsize=PROGRAM_CACHE)
def requisite_program(
    structure: Structure, target: str, observed: frozenset[str]
) -> Program | None:
    """The cached contraction of ``P(target, e)`` for one observed set, or ``None``.

    Variables are summed out one at a time, the one whose operands span the fewest entries
    first (min-size elimination); each step is one ``numpy.einsum`` over the operands
    that mention it. ``None`` when the component has more than :data:`MAX_COMPONENT`
    unobserved variables.
    """
    factors, component = requisite(structure, target, observed)
    if len(component) > MAX_COMPONENT:
        return None
    letter = {v: _LETTERS[k + 1] for k, v in enumerate(component)}  # "a": the draw axis
    size = {letter[v]: structure.cards[v] for v in component}
    index = structure.index
    live: dict[int, str] = {}
    slots = []
    for k, f in enumerate(factors):
        scope = (*structure.parents[f], f)
        live[k] = "".join(letter[w] for w in scope if w not in observed)
        slots.append(tuple(-1 if w not in observed else index[w] for w in scope))
    steps: list[tuple[tuple[int, ...], str]] = []
    flops = 0.0
    remaining = {letter[v] for v in component if v != target}
    next_id = len(factors)

    def union_of(ids: list[int]) -> str:
        return "".join(dict.fromkeys("".join(live[i] for i in ids)))

    while remaining:
        operands = {x: [i for i, t in live.items() if x in t] for x in sorted(remaining)}
        span = {x: union_of(ids) for x, ids in operands.items()}
        entries = {x: float(np.prod([size[c] for c in span[x]])) for x in span}
        x = min(entries, key=lambda y: (entries[y], y))
        ins = operands[x]
        out = span[x].replace(x, "")
        steps.append((tuple(ins), ",".join(live[i] + "a" for i in ins) + "->" + out + "a"))
        flops += entries[x] * len(ins)
        for i in ins:
            del live[i]
        live[next_id] = out
        next_id += 1
        remaining.discard(x)
    ins = list(live)
    steps.append((tuple(ins), ",".join(live[i] + "a" for i in ins) + "->" + letter[target] + "a"))
    flops += size[letter[target]] * len(ins)
    return Program(factors, tuple(slots), tuple(steps), flops)


def requisite_marginal(
    structure: Structure,
    cpts: Mapping[str, NDArray[np.float64]],
    codes: NDArray[np.integer],
    target: str,
    max_flops: float = np.inf,
) -> NDArray[np.float64] | None:
    """``P(target | row)`` per CPT draw, from the requisite factors only, or ``None``.

    Parameters
    ----------
    structure
        The network's structure.
    cpts
        ``{variable: (*parent cards, card, draws)}`` — the draw axis *last*, contiguous
        (:func:`draws_last`), so that each step runs over the draws in its inner loop —
        every entry positive (see the module docstring and :func:`strictly_positive`).
    codes
        One evidence row, ``(variables,)`` state codes in network order, ``-1`` = missing;
        the target's own cell must be ``-1``.
    target
        The query variable.
    max_flops
        Answer ``None`` when the contraction costs more multiply-adds per draw.

    Returns
    -------
    numpy.ndarray or None
        ``(draws, card)``; ``None`` when the component is too large, costs more than
        ``max_flops``, or a draw's product came near underflow — answer those rows with the
        engine.
    """
    observed = frozenset(structure.variables[j] for j in np.flatnonzero(codes >= 0))
    program = requisite_program(structure, target, observed)
    if program is None or program.flops_per_draw > max_flops:
        return None
    work = [
        cpts[f][(*(slice(None) if j < 0 else int(codes[j]) for j in slot), slice(None))]
        for f, slot in zip(program.factors, program.slots, strict=True)
    ]
    for inputs, equation in program.steps:
        work.append(np.einsum(equation, *(work[i] for i in inputs)))
    joint = np.asarray(work[-1], dtype=np.float64).T  # (draws, card)
    total = joint.sum(axis=1, keepdims=True)
    if not np.all(total > UNDERFLOW) or not np.all(np.isfinite(total)):
        return None
    return joint / total


def requisite_marginals(
    structure: Structure,
    cpts: Mapping[str, NDArray[np.float64]],
    codes: NDArray[np.integer],
    target: str,
    max_flops: float,
    fallback: Callable[[list[int]], NDArray[np.float64]],
) -> NDArray[np.float64]:
    """``P(target | row)`` per draw for every row, ``(draws, rows, card)``.

    Each row by :func:`requisite_marginal`; the rows it leaves (``None``) are answered
    together by ``fallback(rows)``, which returns their ``(draws, len(rows), card)``
    marginals (the caller's engine path).
    """
    draws = next(iter(cpts.values())).shape[-1]
    out = np.empty((draws, codes.shape[0], structure.cards[target]))
    rest: list[int] = []
    for r in range(codes.shape[0]):
        p = requisite_marginal(structure, cpts, codes[r], target, max_flops)
        if p is None:
            rest.append(r)
        else:
            out[:, r] = p
    if rest:
        out[:, rest] = fallback(rest)
    return out


def draws_last(cpts: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[np.float64]]:
    """``(draws, *shape)`` CPT draws as contiguous float64 ``(*shape, draws)`` arrays."""
    return {
        v: np.ascontiguousarray(np.moveaxis(np.asarray(a, np.float64), 0, -1))
        for v, a in cpts.items()
    }


def strictly_positive(cpts: Mapping[str, NDArray[Any]]) -> bool:
    """Whether every CPT entry (of every draw) is positive: every row is then possible."""
    return all(bool(np.all(np.asarray(a) > 0)) for a in cpts.values())
