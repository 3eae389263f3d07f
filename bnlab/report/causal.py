"""The report's causal effects: the experiment's declared questions with their intervals.

Shown inside the "Example queries" section (its anchor list stays as it is), from the
``causal.<name>.mean/lower/upper`` metrics the evaluate step writes.
"""

from __future__ import annotations

import pandas as pd

from bnlab.report import html as h


def with_effects(section: h.Section, effects: pd.DataFrame | None) -> h.Section:
    """``section`` with a "Causal effects" table appended when there are effects."""
    if effects is None or effects.empty:
        return section
    body = "<h3>Causal effects (conf/causal/)</h3>"
    body += h.paragraph(
        "Each declared question answered by bnlab.causal.effect over the posterior CPT draws: "
        "ate = P1 - P0, rr = P1 / P0, or = odds ratio, with the credible interval. The "
        "effect is identified from the graph (graph surgery, or the ID formula when latent "
        "confounders are declared)."
    )
    return h.Section(section.id, section.title, section.body + body + h.table(effects))
