"""MCMC on incomplete data: NumPyro vs PyMC posteriors, and pyAgrum's EM point estimate.

ALARM, 5,000 rows sampled from the true network, 20% of cells removed completely at random,
K2 prior. For each MCMC backend: wall time of the whole fit (compilation included), min bulk
ESS per second over every CPT entry, max R-hat, divergences, and the mean KL(true || posterior
mean) over CPT rows. pyAgrum's EM (``BNLearner.useEM(1e-4)`` with a smoothing prior of 1, the
K2 pseudo-count) gives the point estimate beside it, and the complete-case conjugate fit the
baseline that drops rows. Run:

    uv run python benchmarks/mcmc.py --draws 500 --tune 500 --out benchmarks/mcmc.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

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


def pyagrum_em(truth: bnlab.BayesNet, df: object) -> tuple[float, dict[str, np.ndarray]]:
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
        learned = learner.learnParameters(template.dag())
        elapsed = time.perf_counter() - start
    net = from_pyagrum(learned)
    return elapsed, {v: net.cpt(v) for v in truth.variables}


def run_backend(backend: str, truth: bnlab.BayesNet, df: object, args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = fit(
            truth.structure,
            df,
            prior="k2",
            backend=backend,
            chains=args.chains,
            draws=args.draws,
            tune=args.tune,
            seed=0,
        )
    wall = time.perf_counter() - start
    d = post.attrs["diagnostics"]
    return {
        "method": f"bnlab {backend} NUTS",
        "wall_s": round(wall, 1),
        "sampling_s": round(post.attrs["sampling_s"], 1),
        "min_bulk_ess": round(d["min_ess_bulk"], 1),
        "min_bulk_ess_per_s": round(d["min_ess_bulk"] / wall, 2),
        "max_rhat": round(d["max_rhat"], 4),
        "divergences": d["n_divergent"],
        "mean_kl": mean_kl(truth, post.mean_cpts()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--network", default="alarm")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--missing", type=float, default=0.2)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--backends", default="numpyro,pymc")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

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
    em_s, em_cpts = pyagrum_em(truth, df)
    rows.append(
        {
            "method": "pyAgrum EM (point estimate)",
            "wall_s": round(em_s, 2),
            "mean_kl": mean_kl(truth, em_cpts),
        }
    )
    for row in rows:
        print(json.dumps(row), flush=True)
    for backend in args.backends.split(","):
        rows.append(run_backend(backend, truth, df, args))
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "network": args.network,
        "rows": args.rows,
        "missing": args.missing,
        "chains": args.chains,
        "draws": args.draws,
        "tune": args.tune,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_after": os.getloadavg(),
        "results": rows,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
