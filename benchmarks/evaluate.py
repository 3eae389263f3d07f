"""Full evaluation of alarm (audit + calibration on 3 targets + coverage + vetting), timed,
with pgmpy's ImpliedCIs on the same graph and held-out data timed beside it.

Run:  uv run python benchmarks/evaluate.py [--rows 10000] [--train 5000] [--draws 200]
Prints a markdown table (seconds per phase) for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np

import bnlab
from bnlab import evaluate

TARGETS = ("LVFAILURE", "HYPOVOLEMIA", "INTUBATION")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000, help="held-out rows")
    ap.add_argument("--train", type=int, default=5_000, help="training rows for the posterior")
    ap.add_argument("--draws", type=int, default=200, help="posterior draws (calibration)")
    ap.add_argument("--coverage-draws", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--skip-pgmpy", action="store_true")
    args = ap.parse_args()

    net = bnlab.load_example("alarm")
    train = bnlab.sample(net, n=args.train, seed=1)
    held = bnlab.sample(net, n=args.rows, seed=2)
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}

    t_all = time.perf_counter()
    c_all = time.process_time()
    t = time.perf_counter()
    c = time.process_time()
    post = bnlab.fit(net.structure, train, prior="bdeu", ess=1.0)
    times["fit (conjugate, 5k rows)"] = time.perf_counter() - t
    cpu["fit (conjugate, 5k rows)"] = time.process_time() - c

    t = time.perf_counter()
    c = time.process_time()
    audit = evaluate.independence_audit(net.structure, held, fdr=0.05, bootstrap=200)
    times[f"CI audit: {len(audit)} statements, G2 + 200 bootstrap"] = time.perf_counter() - t
    cpu[f"CI audit: {len(audit)} statements, G2 + 200 bootstrap"] = time.process_time() - c

    t = time.perf_counter()
    c = time.process_time()
    engine = bnlab.Engine(post, draws=args.draws, seed=0)
    cal = evaluate.calibration(post, held, list(TARGETS), draws=args.draws, engine=engine)
    times[f"calibration: 3 targets x {args.rows} rows x {args.draws} draws"] = (
        time.perf_counter() - t
    )
    cpu[f"calibration: 3 targets x {args.rows} rows x {args.draws} draws"] = time.process_time() - c

    t = time.perf_counter()
    c = time.process_time()
    cov = evaluate.coverage(post, net, queries=args.queries, draws=args.coverage_draws, seed=0)
    times[f"coverage: {args.queries} queries x {args.coverage_draws} draws"] = (
        time.perf_counter() - t
    )
    cpu[f"coverage: {args.queries} queries x {args.coverage_draws} draws"] = time.process_time() - c

    t = time.perf_counter()
    c = time.process_time()
    verdict = evaluate.vet(audit=audit, calibration=cal, coverage=cov)
    times["vet"] = time.perf_counter() - t
    cpu["vet"] = time.process_time() - c
    total = time.perf_counter() - t_all
    times["**total (bnlab full evaluation)**"] = total
    cpu["**total (bnlab full evaluation)**"] = time.process_time() - c_all

    t = time.perf_counter()
    c = time.process_time()
    audit_chi2 = evaluate.independence_audit(net.structure, held, method="chi2", bootstrap=0)
    t_ours = time.perf_counter() - t
    c_ours = time.process_time() - c

    pg_time = c_pg = float("nan")
    agree = ""
    if not args.skip_pgmpy:
        from pgmpy.base import DAG
        from pgmpy.metrics import ImpliedCIs

        g = DAG()
        g.add_nodes_from(net.variables)
        g.add_edges_from(net.edges)
        frame = held.astype(str)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            c = time.process_time()
            res = ImpliedCIs(ci_test="chi_square", show_progress=False).evaluate(
                X=frame, causal_graph=g
            )
            pg_time = time.perf_counter() - t
            c_pg = time.process_time() - c
        ours = {frozenset((r.x, r.y)): set(r.given) for r in audit_chi2.itertuples()}
        same = sum(ours[frozenset((r.u, r.v))] == set(r.cond_vars) for r in res.itertuples())
        agree = (
            f"{len(res)} statements listed by pgmpy, {len(audit_chi2)} by bnlab, "
            f"{same} with the same separating set; pgmpy p < 0.05 on "
            f"{int((res['p-value'] < 0.05).sum())}, bnlab chi2 p < 0.05 on "
            f"{int((audit_chi2['p'] < 0.05).sum())} (pgmpy applies Yates' correction to 2x2 "
            "strata, bnlab does not)"
        )

    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"numpy {np.__version__}, bnlab {bnlab.__version__}")
    print()
    print("| phase | wall s | CPU s (process, all threads) |")
    print("|---|---|---|")
    for name, sec in times.items():
        print(f"| {name} | {sec:.2f} | {cpu[name]:.2f} |")
    print(f"| bnlab implied-CI listing + chi2 tests (no bootstrap) | {t_ours:.2f} | {c_ours:.2f} |")
    print(
        f"| pgmpy 1.1.2 ImpliedCIs(chi_square), same graph and data | {pg_time:.2f} | {c_pg:.2f} |"
    )
    print(
        f"| ratio pgmpy / bnlab (listing + tests) | {pg_time / t_ours:.2f} | {c_pg / c_ours:.2f} |"
    )
    print()
    print(agree)
    print()
    print("rejected share at FDR 5%:", round(float(audit["rejected"].mean()), 4))
    for tname in TARGETS:
        c = cal[tname]
        iv = c["intervals"]["ece"]
        print(
            f"{tname}: ece {c['ece']:.4f} (draws: {iv['lower']:.4f}-{iv['upper']:.4f}), "
            f"brier {c['brier']:.4f}, auc {c['auc']:.3f}"
        )
    print(cov["table"].to_string(index=False))
    print(verdict)


if __name__ == "__main__":
    main()
