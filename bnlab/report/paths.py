"""The file names of an experiment folder that the report reads: defined here, once.

The pipeline stages and ``bnlab-experiment`` write these files; :func:`bnlab.report.write_report`
reads whichever exist (a missing file means that step did not run, and its section says so).
``dvc.yaml`` declares ``calibration_curve`` and ``coverage_curve`` as plots, so
``dvc plots diff`` compares experiments.

Formats
-------
structure      the graph, native JSON (``bnlab.io.write_structure``)
network        the posterior-mean network, native JSON (used for the graph when ``structure``
               is absent)
posterior      NetCDF posterior (``Posterior.save``)
verdict        ``Verdict.to_json()``: ``{"passed": bool, "checks": [{name, value, threshold,
               passed}, ...]}``
audit          CSV of ``evaluate.independence_audit`` (``given`` as ``a|b|c``)
edge_strength  CSV of the bootstrap: ``from, to, strength, direction``
required_edges JSON list of ``[parent, child]`` pairs an expert required
calibration    JSON ``{target: {ece: {mean, lower, upper} | number, mce, brier, log_loss, auc}}``
calibration_curve  CSV, one row per target and bin: ``target, bin, count, confidence,
               frequency`` (+ ``frequency_lower, frequency_upper`` with a posterior); a
               ``dvc plots`` file (x = confidence, y = frequency)
coverage_curve CSV of ``evaluate.coverage(...)["table"]``: ``level, coverage, n_queries, se``;
               a ``dvc plots`` file (x = level, y = coverage)
ppc            CSV of ``evaluate.predictive_checks(...).table``: ``kind, variable, other, state,
               observed, rep_mean, rep_lower, rep_upper, p_upper, p_two_sided``
queries        CSV of example queries: ``target, evidence, state, mean, lower, upper``
explanations   JSON ``{"explanations": [...]}`` of explained example queries
               (:func:`bnlab.report.explanations.explanations_to_json`)
monitor        JSON drift verdict of ``bnlab monitor ... --out`` (``DriftReport.to_json()``)
provenance     JSON: ``{"config": {...}, "git_commit": str, "data_hash": str, "versions": {...}}``
config         the run's configuration as YAML (shown when ``provenance`` has no ``config``)
metrics        flat JSON metrics of the evaluate stage; ``calibration.<target>.<metric>`` keys
               are used when ``calibration`` is absent
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class ExperimentFiles:
    """File names (relative to an experiment folder) of the pieces a report is built from.

    Examples
    --------
    >>> ExperimentFiles().under("experiments/alarm").verdict.as_posix()
    'experiments/alarm/verdict.json'
    """

    structure: str = "structure.json"
    network: str = "network.json"
    posterior: str = "posterior.nc"
    verdict: str = "verdict.json"
    audit: str = "audit.csv"
    edge_strength: str = "edge_strength.csv"
    required_edges: str = "required_edges.json"
    calibration: str = "calibration.json"
    calibration_curve: str = "calibration.csv"
    coverage_curve: str = "coverage.csv"
    ppc: str = "ppc.csv"
    queries: str = "queries.csv"
    explanations: str = "explanations.json"
    monitor: str = "monitor.json"
    provenance: str = "provenance.json"
    metrics: str = "metrics.json"
    config: str = "config.yaml"

    def under(self, root: str | os.PathLike[str]) -> ExperimentPaths:
        """Return the full paths of these files inside the folder ``root``."""
        base = Path(root)
        return ExperimentPaths(**{f.name: base / getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class ExperimentPaths:
    """Full paths of an experiment folder's files (see :class:`ExperimentFiles`)."""

    structure: Path
    network: Path
    posterior: Path
    verdict: Path
    audit: Path
    edge_strength: Path
    required_edges: Path
    calibration: Path
    calibration_curve: Path
    coverage_curve: Path
    ppc: Path
    queries: Path
    explanations: Path
    monitor: Path
    provenance: Path
    metrics: Path
    config: Path


#: The default names, importable by the pipeline: ``from bnlab.report.paths import FILES``.
FILES = ExperimentFiles()

#: The report's own file name inside its output folder.
REPORT_NAME = "index.html"
