"""One function per report section: inputs in, a :class:`~bnlab.report.html.Section` out.

Every function accepts ``None`` for its evidence and then returns the section with a
"not run" note, so a report can be built from whatever steps of an experiment ran.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bnlab.evaluate.audit import AUDIT_COLUMNS
from bnlab.network import BayesNet, Structure, as_structure
from bnlab.report import figures
from bnlab.report import html as h
from bnlab.report.layout import layered_layout

if TYPE_CHECKING:
    from bnlab.report.explanations import QueryExplanation

#: Section ids in page order; tests and the pipeline rely on these anchors.
SECTION_IDS = (
    "verdict",
    "graph",
    "cpts",
    "mcmc",
    "audit",
    "calibration",
    "coverage",
    "ppc",
    "queries",
    "explanations",
    "monitor",
    "provenance",
)

METRIC_NAMES = ("ece", "mce", "brier", "log_loss", "auc")


# -- verdict ---------------------------------------------------------------------------------
def verdict_table(verdict: Any) -> tuple[bool, pd.DataFrame]:
    """Return ``(passed, checks table)`` of a Verdict, its ``to_json()`` text or its dict."""
    if isinstance(verdict, str):
        verdict = json.loads(verdict)
    if isinstance(verdict, Mapping):
        checks = [dict(c) for c in verdict.get("checks", [])]
        passed = bool(verdict.get("passed", False))
    else:
        checks = [c.to_dict() if hasattr(c, "to_dict") else vars(c) for c in verdict.checks]
        passed = bool(verdict.passed)
    cols = ["name", "value", "comparison", "threshold", "passed", "status", "detail"]
    frame = pd.DataFrame(checks)
    for c in cols:
        if c not in frame:
            frame[c] = None
    frame["status"] = frame["status"].where(frame["status"].notna(), "")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    return passed and len(frame) > 0, frame[cols]


def verdict_section(verdict: Any | None) -> h.Section:
    """Render the vetting verdict: a pass/fail badge, then each check, value, threshold."""
    if verdict is None:
        return h.Section("verdict", "Vetting verdict", h.not_run("the vetting gate (evaluate)."))
    passed, frame = verdict_table(verdict)
    badge = (
        '<span class="badge pass">PASSED</span>'
        if passed
        else ('<span class="badge fail">FAILED</span>')
    )
    status = [
        "n/a" if st == "not applicable" else ("pass" if p else "FAIL")
        for st, p in zip(frame["status"], frame["passed"], strict=True)
    ]
    shown = frame.drop(columns=["status"]).assign(passed=status)
    classes = ["" if s == "n/a" else ("good" if s == "pass" else "bad") for s in status]
    n_fail = status.count("FAIL")
    n_na = status.count("n/a")
    note = h.paragraph(
        f"{len(frame) - n_fail - n_na} of {len(frame)} checks passed"
        + (f", {n_na} not applicable." if n_na else ".")
    )
    return h.Section("verdict", "Vetting verdict", badge + note + h.table(shown, row_class=classes))


# -- graph -----------------------------------------------------------------------------------
def edge_strengths(
    structure: Structure, edge_strength: pd.DataFrame | None
) -> dict[tuple[str, str], float] | None:
    """Return ``(parent, child) -> bootstrap strength`` for the edges of ``structure``."""
    if edge_strength is None:
        return None
    lookup = {
        (str(r["from"]), str(r["to"])): float(r["strength"])
        for r in edge_strength.to_dict(orient="records")
    }
    return {e: lookup.get(e, lookup.get((e[1], e[0]), 0.0)) for e in structure.edges}


def graph_section(
    structure: Structure | BayesNet | None,
    edge_strength: pd.DataFrame | None = None,
    required_edges: Collection[tuple[str, str]] = (),
) -> h.Section:
    """Draw the graph in layers (roots on top), bootstrap strength and required edges marked."""
    if structure is None:
        return h.Section("graph", "Graph", h.not_run("no structure or network file."))
    s = as_structure(structure)
    layout = layered_layout(s)
    strength = edge_strengths(s, edge_strength)
    required = [tuple(e) for e in required_edges]
    fig = figures.graph_figure(layout, strength=strength, required=required)  # type: ignore[arg-type]
    body = h.paragraph(
        f"{len(s.variables)} variables, {len(s.edges)} edges, drawn in {len(layout.layers)} "
        f"layers by longest path from the roots ({layout.crossings} edge crossings left)."
    )
    body += h.image(figures.to_svg(fig), "svg", "graph of the network")
    present = set(s.edges)
    missing = [e for e in required if e not in present]
    if required:
        body += h.paragraph(
            f"{len(required)} edges required by the expert (red); "
            + (f"missing from the graph: {missing}." if missing else "all present.")
        )
    if strength is not None:
        weak = sorted(strength.items(), key=lambda kv: kv[1])
        frame = pd.DataFrame([{"from": p, "to": c, "strength": v} for (p, c), v in weak if v < 0.5])
        if len(frame):
            body += h.details(
                f"{len(frame)} edges with bootstrap strength below 0.5", h.table(frame)
            )
        else:
            body += h.paragraph("Every edge has bootstrap strength of at least 0.5.")
    else:
        body += h.paragraph("No bootstrap was run: edges are drawn without strength.")
    return h.Section("graph", "Graph", body)


# -- posterior CPTs --------------------------------------------------------------------------
def _entry_label(row: Any) -> str:
    given = ", ".join(str(s) for s in row.parent_states)
    return f"{row.state}" + (f" | {given}" if given else "")


def forest_subset(summary: pd.DataFrame, max_variables: int) -> list[str]:
    """Variables for the forest plot: the ``max_variables`` whose entries are most uncertain.

    Variables are ranked by their mean interval width (the least settled CPTs first), then
    kept in the summary's (topological) order.
    """
    width = (summary["upper"] - summary["lower"]).groupby(summary["variable"], sort=False).mean()
    order = list(dict.fromkeys(summary["variable"]))
    chosen = set(width.sort_values(ascending=False, kind="stable").index[:max_variables])
    return [v for v in order if v in chosen]


def cpt_table(summary: pd.DataFrame, structure: Structure, variable: str) -> str:
    """HTML table of one CPT: a row per parent configuration, ``mean [lower, upper]`` per state."""
    rows = summary[summary["variable"] == variable]
    parents = structure.parents[variable]
    states = list(structure.states[variable])
    records = []
    for config, group in rows.groupby(rows["parent_states"].map(tuple), sort=False):
        rec: dict[str, str] = {p: s for p, s in zip(parents, config, strict=True)}
        for r in group.itertuples(index=False):
            rec[str(r.state)] = f"{r.mean:.3f} [{r.lower:.3f}, {r.upper:.3f}]"
        records.append(rec)
    frame = pd.DataFrame(records, columns=[*parents, *states])
    return h.table(frame)


def cpt_section(
    summary: pd.DataFrame | None,
    structure: Structure | BayesNet | None,
    interval: float,
    *,
    max_variables: int = 8,
    max_rows: int = 40,
    truth: BayesNet | None = None,
) -> h.Section:
    """Forest plots of CPT entries with HDIs for a default subset, tables for every variable."""
    title = "Posterior CPTs"
    if summary is None or structure is None:
        return h.Section("cpts", title, h.not_run("no posterior (fit)."))
    s = as_structure(structure)
    pct = round(100 * interval)
    chosen = forest_subset(summary, max_variables)
    body = h.paragraph(
        f"Posterior mean and {pct}% highest-density interval of each CPT entry. Forest plots "
        f"show the {len(chosen)} variables (of {len(s.variables)}) whose entries are most "
        f"uncertain (widest mean interval), at most {max_rows} entries each (the widest); "
        "every table is below."
    )
    for v in chosen:
        rows = summary[summary["variable"] == v].copy()
        if len(rows) > max_rows:
            keep = (rows["upper"] - rows["lower"]).nlargest(max_rows).index
            rows = rows.loc[sorted(keep)]
        labels = [_entry_label(r) for r in rows.itertuples(index=False)]
        entries = pd.DataFrame(
            {"label": labels, "mean": rows["mean"], "lower": rows["lower"], "upper": rows["upper"]}
        )
        if truth is not None:
            entries["true"] = [
                float(
                    truth.cpt(v)[
                        (
                            *(
                                truth.states[p].index(x)
                                for p, x in zip(truth.parents[v], r.parent_states, strict=True)
                            ),
                            truth.states[v].index(r.state),
                        )
                    ]
                )
                for r in rows.itertuples(index=False)
            ]
        heading = f"{v} | {', '.join(s.parents[v])}" if s.parents[v] else v
        body += f"<h3>{h.esc(heading)}</h3>"
        body += h.image(figures.forest_svg(entries, interval), "svg", f"forest plot of {v}")
    body += "<h3>CPT tables (mean [interval])</h3>"
    for v in s.variables:
        parents = ", ".join(s.parents[v]) or "no parents"
        body += h.details(f"{v}  ({parents})", cpt_table(summary, s, v))
    return h.Section("cpts", title, body)


# -- MCMC diagnostics ------------------------------------------------------------------------
def mcmc_entry_table(tree: Any) -> pd.DataFrame:
    """R-hat, bulk and tail ESS of every CPT entry of an ArviZ tree, worst R-hat first."""
    import arviz as az

    rhat = az.rhat(tree)
    ess_bulk = az.ess(tree, method="bulk")
    ess_tail = az.ess(tree, method="tail")
    rows = []
    for name in rhat.dataset.data_vars:
        r = rhat.dataset[name]
        eb = np.asarray(ess_bulk.dataset[name]).ravel()
        et = np.asarray(ess_tail.dataset[name]).ravel()
        index = list(np.ndindex(r.shape)) or [()]
        labels = [
            ", ".join(f"{d}={r[d].values[i]}" for d, i in zip(r.dims, idx, strict=True))
            for idx in index
        ]
        for k, (idx, label) in enumerate(zip(index, labels, strict=True)):
            rows.append(
                {
                    "variable": str(name),
                    "entry": label,
                    "index": idx,
                    "rhat": float(np.asarray(r)[idx]),
                    "ess_bulk": float(eb[k]),
                    "ess_tail": float(et[k]),
                }
            )
    frame = pd.DataFrame(rows)
    return frame.sort_values(["rhat", "ess_bulk"], ascending=[False, True], kind="stable")


def mcmc_section(tree: Any | None, *, worst: int = 4, max_rows: int = 25) -> h.Section:
    """R-hat / ESS of the worst-mixing entries, their rank plots, and divergences."""
    title = "MCMC diagnostics"
    if tree is None:
        return h.Section(
            "mcmc",
            title,
            h.not_run(
                "the posterior was not sampled by MCMC (a conjugate Dirichlet posterior "
                "is exact, so there is nothing to diagnose)."
            ),
        )
    table = mcmc_entry_table(tree)
    div = 0
    stats = tree["sample_stats"].dataset if "sample_stats" in tree.children else None
    if stats is not None and "diverging" in stats:
        div = int(np.asarray(stats["diverging"]).sum())
    post = tree["posterior"].dataset
    body = h.paragraph(
        f"{post.sizes.get('chain', 1)} chains x {post.sizes.get('draw', 0)} draws; "
        f"{len(table)} CPT entries; max R-hat {table['rhat'].max():.4f}; "
        f"min bulk ESS {table['ess_bulk'].min():.0f}; divergent transitions: {div}."
    )
    classes = ["bad" if r > 1.01 else "" for r in table["rhat"].head(max_rows)]
    body += h.table(table.drop(columns="index"), row_class=classes, max_rows=max_rows)
    import xarray as xr

    picks = {}
    for r in table.head(worst).itertuples(index=False):
        da = post[r.variable]
        value_dims = [d for d in da.dims if d not in ("chain", "draw")]
        entry = da.isel(dict(zip(value_dims, r.index, strict=True)))
        picks[f"{r.variable}[{r.entry}]"] = entry.reset_coords(drop=True)  # drop scalar labels
    if picks:
        small = xr.DataTree.from_dict({"posterior": xr.Dataset(picks)})
        body += "<h3>Rank plots of the worst-mixing entries</h3>"
        body += h.image(figures.rank_figure_png(small), "png", "rank plots")
    return h.Section("mcmc", title, body)


# -- independence audit ----------------------------------------------------------------------
def audit_section(audit: pd.DataFrame | None, *, max_rows: int = 300) -> h.Section:
    """List the implied independencies by effect size; violations that count in red."""
    title = "Conditional-independence audit"
    if audit is None:
        return h.Section("audit", title, h.not_run("the independence audit (evaluate)."))
    if len(audit) == 0:
        return h.Section(
            "audit",
            title,
            h.paragraph(
                "Not applicable: the graph implies no conditional independence (every pair "
                "of variables is adjacent), so there is nothing to test."
            ),
        )
    by = "cmi_lower" if "cmi_lower" in audit.columns else "q"
    frame = audit.sort_values(by, ascending=by == "q", kind="stable").reset_index(drop=True)
    rejected = frame["rejected"].astype(bool).to_numpy()
    counts = frame["counts"].astype(bool).to_numpy() if "counts" in frame else rejected
    # the audit's own columns, less the prose statement (x, y and given show it)
    cols = [c for c in AUDIT_COLUMNS if c != "statement" and c in frame.columns]
    body = h.paragraph(
        f"{len(frame)} independencies implied by the graph were tested; {int(rejected.sum())} "
        f"are refuted by the data at the chosen false discovery rate, of which "
        f"{int(counts.sum())} are large enough to count against the gate (highlighted: the "
        "lower end of the CMI interval exceeds min_effect). Sorted by that lower end; cmi is "
        "in nats, share is the same as a share of min(H(X|Z), H(Y|Z))."
    )
    classes = [
        "bad" if c else ("warn" if r else "")
        for c, r in zip(counts[:max_rows], rejected[:max_rows], strict=True)
    ]
    body += (
        '<div class="scroll">'
        + h.table(frame[cols], row_class=classes, max_rows=max_rows)
        + "</div>"
    )
    return h.Section("audit", title, body)


# -- calibration -----------------------------------------------------------------------------
def metric_interval(value: Any) -> tuple[float, float, float]:
    """Return ``(mean, lower, upper)`` of a metric given as a number or a mapping.

    ``None`` (JSON ``null``: a metric that is undefined on these data, such as the AUC of a
    target observed in one state only) reads as NaN.
    """

    def number(x: Any) -> float:
        return float("nan") if x is None else float(x)

    if isinstance(value, Mapping):
        return (
            number(value.get("mean")),
            number(value.get("lower")),
            number(value.get("upper")),
        )
    return number(value), float("nan"), float("nan")


def calibration_section(
    calibration: Mapping[str, Any] | None,
    curves: pd.DataFrame | None,
    interval: float,
) -> h.Section:
    """Per target: the metric table (intervals over resampled rows) and the reliability diagram.

    ``calibration`` is :func:`bnlab.evaluate.calibration` output for one target or a mapping
    ``{target: that output}``; a metric may also be ``{mean, lower, upper}``. ``curves`` is the
    long table of all targets' curves (``target`` column), used where a result has no curve.
    """
    title = "Calibration"
    if not calibration and curves is None:
        return h.Section("calibration", title, h.not_run("calibration (evaluate)."))
    calibration = dict(calibration or {})
    if "ece" in calibration:  # one target's result, as bnlab.evaluate.calibration returns it
        calibration = {str(calibration.get("target", "target")): calibration}
    targets = list(
        dict.fromkeys([*calibration, *([] if curves is None else curves["target"].astype(str))])
    )
    pct = round(100 * interval)
    body = h.paragraph(
        f"Predicted probabilities on held-out rows against observed frequencies; the band is "
        f"the {pct}% interval over posterior draws. Each metric is that of the posterior "
        f"predictive (the mean prediction over CPT draws) with a {pct}% interval of the same "
        "metric from resampling the held-out rows (bootstrap); the spread of each draw's own "
        "metric is a different quantity, listed in metrics.json as <metric>_draws_*. Brier "
        "sums the squared errors over classes (Brier 1950; range 0-2, twice scikit-learn's "
        "binary brier_score_loss)."
    )
    for t in targets:
        body += f"<h3>{h.esc(t)}</h3>"
        cal = calibration.get(t, {})
        intervals = cal.get("intervals") or {}
        rows = []
        for name in METRIC_NAMES:
            if name in cal:
                mean, lo, hi = metric_interval(cal[name])
                if name in intervals:  # the same metric's interval over resampled rows
                    _, lo, hi = metric_interval(intervals[name])
                rows.append({"metric": name, "value": mean, "lower": lo, "upper": hi})
        if rows:
            body += h.table(pd.DataFrame(rows))
        curve = None
        if "curve" in cal:
            curve = pd.DataFrame(cal["curve"])
        elif curves is not None:
            curve = curves[curves["target"].astype(str) == t]
        if curve is not None and len(curve):
            fig = figures.reliability_figure(curve, t, interval)
            body += h.image(figures.to_png(fig), "png", f"reliability diagram of {t}")
    return h.Section("calibration", title, body)


# -- coverage --------------------------------------------------------------------------------
def coverage_frame(coverage: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    """Normalise coverage results to ``nominal, observed`` (+ ``lower, upper`` from ``se``).

    Accepts :func:`bnlab.evaluate.coverage` output (its ``table``) or a table with columns
    ``level, coverage`` or ``nominal, observed``.
    """
    if isinstance(coverage, Mapping):
        coverage = coverage["table"]
    frame = coverage.rename(columns={"level": "nominal", "coverage": "observed"})
    if "se" in frame and "lower" not in frame:
        frame = frame.assign(
            lower=(frame["observed"] - 1.96 * frame["se"]).clip(0.0, 1.0),
            upper=(frame["observed"] + 1.96 * frame["se"]).clip(0.0, 1.0),
        )
    return frame.sort_values("nominal", kind="stable").reset_index(drop=True)


def coverage_section(coverage: pd.DataFrame | Mapping[str, Any] | None) -> h.Section:
    """Coverage curve of the credible intervals in a simulation study (true CPTs known)."""
    title = "Coverage"
    if coverage is None or (isinstance(coverage, pd.DataFrame) and coverage.empty):
        return h.Section(
            "coverage",
            title,
            h.not_run(
                "coverage needs a simulation study (data sampled from a known network, "
                "fitted on its graph)."
            ),
        )
    frame = coverage_frame(coverage)
    body = h.paragraph(
        "Share of true query probabilities inside the posterior credible intervals at each "
        "nominal level (band: 95% binomial interval); honest intervals lie on the diagonal."
    )
    body += h.image(figures.to_png(figures.coverage_figure(frame)), "png", "coverage curve")
    body += h.table(frame)
    return h.Section("coverage", title, body)


# -- posterior predictive checks -------------------------------------------------------------
def ppc_frame(ppc: Any) -> pd.DataFrame:
    """Normalise :func:`bnlab.evaluate.predictive_checks` output (or its table) for display."""
    table = ppc.table if hasattr(ppc, "table") else ppc
    frame = table.rename(
        columns={"rep_mean": "mean", "rep_lower": "lower", "rep_upper": "upper", "p_two_sided": "p"}
    )
    if "kind" not in frame:
        frame = frame.assign(kind="frequency")
    for col in ("other", "state"):
        if col in frame:
            frame[col] = frame[col].fillna("").astype(str)
    return frame


def ppc_section(ppc: Any | None, interval: float, *, max_rows: int = 40) -> h.Section:
    """Replicated-data statistics (state frequencies, mutual information) against observed."""
    title = "Posterior predictive checks"
    if ppc is None:
        return h.Section("ppc", title, h.not_run("posterior predictive checks (evaluate)."))
    frame = ppc_frame(ppc)
    obs = frame["observed"].to_numpy(dtype=float)
    outside = (obs < frame["lower"].to_numpy(dtype=float)) | (
        obs > frame["upper"].to_numpy(dtype=float)
    )
    pct = round(100 * interval)
    body = h.paragraph(
        f"{int(outside.sum())} of {len(frame)} statistics of the observed data fall outside "
        f"the {pct}% interval of the same statistic over replicated data sets (one per "
        "posterior draw, same size as the data)."
    )
    freq = frame[frame["kind"] == "frequency"]
    if len(freq):
        body += h.image(
            figures.to_png(figures.ppc_figure(freq, interval)),
            "png",
            "posterior predictive check of state frequencies",
        )
    order = np.argsort(~outside, kind="stable")
    shown = frame.iloc[order].reset_index(drop=True)
    cols = [
        c
        for c in ("kind", "variable", "other", "state", "observed", "mean", "lower", "upper", "p")
        if c in shown
    ]
    classes = ["bad" if o else "" for o in outside[order][:max_rows]]
    body += h.details(
        "statistics (outside the interval first)",
        h.table(shown[cols], row_class=classes, max_rows=max_rows),
    )
    return h.Section("ppc", title, body)


# -- example queries -------------------------------------------------------------------------
def queries_section(queries: pd.DataFrame | None) -> h.Section:
    """Show example queries ``P(target | evidence)`` with their credible intervals."""
    title = "Example queries"
    if queries is None or queries.empty:
        return h.Section("queries", title, h.not_run("no example queries were computed."))
    body = h.paragraph(
        "P(target = state | evidence) with its credible interval: per target the prior "
        "(no evidence) and held-out rows with the target's Markov blanket observed."
    )
    shown = queries
    if "evidence" in shown:  # the prior query has no evidence (NaN after a CSV round trip)
        text = shown["evidence"].fillna("").astype(str)
        shown = shown.assign(evidence=text.where(text != "", "(none: the prior)"))
    return h.Section("queries", title, body + h.table(shown))


# -- explanations ----------------------------------------------------------------------------
def _mpe_html(e: QueryExplanation) -> str:
    """The MPE's probability against the runner-up's, and where the two differ."""
    m = e.mpe
    text = (
        f"Most probable explanation of the {len(m.assignment)} unobserved variables "
        f"(posterior-mean CPTs): probability {h.fmt(m.probability)}"
    )
    if m.runner_up is None:
        return h.paragraph(text + "; the evidence fixes every variable, no runner-up.")
    ratio = m.probability / m.runner_up_probability if m.runner_up_probability > 0 else np.inf
    text += f"; runner-up {h.fmt(m.runner_up_probability)} (the MPE is {h.fmt(ratio, 3)} times "
    text += "as likely)."
    diff = pd.DataFrame(
        [
            {"variable": v, "MPE": s, "runner-up": m.runner_up[v]}
            for v, s in m.assignment.items()
            if m.runner_up.get(v) != s
        ],
        columns=["variable", "MPE", "runner-up"],
    )
    full = pd.DataFrame({"variable": list(m.assignment), "state": list(m.assignment.values())})
    return (
        h.paragraph(text)
        + h.table(diff)
        + h.details("the whole most probable explanation", h.table(full))
    )


def explanation_html(e: QueryExplanation, interval: float) -> str:
    """One explained query: its answer, Shapley values, sensitive CPT entries and MPE."""
    pct = round(100 * interval)
    given = ", ".join(f"{k}={v}" for k, v in e.evidence.items())
    body = f"<h3>{h.esc(f'P({e.target}={e.state} | {given})')}</h3>"
    body += h.paragraph(
        f"Answer {h.fmt(e.mean)} [{h.fmt(e.lower)}, {h.fmt(e.upper)}] ({pct}% interval); "
        f"{h.fmt(e.prior)} without evidence. Shapley values split the change between the "
        "observed variables (they sum to it); loo is the change when that variable alone is "
        "removed."
    )
    if len(e.contributions):
        body += h.image(
            figures.contributions_svg(e.contributions, interval), "svg", "evidence contributions"
        )
        body += h.table(e.contributions)
    sens = e.sensitivity.assign(
        parent_states=[", ".join(str(x) for x in p) for p in e.sensitivity["parent_states"]]
    ).rename(columns={"parent_states": "given"})
    body += h.paragraph(
        f"The {len(sens)} CPT entries P(variable = state | given) the answer is most sensitive "
        "to: the derivative of the answer in the entry, the rest of its row co-varied "
        "proportionally."
    )
    body += h.table(sens)
    return body + _mpe_html(e)


def explanations_section(
    explanations: Sequence[QueryExplanation] | None, interval: float
) -> h.Section:
    """Explain example queries: evidence contributions, parameter sensitivity, MPE."""
    title = "Explanations"
    if explanations is None:
        return h.Section(
            "explanations", title, h.not_run("explanations of the example queries (evaluate).")
        )
    if not explanations:
        return h.Section(
            "explanations",
            title,
            h.not_run("no example query with evidence was explained (evaluate.explain_rows)."),
        )
    body = "".join(explanation_html(e, interval) for e in explanations)
    return h.Section("explanations", title, body)


# -- provenance ------------------------------------------------------------------------------
def provenance_section(provenance: Mapping[str, Any] | None) -> h.Section:
    """Config, git commit, data hash and library versions of the run."""
    title = "Provenance"
    if provenance is None:
        return h.Section("provenance", title, h.not_run("no provenance record."))
    rows = [
        {"item": k, "value": v if isinstance(v, str) else json.dumps(v, default=str)}
        for k, v in provenance.items()
        if k not in ("config", "versions")
    ]
    body = h.table(pd.DataFrame(rows, columns=["item", "value"])) if rows else ""
    versions = provenance.get("versions")
    if isinstance(versions, Mapping):
        body += "<h3>Versions</h3>" + h.table(
            pd.DataFrame(
                {"package": list(versions), "version": [str(v) for v in versions.values()]}
            )
        )
    config = provenance.get("config")
    if config is not None:
        text = json.dumps(config, indent=2, sort_keys=True, default=str)
        body += h.details("configuration", f"<pre>{h.esc(text)}</pre>", open_=False)
    return h.Section("provenance", title, body)
