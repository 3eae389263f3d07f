"""Brute-force enumeration of a small network's joint table: the oracle of the explanation
tests (no tests of its own)."""

from __future__ import annotations

import itertools

import numpy as np

import bnlab


def joint(net: bnlab.BayesNet) -> np.ndarray:
    """The full joint table, one axis per variable in ``net.variables`` order."""
    table = np.ones([net.cards[v] for v in net.variables])
    for config in itertools.product(*(range(net.cards[v]) for v in net.variables)):
        pos = dict(zip(net.variables, config, strict=True))
        for v in net.variables:
            table[config] *= net.cpt(v)[(*(pos[p] for p in net.parents[v]), pos[v])]
    return table


def conditional(
    net: bnlab.BayesNet, table: np.ndarray, target: str, state: str, ev: dict[str, str]
) -> float:
    """P(target = state | ev) by summing the joint ``table`` of ``net``."""
    index: list[object] = [slice(None)] * len(net.variables)
    for v, s in ev.items():
        index[net.variables.index(v)] = net.states[v].index(s)
    sub = table[tuple(index)]
    free = [v for v in net.variables if v not in ev]
    k = free.index(target)
    marg = sub.sum(axis=tuple(i for i in range(len(free)) if i != k))
    return float(marg[net.states[target].index(state)] / marg.sum())
