"""Most probable explanation by max-product and traceback, for NumPy and JAX alike.

One algorithm over any array module ``xp`` with NumPy's API (``numpy`` or ``jax.numpy``):
the compiled kernel (:func:`bnlab.infer.run.mpe`) traces it with ``jax.numpy``, and the host
tier (:mod:`bnlab.infer.eager`) runs it on NumPy with no XLA compilation at all, which on
small networks answers in milliseconds where a compiled program takes seconds to build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bnlab.infer.layout import tensor_indices
from bnlab.infer.plan import Plan


def broadcast_to_union(x: Any, idx: tuple[int, ...], union: tuple[int, ...], xp: Any) -> Any:
    """Permute ``x`` (indices ``idx``) to the order of ``union``, inserting unit axes."""
    present = [ix for ix in union if ix in idx]
    x = xp.transpose(x, [idx.index(ix) for ix in present])
    shape = [x.shape[present.index(ix)] if ix in idx else 1 for ix in union]
    return x.reshape(shape)


def mpe(plan: Plan, cpts: Sequence[Any], liks: Sequence[Any], xp: Any) -> tuple[Any, Any]:
    """Most probable explanation per row: ``argmax_x P(x, e)`` by max-product and traceback.

    Parameters
    ----------
    plan
        The elimination plan.
    cpts, liks
        CPTs and ``(batch, card)`` likelihoods in plan order, as arrays of ``xp``.
    xp
        The array module: ``numpy`` or ``jax.numpy``.

    Returns
    -------
    tuple
        ``(codes, log_p)``: ``(batch, n)`` int32 states in plan order, and
        ``log P(x*, e)`` (``-inf`` where the evidence is impossible). Ties go to the first
        state of the variable eliminated last.
    """
    n = plan.n
    batch = liks[0].shape[0]
    idx = tensor_indices(plan)
    with np.errstate(divide="ignore"):  # log 0 = -inf: impossible states, by design
        tensors: dict[int, Any] = {i: xp.log(cpts[i]) for i in range(n)}
        tensors.update({n + i: xp.log(liks[i]) for i in range(n)})
    tables: list[Any] = []
    last = None
    for k, st in enumerate(plan.steps):
        union = (*st.out, *st.summed)
        total = sum(broadcast_to_union(tensors.pop(t), idx[t], union, xp) for t in st.inputs)
        if -1 in st.out and total.shape[0] != batch:
            total = xp.broadcast_to(total, (batch, *total.shape[1:]))
        lead = total.shape[: len(st.out)]
        flat = total.reshape((*lead, -1))
        tables.append(xp.argmax(flat, axis=-1))
        last = 2 * n + k
        tensors[last] = xp.max(flat, axis=-1)
    assign: dict[int, Any] = {}
    rows = xp.arange(batch)
    for st, table in zip(reversed(plan.steps), reversed(tables), strict=True):
        key = tuple(assign[ix] for ix in st.out if ix != -1)
        if -1 in st.out:
            flat_idx = table[(rows, *key)]
        else:
            flat_idx = xp.broadcast_to(table[key] if key else table, (batch,))
        if st.summed:
            parts = xp.unravel_index(flat_idx, tuple(plan.cards[ix] for ix in st.summed))
            for ix, part in zip(st.summed, parts, strict=True):
                assign[ix] = part
    codes = xp.stack([assign[i] for i in range(n)], axis=1).astype(xp.int32)
    final = tensors[last] if last is not None else xp.zeros((batch,))
    return codes, final.reshape(batch)
