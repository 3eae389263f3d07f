"""MCMC on incomplete data: Gibbs, NumPyro and PyMC posteriors, and pyAgrum's EM estimate.

ALARM, 5,000 rows sampled from the true network, 20% of cells removed completely at random,
K2 prior. For each MCMC backend: wall time of the whole fit (compilation included), min bulk
ESS per second over every CPT entry, max R-hat, divergences, and the mean KL(true || posterior
mean) over CPT rows. pyAgrum's EM (``BNLearner.useEM(1e-4)`` with a smoothing prior of 1, the
K2 pseudo-count, capped at ``--em-max-time`` seconds) gives the point estimate beside it, and
the complete-case conjugate fit the baseline that drops rows. pyAgrum orders a learned CPT's
parents by node id, not as the BIF lists them: its CPTs are permuted to bnlab's parent and
state order before the KL (:func:`aligned_cpts`). The NUTS backends run in a child process
stopped after ``--nuts-timeout`` seconds. ``--gradient-cost`` also times the compilation and
one log-density gradient of the NUTS backends on the same data: NumPyro's variable-elimination
circuit (what the backend samples) beside the enumerated packed form it replaced. The NumPyro
row also reports NUTS's leapfrog steps per draw, tree depth and step size. ``--nuts-tune`` and
``--nuts-draws`` override ``--tune``/``--draws`` for the NUTS backends. Run:

    uv run python benchmarks/mcmc.py --backends gibbs,numpyro,pymc --draws 1000 --tune 300 \
        --nuts-tune 200 --nuts-timeout 300 --gradient-cost --out /tmp/mcmc.json
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
from bnlab.fitting import fit


def mean_kl(truth: bnlab.BayesNet, cpts: dict[str, np.ndarray]) -> float:
    """KL(true row || estimated row), averaged over all CPT rows of all variables."""
    kls = []
    for v in truth.variables:
        p = truth.cpt(v).reshape(-1, truth.cpt(v).shape[-1])
        q = np.clip(np.asarray(cpts[v]).reshape(p.shape), 1e-300, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            kls.append(np.where(p > 0, p * np.log(p / q), 0.0).sum(axis=1))
    return float(np.concatenate(kls).mean())


def aligned_cpts(truth: bnlab.BayesNet, net: bnlab.BayesNet) -> dict[str, np.ndarray]:
    """``net``'s CPTs in ``truth``'s parent order and state order (axes and labels permuted).

    A network read back from another library may order a CPT's parents differently (pyAgrum
    orders them by node id, not as the BIF file lists them): comparing raw arrays would
    compare different entries.
    """
    out = {}
    for v in truth.variables:
        if set(net.parents[v]) != set(truth.parents[v]):
            raise ValueError(f"{v}: parents {net.parents[v]} != {truth.parents[v]}")
        fam_net, fam_true = [*net.parents[v], v], [*truth.parents[v], v]
        arr = np.transpose(net.cpt(v), [fam_net.index(u) for u in fam_true])
        for axis, u in enumerate(fam_true):  # state order per axis
            if set(net.states[u]) != set(truth.states[u]):
                raise ValueError(f"{u}: states {net.states[u]} != {truth.states[u]}")
            arr = np.take(arr, [net.states[u].index(x) for x in truth.states[u]], axis=axis)
        out[v] = arr
    return out


def pyagrum_em(
    truth: bnlab.BayesNet, df: object, max_time: float, use_em: bool = True
) -> tuple[float, dict[str, np.ndarray], dict[str, Any]]:
    """pyAgrum's parameter learning (EM when ``use_em`` and cells are missing), K2 smoothing.

    EM starts from pyAgrum's own initial CPTs (estimated ignoring the missing cells, then
    perturbed with its default noise 0.1); ``max_time`` is in seconds (pyAgrum takes ms).
    """
    import pyagrum as gum

    from bnlab.io.convert import from_pyagrum, to_pyagrum

    template = to_pyagrum(truth)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        frame = df[list(truth.variables)]  # type: ignore[index]  # node ids = column order
        frame.astype(object).where(frame.notna(), "?").to_csv(path, index=False)
        start = time.perf_counter()
        learner = gum.BNLearner(str(path), template, ["?"])
        learner.useSmoothingPrior(1.0)  # the K2 pseudo-count
        info: dict[str, Any] = {}
        if use_em:
            learner.useEM(1e-4)
            learner.EMsetMaxTime(float(max_time) * 1000.0)  # milliseconds
        learned = learner.learnParameters(template.dag())
        elapsed = time.perf_counter() - start
        if use_em:
            info = {
                "iterations": learner.EMnbrIterations(),
                "stopped_by": learner.EMStateMessage(),
            }
    return elapsed, aligned_cpts(truth, from_pyagrum(learned)), info


def run_backend(backend: str, truth: bnlab.BayesNet, df: object, args: argparse.Namespace) -> dict:
    options: dict[str, Any] = {"chains": args.chains, "draws": args.draws, "tune": args.tune}
    if backend == "gibbs":
        options["thin"] = args.thin
    else:
        options["draws"] = args.nuts_draws or args.draws
        options["tune"] = args.nuts_tune or args.tune
    if backend == "numpyro":
        options["init"] = args.numpyro_init
    load_before = os.getloadavg()
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
    row["draws"], row["tune"] = options["draws"], options["tune"]
    row["load_average_before"] = [round(x, 2) for x in load_before]
    row["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if backend != "gibbs" and post.sample_stats is not None:
        ss = post.sample_stats
        steps = np.asarray(ss["n_steps"])
        row["leapfrog_steps_per_draw"] = {
            "mean": round(float(steps.mean()), 1),
            "median": float(np.median(steps)),
            "max": int(steps.max()),
        }
        row["tree_depth_mean"] = round(float(np.asarray(ss["tree_depth"]).mean()), 2)
        row["step_size"] = [round(float(x), 3) for x in np.asarray(ss["step_size"])[:, -1]]
        row["acceptance_mean"] = round(float(np.asarray(ss["acceptance_rate"]).mean()), 3)
        row["build_and_start_s"] = round(post.attrs["build_s"], 1)
    if backend == "gibbs":
        row["sweeps_per_chain"] = post.attrs["sweeps_per_chain"]
        row["imputed_cells"] = post.attrs["n_imputed_cells"]
        row["missing_cells"] = post.attrs["n_missing_cells"]
    return row


def gradient_cost(
    truth: bnlab.BayesNet, df: object, repeats: int = 20, pymc: bool = True
) -> list[dict]:
    """Compile time and time per log-density gradient of the NUTS backends on the data.

    NumPyro: the model's potential energy with the packed data as a jit argument (as
    ``MCMC(jit_model_args=True)`` compiles it), for one chain and for 4 vectorised chains.
    PyMC: its JAX log density (``pymc.sampling.jax.get_jaxified_logp``, what
    ``nuts_sampler="numpyro"`` samples), one chain; PyMC bakes the data in as constants.
    """
    import jax
    import jax.numpy as jnp
    from numpyro.infer.util import initialize_model

    from bnlab.backends.model_spec import build_spec
    from bnlab.backends.numpyro_backend import device_data, make_model, packed_log_likelihood_jax
    from bnlab.data import encode
    from bnlab.priors import prior_alpha

    def timed(fn: Any, *args: Any, repeats: int = repeats) -> tuple[float, float]:
        start = time.perf_counter()
        compiled = jax.jit(fn).lower(*args).compile()
        compile_s = time.perf_counter() - start
        jax.block_until_ready(compiled(*args))
        start = time.perf_counter()
        for _ in range(repeats):
            out = compiled(*args)
        jax.block_until_ready(out)
        return compile_s, (time.perf_counter() - start) / repeats

    from bnlab.backends.elimination import describe

    start = time.perf_counter()
    spec = build_spec(truth.structure, encode(df, truth.structure), prior_alpha(truth, "k2"))
    packed = spec.packed
    spec_s = time.perf_counter() - start
    start = time.perf_counter()
    circuit = spec.circuit
    size = {
        "spec_s": round(spec_s, 2),
        "circuit_s": round(time.perf_counter() - start, 2),
        "summed_out_terms": packed.n_terms,
        "enumerated_elements": packed.n_elements,
        "enumerated_gathered_entries": int(packed.elem_index.size),
        "circuit": describe(circuit),
    }
    rows = []
    with jax.enable_x64(True):
        data = device_data(spec)
        init = initialize_model(
            jax.random.PRNGKey(0), make_model(spec), model_args=(data,), dynamic_args=True
        )

        def energy(z: Any, d: Any) -> Any:
            return init.potential_fn(d)(z)

        def cost_row(
            method: str, fn: Any, params: Any, d: Any, repeats: int = repeats, **extra: Any
        ) -> dict[str, Any]:
            """Compile time and ms per value+gradient, for 1 chain and 4 vmapped chains."""
            params4 = jax.tree.map(lambda a: jnp.stack([a] * 4), params)
            load = os.getloadavg()
            c1, g1 = timed(jax.value_and_grad(fn), params, d, repeats=repeats)
            vmapped = jax.vmap(jax.value_and_grad(fn), in_axes=(0, None))
            c4, g4 = timed(vmapped, params4, d, repeats=repeats)
            row = {
                "method": method,
                **extra,
                "compile_s": round(c1, 2),
                "grad_ms_1_chain": round(g1 * 1e3, 2),
                "compile_s_4_chains": round(c4, 2),
                "grad_ms_4_chains": round(g4 * 1e3, 2),
                "load_average": [round(x, 2) for x in load],
            }
            print(json.dumps(row), flush=True)
            return row

        method = "numpyro log density, elimination circuit (data as jit arguments)"
        rows.append(cost_row(method, energy, init.param_info.z, data, **size))

        def packed_energy(t: Any, d: Any) -> Any:  # the enumerated form, same CPTs
            return -packed_log_likelihood_jax(spec, t, d)

        pdata = {k: jnp.asarray(x) for k, x in packed.arrays().items()}
        thetas = {
            v: jnp.full((spec.n_configs(v), spec.card(v)), 1.0 / spec.card(v))
            for v in spec.structure.variables
        }
        method = "numpyro log-likelihood, enumerated packed form (before)"
        rows.append(cost_row(method, packed_energy, thetas, pdata, repeats=5))
        print(json.dumps(rows[-1]), flush=True)
        if not pymc:
            return rows
        from pymc.sampling.jax import get_jaxified_logp

        from bnlab.backends.pymc_backend import build_model

        start = time.perf_counter()
        model = build_model(spec)
        logp = get_jaxified_logp(model)
        build_s = time.perf_counter() - start
        point = model.initial_point()
        xs = [jnp.asarray(point[v.name]) for v in model.value_vars]
        cp, gp = timed(jax.value_and_grad(lambda x: logp(x)), xs)
        rows.append(
            {
                "method": "pymc JAX log density (data baked in as constants)",
                "model_and_jaxify_s": round(build_s, 2),
                "compile_s": round(cp, 2),
                "grad_ms_1_chain": round(gp * 1e3, 2),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


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
    parser.add_argument("--nuts-draws", type=int, default=None, help="NUTS draws (--draws)")
    parser.add_argument("--nuts-tune", type=int, default=None, help="NUTS warm-up (--tune)")
    parser.add_argument("--numpyro-init", default="em", choices=["em", "uniform"])
    parser.add_argument("--backends", default="gibbs,numpyro,pymc")
    parser.add_argument("--em-max-time", type=float, default=600.0)
    parser.add_argument("--nuts-timeout", type=float, default=600.0)
    parser.add_argument(
        "--gradient-cost",
        action="store_true",
        help="also time compilation and one log-density gradient of the NUTS backends",
    )
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
    if args.gradient_cost:
        rows.extend(gradient_cost(truth, df, pymc="pymc" in args.backends.split(",")))
    for backend in args.backends.split(","):
        if not backend:
            continue
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
        "nuts_draws": args.nuts_draws or args.draws,
        "nuts_tune": args.nuts_tune or args.tune,
        "numpyro_init": args.numpyro_init,
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
