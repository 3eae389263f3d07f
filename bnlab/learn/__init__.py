"""Structure learning: score-based search, PC-stable, expert knowledge, edge confidence.

``learn_structure(df, score="bic", method="hc")`` is the entry point; see
:mod:`bnlab.learn.core`. Data too large for memory are searched through a counts source
(:mod:`bnlab.counts.sources`: Parquet streamed in batches, or on Dask). Search options and
expert knowledge can be read from a YAML file (``conf/structure/*.yaml``) with
:func:`load_structure_config`.
"""

from bnlab.counts.dask import DaskCounts
from bnlab.counts.sources import ArrayCounts, CountsSource, ParquetCounts, counts_source
from bnlab.data import infer_structure
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
    learn_structure,
    local_scores,
    structure_score,
)
from bnlab.learn.metrics import compare, edge_scores, score_difference, shd
from bnlab.learn.scores import SCORES, FamilyScorer, ScoreError
from bnlab.learn.source_scorer import SourceScorer

__all__ = [
    "SCORES",
    "ArrayCounts",
    "BootstrapResult",
    "ConstraintError",
    "Constraints",
    "CountsSource",
    "DaskCounts",
    "FamilyScorer",
    "LearnResult",
    "ParquetCounts",
    "RequiredCycleError",
    "ScoreError",
    "SourceScorer",
    "averaged_network",
    "bootstrap_strength",
    "compare",
    "counts_source",
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
