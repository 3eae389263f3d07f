"""Structure metrics: SHD on DAGs and CPDAGs, edge precision / recall / F1, score difference.

SHD follows R bnlearn's ``shd``: one unit per pair of variables whose edge differs (missing,
extra, or oriented differently); on CPDAGs (``cpdag=True``) graphs in one Markov equivalence
class are at distance 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.errors import StructureError
from bnlab.learn.cpdag import adjacency
from bnlab.learn.cpdag import cpdag as to_cpdag
from bnlab.network import BayesNet, Structure, as_structure


def _aligned(
    learned: Structure | BayesNet, true: Structure | BayesNet
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    a, b = as_structure(learned), as_structure(true)
    if set(a.variables) != set(b.variables):
        only_a = sorted(set(a.variables) - set(b.variables))
        only_b = sorted(set(b.variables) - set(a.variables))
        raise StructureError(
            f"the two structures have different variables (only in the first: {only_a}, only "
            f"in the second: {only_b}); compare structures over the same variables."
        )
    order = list(b.variables)
    return adjacency(a, order), adjacency(b, order)


def pdag_shd(g1: NDArray[np.bool_], g2: NDArray[np.bool_]) -> int:
    """Pairs whose edge status (none, ``a->b``, ``b->a``, ``a-b``) differs."""
    diff = (g1 != g2) | (g1.T != g2.T)
    return int(np.triu(diff, 1).sum())


def shd(learned: Structure | BayesNet, true: Structure | BayesNet, *, cpdag: bool = True) -> int:
    """Structural Hamming distance.

    Parameters
    ----------
    learned, true
        Structures over the same variables.
    cpdag
        Compare the CPDAGs (equivalence-class aware, the default) or the DAGs themselves.
    """
    g1, g2 = _aligned(learned, true)
    if cpdag:
        g1, g2 = to_cpdag(g1), to_cpdag(g2)
    return pdag_shd(g1, g2)


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    prec = tp / n_pred if n_pred else 1.0
    rec = tp / n_true if n_true else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return {"precision": prec, "recall": rec, "f1": f1}


def edge_scores(learned: Structure | BayesNet, true: Structure | BayesNet) -> dict[str, float]:
    """Precision, recall and F1 of the skeleton and of the directed arcs.

    Keys: ``precision``, ``recall``, ``f1`` (skeleton: an edge counts whatever its
    direction) and ``arc_precision``, ``arc_recall``, ``arc_f1`` (direction must match).
    """
    g1, g2 = _aligned(learned, true)
    s1, s2 = np.triu(g1 | g1.T, 1), np.triu(g2 | g2.T, 1)
    out = _prf(int((s1 & s2).sum()), int(s1.sum()), int(s2.sum()))
    arcs = _prf(int((g1 & g2).sum()), int(g1.sum()), int(g2.sum()))
    out.update({f"arc_{k}": v for k, v in arcs.items()})
    return out


def score_difference(
    learned: Structure | BayesNet,
    reference: Structure | BayesNet,
    data: Any,
    score: str = "bic",
    ess: float = 1.0,
) -> float:
    """``score(learned) - score(reference)`` on ``data`` (positive: learned scores higher)."""
    from bnlab.learn.core import structure_score

    return structure_score(learned, data, score, ess=ess) - structure_score(
        reference, data, score, ess=ess
    )


def compare(
    learned: Structure | BayesNet,
    true: Structure | BayesNet,
    data: pd.DataFrame | None = None,
    score: str = "bic",
    ess: float = 1.0,
) -> dict[str, float]:
    """All metrics at once: ``shd`` (CPDAG), ``shd_dag``, edge scores, ``score_diff``."""
    out: dict[str, float] = {
        "shd": float(shd(learned, true)),
        "shd_dag": float(shd(learned, true, cpdag=False)),
    }
    out.update(edge_scores(learned, true))
    if data is not None:
        out["score_diff"] = score_difference(learned, true, data, score, ess)
    return out
