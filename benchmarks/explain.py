"""Explanations: exact Shapley values and the full CPT gradient, bnlab vs peers (issue 12).

For alarm and hepar2, one evidence row with 10 observed variables (forward-sampled, so it is
possible) and a target that is not observed:

- exact Shapley values over the 10 observed variables: bnlab (all 2^10 coalitions in one
  batched engine call) vs pyAgrum's ``ConditionalShapValues(logit=False)`` on the same row
  (same definition: v(S) = P(target | e_S)); the largest difference is printed;
- the derivative of the query with respect to every CPT entry: bnlab (one reverse-mode
  pass) vs central finite differences through the engine on a subset of entries, scaled to
  all entries (the time a user without autodiff would pay).

Run: ``uv run python benchmarks/explain.py [--networks alarm,hepar2] [--fd-entries 40]``
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bnlab
from bnlab.explain import covary, evidence_contributions, parameter_sensitivity

NETWORKS = Path(__file__).resolve().parents[1] / "tests" / "data" / "networks"


def pick_row(net: bnlab.BayesNet, k: int, seed: int) -> tuple[str, str, dict[str, str]]:
    rng = np.random.default_rng(seed)
    full = bnlab.sample(net, n=1, seed=seed).iloc[0]
    target = net.variables[int(rng.integers(len(net.variables)))]
    others = [v for v in net.variables if v != target]
    chosen = rng.choice(len(others), size=k, replace=False)
    row = {others[i]: str(full[others[i]]) for i in chosen}
    return target, net.states[target][0], row


def run(name: str, fd_entries: int, seed: int) -> dict[str, float]:
    net = bnlab.read_network(NETWORKS / f"{name}.bif.gz")
    target, state, row = pick_row(net, 10, seed)
    engine = bnlab.Engine(net)
    evidence_contributions(engine, target, state, row)  # compile
    t0 = time.perf_counter()
    ours = evidence_contributions(engine, target, state, row)
    t_bnlab = time.perf_counter() - t0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyagrum.explain as gexp

        from bnlab.io import to_pyagrum

        explainer = gexp.ConditionalShapValues(to_pyagrum(net), target, logit=False)
        t0 = time.perf_counter()
        theirs = explainer.compute(pd.DataFrame([row]))
        t_pyagrum = time.perf_counter() - t0
    theirs_state = theirs[net.states[target].index(state)]
    diff = max(
        abs(float(s) - float(theirs_state[v]))
        for v, s in zip(ours["variable"], ours["shapley"], strict=True)
    )

    parameter_sensitivity(net, target, state, row)  # compile
    t0 = time.perf_counter()
    sens = parameter_sensitivity(net, target, state, row)
    t_grad = time.perf_counter() - t0
    entries = len(sens)
    interior = sens[(sens["value"] > 1e-4) & (sens["value"] < 1 - 1e-4)]  # room for +-h
    sub = interior.sample(n=min(fd_entries, len(interior)), random_state=seed)
    h = 1e-6
    t0 = time.perf_counter()
    for rec in sub.itertuples(index=False):
        theta = np.array(net.cpt(rec.variable))
        cfg = tuple(
            net.states[p].index(s)
            for p, s in zip(net.parents[rec.variable], rec.parent_states, strict=True)
        )
        x = net.states[rec.variable].index(rec.state)
        values = []
        for step in (h, -h):
            t = theta.copy()
            t[cfg] = covary(theta[cfg], x, float(theta[cfg][x]) + step)
            m = bnlab.Engine.from_draws(
                net.structure,
                {
                    v: (t if v == rec.variable else np.asarray(net.cpt(v)))[None]
                    for v in net.variables
                },
            ).marginals([row], variables=[target])[target]
            values.append(float(np.asarray(m)[0, 0, net.states[target].index(state)]))
    t_fd = (time.perf_counter() - t0) / len(sub) * entries
    return {
        "shapley_bnlab_s": t_bnlab,
        "shapley_pyagrum_s": t_pyagrum,
        "shapley_max_diff": diff,
        "gradient_bnlab_s": t_grad,
        "gradient_fd_s": t_fd,
        "entries": float(entries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--networks", default="alarm,hepar2")
    parser.add_argument("--fd-entries", type=int, default=40)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'network':<8} {'shapley bnlab s':>15} {'pyAgrum s':>10} {'ratio':>7} {'max |diff|':>10}"
        f" {'entries':>8} {'gradient s':>10} {'finite diff s':>13} {'ratio':>7}"
    )
    for name in args.networks.split(","):
        r = run(name, args.fd_entries, args.seed)
        print(
            f"{name:<8} {r['shapley_bnlab_s']:15.4f} {r['shapley_pyagrum_s']:10.3f} "
            f"{r['shapley_pyagrum_s'] / r['shapley_bnlab_s']:7.0f} {r['shapley_max_diff']:10.1e} "
            f"{int(r['entries']):8d} {r['gradient_bnlab_s']:10.4f} {r['gradient_fd_s']:13.2f} "
            f"{r['gradient_fd_s'] / r['gradient_bnlab_s']:7.0f}"
        )


if __name__ == "__main__":
    main()
