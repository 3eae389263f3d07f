"""Structure quality against a reference graph, when one exists (simulation studies)."""

from __future__ import annotations

from typing import Any

from bnlab.network import BayesNet, Structure


def structure_quality(
    structure: Structure | BayesNet,
    reference: Structure | BayesNet,
    data: Any = None,
    score: str = "bic",
) -> dict[str, float]:
    """Compare a graph with a reference: SHD (CPDAG and DAG), edge and arc precision/recall/F1.

    Thin entry point to :func:`bnlab.learn.metrics.compare` so that the evaluation stage
    has every metric under :mod:`bnlab.evaluate`; with ``data``, also ``score_diff`` (the
    ``score`` of ``structure`` minus that of ``reference`` on the data).
    """
    from bnlab.learn.metrics import compare

    return compare(structure, reference, data, score=score)
