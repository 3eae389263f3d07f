"""Causal questions on a network or posterior: identification, adjustment, effects, counterfactuals.

::

    from bnlab import causal
    causal.backdoor_sets(structure, "T", "Y", latent=[("T", "Y")])  # minimal sets, sorted
    causal.identify(structure, "T", "Y", latent=["U"])  # Formula or NotIdentifiableError
    causal.effect(post, "T", "Y", treated="a", control="b", outcome_state="y")  # mean, lower, upper
    causal.counterfactual(post, {"T": "a", "Y": "y"}, {"T": "b"}, "Y")  # one row per state

Latent confounders are declared with ``latent=``: names of unobserved variables of the
structure (projected out) and/or pairs ``(a, b)`` of observed variables that share an
unobserved cause. Graph algorithms (:mod:`.graph`, :mod:`.adjustment`, :mod:`.identify`) are
pure Python; effects and counterfactuals use the JAX inference engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlab.causal.adjustment import (
    backdoor_sets,
    frontdoor_sets,
    is_valid_adjustment,
    is_valid_backdoor,
    is_valid_frontdoor,
    minimal_backdoor_set,
)
from bnlab.causal.errors import CausalGraphError, NotIdentifiableError
from bnlab.causal.factors import Factor, evaluate_formula
from bnlab.causal.formula import Formula
from bnlab.causal.graph import CausalGraph, causal_graph
from bnlab.causal.identify import identify
from bnlab.lazy import lazy_exports

_LAZY: dict[str, tuple[str, ...]] = {
    "bnlab.causal.effects": ("effect",),
    "bnlab.causal.counterfactual": ("counterfactual",),
}

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.causal.counterfactual import counterfactual as counterfactual
    from bnlab.causal.effects import effect as effect

__getattr__, __dir__, _lazy_names = lazy_exports(globals(), _LAZY)

__all__ = [
    "CausalGraph",
    "CausalGraphError",
    "Factor",
    "Formula",
    "NotIdentifiableError",
    "backdoor_sets",
    "causal_graph",
    "evaluate_formula",
    "frontdoor_sets",
    "identify",
    "is_valid_adjustment",
    "is_valid_backdoor",
    "is_valid_frontdoor",
    "minimal_backdoor_set",
    *_lazy_names,
]
