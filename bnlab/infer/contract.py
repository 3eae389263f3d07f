"""Einsum on the host through batched matrix products, one cached program per shape.

``numpy.einsum`` (and opt_einsum, which hands it any pairwise contraction that keeps an
index on both inputs and the output) runs a contraction with a batch index (an evidence
row, a CPT draw, a variable kept by a step) in its own C loop, without BLAS: on MUNIN's
steps that loop ran at ~30 MFlop/s. Here every pairwise contraction is rewritten as one
``numpy.matmul`` of ``(batch, kept_a, summed)`` by ``(batch, summed, kept_b)``, after
summing out the indices only one operand carries; the pairwise order comes from
opt_einsum's greedy path. The transposes, reshapes and sums of each ``(equation, shapes)``
are worked out once and cached, so a call costs the array operations only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import prod

import numpy as np
import opt_einsum


@dataclass(frozen=True)
class PairStep:
    """``operands[i] ⊗ operands[j]`` as one batched matmul (both removed, result appended)."""

    i: int
    j: int
    sum_a: tuple[int, ...]
    sum_b: tuple[int, ...]
    perm_a: tuple[int, ...]
    perm_b: tuple[int, ...]
    shape_a: tuple[int, int, int]
    shape_b: tuple[int, int, int]
    shape_out: tuple[int, ...]


@dataclass(frozen=True)
class Finish:
    """The last operand summed over ``axes`` and transposed to the output order."""

    axes: tuple[int, ...]
    perm: tuple[int, ...] | None


def _ident(perm: tuple[int, ...]) -> tuple[int, ...] | None:
    return None if perm == tuple(range(len(perm))) else perm


def _pair(
    i: int, j: int, a: str, b: str, keep: set[str], size: dict[str, int]
) -> tuple[PairStep, str]:
    """The matmul form of contracting operands ``i`` and ``j``, with indices ``a`` and ``b``.

    ``keep``: indices needed after this pair (by the output or by other operands).
    Returns the step and the result's indices.
    """
    sum_a = tuple(k for k, c in enumerate(a) if c not in b and c not in keep)
    sum_b = tuple(k for k, c in enumerate(b) if c not in a and c not in keep)
    a2 = "".join(c for k, c in enumerate(a) if k not in sum_a)
    b2 = "".join(c for k, c in enumerate(b) if k not in sum_b)
    batch = [c for c in a2 if c in b2 and c in keep]
    summed = [c for c in a2 if c in b2 and c not in keep]
    only_a = [c for c in a2 if c not in b2]
    only_b = [c for c in b2 if c not in a2]
    perm_a = tuple(a2.index(c) for c in batch + only_a + summed)
    perm_b = tuple(b2.index(c) for c in batch + summed + only_b)
    nb = prod(size[c] for c in batch)
    na = prod(size[c] for c in only_a)
    ns = prod(size[c] for c in summed)
    nc = prod(size[c] for c in only_b)
    result = "".join(batch + only_a + only_b)
    step = PairStep(
        i, j, sum_a, sum_b, perm_a, perm_b, (nb, na, ns), (nb, ns, nc),
        tuple(size[c] for c in result),
    )  # fmt: skip
    return step, result


@lru_cache(maxsize=8192)
def contraction_program(
    equation: str, shapes: tuple[tuple[int, ...], ...]
) -> tuple[list[PairStep], Finish]:
    """The cached pairwise program of ``equation`` over operands of ``shapes``.

    Raises
    ------
    ValueError
        An operand that repeats an index (a diagonal), which this form does not take.
    """
    lhs, out = equation.split("->")
    terms = lhs.split(",")
    size: dict[str, int] = {}
    for t, s in zip(terms, shapes, strict=True):
        if len(set(t)) != len(t):
            raise ValueError(f"repeated index in operand {t!r} of {equation!r}")
        size.update(zip(t, s, strict=True))
    live = list(terms)
    steps: list[PairStep] = []
    if len(terms) > 1:
        path, _ = opt_einsum.contract_path(equation, *shapes, optimize="greedy", shapes=True)
        for pair in path:
            i, j = sorted(pair)  # greedy paths contract pairs only
            rest = [t for k, t in enumerate(live) if k not in (i, j)]
            step, result = _pair(i, j, live[i], live[j], set(out).union(*rest), size)
            steps.append(step)
            live = [*rest, result]
    last = live[0]
    axes = tuple(k for k, c in enumerate(last) if c not in out)
    kept = "".join(c for c in last if c in out)
    return steps, Finish(axes, _ident(tuple(kept.index(c) for c in out)))


def contract(equation: str, *operands: np.ndarray) -> np.ndarray:
    """``numpy.einsum(equation, *operands)`` through batched matmuls (see the module doc)."""
    steps, finish = contraction_program(equation, tuple(x.shape for x in operands))
    live = list(operands)
    for st in steps:
        a, b = live[st.i], live[st.j]
        del live[st.j], live[st.i]
        if st.sum_a:
            a = a.sum(axis=st.sum_a)
        if st.sum_b:
            b = b.sum(axis=st.sum_b)
        am = a.transpose(st.perm_a).reshape(st.shape_a)
        bm = b.transpose(st.perm_b).reshape(st.shape_b)
        live.append(np.matmul(am, bm).reshape(st.shape_out))
    last = live[0]
    if finish.axes:
        last = last.sum(axis=finish.axes)
    return last.transpose(finish.perm) if finish.perm is not None else last
