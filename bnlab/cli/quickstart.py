"""A first look: sample data from a shipped network, fit the posterior, print some CPT entries.

Run with ``python -m bnlab.cli.quickstart [--network alarm] [--rows 10000] [--seed 0]``.
Each printed entry shows the posterior mean and the 90% credible interval next to the true
value of the generating network, so one can see the intervals at work.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

import bnlab
from bnlab.errors import BNError


def summarise_entries(
    net: bnlab.BayesNet, post: bnlab.Posterior, variables: Sequence[str], interval: float
) -> pd.DataFrame:
    """Posterior summary rows of ``variables`` beside the generating network's values."""
    table = post.summary(interval=interval)
    table = table[table["variable"].isin(list(variables))].copy()
    truth = []
    for row in table.itertuples(index=False):
        cpt = net.cpt(row.variable)
        config = tuple(
            net.states[p].index(s)
            for p, s in zip(net.parents[row.variable], row.parent_states, strict=True)
        )
        truth.append(float(cpt[(*config, net.states[row.variable].index(row.state))]))
    table["true"] = truth
    table["covered"] = (table["lower"] <= table["true"]) & (table["true"] <= table["upper"])
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bnlab.cli.quickstart``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bnlab.cli.quickstart", description=__doc__)
    parser.add_argument("--network", default="alarm", help="a shipped example or a BIF/JSON path")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.9)
    args = parser.parse_args(argv)
    try:
        if args.network in bnlab.list_examples():
            net = bnlab.load_example(args.network)
        else:
            net = bnlab.read_network(args.network)
        t0 = time.perf_counter()
        df = bnlab.sample(net, n=args.rows, seed=args.seed)
        t1 = time.perf_counter()
        post = bnlab.fit(net.structure, df, prior="bdeu", ess=1.0)
        t2 = time.perf_counter()
    except BNError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.network}: {net!r}")
    print(
        f"sampled {args.rows:,} rows in {t1 - t0:.3f} s; "
        f"fitted the BDeu posterior in {t2 - t1:.3f} s"
    )
    roots = [v for v in net.variables if not net.parents[v]][:2]
    children = sorted(
        (v for v in net.variables if net.parents[v]), key=lambda v: len(net.parents[v])
    )[:2]
    table = summarise_entries(net, post, [*roots, *children], args.interval)
    pct = round(100 * args.interval)
    with pd.option_context("display.width", 120, "display.max_rows", 40):
        print(f"\nposterior of a few CPT entries with {pct}% credible intervals:")
        print(
            table[["variable", "parent_states", "state", "mean", "lower", "upper", "true"]]
            .head(24)
            .to_string(index=False, float_format=lambda x: f"{x:.4f}")
        )
    share = float(np.mean(table["covered"]))
    print(f"\n{pct}% intervals covering the true value: {share:.0%} of {len(table)} shown")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
