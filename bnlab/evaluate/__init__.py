"""Evaluation: independence audit, calibration, coverage, predictive checks, vetting gate.

Modules: :mod:`~bnlab.evaluate.dsep` (d-separation, implied independencies),
:mod:`~bnlab.evaluate.citests` (stratified G² / chi-square, BH), :mod:`~bnlab.evaluate.audit`
(the audit tables), :mod:`~bnlab.evaluate.calibration_metrics` (ECE, MCE, Brier, log loss,
AUC over arrays), :mod:`~bnlab.evaluate.heldout` (calibration of a model through the engine),
:mod:`~bnlab.evaluate.coverage`, :mod:`~bnlab.evaluate.ppc`, :mod:`~bnlab.evaluate.vetting`.
"""

from __future__ import annotations

from bnlab.evaluate.audit import edge_audit, independence_audit, rejected_share
from bnlab.evaluate.calibration_metrics import (
    auc,
    brier,
    ece,
    log_loss,
    mce,
    reliability_curve,
)
from bnlab.evaluate.citests import CITestResult, benjamini_hochberg, ci_test
from bnlab.evaluate.coverage import Queries, coverage, coverage_study, random_queries
from bnlab.evaluate.dsep import (
    Independence,
    implied_independencies,
    is_d_separated,
    minimal_separator,
)
from bnlab.evaluate.heldout import calibration, predict_target
from bnlab.evaluate.ppc import PPCResult, predictive_checks
from bnlab.evaluate.structure_quality import structure_quality
from bnlab.evaluate.vetting import (
    DEFAULT_THRESHOLDS,
    Check,
    Verdict,
    load_thresholds,
    mcmc_diagnostics,
    vet,
)

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
