"""Flat layouts of a plan's CPTs and the distinct step signatures, in NumPy only.

The kernels take every CPT as one flat vector (one argument, so a jitted call stays
cheap) and every evidence row's likelihoods as one flat row. These helpers build and
slice those layouts and count a plan's distinct step kernels for the cost model; none of
them needs JAX, so a process that answers on the host never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from bnlab.infer.plan import Plan

type CPTs = Sequence[Any] | Mapping[str, Any]


def cpt_list(plan: Plan, cpts: CPTs) -> list[Any]:
    """CPTs in plan order, from a sequence or a mapping ``{variable: array}``."""
    if isinstance(cpts, Mapping):
        return [cpts[v] for v in plan.variables]
    return list(cpts)


def cpt_offsets(plan: Plan) -> tuple[int, ...]:
    """Start of each CPT in the flat CPT vector (plan order, C order within a CPT)."""
    sizes = [int(np.prod(s)) for s in plan.cpt_shapes]
    return tuple(int(x) for x in np.concatenate([[0], np.cumsum(sizes)]))


def flatten_cpts(plan: Plan, cpts: CPTs, draw_axis: bool = False) -> np.ndarray:
    """Concatenate CPTs into one vector ``(T,)`` (or ``(draws, T)`` with ``draw_axis``)."""
    cl = [np.asarray(c) for c in cpt_list(plan, cpts)]
    if draw_axis:
        return np.concatenate([c.reshape(c.shape[0], -1) for c in cl], axis=1)
    return np.concatenate([c.reshape(-1) for c in cl])


def split_cpts(plan: Plan, flat: Any) -> list[Any]:
    """Split a flat CPT vector ``(..., T)`` into ``(..., *shape)`` arrays in plan order."""
    off = cpt_offsets(plan)
    lead = flat.shape[:-1]
    return [
        flat[..., off[i] : off[i + 1]].reshape(*lead, *shape)
        for i, shape in enumerate(plan.cpt_shapes)
    ]


def split_liks(plan: Plan, flat: Any) -> list[Any]:
    """Split a flat ``(batch, sum(cards))`` likelihood array per variable (traceable)."""
    off = plan.lik_offsets
    return [flat[:, o : o + c] for o, c in zip(off, plan.cards, strict=True)]


@cache
def tensor_indices(plan: Plan) -> dict[int, tuple[int, ...]]:
    """Index tuple of every tensor id: CPTs, likelihoods, then step outputs (cached)."""
    idx = dict(enumerate(plan.tensor_indices))
    for k, st in enumerate(plan.steps):
        idx[2 * plan.n + k] = st.out
    return idx


def plan_indices(plan: Plan, tensor: int) -> tuple[int, ...]:
    """Index tuple of tensor id ``tensor`` of a plan (inputs and step outputs)."""
    return tensor_indices(plan)[tensor]


def signatures(plan: Plan, draws: bool = False) -> set[tuple[Any, ...]]:
    """The distinct kernel signatures a plan needs (each is compiled once per batch shape).

    Used by the cost model: compile time is about this count times one small compile.
    """
    n = plan.n
    batched = {n + i: True for i in range(n)}
    batched.update({i: False for i in range(n)})
    sigs: set[tuple[Any, ...]] = set()
    for k, st in enumerate(plan.steps):
        b = -1 in st.out
        batched[2 * n + k] = b
        shapes = tuple(
            tuple(1 if ix == -1 else plan.cards[ix] for ix in plan_indices(plan, t))
            for t in st.inputs
        )
        sigs.add(("fwd", st.equation, shapes, draws))
        if b:
            for p, t in enumerate(st.inputs):
                if batched[t]:
                    sigs.add(("adj", st.equation, p, shapes, draws))
    return sigs
