"""Sampling and conjugate fit on ALARM: bnlab against pyAgrum, pgmpy and a bare numpy bincount.

Usage::

    uv run python benchmarks/fit.py [--rows N] [--pgmpy-rows M] [--repeat R]

Times (best of ``--repeat`` runs, all in one process):

- sampling ``N`` rows: ``bnlab.sample`` (DataFrame of Categoricals, and int codes) vs
  pyAgrum's ``BNDatabaseGenerator.drawSamples`` + ``to_pandas``;
- fitting the BDeu posterior (ess = 1) from the same data: ``bnlab.fit`` (from int8 codes and
  from the DataFrame), a bare numpy flat-index + ``np.bincount`` per family on the same codes,
  pyAgrum ``BNLearner(...).useBDeuPrior(1).learnParameters(dag)`` from the DataFrame and from
  a CSV file (written beforehand, not timed), and pgmpy's ``DiscreteBayesianEstimator``
  (BDeu) on ``--pgmpy-rows`` rows (default: all ``N``; a smaller value is reported with a
  linear extrapolation to ``N``, labelled as such);
- peak traced memory of ``bnlab.fit`` from codes (tracemalloc) vs the size of the codes.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import bnlab
from bnlab.io import to_pyagrum


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls, and the last result."""
    times = []
    out = None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def bare_bincount(codes: np.ndarray, families: list[tuple[list[int], list[int]]]) -> list[Any]:
    """Flat row-major index + one bincount per family: the floor any counter can reach."""
    out = []
    for cols, cards in families:
        idx = codes[:, cols[0]].astype(np.int64)
        for col, card in zip(cols[1:], cards[1:], strict=True):
            idx *= card
            idx += codes[:, col]
        out.append(np.bincount(idx, minlength=int(np.prod(cards))))
    return out


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?", "?", "?")
    return (
        f"{cpu}; nproc={os.cpu_count()}; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}; Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pgmpy-rows", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--network", default="alarm")
    args = parser.parse_args()
    n, repeat = args.rows, args.repeat
    pg_rows = min(args.pgmpy_rows or n, n)

    import pyagrum as gum

    net = bnlab.load_example(args.network)
    bn = to_pyagrum(net)
    s = net.structure
    families = [
        (
            [s.index[p] for p in s.parents[v]] + [s.index[v]],
            [*(s.cards[p] for p in s.parents[v]), s.cards[v]],
        )
        for v in s.variables
    ]
    rows: list[tuple[str, float, str]] = []
    print(f"# {args.network}, {n:,} rows; best of {repeat}; {machine()}")

    # warm-up: imports and first-call costs are not what is measured
    warm = bnlab.sample(net, 1000, seed=1)
    bnlab.fit(net, warm)
    bnlab.fit(net, bnlab.encode(warm, net))

    # -- sampling --------------------------------------------------------------------------
    t_df, df = best_of(lambda: bnlab.sample(net, n, seed=0), repeat)
    t_codes, codes = best_of(lambda: bnlab.sample(net, n, seed=0, as_codes=True), repeat)
    gen = gum.BNDatabaseGenerator(bn)
    t_draw, _ = best_of(lambda: gen.drawSamples(n), 1)
    t_topd, _ = best_of(gen.to_pandas, 1)
    t_agrum = t_draw + t_topd
    rows += [
        ("bnlab.sample -> DataFrame", t_df, ""),
        ("bnlab.sample -> int codes", t_codes, ""),
        ("pyAgrum drawSamples", t_draw, ""),
        ("pyAgrum to_pandas", t_topd, ""),
        ("pyAgrum drawSamples + to_pandas", t_agrum, f"{t_agrum / t_df:.1f}x bnlab DataFrame"),
    ]

    # -- fit -------------------------------------------------------------------------------
    t_bare, _ = best_of(lambda: bare_bincount(codes, families), repeat)
    t_fit, post = best_of(lambda: bnlab.fit(net, codes, prior="bdeu", ess=1.0), repeat)
    t_fit_df, _ = best_of(lambda: bnlab.fit(net, df, prior="bdeu", ess=1.0), repeat)
    t_encode, _ = best_of(lambda: bnlab.encode(df, net), repeat)

    learner_df = df.astype(str)  # pyAgrum reads label columns, not pandas Categoricals

    def agrum_fit(source: Any) -> Any:
        learner = gum.BNLearner(source, bn)
        learner.useBDeuPrior(1.0)
        return learner.learnParameters(bn.dag())

    t_agrum_df, agrum_bn = best_of(lambda: agrum_fit(learner_df), 1)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "alarm.csv"
        learner_df.to_csv(csv, index=False)
        t_agrum_csv, _ = best_of(lambda: agrum_fit(str(csv)), 1)

    from pgmpy.models import DiscreteBayesianNetwork
    from pgmpy.parameter_estimator import DiscreteBayesianEstimator

    model = DiscreteBayesianNetwork(net.edges)
    model.add_nodes_from(net.variables)
    pg_df = learner_df.iloc[:pg_rows]
    est = DiscreteBayesianEstimator(
        state_names={v: list(net.states[v]) for v in net.variables},
        prior_type="BDeu",
        equivalent_sample_size=1.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_pg, _ = best_of(lambda: est.fit(model, pg_df), 1)
    t_pg_full = t_pg * n / pg_rows
    pg_label = "pgmpy DiscreteBayesianEstimator (BDeu)"
    if pg_rows < n:
        pg_label += f", {pg_rows:,} rows"
    peer_times = {
        "pyAgrum BNLearner (DataFrame)": t_agrum_df,
        "pyAgrum BNLearner (CSV)": t_agrum_csv,
        "pgmpy": t_pg_full,
    }
    fastest = min(peer_times, key=peer_times.__getitem__)
    rows += [
        ("bare numpy bincount (same families)", t_bare, ""),
        ("bnlab.fit conjugate (int8 codes)", t_fit, f"{t_fit / t_bare:.2f}x bare bincount"),
        ("bnlab.encode DataFrame -> codes", t_encode, ""),
        ("bnlab.fit conjugate (DataFrame)", t_fit_df, f"{t_fit_df / t_bare:.2f}x bare bincount"),
        (
            "pyAgrum BNLearner BDeu (DataFrame)",
            t_agrum_df,
            f"{t_agrum_df / t_fit:.1f}x bnlab codes",
        ),
        ("pyAgrum BNLearner BDeu (CSV)", t_agrum_csv, f"{t_agrum_csv / t_fit:.1f}x bnlab codes"),
        (pg_label, t_pg, ""),
    ]
    if pg_rows < n:
        rows.append(
            (
                f"pgmpy extrapolated linearly to {n:,} rows",
                t_pg_full,
                f"{t_pg_full / t_fit:.1f}x bnlab",
            )
        )
    else:
        rows[-1] = (pg_label, t_pg, f"{t_pg / t_fit:.1f}x bnlab codes")

    # agreement with pyAgrum's estimate (a benchmark of the wrong numbers is worthless)
    mean = post.mean()
    gap = 0.0
    for v in net.variables:
        ours = mean.cpt(v)
        theirs = np.asarray(agrum_bn.cpt(v).toarray())
        reverse = list(agrum_bn.cpt(v).names)[::-1]  # toarray() axes: names reversed
        theirs = np.transpose(theirs, [reverse.index(a) for a in [*net.parents[v], v]])
        if theirs.shape == ours.shape:
            gap = max(gap, float(np.abs(theirs - ours).max()))
        else:
            gap = float("nan")

    # -- memory ----------------------------------------------------------------------------
    gc.collect()
    tracemalloc.start()
    bnlab.fit(net, codes, prior="bdeu", ess=1.0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'seconds':>9}  ratio")
    for name, t, note in rows:
        print(f"{name:<{width}}  {t:9.3f}  {note}")
    print()
    print(f"sampling: bnlab is {t_agrum / t_df:.1f}x faster than pyAgrum (target >= 20x)")
    print(f"fit: {t_fit / t_bare:.2f}x the bare bincount (target <= 2x)")
    print(
        f"fit: fastest peer is {fastest} at {peer_times[fastest]:.3f} s = "
        f"{peer_times[fastest] / t_fit:.1f}x bnlab (target >= 10x)"
    )
    print(
        f"memory: peak traced during fit {peak / 2**20:.1f} MiB vs encoded data "
        f"{codes.nbytes / 2**20:.1f} MiB = {peak / codes.nbytes:.2f}x (target < 3x)"
    )
    print(f"max |bnlab mean - pyAgrum BDeu estimate| = {gap:.2e}")
    print(f"pyAgrum threads: {gum.getNumberOfThreads()}")


if __name__ == "__main__":
    main()
