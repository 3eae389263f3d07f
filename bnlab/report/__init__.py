"""Self-contained HTML reports of experiments: verdict, graph, posterior CPTs, diagnostics.

``build_report(...)`` renders in-memory results; ``write_report(experiment_dir, out_dir)``
reads an experiment folder (file names in :mod:`bnlab.report.paths`) and writes
``index.html``. Figures need matplotlib (the ``pipeline`` extra).
"""

from __future__ import annotations

from bnlab.report.build import build_report, load_experiment, write_report
from bnlab.report.paths import FILES, REPORT_NAME, ExperimentFiles, ExperimentPaths
from bnlab.report.queries import example_queries, markov_blanket
from bnlab.report.sections import SECTION_IDS

__all__ = [
    "FILES",
    "REPORT_NAME",
    "SECTION_IDS",
    "ExperimentFiles",
    "ExperimentPaths",
    "build_report",
    "example_queries",
    "load_experiment",
    "markov_blanket",
    "write_report",
]
