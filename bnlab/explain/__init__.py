"""Why the model answered as it did, and which numbers the answer hangs on.

- :func:`evidence_contributions`: exact (or sampled) Shapley values and leave-one-out
  changes of ``P(target = state | evidence)``, with credible intervals over a posterior;
- :func:`parameter_sensitivity`: the derivative of a query with respect to every CPT entry
  (proportional co-variation), ranked; :func:`sensitivity_function`: the exact one-way
  sensitivity function of one entry and where the most likely target state would change;
- :func:`most_probable_explanation`: the MPE with its probability and the runner-up.
"""

from bnlab.explain.contributions import MAX_EXACT, evidence_contributions, top_contributions
from bnlab.explain.mpe import Explanation, most_probable_explanation
from bnlab.explain.sensitivity import (
    SensitivityFunction,
    covary,
    parameter_sensitivity,
    sensitivity_function,
)

__all__ = [
    "MAX_EXACT",
    "Explanation",
    "SensitivityFunction",
    "covary",
    "evidence_contributions",
    "most_probable_explanation",
    "parameter_sensitivity",
    "sensitivity_function",
    "top_contributions",
]
