"""Simulation study behind the vetting gate's default ``min_effect`` (issue 21).

For each shipped example network (asia, child, insurance, alarm) and seed, one data set is
sampled at the largest size and its prefixes give the smaller sizes (1k .. 1M rows). From
contingency tables counted once per statement over the prefixes (one ``np.bincount`` per
statement, cumulated), it measures:

(a) **false alarm**: the audit of the *true* graph (every implied independence, pairwise
    basis) and the gate's rule (``bnlab.evaluate.audit.counting_violations``): a statement
    counts when rejected at ``FDR`` (Benjamini-Hochberg), with its CMI interval's lower end
    above ``min_effect`` and "CMI <= min_effect" rejected at ``FDR`` (BH over the non-central
    p-values); the gate fails when any statement counts (``max_violations = 0``, the
    strictest setting). For a grid of ``min_effect`` values; ``0`` is p-values alone;
(b) **power**: for every edge ``a -> b``, the graph with that edge removed: its statement
    ``a _||_ b | S`` (``S`` a minimal separator in the reduced graph) is what the missing
    edge violates. It is counted as caught when ``p * m <= FDR`` (``m`` the number of
    statements of the reduced graph: a Bonferroni bound, so BH rejects it too), likewise
    its effect p-value, and its lower end exceeds ``min_effect``; the gate fails the
    reduced graph at least as often (any other statement may count too), so the power
    shown is a lower bound.

The strength of an edge is the true CMI of that statement (estimated, bias-corrected, from
the largest samples) and the edge's own KL cost ``I(a; b | pa(b) - a)``; what the edge does
to an answer is the mean total-variation change of ``P(target | all other variables)`` over
rows of the true network when the edge is dropped and ``b``'s CPT replaced by its best
approximation ``P(b | pa(b) - a)``, the largest such change over the dataset configs'
targets and the edge's two ends (any variable can be a query's target; variables outside the
blankets of ``a`` and ``b`` do not move).

Tables are counted by one numba pass over the rows for all statements at once (a row's
prefix bucket, then each statement's cell; cumulated over buckets afterwards).

Run: ``uv run --frozen python benchmarks/vetting_study.py`` (see RESULTS.md for its time on
the loaded 2-core machine); ``--quick`` for a smoke run. Writes ``docs/vetting-study.png`` and
``docs/vetting-study-edges.csv`` and prints the tables of ``docs/vetting-study.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit
from numpy.typing import NDArray

import bnlab
from bnlab.evaluate.audit import DEFAULT_MIN_EFFECT
from bnlab.evaluate.citests import (
    benjamini_hochberg,
    cell_statistics,
    effect_interval,
    effect_pvalue,
    table_cells,
)
from bnlab.evaluate.dsep import Independence, implied_independencies, minimal_separator
from bnlab.infer.blanket import blanket_predictive
from bnlab.network import Structure
from bnlab.sampling import sample_codes

NETWORKS: dict[str, tuple[str, ...]] = {
    "asia": ("lung", "tub"),
    "child": ("Disease",),
    "insurance": ("PropCost",),
    "alarm": ("LVFAILURE", "HYPOVOLEMIA"),
}
SIZES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000)
SEEDS = 20  # data sets per network; the first LARGE_SEEDS go to 1M rows, the rest to 100k
LARGE_SEEDS = 2
THRESHOLDS = (0.0, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01)
FDR = 0.05
INTERVAL = 0.9
DELTA = 0.02  # a removed edge "matters" when it moves P(target | rest) by more on average
POWER_FROM = 5_000
EVAL_ROWS = 5_000
DOCS = Path(__file__).resolve().parents[1] / "docs"


@njit(cache=True)
def _count_tables(codes, bounds, stmt_vars, stmt_len, cards, offsets, sizes, out):  # type: ignore[no-untyped-def]  # noqa: D103
    bucket = 0
    for r in range(codes.shape[0]):
        while r >= bounds[bucket]:
            bucket += 1
        for s in range(stmt_vars.shape[0]):
            key = 0
            for k in range(stmt_len[s]):
                v = stmt_vars[s, k]
                key = key * cards[v] + codes[r, v]
            out[offsets[s] + bucket * sizes[s] + key] += 1


def prefix_statistics(
    codes: NDArray[np.integer],
    cards: NDArray[np.int64],
    statements: list[tuple[list[int], int]],
    grid: tuple[int, ...],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """G² and dof ``(statements, sizes)`` of each statement on every prefix of ``codes``.

    ``statements``: the columns ``(*given, x, *y)`` of each and how many are ``given``.
    """
    n_b = len(grid)
    width = max(len(cols) for cols, _ in statements)
    stmt_vars = np.zeros((len(statements), width), dtype=np.int64)
    stmt_len = np.array([len(cols) for cols, _ in statements], dtype=np.int64)
    for i, (cols, _) in enumerate(statements):
        stmt_vars[i, : len(cols)] = cols
    sizes = np.array([int(np.prod(cards[cols])) for cols, _ in statements], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes * n_b)[:-1]]).astype(np.int64)
    out = np.zeros(int((sizes * n_b).sum()), dtype=np.int64)
    bounds = np.array([*grid, np.iinfo(np.int64).max], dtype=np.int64)
    _count_tables(codes, bounds, stmt_vars, stmt_len, cards, offsets, sizes, out)
    g2 = np.empty((len(statements), n_b))
    dof = np.empty((len(statements), n_b), dtype=np.int64)
    for i, (cols, k) in enumerate(statements):
        tables = out[offsets[i] : offsets[i] + sizes[i] * n_b].reshape(n_b, sizes[i])
        tables = tables.cumsum(axis=0)
        cells = table_cells(tables[-1].reshape([int(cards[v]) for v in cols]), k)
        g2[i], _, dof[i] = cell_statistics(cells, tables[:, cells.keys])
    return g2, dof


def columns_of(st: Independence, index: dict[str, int]) -> tuple[list[int], int]:
    return [index[v] for v in (*st.given, st.x, *st.y)], len(st.given)


def without_edge(s: Structure, a: str, b: str) -> Structure:
    parents = {v: tuple(s.parents[v]) for v in s.variables}
    parents[b] = tuple(p for p in s.parents[b] if p != a)
    return s.with_parents(parents)


def posterior_change(
    net: bnlab.BayesNet,
    a: str,
    b: str,
    codes: NDArray[np.integer],
    targets: tuple[str, ...],
    truth: dict[str, NDArray[np.float64]],
) -> float:
    """Mean TV change of P(target | rest) when ``a -> b`` goes (max over targets, ``a``, ``b``).

    ``b``'s new CPT is ``P(b | pa(b) - a)`` under the true joint, from the counts of its
    family in ``codes`` (a large sample of the true network).
    """
    s = net.structure
    reduced = without_edge(s, a, b)
    fam = [s.index[p] for p in s.parents[b]] + [s.index[b]]
    shape = [s.cards[p] for p in s.parents[b]] + [s.cards[b]]
    flat = np.ravel_multi_index(tuple(codes[:, c].astype(np.int64) for c in fam), shape)
    counts = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(float)
    counts = counts.sum(axis=s.parents[b].index(a)) + 1e-9
    cpts = dict(net.cpts)
    cpts[b] = counts / counts.sum(axis=-1, keepdims=True)
    eval_rows = codes[:EVAL_ROWS]
    change = 0.0
    for t in dict.fromkeys((*targets, a, b)):
        if t not in truth:  # P(t | rest) under the true network, shared by every edge
            truth[t] = blanket_predictive(s, net.cpts, eval_rows, t)
        p = truth[t]
        q = blanket_predictive(reduced, cpts, eval_rows, t)
        change = max(change, float(0.5 * np.abs(p - q).sum(axis=1).mean()))
    return change


def study_network(name: str, seeds: int, large: int, sizes: tuple[int, ...]) -> tuple:
    net = bnlab.load_example(name)
    s = net.structure
    index = dict(s.index)
    cards = np.array([s.cards[v] for v in s.variables], dtype=np.int64)
    statements = implied_independencies(s, "pairwise")
    m_reduced = len(statements) + 1
    edges = list(s.edges)
    tested = []
    for a, b in edges:
        sep = minimal_separator(without_edge(s, a, b), a, b)
        tested.append(Independence(a, (b,), tuple(sep or ())))
    local = [Independence(a, (b,), tuple(p for p in s.parents[b] if p != a)) for a, b in edges]
    small_sizes = tuple(n for n in sizes if n <= 100_000)
    alarms = []  # per seed, size, threshold: the gate failed the true graph
    caught = []  # per seed, size, edge, threshold
    strength = np.zeros((len(edges), 2))  # bias-corrected CMI at the largest size, summed
    n_large = 0
    change = None
    true_cols = [columns_of(st, index) for st in statements]
    tested_cols = [columns_of(st, index) for st in tested]
    local_cols = [columns_of(st, index) for st in local]
    for seed in range(seeds):
        grid = sizes if seed < large else small_sizes
        rows = grid[-1]
        codes = sample_codes(net, rows, seed=10_000 * (list(NETWORKS).index(name) + 1) + seed)
        n_arr = np.array(grid, dtype=np.float64)
        want = true_cols + tested_cols + (local_cols if seed < large else [])
        g2_all, dof_all = prefix_statistics(codes, cards, want, grid)
        m = len(statements)
        g2, dof = g2_all[:m], dof_all[:m]
        g2e, dofe = g2_all[m : m + len(edges)], dof_all[m : m + len(edges)]
        # (a) the true graph: BH over the statements, per size and threshold
        _, lower, _ = effect_interval(g2, dof, n_arr[None, :], INTERVAL)
        _, low_e, _ = effect_interval(g2e, dofe, n_arr[None, :], INTERVAL)
        p0 = effect_pvalue(g2, dof, n_arr[None, :], 0.0)
        p0_e = effect_pvalue(g2e, dofe, n_arr[None, :], 0.0)
        q0 = [benjamini_hochberg(p0[:, j]) for j in range(len(grid))]
        for t in THRESHOLDS:
            p_eff = effect_pvalue(g2, dof, n_arr[None, :], t)
            p_eff_e = effect_pvalue(g2e, dofe, n_arr[None, :], t)
            for j, n in enumerate(grid):
                q = q0[j]
                q_eff = benjamini_hochberg(p_eff[:, j])
                counts = (q <= FDR) & (lower[:, j] > t) & (q_eff <= FDR)
                alarms.append((name, seed, n, t, bool(counts.any()), int(np.sum(q <= FDR))))
                # (b) one edge removed: its own statement, Bonferroni over the reduced audit
                hit = (
                    (p0_e[:, j] * m_reduced <= FDR)
                    & (p_eff_e[:, j] * m_reduced <= FDR)
                    & (low_e[:, j] > t)
                )
                caught.extend(
                    (name, seed, n, a, b, t, bool(h)) for (a, b), h in zip(edges, hit, strict=True)
                )
        if seed < large:
            g2l, dofl = g2_all[m + len(edges) :], dof_all[m + len(edges) :]
            strength[:, 0] += np.maximum(g2e[:, -1] - dofe[:, -1], 0.0) / (2.0 * rows)
            strength[:, 1] += np.maximum(g2l[:, -1] - dofl[:, -1], 0.0) / (2.0 * rows)
            n_large += 1
        if change is None:
            truth: dict[str, NDArray[np.float64]] = {}
            change = [posterior_change(net, a, b, codes, NETWORKS[name], truth) for a, b in edges]
    strength /= max(n_large, 1)
    edge_table = pd.DataFrame(
        {
            "network": name,
            "parent": [a for a, _ in edges],
            "child": [b for _, b in edges],
            "separator": [", ".join(st.given) for st in tested],
            "statement_cmi": strength[:, 0],
            "edge_cmi": strength[:, 1],
            "posterior_change": change,
        }
    )
    return (
        pd.DataFrame(alarms, columns=["network", "seed", "n", "min_effect", "fails", "rejected"]),
        pd.DataFrame(
            caught, columns=["network", "seed", "n", "parent", "child", "min_effect", "caught"]
        ),
        edge_table,
    )


def markdown(frame: pd.DataFrame, floatfmt: str = ".3g") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + " --- |" * len(cols)]
    for _, row in frame.iterrows():
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(power: pd.DataFrame, edges: pd.DataFrame, path: Path, threshold: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    sel = power[power["min_effect"] == threshold].merge(edges, on=["network", "parent", "child"])
    rate = sel.groupby(["n", "network", "parent", "child"], as_index=False).agg(
        caught=("caught", "mean"), cmi=("statement_cmi", "first")
    )
    ax = axes[0]
    for n in sorted(rate["n"].unique()):
        r = rate[rate["n"] == n].sort_values("cmi")
        x = np.maximum(r["cmi"].to_numpy(), 1e-6)
        # a running mean of caught over neighbours in CMI, for a readable curve
        bins = np.logspace(-6, 0, 25)
        idx = np.digitize(x, bins)
        xs, ys = [], []
        for b in np.unique(idx):
            xs.append(np.exp(np.log(x[idx == b]).mean()))
            ys.append(r["caught"].to_numpy()[idx == b].mean())
        ax.plot(xs, ys, marker="o", ms=3, label=f"n = {n:,}")
    ax.axvline(threshold, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("true CMI of the statement the missing edge violates (nats)")
    ax.set_ylabel("share of data sets in which the gate fails the graph")
    ax.set_title(f"power, one edge removed (min_effect = {threshold:g} nats)")
    ax.legend(fontsize=7)
    ax = axes[1]
    at = rate[rate["n"] == POWER_FROM]
    colours = np.where(at["caught"].to_numpy() >= 1.0, "tab:green", "tab:red")
    moved = at.merge(edges, on=["network", "parent", "child"])
    ax.scatter(
        np.maximum(moved["statement_cmi"], 1e-6),
        np.maximum(moved["posterior_change"], 1e-6),
        c=colours,
        s=14,
    )
    ax.axhline(DELTA, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("true CMI of the violated statement (nats)")
    ax.set_ylabel("mean |change| of P(target | rest)")
    ax.set_title(f"every edge at n = {POWER_FROM:,}: green = caught in every data set")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="asia and child, 3 seeds, 10k rows")
    args = parser.parse_args()
    started = time.perf_counter()
    networks = ["asia", "child"] if args.quick else list(NETWORKS)
    seeds, large = (3, 1) if args.quick else (SEEDS, LARGE_SEEDS)
    sizes = tuple(n for n in SIZES if n <= 10_000) if args.quick else SIZES
    alarms, power, edges = [], [], []
    for name in networks:
        t0 = time.perf_counter()
        a, p, e = study_network(name, seeds, large, sizes)
        alarms.append(a)
        power.append(p)
        edges.append(e)
        print(f"{name}: {time.perf_counter() - t0:.1f} s", flush=True)
    alarm = pd.concat(alarms, ignore_index=True)
    caught = pd.concat(power, ignore_index=True)
    edge = pd.concat(edges, ignore_index=True)

    # (a) false alarm of the true graph per network and size, per threshold
    fa = alarm.groupby(["min_effect", "network", "n"], as_index=False).agg(
        seeds=("fails", "size"), false_alarm=("fails", "mean")
    )
    worst = fa.groupby("min_effect", as_index=False).agg(worst_false_alarm=("false_alarm", "max"))
    # (b) power at n >= POWER_FROM on the edges that matter
    big = caught.merge(edge, on=["network", "parent", "child"])
    matters = big[(big["posterior_change"] > DELTA) & (big["n"] >= POWER_FROM)]
    pw = matters.groupby("min_effect", as_index=False).agg(
        power_edges_that_matter=("caught", "mean")
    )
    harmless = big[(big["posterior_change"] <= DELTA / 4) & (big["n"] == big["n"].max())]
    fl = harmless.groupby("min_effect", as_index=False).agg(
        failed_harmless_at_max_n=("caught", "mean")
    )
    summary = worst.merge(pw, on="min_effect", how="left").merge(fl, on="min_effect", how="left")
    ok = summary[
        (summary["worst_false_alarm"] <= 0.05) & (summary["power_edges_that_matter"] >= 1.0)
    ]
    chosen = float(ok["min_effect"].max()) if len(ok) else float("nan")
    print(f"\n## Summary per min_effect (FDR {FDR}, max_violations 0, {INTERVAL:.0%} intervals)")
    print(markdown(summary))
    print(f"\nlargest min_effect meeting both targets: {chosen:g} nats "
          f"(shipped default {DEFAULT_MIN_EFFECT:g})")  # fmt: skip
    shown = DEFAULT_MIN_EFFECT
    table = fa[fa["min_effect"] == shown].pivot(index="network", columns="n", values="false_alarm")
    print(f"\n## (a) false alarm on the true graph at min_effect = {shown:g} (share of seeds)")
    print(markdown(table.reset_index()))
    seeds_per_n = fa[fa["min_effect"] == shown].groupby("n")["seeds"].max()
    print("seeds per n: " + ", ".join(f"{n:,}: {k}" for n, k in seeds_per_n.items()))
    p0 = fa[fa["min_effect"] == 0.0].pivot(index="network", columns="n", values="false_alarm")
    print("\n## (a') the same with min_effect = 0 (FDR significance alone)")
    print(markdown(p0.reset_index()))
    cur = big[big["min_effect"] == shown]
    by_n = cur.groupby("n").apply(
        lambda g: pd.Series(
            {
                "edges": g[["network", "parent", "child"]].drop_duplicates().shape[0],
                "caught (all edges)": g["caught"].mean(),
                f"caught (change > {DELTA:g})": g.loc[
                    g["posterior_change"] > DELTA, "caught"
                ].mean(),
                f"caught (change <= {DELTA / 4:g})": g.loc[
                    g["posterior_change"] <= DELTA / 4, "caught"
                ].mean(),
            }
        ),
        include_groups=False,
    )
    print(f"\n## (b) power with one edge removed, min_effect = {shown:g}")
    print(markdown(by_n.reset_index()))
    missed = cur[(cur["posterior_change"] > DELTA) & (cur["n"] >= POWER_FROM) & ~cur["caught"]]
    print(f"\nedges with posterior change > {DELTA:g} missed at n >= {POWER_FROM:,}: {len(missed)}")
    if len(missed):
        print(markdown(missed.drop_duplicates(["network", "parent", "child"])))
    weakest = edge[edge["posterior_change"] > DELTA].sort_values("statement_cmi").head(8)
    print(f"\n## the weakest edges whose removal moves a target by more than {DELTA:g}")
    print(markdown(weakest))
    DOCS.mkdir(exist_ok=True)
    name = "vetting-study-quick" if args.quick else "vetting-study"
    edge_path = DOCS / f"{name}-edges.csv"
    rate = cur.groupby(["network", "parent", "child", "n"], as_index=False)["caught"].mean()
    wide = rate.pivot(index=["network", "parent", "child"], columns="n", values="caught")
    wide.columns = [f"caught_n{c}" for c in wide.columns]
    edge.merge(wide.reset_index(), on=["network", "parent", "child"]).to_csv(
        edge_path, index=False, float_format="%.6g"
    )
    plot(caught, edge, DOCS / f"{name}.png", shown)
    print(
        f"\nwrote {edge_path} and {DOCS / (name + '.png')} in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
