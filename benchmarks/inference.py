"""Exact inference: bnlab's batched JAX engine vs pyAgrum LazyPropagation vs pgmpy VE.

For each network: 1000 evidence rows, each a forward sample with 5 randomly chosen
variables observed (so no row is impossible). Measured in one process:

* bnlab batched all-node marginals for the 1000 rows (compile time on its own line);
* pyAgrum LazyPropagation loop (set evidence, infer, read every posterior), and pgmpy
  VariableElimination (every unobserved variable's marginal), each timed on a subset of
  rows and scaled to 1000 (the subset size is printed);
* single-query latency (one row, one target): bnlab jitted vs pyAgrum;
* a posterior query over 1000 Dirichlet CPT draws (one row, one target) vs the loop a
  pyAgrum user writes (refill every CPT from the draw, re-infer, read), timed on a subset
  of draws and scaled;
* the plan's flops per row (forward, multiply-adds; all marginals by reverse mode ~3x)
  and the flops/s the batched call achieves.

bnlab runs as a user gets it: the engine splits each batch across one JAX CPU device per
core (``BNLAB_CPU_DEVICES=1`` measures it on one device); pyAgrum keeps its default thread
count (printed; one per core).

Run: ``uv run python benchmarks/inference.py [--networks alarm,hepar2] [--pgmpy-rows 2]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import bnlab
from bnlab.infer import Engine
from bnlab.posterior import Posterior

HERE = Path(__file__).resolve().parent
NETWORKS = ["alarm", "hepar2", "win95pts", "pathfinder", "andes"]
#: Networks of 400-1,000+ variables (issue 22), benchmarked by ``bench_large`` with
#: ``--large``; andes and pathfinder can be added there for reference.
LARGE_NETWORKS = ["pigs", "diabetes", "link", "munin", "munin1"]


def network_file(name: str) -> Path:
    for folder in (HERE.parent / "tests" / "data" / "networks", HERE.parent / "bnlab" / "examples"):
        p = folder / f"{name}.bif.gz"
        if p.exists():
            return p
    raise FileNotFoundError(name)


def evidence_rows(net: bnlab.BayesNet, n: int, k: int, seed: int) -> list[dict[str, str]]:
    df = bnlab.sample(net, n=n, seed=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n):
        cols = rng.choice(len(net.variables), size=k, replace=False)
        rows.append({net.variables[j]: str(df.iloc[r, j]) for j in cols})
    return rows


def gum_threads() -> int:
    """Threads pyAgrum may use (its default: one per core)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum

    return int(gum.getNumberOfThreads())


def best_of(fn: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_network(name: str, n_rows: int, args: argparse.Namespace) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum

    from bnlab.io import to_pgmpy, to_pyagrum

    net = bnlab.read_network(network_file(name))
    rows = evidence_rows(net, n_rows, 5, seed=0)
    target_free = [
        next(v for v in net.variables if v not in row) for row in rows
    ]  # a target unobserved in that row
    out: dict[str, Any] = {"network": name, "variables": len(net.variables)}

    # -- bnlab batched ---------------------------------------------------------------------
    t = time.perf_counter()
    eng = Engine(net, dtype=args.dtype)
    out["plan_s"] = time.perf_counter() - t
    codes = bnlab.infer.encode_evidence(net, rows)
    t = time.perf_counter()
    eng.marginals(codes)
    out["compile_s"] = time.perf_counter() - t - 0.0
    out["bnlab_batch_s"] = best_of(lambda: eng.marginals(codes))
    out["bnlab_batch_dicts_s"] = best_of(lambda: eng.marginals(rows), repeat=1)
    cost = eng.cost
    out["flops_per_row"] = cost["flops_per_row"]
    out["largest"] = cost["largest_intermediate"]
    out["gflops"] = 3 * cost["flops_per_row"] * n_rows / out["bnlab_batch_s"] / 1e9

    # -- pyAgrum loop ----------------------------------------------------------------------
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        gbn = to_pyagrum(net)
        ie = gum.LazyPropagation(gbn)
        sub = rows[: args.pyagrum_rows]
        t = time.perf_counter()
        for row in sub:
            ie.setEvidence(row)
            ie.makeInference()
            for v in net.variables:
                ie.posterior(v)
        out["pyagrum_rows"] = len(sub)
        out["pyagrum_batch_s"] = (time.perf_counter() - t) / len(sub) * n_rows
        # agreement on the timed rows (outside the timing): largest |bnlab - pyAgrum|
        mine = eng.marginals(codes[: len(sub)])
        worst = 0.0
        for i, row in enumerate(sub):
            ie.setEvidence(row)
            ie.makeInference()
            for v in net.variables:
                theirs = np.asarray(ie.posterior(v).toarray(), dtype=np.float64)
                worst = max(worst, float(np.max(np.abs(mine[v][i] - theirs))))
        out["max_abs_diff"] = worst
        # single query, one target
        lat = []
        for row, tgt in zip(rows[:50], target_free[:50], strict=True):
            t = time.perf_counter()
            ie.setEvidence(row)
            ie.makeInference()
            ie.posterior(tgt)
            lat.append(time.perf_counter() - t)
        out["pyagrum_single_ms"] = 1e3 * float(np.median(lat))

    # -- bnlab single query ----------------------------------------------------------------
    eng.marginals(rows[:1], variables=[target_free[0]])  # compile the 1-row shape
    lat = []
    for row, tgt in zip(rows[:50], target_free[:50], strict=True):
        t = time.perf_counter()
        eng.marginals([row], variables=[tgt])
        lat.append(time.perf_counter() - t)
    out["bnlab_single_ms"] = 1e3 * float(np.median(lat))

    # -- pgmpy VE ----------------------------------------------------------------------------
    if args.pgmpy_rows > 0:
        from pgmpy.inference import VariableElimination

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = to_pgmpy(net)
            ve = VariableElimination(model)
            sub = rows[: args.pgmpy_rows]
            t = time.perf_counter()
            for row in sub:  # one query per hidden variable (a joint query over all of
                for v in net.variables:  # them makes pgmpy build the full joint table)
                    if v not in row:
                        ve.query([v], evidence=row, show_progress=False)
            out["pgmpy_rows"] = len(sub)
            out["pgmpy_batch_s"] = (time.perf_counter() - t) / len(sub) * n_rows

    # -- posterior query over 1000 draws -----------------------------------------------------
    # Each of the first --post-rows evidence rows is one query (its first free variable as
    # the target): bnlab answers it on the ancestral set of the target and the evidence
    # (barren variables sum to one; pyAgrum's LazyPropagation prunes them too), compiled
    # once per relevant set (first call, reported apart), then timed warm.
    alpha = {v: 50.0 * net.cpt(v) + 0.5 for v in net.variables}
    post = Posterior(net.structure, alpha=alpha)
    t = time.perf_counter()
    peng = Engine(post, draws=1000, seed=0, dtype=args.dtype)
    out["post_setup_s"] = time.perf_counter() - t
    draws = post.draws(args.post_draws, seed=0)
    first, warm, loop, relevant = [], [], [], []
    for row, tgt in list(zip(rows, target_free, strict=True))[: args.post_rows]:
        t = time.perf_counter()
        peng.query(tgt, [row])
        first.append(time.perf_counter() - t)
        warm.append(best_of(lambda row=row, tgt=tgt: peng.query(tgt, [row])))
        subs = [e for k, e in peng._relevant.items() if tgt in k and set(row) <= k]
        relevant.append(len(subs[-1].structure.variables) if subs else len(net.variables))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ie = gum.LazyPropagation(gbn)
            ie.setEvidence(row)
            t = time.perf_counter()
            for k in range(args.post_draws):
                for v in net.variables:
                    tensor = gbn.cpt(v)
                    axes = list(reversed(tensor.names))
                    ours = [*net.parents[v], v]
                    arr = np.transpose(draws[v][k], [ours.index(a) for a in axes])
                    tensor.fillWith(np.ascontiguousarray(arr).ravel().tolist())
                ie.makeInference()
                ie.posterior(tgt)
            loop.append((time.perf_counter() - t) / args.post_draws * 1000)
    out["post_compile_s"] = float(np.median(first))
    out["bnlab_post_s"] = float(np.median(warm))
    out["pyagrum_post_draws"] = args.post_draws
    out["pyagrum_post_s"] = float(np.median(loop))
    out["post_rows"] = len(warm)
    out["post_relevant"] = float(np.median(relevant))
    out["post_ratios"] = [round(b / a, 1) for a, b in zip(warm, loop, strict=True)]
    return out


def bench_large(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Build + first answer, batched all-marginals, pyAgrum per query, memory, flops/s."""
    import resource

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum

    from bnlab.io import to_pyagrum

    net = bnlab.read_network(network_file(name))
    rows = evidence_rows(net, args.large_rows, 5, seed=0)
    codes = bnlab.infer.encode_evidence(net, rows)
    out: dict[str, Any] = {"network": name, "variables": len(net.variables)}
    max_memory = None
    if args.memory_share is not None:  # a budget below the unsliced plan's largest step
        from bnlab.infer.plan import shared_plan

        itemsize = np.dtype(args.dtype).itemsize
        max_memory = shared_plan(net.structure).largest * itemsize * args.memory_share
    t = time.perf_counter()
    eng = Engine(net, dtype=args.dtype, method=args.method, samples=args.samples,
                 max_memory=max_memory)  # fmt: skip
    out["build_s"] = time.perf_counter() - t
    eng.marginals(codes[:1])
    out["first_answer_s"] = time.perf_counter() - t
    cost = eng.cost
    mode = eng.mode + (f", {cost['slices']} slices" if "slices" in cost else "")
    out.update(method=eng.method, mode=mode, flops_per_row=cost["flops_per_row"])
    out["largest_mib"] = cost["largest_bytes"] / 2**20
    out["expected_compile_s"] = cost["expected_compile_s"]
    t = time.perf_counter()
    mine = eng.marginals(codes)
    out["bnlab_rows"] = len(rows)
    out["bnlab_1000_s"] = (time.perf_counter() - t) / len(rows) * 1000
    out["gflops"] = 3 * cost["flops_per_row"] * 1000 / out["bnlab_1000_s"] / 1e9
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: bnlab {out['bnlab_1000_s']:.1f} s per 1000 rows", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ie = gum.LazyPropagation(to_pyagrum(net))
        sub = rows[: args.pyagrum_rows]
        worst, t = 0.0, time.perf_counter()
        theirs = []
        try:
            for row in sub:
                ie.setEvidence(row)
                ie.makeInference()
                theirs.append({v: np.asarray(ie.posterior(v).toarray()) for v in net.variables})
        except Exception as err:  # pyAgrum runs out of memory on link (std::bad_alloc)
            out.update(pyagrum_error=str(err), max_abs_diff=float("nan"), ratio=float("nan"))
            out.update(pyagrum_rows=0, pyagrum_1000_s=float("nan"))
            return out
        out["pyagrum_rows"] = len(sub)
        out["pyagrum_1000_s"] = (time.perf_counter() - t) / len(sub) * 1000
        for i, post in enumerate(theirs):
            for v in net.variables:
                worst = max(worst, float(np.max(np.abs(mine[v][i] - post[v]))))
    out["max_abs_diff"] = worst
    if eng.method == "lbp":
        out["converged_share"] = float(np.mean(mine.converged))
    # the agreement check tests/test_infer_large.py keeps for pigs only (diabetes is here)
    if args.dtype == "float64" and eng.method == "exact" and worst > 1e-6:
        raise SystemExit(f"{name}: bnlab and pyAgrum marginals differ by {worst:.3g} > 1e-6")
    out["ratio"] = out["pyagrum_1000_s"] / out["bnlab_1000_s"]
    return out


def large_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| network | vars | method / mode | flops/row | build + first answer s (expected "
        "compile s) | bnlab 1000 rows s (rows timed) | pyAgrum 1000 s (rows timed) | ratio | "
        "GFlop/s | largest intermediate MiB per row | peak RSS MiB | max abs diff vs pyAgrum |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['network']} | {r['variables']} | {r['method']} / {r['mode']} | "
            f"{r['flops_per_row']:.3g} | {r['first_answer_s']:.1f} "
            f"({r['expected_compile_s']:.1f}) | "
            f"{r['bnlab_1000_s']:.1f} ({r['bnlab_rows']}) | "
            f"{r.get('pyagrum_error') or format(r['pyagrum_1000_s'], '.1f')} "
            f"({r['pyagrum_rows']}) | **{r['ratio']:.0f}x** | {r['gflops']:.3f} | "
            f"{r['largest_mib']:.3g} | {r['peak_rss_mib']:.0f} | {r['max_abs_diff']:.1e} |"
        )
    return "\n".join(lines)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| network | vars | flops/row | largest | compile s | bnlab 1000 rows s | pyAgrum 1000 s "
        "(rows timed) | ratio | pgmpy 1000 s (rows timed) | ratio | GFlop/s | single ms "
        "bnlab / pyAgrum | 1000-draw query s bnlab / pyAgrum (draws timed), median of queries | "
        "ratio | relevant vars (median) | first call s (compile) | max abs diff vs pyAgrum |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- "
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        pg = (
            f"{r['pgmpy_batch_s']:.1f} ({r['pgmpy_rows']}) | "
            f"{r['pgmpy_batch_s'] / r['bnlab_batch_s']:.0f}x"
            if "pgmpy_batch_s" in r
            else "- | -"
        )
        lines.append(
            f"| {r['network']} | {r['variables']} | {r['flops_per_row']:.3g} | {r['largest']} | "
            f"{r['compile_s']:.1f} | {r['bnlab_batch_s']:.3f} | "
            f"{r['pyagrum_batch_s']:.2f} ({r['pyagrum_rows']}) | "
            f"**{r['pyagrum_batch_s'] / r['bnlab_batch_s']:.0f}x** | {pg} | "
            f"{r['gflops']:.2f} | {r['bnlab_single_ms']:.2f} / {r['pyagrum_single_ms']:.2f} | "
            f"{r['bnlab_post_s']:.4f} / {r['pyagrum_post_s']:.2f} ({r['pyagrum_post_draws']}) | "
            f"**{r['pyagrum_post_s'] / r['bnlab_post_s']:.0f}x** | {r['post_relevant']:.0f} | "
            f"{r['post_compile_s']:.1f} | {r['max_abs_diff']:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--pyagrum-rows", type=int, default=100)
    parser.add_argument("--pgmpy-rows", type=int, default=2)
    parser.add_argument("--post-draws", type=int, default=50)
    parser.add_argument("--post-rows", type=int, default=5, help="posterior queries timed")
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="bnlab's float type (pyAgrum and pgmpy compute in float64)",
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="benchmark the large networks (default pigs,diabetes,link,munin,munin1) instead",
    )
    parser.add_argument("--large-rows", type=int, default=100, help="rows timed per large net")
    parser.add_argument("--method", default="auto", choices=("auto", "exact", "importance", "lbp"))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument(
        "--memory-share",
        type=float,
        default=None,
        help="--large: max_memory as this share of the unsliced plan's largest intermediate "
        "(below 1 the engine slices, see bnlab.infer.slicing)",
    )
    args = parser.parse_args()
    import jax

    from bnlab.infer.devices import start_jax

    start_jax()  # the engine's devices (one CPU device per core) before JAX first runs
    jax.config.update("jax_enable_x64", True)
    print(
        f"machine: {platform.processor() or platform.machine()}, nproc={os.cpu_count()}, "
        f"jax {jax.__version__} on {len(jax.devices())} x {jax.devices()[0].platform} "
        f"device(s), bnlab in {args.dtype}, pyAgrum threads {gum_threads()}; "
        f"load average at start: {os.getloadavg()}"
    )
    if args.large:
        names = LARGE_NETWORKS if args.networks == ",".join(NETWORKS) else args.networks.split(",")
        large = []
        for name in names:
            large.append(bench_large(name, args))
            print(large[-1], flush=True)
        print(large_table(large))
        print(f"load average at end: {os.getloadavg()}")
        return
    results = []
    for name in args.networks.split(","):
        r = bench_network(name, args.rows, args)
        results.append(r)
        print(r, flush=True)
    print(table(results))
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
