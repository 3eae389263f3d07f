"""Assemble the report from in-memory results, or from an experiment folder's files.

:func:`build_report` renders in-memory results; :func:`write_report` reads an experiment folder
(the files named in :mod:`bnlab.report.paths`) and writes the page atomically.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Collection, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from bnlab.errors import ArtifactError, DataError
from bnlab.io.files import atomic_path
from bnlab.network import BayesNet, Structure
from bnlab.report import html as h
from bnlab.report import sections
from bnlab.report.causal import with_effects
from bnlab.report.explanations import QueryExplanation, explanations_from_json
from bnlab.report.monitoring import monitor_section
from bnlab.report.paths import FILES, REPORT_NAME, ExperimentFiles, ExperimentPaths

VERSIONED = (
    "bnlab",
    "numpy",
    "pandas",
    "scipy",
    "xarray",
    "jax",
    "arviz",
    "numpyro",
    "pymc",
    "matplotlib",
    "mlflow",
    "dvc",
    "hydra-core",
)


def library_versions(packages: Collection[str] = VERSIONED) -> dict[str, str]:
    """Installed versions of ``packages`` (those not installed are left out)."""
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def build_report(
    *,
    title: str = "bnlab report",
    structure: Structure | BayesNet | None = None,
    posterior: Any | None = None,
    verdict: Any | None = None,
    audit: pd.DataFrame | None = None,
    edge_strength: pd.DataFrame | None = None,
    required_edges: Collection[tuple[str, str]] = (),
    calibration: Mapping[str, Any] | None = None,
    calibration_curve: pd.DataFrame | None = None,
    coverage: pd.DataFrame | Mapping[str, Any] | None = None,
    ppc: Any | None = None,
    queries: pd.DataFrame | None = None,
    causal_effects: pd.DataFrame | None = None,
    explanations: Sequence[QueryExplanation] | None = None,
    monitor: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    truth: BayesNet | None = None,
    interval: float = 0.9,
    max_forest_variables: int = 8,
) -> str:
    """Return the self-contained HTML report of one experiment.

    Every input but ``structure`` or ``posterior`` is optional; a section whose input is
    missing says that step did not run.

    Parameters
    ----------
    title
        Page title (the experiment name).
    structure
        The graph; taken from ``posterior.structure`` when omitted.
    posterior
        A :class:`bnlab.Posterior`: CPT forest plots and tables; MCMC diagnostics when it
        holds draws (``kind == "draws"``).
    verdict
        A :class:`bnlab.evaluate.Verdict`, its ``to_json()`` text or that JSON as a dict.
    audit
        :func:`bnlab.evaluate.independence_audit` output.
    edge_strength
        Bootstrap table ``from, to, strength, direction``.
    required_edges
        ``(parent, child)`` pairs an expert required; drawn in red.
    calibration
        :func:`bnlab.evaluate.calibration` output: one target's result or ``{target: result}``
        (metrics ``ece, mce, brier, log_loss, auc``, ``intervals``, ``curve``).
    calibration_curve
        Reliability curves of all targets (``target, confidence, frequency`` and the band).
    coverage
        :func:`bnlab.evaluate.coverage` output or its ``table`` (``level, coverage, se``).
    ppc
        :func:`bnlab.evaluate.predictive_checks` output or its ``table``.
    queries
        Example queries with intervals (:func:`bnlab.report.example_queries` output).
    causal_effects
        Declared causal effects (:func:`bnlab.causal.questions.effects_table`), shown with
        the example queries.
    explanations
        Explained example queries (:func:`bnlab.report.explanations.explain_examples`).
    monitor
        The last drift verdict of ``bnlab monitor`` (``DriftReport.to_json()`` parsed).
    provenance
        ``config``, ``git_commit``, ``data_hash``, ``versions`` (versions are added if absent).
    truth
        The generating network in simulation studies (true values marked in forest plots).
    interval
        Credible mass of the intervals shown.
    max_forest_variables
        How many variables get a forest plot (the most uncertain ones).

    Returns
    -------
    str
        The HTML document.
    """
    if not 0.0 < interval < 1.0:
        raise DataError(f"interval must lie strictly between 0 and 1, got {interval!r}.")
    if structure is None and posterior is not None:
        structure = posterior.structure
    summary = None if posterior is None else posterior.summary(interval=interval, kind="hdi")
    tree = None
    if posterior is not None and getattr(posterior, "kind", None) == "draws":
        tree = posterior.to_arviz()
    prov = dict(provenance or {})
    prov.setdefault("versions", library_versions())
    from bnlab.report.schema_section import schema_section

    parts = [
        sections.verdict_section(verdict),
        sections.graph_section(structure, edge_strength, required_edges),
        *([sec] if (sec := schema_section(posterior)) is not None else []),
        sections.cpt_section(
            summary, structure, interval, max_variables=max_forest_variables, truth=truth
        ),
        sections.mcmc_section(tree),
        sections.audit_section(audit),
        sections.calibration_section(calibration, calibration_curve, interval),
        sections.coverage_section(coverage),
        sections.ppc_section(ppc, interval),
        with_effects(sections.queries_section(queries), causal_effects),
        sections.explanations_section(explanations, interval),
        monitor_section(monitor),
        sections.provenance_section(prov),
    ]
    subtitle = "Self-contained report: the vetting verdict, the graph, the posterior CPTs and "
    subtitle += "the evidence behind the verdict."
    return h.page(title, subtitle, parts)


# -- experiment folders ----------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ArtifactError(
            f"cannot read {path} as JSON ({err}); rerun the stage that "
            "writes it, or delete it to leave its section out."
        ) from None


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise ArtifactError(
            f"cannot read {path} as CSV ({err}); rerun the stage that "
            "writes it, or delete it to leave its section out."
        ) from None


def _calibration_from_metrics(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``calibration.<target>.<metric>`` keys of a flat metrics file, regrouped per target."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in metrics.items():
        parts = key.split(".")
        if len(parts) >= 3 and parts[0] == "calibration":
            target, name = ".".join(parts[1:-1]), parts[-1]
            out.setdefault(target, {})[name] = value
    for values in out.values():  # fold <metric>_lower/_upper into {"mean", "lower", "upper"}
        for name in [k for k in values if f"{k}_lower" in values and f"{k}_upper" in values]:
            values[name] = {
                "mean": values[name],
                "lower": values[f"{name}_lower"],
                "upper": values[f"{name}_upper"],
            }
    return out


def _given(value: Any) -> Any:
    """Show the audit's ``given`` column, after a CSV round trip, as a comma list.

    Accepts a written tuple (``"('a', 'b')"``, pandas' default) or ``"a|b"``.
    """
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "([":
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                parsed = None
            if isinstance(parsed, tuple | list):
                return ", ".join(str(x) for x in parsed)
        return ", ".join(x for x in text.split("|") if x)
    return "" if pd.isna(value) else value


def load_experiment(
    experiment_dir: str | os.PathLike[str], files: ExperimentFiles = FILES
) -> dict[str, Any]:
    """Read the pieces of an experiment folder that exist, as :func:`build_report` keywords.

    Raises
    ------
    ArtifactError
        If neither a posterior nor a network file is there, or a file is unreadable.
    """
    root = Path(experiment_dir)
    p: ExperimentPaths = files.under(root)
    if not root.is_dir():
        raise ArtifactError(f"{root} is not a folder; give the experiment's output folder.")
    kw: dict[str, Any] = {"title": f"bnlab report: {root.resolve().name}"}
    if p.posterior.exists():
        from bnlab.posterior import load_posterior

        kw["posterior"] = load_posterior(p.posterior)
    if p.structure.exists():
        from bnlab.io import read_structure

        kw["structure"] = read_structure(p.structure)
    elif p.network.exists():
        from bnlab.io import read_network

        kw["structure"] = read_network(p.network).structure
    if "posterior" not in kw and "structure" not in kw:
        raise ArtifactError(
            f"{root} has none of {files.posterior}, {files.structure}, {files.network}; run "
            "the learn/fit stages first (the report needs at least the graph)."
        )
    if p.verdict.exists():
        kw["verdict"] = _read_json(p.verdict)
    if p.audit.exists():
        audit = _read_csv(p.audit)
        if "given" in audit:
            audit["given"] = audit["given"].map(_given)
        kw["audit"] = audit
    if p.edge_strength.exists():
        kw["edge_strength"] = _read_csv(p.edge_strength)
    if p.required_edges.exists():
        kw["required_edges"] = [tuple(e) for e in _read_json(p.required_edges)]
    if p.calibration.exists():
        kw["calibration"] = _read_json(p.calibration)
    elif p.metrics.exists():
        kw["calibration"] = _calibration_from_metrics(_read_json(p.metrics)) or None
    if p.calibration_curve.exists():
        kw["calibration_curve"] = _read_csv(p.calibration_curve)
    if p.coverage_curve.exists():
        kw["coverage"] = _read_csv(p.coverage_curve)
    if p.ppc.exists():
        kw["ppc"] = _read_csv(p.ppc)
    if p.queries.exists():
        kw["queries"] = _read_csv(p.queries)
    if p.explanations.exists():
        kw["explanations"] = explanations_from_json(_read_json(p.explanations))
    if p.monitor.exists():
        kw["monitor"] = _read_json(p.monitor)
    provenance = dict(_read_json(p.provenance)) if p.provenance.exists() else {}
    if "config" not in provenance and p.config.exists():
        import yaml

        try:
            provenance["config"] = yaml.safe_load(p.config.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise ArtifactError(f"cannot read {p.config} as YAML ({err}).") from None
    if provenance:
        kw["provenance"] = provenance
    if p.metrics.exists():
        from bnlab.causal.questions import effects_table

        questions = ((provenance.get("config") or {}).get("causal") or {}).get("questions") or []
        effects = effects_table(_read_json(p.metrics), questions)
        if len(effects):
            kw["causal_effects"] = effects
    return kw


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (a temp file beside it, then a rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_report(
    experiment_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    files: ExperimentFiles = FILES,
    interval: float = 0.9,
) -> Path:
    """Build the report of an experiment folder and write ``<out_dir>/index.html`` atomically.

    Parameters
    ----------
    experiment_dir
        Folder with the files named by :class:`~bnlab.report.paths.ExperimentFiles`.
    out_dir
        Output folder; defaults to ``experiment_dir``.
    files
        The file names to read (the defaults are the pipeline's).
    interval
        Credible mass of the intervals shown.

    Returns
    -------
    pathlib.Path
        The path of the written page.
    """
    kw = load_experiment(experiment_dir, files)
    page = build_report(interval=interval, **kw)
    return atomic_write_text(Path(out_dir or experiment_dir) / REPORT_NAME, page)
