"""P(target | every other variable) in closed form, from the target's Markov blanket.

When a row observes every variable but the target, only the factors that mention the target
depend on it, and

    P(T = t | e) ∝ P(t | pa(T)) · ∏_{C ∈ children(T)} P(c | pa(C) with T = t),

while the other factors only decide whether the row is possible at all (the engine answers
NaN for a row of probability zero, and so does this). Calibration on held-out data asks
exactly this for complete rows, so they need table look-ups instead of a run of the engine:
gathers over rows (and CPT draws), no compilation. Rows with other missing cells still need
the engine; :func:`complete_rows` says which rows qualify.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from bnlab.network import Structure


def complete_rows(
    structure: Structure, codes: NDArray[np.integer], target: str
) -> NDArray[np.bool_]:
    """Rows of ``codes`` (``-1`` = missing, variable order) observing all but ``target``."""
    others = np.ones(codes.shape[1], dtype=bool)
    others[structure.index[target]] = False
    return np.asarray((codes[:, others] >= 0).all(axis=1))


def blanket_predictive(
    structure: Structure,
    cpts: Mapping[str, NDArray[np.floating]],
    codes: NDArray[np.integer],
    target: str,
    *,
    draw_axis: bool = False,
) -> NDArray[np.float64]:
    """``P(target | row)`` for rows that observe every variable but ``target``.

    Parameters
    ----------
    structure
        The network's structure.
    cpts
        ``{variable: (*parent cards, card)}``, or with ``draw_axis`` a leading axis of CPT
        draws ``(draws, *parent cards, card)``.
    codes
        ``(rows, variables)`` state codes in ``structure.variables`` order; every column
        but the target's must be observed (``>= 0``, see :func:`complete_rows`).
    target
        The variable to predict.
    draw_axis
        Whether the CPTs carry a leading draw axis.

    Returns
    -------
    numpy.ndarray
        ``(rows, card)``, or ``(draws, rows, card)`` with draws; NaN where the row has
        probability zero (under that draw), as the engine's ``on_impossible="nan"``.
    """
    lead = (slice(None),) if draw_axis else ()
    k = structure.cards[target]
    n = codes.shape[0]
    states = np.arange(k)[None, :]

    def column(v: str) -> NDArray[np.intp]:
        return np.asarray(codes[:, structure.index[v]], dtype=np.intp)[:, None]

    own = tuple(column(p) for p in structure.parents[target]) + (states,)
    weight = np.asarray(cpts[target], dtype=np.float64)[lead + own]
    for c in structure.children[target]:
        idx = tuple(states if p == target else column(p) for p in structure.parents[c])
        weight = weight * np.asarray(cpts[c], dtype=np.float64)[lead + idx + (column(c),)]
    # the factors that do not mention the target: is the rest of the row possible at all?
    for v in structure.variables:
        if v == target or v in structure.children[target]:
            continue
        idx = tuple(column(p) for p in structure.parents[v]) + (column(v),)
        possible = np.asarray(cpts[v])[lead + idx] > 0
        weight = np.where(possible, weight, 0.0)
    weight = np.broadcast_to(weight, weight.shape[:-2] + (n, k))
    total = weight.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, weight / np.where(total > 0, total, 1.0), np.nan)
