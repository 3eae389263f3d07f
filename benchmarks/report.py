"""Report generation for ALARM: time of ``build_report`` + atomic write, and the file's size.

The evaluation that feeds the report (audit, calibration over posterior draws, coverage,
posterior predictive checks, example queries) is computed first and timed separately: the
report's own budget (issue 8) is generation, < 20 s, and size, < 5 MB.

Run: ``uv run python benchmarks/report.py [--out outputs/bench-report]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import bnlab
from bnlab import evaluate
from bnlab.report import build_report
from bnlab.report.build import atomic_write_text
from bnlab.report.queries import example_queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="outputs/bench-report")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("load average at start:", os.getloadavg())
    net = bnlab.load_example("alarm")
    train = bnlab.sample(net, n=10_000, seed=0)
    test = bnlab.sample(net, n=2_000, seed=1)
    t0 = time.perf_counter()
    post = bnlab.fit(net.structure, train, prior="k2")  # see RESULTS.md: BDeu draws underflow
    targets = ["LVFAILURE", "HYPOVOLEMIA", "INTUBATION"]
    engine = bnlab.Engine(post, draws=200, seed=0)
    audit = evaluate.independence_audit(net.structure, test, fdr=0.05)
    cal = evaluate.calibration(post, test, target=targets, draws=200, engine=engine)
    cov = evaluate.coverage(post, net, queries=300, draws=200)
    ppc = evaluate.predictive_checks(post, test, draws=200)
    queries = example_queries(post, test, targets, rows=2, engine=engine)
    verdict = evaluate.vet(audit=audit, calibration=cal, coverage=cov)
    t1 = time.perf_counter()
    print(f"evaluation inputs: {t1 - t0:.1f} s (not part of the report budget)")
    times = []
    for _ in range(args.repeat):
        s = time.perf_counter()
        page = build_report(
            title="bnlab report: alarm benchmark",
            posterior=post,
            verdict=verdict,
            audit=audit,
            calibration=cal,
            coverage=cov,
            ppc=ppc,
            queries=queries,
            truth=net,
            provenance={"config": {"dataset": "alarm", "rows": 10_000, "prior": "k2"}},
        )
        path = atomic_write_text(Path(args.out) / "index.html", page)
        times.append(time.perf_counter() - s)
    size = path.stat().st_size
    print(f"build_report + write, {args.repeat} runs: " + ", ".join(f"{t:.2f}" for t in times))
    print(f"best {min(times):.2f} s; size {size / 1e6:.2f} MB ({size:,} bytes); {path}")
    print("load average at end:", os.getloadavg())


if __name__ == "__main__":
    main()
