"""Elimination-order search with a time budget against the quick default search.

Usage::

    uv run python benchmarks/order_search.py [--networks munin1,pigs,link] [--budgets 3,10]

Per network: the quick search's plan (``compile_plan(s)``: plain plus a few seeded
randomised min-fill orders) against ``compile_plan(s, search_s=B)`` for each budget B:
flops per evidence row, largest intermediate, orders tried and wall seconds. The searched
plan depends on how many orders the machine draws in the budget.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import bnlab
from bnlab.infer.plan import compile_plan
from bnlab.network import as_structure

NETWORKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "networks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="munin1,pigs,link")
    parser.add_argument("--budgets", default="3,10")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print("| network | search | flops/row | vs quick | largest | seconds |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in args.networks.split(","):
        s = as_structure(bnlab.read_network(NETWORKS / f"{name}.bif.gz"))
        t = time.perf_counter()
        quick = compile_plan(s)
        print(f"| {name} | quick ({quick.order_method}) | {quick.flops:.3g} | 1.00 | "
              f"{quick.largest:,} | {time.perf_counter() - t:.1f} |", flush=True)  # fmt: skip
        for budget in (float(b) for b in args.budgets.split(",")):
            t = time.perf_counter()
            plan = compile_plan(s, search_s=budget)
            print(f"| {name} | {budget:g} s ({plan.order_method}) | {plan.flops:.3g} | "
                  f"{plan.flops / quick.flops:.2f} | {plan.largest:,} | "
                  f"{time.perf_counter() - t:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
