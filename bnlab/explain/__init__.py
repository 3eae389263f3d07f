"""Why the model answered as it did, and which numbers the answer hangs on.

- :func:`evidence_contributions`: exact (or sampled) Shapley values and leave-one-out
  changes of ``P(target = state | evidence)``, with credible intervals over a posterior;
- :func:`parameter_sensitivity`: the derivative of a query with respect to every CPT entry
  (proportional co-variation), ranked; :func:`sensitivity_function`: the exact one-way
  sensitivity function of one entry and where the most likely target state would change;
- :func:`most_probable_explanation`: the MPE with its probability and the runner-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlab.lazy import lazy_exports

# defining module -> its public names, imported on first access (JAX and SciPy stay
# unloaded in processes that only need part of the package)
_LAZY: dict[str, tuple[str, ...]] = {
    "bnlab.explain.contributions": ("MAX_EXACT", "evidence_contributions", "top_contributions"),
    "bnlab.explain.mpe": ("Explanation", "most_probable_explanation"),
    "bnlab.explain.sensitivity": (
        "SensitivityFunction",
        "covary",
        "parameter_sensitivity",
        "sensitivity_function",
    ),
}

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.explain.contributions import MAX_EXACT as MAX_EXACT
    from bnlab.explain.contributions import evidence_contributions as evidence_contributions
    from bnlab.explain.contributions import top_contributions as top_contributions
    from bnlab.explain.mpe import Explanation as Explanation
    from bnlab.explain.mpe import most_probable_explanation as most_probable_explanation
    from bnlab.explain.sensitivity import SensitivityFunction as SensitivityFunction
    from bnlab.explain.sensitivity import covary as covary
    from bnlab.explain.sensitivity import parameter_sensitivity as parameter_sensitivity
    from bnlab.explain.sensitivity import sensitivity_function as sensitivity_function

__getattr__, __dir__, __all__ = lazy_exports(globals(), _LAZY)
