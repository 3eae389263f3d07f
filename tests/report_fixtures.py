"""Real evaluation results of a small fit, shared by the report tests.

Calibration predictions come from the Markov-blanket formula (exact for complete rows:
P(t | rest) is proportional to P(t | parents) times the children's CPT entries), an oracle
independent of the inference engine; coverage is that of the CPT entries' intervals around the
generating network's values.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import bnlab
from bnlab import evaluate
from bnlab.data import encode
from bnlab.evaluate import calibration_metrics as cm
from bnlab.infer import Engine
from bnlab.monitor import drift
from bnlab.report.explanations import explain_examples, explanations_to_json
from bnlab.report.paths import FILES
from bnlab.report.queries import example_queries


def markov_blanket_probs(
    structure: bnlab.Structure, cpts: dict[str, np.ndarray], codes: np.ndarray, target: str
) -> np.ndarray:
    """P(target | every other column) per row, for CPTs with a leading draw axis (S, ...)."""
    idx = structure.index
    card = structure.cards[target]
    n = codes.shape[0]
    S = next(iter(cpts.values())).shape[0]
    logp = np.zeros((S, n, card))
    for k in range(card):
        c = codes.astype(np.int64).copy()
        c[:, idx[target]] = k
        for v in (target, *structure.children[target]):
            table = cpts[v]
            sel = tuple(c[:, idx[p]] for p in structure.parents[v]) + (c[:, idx[v]],)
            with np.errstate(divide="ignore"):  # asia's logical `either` has zeros
                logp[:, :, k] += np.log(table[(slice(None), *sel)])
    logp -= logp.max(axis=-1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=-1, keepdims=True)


def calibration_oracle(post: Any, test: pd.DataFrame, target: str, draws: int = 100) -> dict:
    """The result shape of ``bnlab.evaluate.calibration`` for a posterior, from the oracle."""
    s = post.structure
    codes = encode(test[list(s.variables)], s)
    labels = codes[:, s.index[target]].astype(np.int64)
    probs = markov_blanket_probs(s, post.draws(draws, seed=3), codes, target)
    point = probs.mean(axis=0)
    out: dict[str, Any] = {"target": target, "n": int(labels.size)}
    out.update(cm.metric_table(point, labels, 10))
    out["intervals"] = cm.metric_distribution(probs, labels, 10, 0.9)
    band = cm.reliability_band(probs, labels, 10, interval=0.9)
    curve = cm.reliability_curve(point, labels, 10)
    out["curve"] = pd.concat(
        [curve, band.drop(columns=["bin", "count", "confidence", "frequency"])], axis=1
    )
    return out


def cpt_coverage(post: Any, truth: bnlab.BayesNet, levels=(0.5, 0.8, 0.9, 0.95)) -> pd.DataFrame:
    """Share of the true CPT entries inside the posterior's equal-tailed intervals.

    Entries whose true value is exactly 0 or 1 (asia's logical ``either``) are left out: no
    interval of a Dirichlet posterior contains the boundary.
    """
    rows = []
    for level in levels:
        table = post.summary(interval=level)
        true = np.array(
            [
                truth.cpt(r.variable)[
                    (
                        *(
                            truth.states[p].index(x)
                            for p, x in zip(truth.parents[r.variable], r.parent_states, strict=True)
                        ),
                        truth.states[r.variable].index(r.state),
                    )
                ]
                for r in table.itertuples(index=False)
            ]
        )
        inside = (table["lower"].to_numpy() <= true) & (true <= table["upper"].to_numpy())
        inside = inside[(true > 0) & (true < 1)]  # deterministic entries lie on the boundary
        true = true[(true > 0) & (true < 1)]
        share = float(inside.mean())
        rows.append(
            {
                "level": level,
                "coverage": share,
                "n_queries": len(true),
                "se": float(np.sqrt(share * (1 - share) / len(true))),
            }
        )
    return pd.DataFrame(rows)


@functools.cache
def asia_results(n_train: int = 3000, n_test: int = 2000) -> dict[str, Any]:
    """A real fit of asia and its evaluation, as :func:`bnlab.report.build_report` keywords.

    Cached: the report test modules share one evaluation (callers must not mutate it).
    """
    net = bnlab.load_example("asia")
    train = bnlab.sample(net, n=n_train, seed=0)
    test = bnlab.sample(net, n=n_test, seed=1)
    post = bnlab.fit(net.structure, train, prior="bdeu", ess=1.0)
    audit = evaluate.independence_audit(net.structure, test, bootstrap=50)
    cal = {t: calibration_oracle(post, test, t) for t in ("either", "dysp")}
    coverage = cpt_coverage(post, net)
    ppc = evaluate.predictive_checks(post, test, draws=100)
    verdict = evaluate.vet(audit=audit, calibration=cal, coverage=coverage)
    strength = pd.DataFrame(
        [
            {"from": p, "to": c, "strength": 0.3 if c == "dysp" else 1.0, "direction": 1.0}
            for p, c in net.edges
        ]
    )
    queries = example_queries(post, test, ["either", "dysp"], rows=2, draws=100)
    explanations = explain_examples(
        Engine(post, draws=100), test, ["either", "dysp"], rows=1, example_rows=2
    )
    # a drift check of a batch from the same network (the quiet case; tests of the alert
    # itself are in test_report_monitoring)
    monitor = json.loads(drift(post, bnlab.sample(net, n=1000, seed=2), replicates=10).to_json())
    return {
        "title": "asia test report",
        "posterior": post,
        "verdict": verdict,
        "audit": audit,
        "edge_strength": strength,
        "required_edges": [("smoke", "lung")],
        "calibration": cal,
        "coverage": coverage,
        "ppc": ppc,
        "queries": queries,
        "explanations": explanations,
        "monitor": monitor,
        "truth": net,
        "provenance": {"git_commit": "0" * 40, "data_hash": "md5:abc", "config": {"seed": 0}},
    }


def write_experiment(root: Path, results: dict[str, Any]) -> Path:
    """Write ``results`` into an experiment folder in the formats of ``bnlab.report.paths``."""
    from bnlab.io import write_structure

    p = FILES.under(root)
    root.mkdir(parents=True, exist_ok=True)
    results["posterior"].save(p.posterior)
    from bnlab.io import write_network

    write_structure(results["posterior"].structure, p.structure)
    write_network(results["posterior"].mean(), p.network)
    p.verdict.write_text(results["verdict"].to_json())
    results["audit"].to_csv(p.audit, index=False)  # tuples as "('a', 'b')", as the stage does
    results["edge_strength"].to_csv(p.edge_strength, index=False)
    p.required_edges.write_text(json.dumps([list(e) for e in results["required_edges"]]))
    cal = {
        t: {k: v for k, v in r.items() if k != "curve"} for t, r in results["calibration"].items()
    }
    p.calibration.write_text(json.dumps(cal))
    curves = pd.concat(
        [r["curve"].assign(target=t) for t, r in results["calibration"].items()],
        ignore_index=True,
    )
    curves.to_csv(p.calibration_curve, index=False)
    results["coverage"].to_csv(p.coverage_curve, index=False)
    results["ppc"].table.to_csv(p.ppc, index=False)
    results["queries"].to_csv(p.queries, index=False)
    p.explanations.write_text(json.dumps(explanations_to_json(results["explanations"])))
    prov = dict(results["provenance"])
    config = prov.pop("config")
    p.monitor.write_text(json.dumps(results["monitor"]))
    p.provenance.write_text(json.dumps(prov))
    import yaml

    p.config.write_text(yaml.safe_dump(config))  # the config comes from the stage's YAML
    return root
