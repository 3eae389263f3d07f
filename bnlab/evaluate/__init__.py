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

# public name -> defining module, imported on first access (JAX and SciPy stay
# unloaded in processes that only need part of the package)
_LAZY: dict[str, str] = {
    "edge_audit": "bnlab.evaluate.audit",
    "independence_audit": "bnlab.evaluate.audit",
    "rejected_share": "bnlab.evaluate.audit",
    "auc": "bnlab.evaluate.calibration_metrics",
    "brier": "bnlab.evaluate.calibration_metrics",
    "ece": "bnlab.evaluate.calibration_metrics",
    "log_loss": "bnlab.evaluate.calibration_metrics",
    "mce": "bnlab.evaluate.calibration_metrics",
    "reliability_curve": "bnlab.evaluate.calibration_metrics",
    "CITestResult": "bnlab.evaluate.citests",
    "benjamini_hochberg": "bnlab.evaluate.citests",
    "ci_test": "bnlab.evaluate.citests",
    "Queries": "bnlab.evaluate.coverage",
    "coverage": "bnlab.evaluate.coverage",
    "coverage_study": "bnlab.evaluate.coverage",
    "random_queries": "bnlab.evaluate.coverage",
    "Independence": "bnlab.evaluate.dsep",
    "implied_independencies": "bnlab.evaluate.dsep",
    "is_d_separated": "bnlab.evaluate.dsep",
    "minimal_separator": "bnlab.evaluate.dsep",
    "calibration": "bnlab.evaluate.heldout",
    "predict_target": "bnlab.evaluate.heldout",
    "PPCResult": "bnlab.evaluate.ppc",
    "predictive_checks": "bnlab.evaluate.ppc",
    "structure_quality": "bnlab.evaluate.structure_quality",
    "DEFAULT_THRESHOLDS": "bnlab.evaluate.vetting",
    "Check": "bnlab.evaluate.vetting",
    "Verdict": "bnlab.evaluate.vetting",
    "load_thresholds": "bnlab.evaluate.vetting",
    "mcmc_diagnostics": "bnlab.evaluate.vetting",
    "vet": "bnlab.evaluate.vetting",
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

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "CITestResult",
    "Check",
    "Independence",
    "PPCResult",
    "Queries",
    "Verdict",
    "auc",
    "benjamini_hochberg",
    "brier",
    "calibration",
    "ci_test",
    "coverage",
    "coverage_study",
    "ece",
    "edge_audit",
    "implied_independencies",
    "independence_audit",
    "is_d_separated",
    "load_thresholds",
    "log_loss",
    "mce",
    "mcmc_diagnostics",
    "minimal_separator",
    "predict_target",
    "predictive_checks",
    "random_queries",
    "rejected_share",
    "reliability_curve",
    "structure_quality",
    "vet",
]
