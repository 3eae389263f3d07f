"""ATE with a credible interval over 1,000 posterior draws (one batched engine call), timed
beside pgmpy's CausalInference.estimate_ate (a linear-regression point estimate) on the same
data.

Run:  uv run python benchmarks/causal.py [--rows 10000] [--draws 1000] [--repeats 3]
Prints a markdown table for benchmarks/RESULTS.md: per network, the true ATE (do() on the
generating network), bnlab's posterior mean and 90% interval, pgmpy's estimate, and the
times (bnlab's first call includes compiling the plan; warm calls reuse it).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np

import bnlab
from bnlab import BayesNet, Structure, causal
from bnlab.infer import Engine


def confounded() -> BayesNet:
    """Z -> T, Z -> Y, T -> Y (binary): the textbook confounded treatment."""
    s = Structure(["Z", "T", "Y"], {v: ("0", "1") for v in "ZTY"}, {"T": ["Z"], "Y": ["T", "Z"]})
    cpts = {
        "Z": np.array([0.6, 0.4]),
        "T": np.array([[0.8, 0.2], [0.3, 0.7]]),
        "Y": np.array([[[0.9, 0.1], [0.6, 0.4]], [[0.75, 0.25], [0.35, 0.65]]]),
    }
    return BayesNet(structure=s, cpts=cpts)


CASES = {
    # name: (network, treatment, outcome, treated, control, outcome state)
    "confounded (3 nodes)": (confounded, "T", "Y", "1", "0", "1"),
    "asia (8 nodes)": (lambda: bnlab.load_example("asia"), "smoke", "dysp", "yes", "no", "yes"),
}


def _pgmpy_ate(net: BayesNet, data: object, x: str, y: str, treated: str, ys: str) -> float:
    import pandas as pd
    from pgmpy.inference import CausalInference
    from pgmpy.models import DiscreteBayesianNetwork

    frame = pd.DataFrame(data)
    # numeric codes; treatment = 1 for `treated`, outcome = 1 for `ys`: the linear model's
    # slope is then the ATE on P(outcome = ys)
    numeric = pd.DataFrame({c: frame[c].cat.codes.astype(float) for c in frame.columns})
    numeric[x] = (frame[x] == treated).astype(float)
    numeric[y] = (frame[y] == ys).astype(float)
    model = DiscreteBayesianNetwork(net.edges)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(CausalInference(model).estimate_ate(x, y, data=numeric))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}"
    )
    print(f"rows {args.rows}, draws {args.draws}, repeats {args.repeats} (median of warm calls)")
    print()
    print(
        "| network | true ATE | bnlab mean [90% interval] | pgmpy estimate_ate "
        "| bnlab first call s | bnlab warm s | pgmpy s | pgmpy / bnlab warm |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (make, x, y, t, c, ys) in CASES.items():
        net = make()
        data = bnlab.sample(net, args.rows, seed=0)
        post = bnlab.fit(net.structure, data, prior="bdeu", ess=1.0)
        eng = Engine(net)
        p1 = eng.query(y, [{}], do={x: t})
        p0 = eng.query(y, [{}], do={x: c})
        k = list(net.states[y]).index(ys)
        truth = float(p1["mean"].iloc[k] - p0["mean"].iloc[k])

        kw = {"treated": t, "control": c, "outcome_state": ys, "draws": args.draws, "seed": 1}
        t0 = time.perf_counter()
        out = causal.effect(post, x, y, **kw)
        first = time.perf_counter() - t0
        warm = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            causal.effect(post, x, y, **kw)
            warm.append(time.perf_counter() - t0)
        theirs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            est = _pgmpy_ate(net, data, x, y, t, ys)
            theirs.append(time.perf_counter() - t0)
        w, p = statistics.median(warm), statistics.median(theirs)
        row = out.iloc[0]
        interval = f"{row['mean']:.4f} [{row['lower']:.4f}, {row['upper']:.4f}]"
        print(
            f"| {name} | {truth:.4f} | {interval} | {est:.4f} | {first:.2f} | {w:.3f} "
            f"| {p:.3f} | {p / w:.1f}x |"
        )


if __name__ == "__main__":
    main()
