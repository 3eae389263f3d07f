"""Exact inference: compile a contraction plan once, run it batched under ``jax.jit``.

Array layer (pure, traceable, differentiable, vmap-able over a leading CPT-draw axis)::

    plan = compile_plan(structure)                 # frozen Plan; plan.cost()
    liks = evidence_likelihoods(structure, evidence, soft=None)   # {var: (batch, card)}
    log_evidence(plan, cpts, liks) -> (batch,)     # log P(observed part of each row)
    all_marginals(plan, cpts, liks) -> (log_pe (batch,), [ (batch, card) per variable ])
    mpe(plan, cpts, liks) -> (codes (batch, n) int32, log P(x*, e) (batch,))

``cpts`` is a sequence of arrays in ``plan.variables`` order, or a mapping
``{variable: array}``, each shaped ``(*parent cards, card)`` (the :class:`bnlab.BayesNet`
convention). They may be traced JAX values: ``jax.grad(lambda c: log_evidence(plan, c,
liks).sum())(cpts)`` gives d log P(e) / d CPT entry (for NUTS and for sensitivity
analysis). ``liks`` is a sequence in plan order or a mapping (absent variables are
unobserved) of likelihood vectors ``(batch, card)``: one-hot for hard evidence, ones for
a missing value, any non-negative vector for soft evidence. For several CPT draws use
``jax.vmap(lambda c: log_evidence(plan, c, liks))(cpts_with_draw_axis)``.

Labelled layer: :class:`Engine` (``marginals``, ``log_prob``, ``query`` with credible
intervals, ``mpe``), built on a :class:`bnlab.BayesNet` or a :class:`bnlab.Posterior`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlab.lazy import lazy_exports

# defining module -> its public names, imported on first access (JAX and SciPy stay
# unloaded in processes that only need part of the package)
_LAZY: dict[str, tuple[str, ...]] = {
    "bnlab.infer.engine": ("Engine", "Marginals"),
    "bnlab.infer.evidence": ("encode_evidence", "evidence_likelihoods"),
    "bnlab.infer.plan": ("Plan", "compile_plan"),
    "bnlab.infer.run": ("all_marginals", "log_evidence", "mpe"),
}

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.infer.engine import Engine as Engine
    from bnlab.infer.engine import Marginals as Marginals
    from bnlab.infer.evidence import encode_evidence as encode_evidence
    from bnlab.infer.evidence import evidence_likelihoods as evidence_likelihoods
    from bnlab.infer.plan import Plan as Plan
    from bnlab.infer.plan import compile_plan as compile_plan
    from bnlab.infer.run import all_marginals as all_marginals
    from bnlab.infer.run import log_evidence as log_evidence
    from bnlab.infer.run import mpe as mpe

__getattr__, __dir__, __all__ = lazy_exports(globals(), _LAZY)
