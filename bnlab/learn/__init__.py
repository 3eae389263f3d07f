"""Structure learning: score-based search, PC-stable, expert knowledge, edge confidence.

``learn_structure(df, score="bic", method="hc")`` is the entry point; see
:mod:`bnlab.learn.core`. Search options and expert knowledge can be read from a YAML file
(``conf/structure/*.yaml``) with :func:`load_structure_config`.
"""

from bnlab.learn.bootstrap import BootstrapResult, averaged_network, bootstrap_strength
from bnlab.learn.constraints import (
    ConstraintError,
    Constraints,
    RequiredCycleError,
    load_structure_config,
    structure_config_from_dict,
)
from bnlab.learn.core import (
    LearnResult,
    infer_structure,
    learn_structure,
    local_scores,
    structure_score,
)
from bnlab.learn.metrics import compare, edge_scores, score_difference, shd
from bnlab.learn.scores import SCORES, FamilyScorer, ScoreError

__all__ = [
    "SCORES",
    "BootstrapResult",
    "ConstraintError",
    "Constraints",
    "FamilyScorer",
    "LearnResult",
    "RequiredCycleError",
    "ScoreError",
    "averaged_network",
    "bootstrap_strength",
    "compare",
    "edge_scores",
    "infer_structure",
    "learn_structure",
    "load_structure_config",
    "local_scores",
    "score_difference",
    "shd",
    "structure_config_from_dict",
    "structure_score",
]
