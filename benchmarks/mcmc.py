"""MCMC on incomplete data: Gibbs, NumPyro and PyMC posteriors, and pyAgrum's EM estimate.

ALARM, 5,000 rows sampled from the true network, 20% of cells removed completely at random,
K2 prior. For each MCMC backend: wall time of the whole fit (compilation included), min bulk
ESS per second over every CPT entry, max R-hat, divergences, and the mean KL(true || posterior
mean) over CPT rows. pyAgrum's EM (``BNLearner.useEM(1e-4)`` with a smoothing prior of 1, the
K2 pseudo-count, capped at ``--em-max-time`` seconds) gives the point estimate beside it, and
the complete-case conjugate fit the baseline that drops rows. The NUTS backends run in a
child process stopped after ``--nuts-timeout`` seconds (their compilation can take minutes).
Run:

    uv run python benchmarks/mcmc.py --backends gibbs --draws 2500 --tune 300 \
        --out benchmarks/mcmc.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np

import bnlab
from bnlab.fit import fit


def mean_kl(truth: bnlab.BayesNet, cpts: dict[str, np.ndarray]) -> float:
    """KL(true row || estimated row), averaged over all CPT rows of all variables."""
    kls = []
    for v in truth.variables:
        p = truth.cpt(v).reshape(-1, truth.cpt(v).shape[-1])
        q = np.clip(np.asarray(cpts[v]).reshape(p.shape), 1e-300, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            kls.append(np.where(p > 0, p * np.log(p / q), 0.0).sum(axis=1))
    return float(np.concatenate(kls).mean())


def pyagrum_em(
    truth: bnlab.BayesNet, df: object, max_time: float
) -> tuple[float, dict[str, np.ndarray], dict[str, Any]]:
    import pyagrum as gum

    from bnlab.io.convert import from_pyagrum, to_pyagrum

    template = to_pyagrum(truth)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        df.astype(object).where(df.notna(), "?").to_csv(path, index=False)  # type: ignore[attr-defined]
        start = time.perf_counter()
        learner = gum.BNLearner(str(path), template, ["?"])
        learner.useSmoothingPrior(1.0)
        learner.useEM(1e-4)
        learner.EMsetMaxTime(float(max_time))
        learned = learner.learnParameters(template.dag())
        elapsed = time.perf_counter() - start
        info = {"iterations": learner.EMnbrIterations(), "stopped_by": learner.EMStateMessage()}
    net = from_pyagrum(learned)
    return elapsed, {v: net.cpt(v) for v in truth.variables}, info


def run_backend(backend: str, truth: bnlab.BayesNet, df: object, args: argparse.Namespace) -> dict:
    options: dict[str, Any] = {"chains": args.chains, "draws": args.draws, "tune": args.tune}
    if backend == "gibbs":
        options["thin"] = args.thin
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = fit(truth.structure, df, prior="k2", backend=backend, seed=0, **options)
    wall = time.perf_counter() - start
    d = post.attrs["diagnostics"]
    row = {
        "method": f"bnlab {backend} "
        + ("data-augmentation Gibbs" if backend == "gibbs" else "NUTS"),
        "wall_s": round(wall, 1),
        "sampling_s": round(post.attrs["sampling_s"], 1),
        "min_bulk_ess": round(d["min_ess_bulk"], 1),
        "min_bulk_ess_per_s": round(d["min_ess_bulk"] / wall, 2),
        "min_tail_ess": round(d["min_ess_tail"], 1),
        "max_rhat": round(d["max_rhat"], 4),
        "divergences": d["n_divergent"],
        "mean_kl": mean_kl(truth, post.mean_cpts()),
    }
    if backend == "gibbs":
        row["sweeps_per_chain"] = post.attrs["sweeps_per_chain"]
        row["imputed_cells"] = post.attrs["n_imputed_cells"]
        row["missing_cells"] = post.attrs["n_missing_cells"]
    return row


def _child(backend: str, args: Any, queue: Any) -> None:
    truth = bnlab.load_example(args.network)  # networks do not pickle: rebuild the same data
    df = bnlab.sample(truth, args.rows, seed=0, missing=args.missing)
    queue.put(run_backend(backend, truth, df, args))


def run_backend_with_timeout(backend: str, args: argparse.Namespace) -> dict:
    """Run a NUTS backend in a child process; report it as unfinished after the timeout."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(backend, args, queue))
    start = time.perf_counter()
    proc.start()
    proc.join(args.nuts_timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return {
            "method": f"bnlab {backend} NUTS",
            "wall_s": f"> {args.nuts_timeout} (stopped; compilation + sampling not finished)",
        }
    if queue.empty():
        return {"method": f"bnlab {backend} NUTS", "error": f"exit code {proc.exitcode}"}
    row: dict = queue.get()
    row["wall_s_with_process_start"] = round(time.perf_counter() - start, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--network", default="alarm")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--missing", type=float, default=0.2)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--thin", type=int, default=1, help="gibbs: keep every n-th sweep")
    parser.add_argument("--backends", default="gibbs,numpyro,pymc")
    parser.add_argument("--em-max-time", type=float, default=600.0)
    parser.add_argument("--nuts-timeout", type=float, default=600.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    load_before = os.getloadavg()
    truth = bnlab.load_example(args.network)
    df = bnlab.sample(truth, args.rows, seed=0, missing=args.missing)
    rows = []
    start = time.perf_counter()
    cc = fit(truth.structure, df.dropna(), prior="k2", backend="conjugate")
    rows.append(
        {
            "method": "conjugate, complete cases only",
            "wall_s": round(time.perf_counter() - start, 2),
            "mean_kl": mean_kl(truth, cc.mean_cpts()),
            "rows_used": int(len(df.dropna())),
        }
    )
    print(json.dumps(rows[-1]), flush=True)
    start = time.perf_counter()
    ac = fit(truth.structure, df, prior="k2", backend="conjugate")  # drops rows per family
    rows.append(
        {
            "method": "conjugate, available cases per family",
            "wall_s": round(time.perf_counter() - start, 2),
            "mean_kl": mean_kl(truth, ac.mean_cpts()),
        }
    )
    print(json.dumps(rows[-1]), flush=True)
    for backend in args.backends.split(","):
        if backend == "gibbs":
            rows.append(run_backend(backend, truth, df, args))
        else:
            rows.append(run_backend_with_timeout(backend, args))
        print(json.dumps(rows[-1]), flush=True)
    if args.em_max_time > 0:
        em_s, em_cpts, info = pyagrum_em(truth, df, args.em_max_time)
        rows.append(
            {
                "method": "pyAgrum EM (point estimate)",
                "wall_s": round(em_s, 2),
                "mean_kl": mean_kl(truth, em_cpts),
                **info,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "network": args.network,
        "rows": args.rows,
        "missing": args.missing,
        "chains": args.chains,
        "draws": args.draws,
        "tune": args.tune,
        "thin": args.thin,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "results": rows,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
