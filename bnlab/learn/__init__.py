"""Structure learning: score-based search, PC-stable, expert knowledge, edge confidence.

``learn_structure(df, score="bic", method="hc")`` is the entry point; see
:mod:`bnlab.learn.core`. Data too large for memory are searched through a counts source
(:mod:`bnlab.counts.sources`: Parquet streamed in batches, or on Dask). Search options and
expert knowledge can be read from a YAML file (``conf/structure/*.yaml``) with
:func:`load_structure_config`. Names load on first use, so learning from codes or a CSV
file imports neither pandas nor pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlab.lazy import lazy_exports

_LAZY: dict[str, tuple[str, ...]] = {
    "bnlab.counts.dask": ("DaskCounts",),
    "bnlab.counts.sources": ("ArrayCounts", "CountsSource", "ParquetCounts", "counts_source"),
    "bnlab.data": ("infer_structure",),
    "bnlab.learn.bootstrap": ("BootstrapResult", "averaged_network", "bootstrap_strength"),
    "bnlab.learn.constraints": (
        "ConstraintError",
        "Constraints",
        "RequiredCycleError",
        "load_structure_config",
        "structure_config_from_dict",
    ),
    "bnlab.learn.core": ("LearnResult", "learn_structure", "local_scores", "structure_score"),
    "bnlab.learn.metrics": ("compare", "edge_scores", "score_difference", "shd"),
    "bnlab.learn.scores": ("SCORES", "FamilyScorer", "ScoreError"),
    "bnlab.learn.source_scorer": ("SourceScorer",),
}

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.counts.dask import DaskCounts as DaskCounts
    from bnlab.counts.sources import ArrayCounts as ArrayCounts
    from bnlab.counts.sources import CountsSource as CountsSource
    from bnlab.counts.sources import ParquetCounts as ParquetCounts
    from bnlab.counts.sources import counts_source as counts_source
    from bnlab.data import infer_structure as infer_structure
    from bnlab.learn.bootstrap import BootstrapResult as BootstrapResult
    from bnlab.learn.bootstrap import averaged_network as averaged_network
    from bnlab.learn.bootstrap import bootstrap_strength as bootstrap_strength
    from bnlab.learn.constraints import ConstraintError as ConstraintError
    from bnlab.learn.constraints import Constraints as Constraints
    from bnlab.learn.constraints import RequiredCycleError as RequiredCycleError
    from bnlab.learn.constraints import load_structure_config as load_structure_config
    from bnlab.learn.constraints import structure_config_from_dict as structure_config_from_dict
    from bnlab.learn.core import LearnResult as LearnResult
    from bnlab.learn.core import learn_structure as learn_structure
    from bnlab.learn.core import local_scores as local_scores
    from bnlab.learn.core import structure_score as structure_score
    from bnlab.learn.metrics import compare as compare
    from bnlab.learn.metrics import edge_scores as edge_scores
    from bnlab.learn.metrics import score_difference as score_difference
    from bnlab.learn.metrics import shd as shd
    from bnlab.learn.scores import SCORES as SCORES
    from bnlab.learn.scores import FamilyScorer as FamilyScorer
    from bnlab.learn.scores import ScoreError as ScoreError
    from bnlab.learn.source_scorer import SourceScorer as SourceScorer

__getattr__, __dir__, __all__ = lazy_exports(globals(), _LAZY)
