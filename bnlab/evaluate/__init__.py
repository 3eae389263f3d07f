"""Evaluation: independence audit, calibration, coverage, predictive checks, vetting gate.

Modules: :mod:`~bnlab.evaluate.dsep` (d-separation, implied independencies),
:mod:`~bnlab.evaluate.citests` (stratified G² / chi-square, BH), :mod:`~bnlab.evaluate.audit`
(the audit tables), :mod:`~bnlab.evaluate.calibration_metrics` (ECE, MCE, Brier, log loss,
AUC over arrays), :mod:`~bnlab.evaluate.heldout` (calibration of a model through the engine),
:mod:`~bnlab.evaluate.coverage`, :mod:`~bnlab.evaluate.ppc`, :mod:`~bnlab.evaluate.vetting`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlab.lazy import lazy_exports

# defining module -> its public names, imported on first access (JAX and SciPy stay
# unloaded in processes that only need part of the package)
_LAZY: dict[str, tuple[str, ...]] = {
    "bnlab.evaluate.audit": ("edge_audit", "independence_audit", "rejected_share"),
    "bnlab.evaluate.calibration_metrics": (
        "auc",
        "brier",
        "ece",
        "log_loss",
        "mce",
        "reliability_curve",
    ),
    "bnlab.evaluate.citests": ("CITestResult", "benjamini_hochberg", "ci_test"),
    "bnlab.evaluate.coverage": ("Queries", "coverage", "coverage_study", "random_queries"),
    "bnlab.evaluate.dsep": (
        "Independence",
        "implied_independencies",
        "is_d_separated",
        "minimal_separator",
    ),
    "bnlab.evaluate.heldout": ("calibration", "predict_target"),
    "bnlab.evaluate.ppc": ("PPCResult", "predictive_checks"),
    "bnlab.evaluate.structure_quality": ("structure_quality",),
    "bnlab.evaluate.vetting": (
        "DEFAULT_THRESHOLDS",
        "Check",
        "Verdict",
        "load_thresholds",
        "mcmc_diagnostics",
        "vet",
    ),
}

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.evaluate.audit import edge_audit as edge_audit
    from bnlab.evaluate.audit import independence_audit as independence_audit
    from bnlab.evaluate.audit import rejected_share as rejected_share
    from bnlab.evaluate.calibration_metrics import auc as auc
    from bnlab.evaluate.calibration_metrics import brier as brier
    from bnlab.evaluate.calibration_metrics import ece as ece
    from bnlab.evaluate.calibration_metrics import log_loss as log_loss
    from bnlab.evaluate.calibration_metrics import mce as mce
    from bnlab.evaluate.calibration_metrics import reliability_curve as reliability_curve
    from bnlab.evaluate.citests import CITestResult as CITestResult
    from bnlab.evaluate.citests import benjamini_hochberg as benjamini_hochberg
    from bnlab.evaluate.citests import ci_test as ci_test
    from bnlab.evaluate.coverage import Queries as Queries
    from bnlab.evaluate.coverage import coverage as coverage
    from bnlab.evaluate.coverage import coverage_study as coverage_study
    from bnlab.evaluate.coverage import random_queries as random_queries
    from bnlab.evaluate.dsep import Independence as Independence
    from bnlab.evaluate.dsep import implied_independencies as implied_independencies
    from bnlab.evaluate.dsep import is_d_separated as is_d_separated
    from bnlab.evaluate.dsep import minimal_separator as minimal_separator
    from bnlab.evaluate.heldout import calibration as calibration
    from bnlab.evaluate.heldout import predict_target as predict_target
    from bnlab.evaluate.ppc import PPCResult as PPCResult
    from bnlab.evaluate.ppc import predictive_checks as predictive_checks
    from bnlab.evaluate.structure_quality import structure_quality as structure_quality
    from bnlab.evaluate.vetting import DEFAULT_THRESHOLDS as DEFAULT_THRESHOLDS
    from bnlab.evaluate.vetting import Check as Check
    from bnlab.evaluate.vetting import Verdict as Verdict
    from bnlab.evaluate.vetting import load_thresholds as load_thresholds
    from bnlab.evaluate.vetting import mcmc_diagnostics as mcmc_diagnostics
    from bnlab.evaluate.vetting import vet as vet

__getattr__, __dir__, __all__ = lazy_exports(globals(), _LAZY)
