"""Batch scoring: partitioned data in, scored Parquet partitions out, locally or on Dask.

``bnlab.score(model, data, targets, out=...)`` answers ``P(T = state | row)`` with credible
intervals for every row of a DataFrame, a Parquet folder or glob, or a Dask DataFrame, and
writes one scored Parquet file per input partition. Modules, one idea each:

- :mod:`~bnlab.ops.scoring.model`: resolve a model to its plain files; one scorer per process;
- :mod:`~bnlab.ops.scoring.codes`: Arrow columns to state codes, errors naming file and row;
- :mod:`~bnlab.ops.scoring.kernel`: the answers for a block of codes (closed form or engine);
- :mod:`~bnlab.ops.scoring.partition`: a partition streamed batch by batch;
- :mod:`~bnlab.ops.scoring.writer`: temp name then rename, the run manifest, resume;
- :mod:`~bnlab.ops.scoring.progress`: the progress line; :mod:`~bnlab.cli.score`: ``bnlab score``.
"""

from __future__ import annotations

from bnlab.ops.scoring.api import ScoreResult, score
from bnlab.ops.scoring.writer import ScoreOutputError

__all__ = ["ScoreOutputError", "ScoreResult", "score"]
