"""Stage ``evaluate``: audit, calibration, coverage and the vetting verdict on held-out rows.

Besides the verdict's evidence it computes what the report shows: posterior predictive
checks, example queries with their intervals, and explanations of some of them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.network import BayesNet, Structure
from bnlab.ops.config import ExperimentConfig, load_params
from bnlab.posterior import Posterior
from bnlab.stages import common

PathLike = str | os.PathLike[str]

if TYPE_CHECKING:  # importing it imports JAX, which must wait for common.use_compile_cache
    from bnlab.report.explanations import QueryExplanation

#: Columns of the coverage table (``bnlab.evaluate.coverage(...)["table"]``); written empty
#: when there is no simulation study, so the pipeline's output always exists.
COVERAGE_COLUMNS = ("level", "coverage", "n_queries", "se")


class Evaluation(NamedTuple):
    """What the stage computes: flat metrics, the verdict, and the tables behind them.

    ``coverage`` is empty unless the data were simulated from a known network and fitted on
    its graph; ``explanations`` explain the first example queries of each target.
    """

    metrics: dict[str, float]
    verdict: Any
    calibration_curve: pd.DataFrame
    audit: pd.DataFrame
    coverage: pd.DataFrame
    ppc: pd.DataFrame
    queries: pd.DataFrame
    explanations: list[QueryExplanation]


def heldout_loglik(net: BayesNet, data: pd.DataFrame) -> tuple[float, int]:
    """Mean log-likelihood per complete held-out row under ``net``, and the number of rows."""
    from bnlab.data import encode

    codes = encode(data[list(net.variables)], net)
    complete = np.all(codes >= 0, axis=1)
    c = codes[complete].astype(np.int64)
    if c.shape[0] == 0:
        return float("nan"), 0
    pos = {v: i for i, v in enumerate(net.variables)}
    total: NDArray[np.float64] = np.zeros(c.shape[0])
    with np.errstate(divide="ignore"):
        for v in net.variables:
            index = tuple(c[:, pos[p]] for p in net.parents[v]) + (c[:, pos[v]],)
            total += np.log(net.cpt(v)[index])
    return float(total.mean()), int(c.shape[0])


def _point(value: Any) -> float:
    """A metric value as a float (the mean where the metric carries an interval)."""
    if isinstance(value, Mapping):
        return float(value["mean"])
    return float(value)


def _calibration(
    post: Posterior, test: pd.DataFrame, targets: list[str], cfg: ExperimentConfig, engine: Any
) -> tuple[dict[str, dict[str, Any]], dict[str, float], pd.DataFrame]:
    """Calibration of every target on the first ``evaluate.max_rows`` held-out rows."""
    from bnlab import evaluate

    rows = test.iloc[: cfg.evaluate.max_rows]
    results: dict[str, dict[str, Any]] = {}
    metrics: dict[str, float] = {}
    curves = []
    for target in targets:
        cal = evaluate.calibration(
            post,
            rows,
            target=target,
            interval=cfg.evaluate.interval,
            draws=cfg.evaluate.draws,
            seed=cfg.seed,
            engine=engine,
        )
        results[target] = {"ece": _point(cal["ece"])}
        for key in ("ece", "mce", "brier", "log_loss", "auc"):
            if key in cal:
                metrics[f"calibration.{target}.{key}"] = _point(cal[key])
        # one meaning per number: <metric>_lower/_upper bound <metric> itself (rows
        # resampled); the spread of per-draw metrics is <metric>_draws_mean/_lower/_upper
        for key, band in dict(cal.get("intervals") or {}).items():
            if key in ("ece", "mce", "brier", "log_loss", "auc"):
                metrics[f"calibration.{target}.{key}_lower"] = float(band["lower"])
                metrics[f"calibration.{target}.{key}_upper"] = float(band["upper"])
        for key, band in dict(cal.get("per_draw") or {}).items():
            if key in ("ece", "mce", "brier", "log_loss", "auc"):
                for part in ("mean", "lower", "upper"):
                    metrics[f"calibration.{target}.{key}_draws_{part}"] = float(band[part])
        curve = pd.DataFrame(cal["curve"]).copy()
        curve.insert(0, "target", target)
        curves.append(curve)
    columns = ("target", "bin", "count", "confidence", "frequency")
    empty: dict[str, list[Any]] = {c: [] for c in columns}
    table = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(empty)
    return results, metrics, table


def evaluate_model(
    cfg: ExperimentConfig,
    structure: Structure,
    post: Posterior,
    test: pd.DataFrame,
    truth: BayesNet | None,
) -> Evaluation:
    """Audit, calibrate, check coverage and predictions, answer and explain, then vet."""
    from bnlab import evaluate
    from bnlab.evaluate.audit import counted_violations
    from bnlab.report.explanations import explain_examples
    from bnlab.report.queries import example_queries

    metrics: dict[str, float] = {}
    audit = evaluate.independence_audit(
        structure,
        test,
        fdr=cfg.vetting.audit_fdr,
        min_effect=cfg.vetting.min_effect,
        interval=cfg.evaluate.interval,
    )
    metrics["audit.tests"] = float(len(audit))
    metrics["audit.rejected_share"] = float(evaluate.rejected_share(audit)) if len(audit) else 0.0
    metrics["audit.violations"] = float(counted_violations(audit))
    loglik, n_complete = heldout_loglik(post.mean(), test)
    metrics["heldout.loglik_per_row"] = loglik
    metrics["heldout.complete_rows"] = float(n_complete)
    metrics["structure.edges"] = float(len(structure.edges))
    from bnlab.infer import Engine

    e = cfg.evaluate
    targets = list(e.targets)
    # one engine (one compiled plan over the same CPT draws) for every posterior query
    engine = Engine(post, draws=e.draws, seed=cfg.seed)
    cal, cal_metrics, curve = _calibration(post, test, targets, cfg, engine)
    metrics.update(cal_metrics)
    coverage = None
    coverage_table = pd.DataFrame({c: [] for c in COVERAGE_COLUMNS})
    if truth is not None:
        from bnlab.learn.metrics import edge_scores, shd

        metrics["structure.shd"] = float(shd(structure, truth))
        for key, value in edge_scores(structure, truth).items():
            metrics[f"structure.{key}"] = float(value)
        if cfg.dataset.source == "network" and set(structure.edges) == set(truth.edges):
            coverage = evaluate.coverage(
                post, truth, queries=e.coverage_queries, draws=e.draws, seed=cfg.seed, engine=engine
            )
            metrics["coverage.90"] = _coverage_90(coverage)
            coverage_table = coverage["table"][list(COVERAGE_COLUMNS)]
    ppc = evaluate.predictive_checks(
        post, test.iloc[: e.max_rows], draws=e.draws, interval=e.interval, seed=cfg.seed
    ).table
    outside = (ppc["observed"] < ppc["rep_lower"]) | (ppc["observed"] > ppc["rep_upper"])
    metrics["ppc.outside_share"] = float(outside.mean()) if len(ppc) else 0.0
    queries = example_queries(
        post, test, targets, rows=e.example_rows, interval=e.interval, engine=engine
    )
    explanations = explain_examples(
        engine,
        test,
        targets,
        rows=e.explain_rows,
        example_rows=e.example_rows,
        interval=e.interval,
        seed=cfg.seed,
        answers=queries,
    )
    if cfg.causal.questions:  # conf/causal/: effects with intervals, as causal.<name>.* metrics
        from bnlab.causal.questions import effect_metrics

        draws = cfg.causal.draws or e.draws
        metrics.update(
            effect_metrics(
                post, cfg.causal.questions, draws=draws, interval=e.interval, seed=cfg.seed
            )
        )
    diagnostics = evaluate.mcmc_diagnostics(post)  # None for a conjugate posterior
    if diagnostics is not None:
        metrics.update({f"mcmc.{k}": float(v) for k, v in diagnostics.items()})
    verdict = evaluate.vet(
        audit=audit,
        calibration=cal or None,
        diagnostics=diagnostics,
        coverage=coverage,
        thresholds=thresholds_of(cfg),
    )
    metrics["verdict.passed"] = float(verdict.passed)
    return Evaluation(metrics, verdict, curve, audit, coverage_table, ppc, queries, explanations)


def thresholds_of(cfg: ExperimentConfig) -> dict[str, Any]:
    """The vetting thresholds of a configuration (its options, such as ``fail``, left out)."""
    from bnlab.evaluate.vetting import OPTION_KEYS

    return {k: v for k, v in asdict(cfg.vetting).items() if k not in OPTION_KEYS}


def print_verdict(verdict: Any, where: str = "", file: Any = None) -> None:
    """Print the verdict's outcome and each failed check (value, threshold, detail)."""
    import sys

    stream = sys.stdout if file is None else file
    place = f" ({where})" if where else ""
    if verdict.passed:
        print(f"bnlab: vetting verdict PASSED{place}", file=stream, flush=True)
        return
    print(f"bnlab: vetting verdict FAILED{place}:", file=stream)
    for line in verdict.failure_lines():
        print(f"  {line}", file=stream)
    stream.flush()


def _coverage_90(coverage: Any) -> float:
    """Observed coverage of the 90% intervals from :func:`bnlab.evaluate.coverage`'s output."""
    table = coverage.get("table") if isinstance(coverage, Mapping) else coverage
    if isinstance(table, pd.DataFrame):
        row = table.loc[np.isclose(table["level"].to_numpy(dtype=float), 0.9)]
        return float(row["coverage"].iloc[0]) if len(row) else float("nan")
    for key, value in dict(coverage).items():
        if isinstance(key, (int, float)) and np.isclose(float(key), 0.9):
            return float(value)
    return float("nan")


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m bnlab.stages.evaluate``."""
    p = common.parser("evaluate", __doc__ or "")
    p.add_argument("--test", required=True, help="input: held-out rows (.parquet)")
    p.add_argument("--structure", required=True, help="input: the graph (.json)")
    p.add_argument("--posterior", required=True, help="input: the posterior (.nc)")
    p.add_argument("--metrics", required=True, help="output: flat metrics (.json)")
    p.add_argument("--verdict", required=True, help="output: vetting verdict (.json)")
    p.add_argument("--calibration", required=True, help="output: reliability curves (.csv)")
    p.add_argument("--audit", required=True, help="output: independence audit (.csv)")
    p.add_argument("--coverage", required=True, help="output: coverage curve (.csv)")
    p.add_argument("--ppc", required=True, help="output: posterior predictive checks (.csv)")
    p.add_argument("--queries", required=True, help="output: example queries (.csv)")
    p.add_argument("--explanations", required=True, help="output: their explanations (.json)")
    return p


def run(args: argparse.Namespace) -> None:
    """Read the parameters and the fitted model; write metrics, verdict and tables."""
    import jax

    from bnlab.io import read_structure
    from bnlab.posterior import load_posterior
    from bnlab.stages.prepare import load_network

    # float64 for every number this stage writes: float32 sums differ in the 7th digit
    # between device splits and chunk sizes, float64 ones far below the written digits
    jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
    cfg = load_params(args.params, root=args.root)
    test = common.read_frame(args.test)
    structure = read_structure(args.structure)
    post = load_posterior(args.posterior)
    truth = None
    if cfg.dataset.network is not None:
        truth = load_network(cfg.dataset.network, Path(args.root))
    out = evaluate_model(cfg, structure, post, test, truth)
    print_verdict(out.verdict, args.verdict)
    write_evaluation(
        out,
        metrics=args.metrics,
        verdict=args.verdict,
        calibration=args.calibration,
        audit=args.audit,
        coverage=args.coverage,
        ppc=args.ppc,
        queries=args.queries,
        explanations=args.explanations,
    )


def write_evaluation(
    ev: Evaluation,
    *,
    metrics: PathLike,
    verdict: PathLike,
    calibration: PathLike,
    audit: PathLike,
    coverage: PathLike,
    ppc: PathLike,
    queries: PathLike,
    explanations: PathLike,
) -> None:
    """Write an :class:`Evaluation`'s files, each atomically (the stage's and the app's)."""
    from bnlab.report.explanations import explanations_to_json

    common.write_frame(calibration, ev.calibration_curve)
    common.write_frame(audit, ev.audit)
    common.write_frame(coverage, ev.coverage)
    common.write_frame(ppc, ev.ppc)
    common.write_frame(queries, ev.queries)
    common.write_json(explanations, explanations_to_json(ev.explanations))
    common.write_text(verdict, ev.verdict.to_json())
    common.write_json(metrics, ev.metrics)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 on a bnlab error."""
    return common.main(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
