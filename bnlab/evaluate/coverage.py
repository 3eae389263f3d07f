"""Coverage of credible intervals in simulation studies, where the generating network is known.

Random queries ``P(target = state | evidence)`` are drawn from the true network: an evidence
row is forward-sampled from it, a random subset of 1..``max_observed`` variables is kept as
evidence, and the target and its state are drawn among the unobserved variables. The true
probability comes from exact inference on the true network; the model's equal-tailed credible
intervals at each level come from the engine over posterior CPT draws. Coverage is the share
of queries whose true probability lies inside the interval; an honest posterior covers about
its nominal level.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.errors import BNError
from bnlab.network import BayesNet


class Queries(NamedTuple):
    """Random queries: evidence rows (NaN = unobserved), a target and a state index per row."""

    evidence: pd.DataFrame
    targets: tuple[str, ...]
    states: NDArray[np.int64]


def random_queries(truth: BayesNet, n: int, *, max_observed: int = 5, seed: int = 0) -> Queries:
    """Draw ``n`` random queries from the true network (see the module docstring).

    Parameters
    ----------
    truth
        The generating network.
    n
        Number of queries.
    max_observed
        Evidence sets have 1..``max_observed`` observed variables (uniformly).
    seed
        Seed of the evidence rows, subsets, targets and states.
    """
    from bnlab.sampling import sample

    if not isinstance(truth, BayesNet):
        raise BNError(f"the true network must be a BayesNet, got {type(truth).__name__}.")
    variables = truth.variables
    if len(variables) < 2:
        raise BNError("random queries need a network with at least two variables.")
    rng = np.random.default_rng(seed)
    rows = cast(pd.DataFrame, sample(truth, n=n, seed=int(rng.integers(2**31))))
    k_max = min(max_observed, len(variables) - 1)
    mask = np.ones((n, len(variables)), dtype=bool)  # True = hidden
    targets: list[str] = []
    states = np.empty(n, dtype=np.int64)
    for i in range(n):
        order = rng.permutation(len(variables))
        k = int(rng.integers(1, k_max + 1))
        mask[i, order[:k]] = False
        target = variables[int(order[k])]
        targets.append(target)
        states[i] = int(rng.integers(truth.cards[target]))
    evidence = rows.copy()
    for j, v in enumerate(variables):
        evidence.loc[mask[:, j], v] = np.nan
    return Queries(evidence.reset_index(drop=True), tuple(targets), states)


def _pick(
    marginals: dict[str, Any], targets: Sequence[str], states: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Gather P(target_i = state_i) per row; works with or without a leading draw axis."""
    first = np.asarray(marginals[targets[0]])
    lead = first.shape[:-2]
    out = np.empty((*lead, len(targets)), dtype=np.float64)
    for t in sorted(set(targets)):
        rows = np.flatnonzero(np.array([x == t for x in targets]))
        m = np.asarray(marginals[t], dtype=np.float64)
        out[..., rows] = m[..., rows, states[rows]]
    return out


def coverage(
    posterior: Any,
    truth: BayesNet,
    *,
    queries: int | Queries = 500,
    levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
    draws: int = 1000,
    max_observed: int = 5,
    seed: int = 0,
    engine: Any = None,
) -> dict[Any, Any]:
    """Measure the share of true query probabilities inside the posterior's intervals.

    Parameters
    ----------
    posterior
        A :class:`~bnlab.posterior.Posterior` fitted to data from ``truth``.
    truth
        The generating network.
    queries
        Number of random queries, or queries from :func:`random_queries`.
    levels
        Nominal levels of the equal-tailed intervals.
    draws
        CPT draws the engine runs over.
    max_observed
        Largest evidence set of the random queries.
    seed
        Seed of the queries and the draws.
    engine
        An already compiled engine of ``posterior`` (with draws).

    Returns
    -------
    dict
        ``table``: a DataFrame with ``level, coverage, n_queries, se`` (binomial standard
        error); ``{level: coverage}`` entries for each level; and ``queries``: per query the
        target, state, true probability, posterior mean and the interval at each level.
    """
    from bnlab.infer import Engine

    lv = [float(x) for x in levels]
    if not lv or any(not 0.0 < x < 1.0 for x in lv):
        raise BNError(f"levels must lie strictly between 0 and 1, got {list(levels)}.")
    if not (hasattr(posterior, "draws") and hasattr(posterior, "structure")):
        raise BNError(
            f"coverage needs a bnlab Posterior (CPT draws), got {type(posterior).__name__}."
        )
    if posterior.structure.states != truth.structure.states:
        raise BNError("the posterior and the true network must have the same variables and states.")
    q = (
        queries
        if isinstance(queries, Queries)
        else random_queries(truth, int(queries), max_observed=max_observed, seed=seed)
    )
    wanted = sorted(set(q.targets))
    if engine is None:
        # the true network rides along as one more CPT draw: one compiled kernel, one call
        d = posterior.draws(int(draws), seed=seed)
        stacked = {v: np.concatenate([d[v], truth.cpt(v)[None]]) for v in truth.variables}
        all_p = _pick(
            Engine.from_draws(truth.structure, stacked).marginals(
                q.evidence, variables=wanted, on_impossible="nan"
            ),
            q.targets,
            q.states,
        )
        return _summarise(all_p[-1], all_p[:-1], q, lv)
    true_p = _pick(Engine(truth).marginals(q.evidence, variables=wanted), q.targets, q.states)
    draws_p = _pick(
        engine.marginals(q.evidence, variables=wanted, on_impossible="nan"), q.targets, q.states
    )
    return _summarise(true_p, draws_p, q, lv)


def _summarise(
    true_p: NDArray[np.float64], draws_p: NDArray[np.float64], q: Queries, lv: list[float]
) -> dict[Any, Any]:
    # a query whose evidence is impossible under a draw is NaN there: summarised over the
    # other draws (and never covered when impossible under all of them)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(draws_p, axis=0)
    per_query = pd.DataFrame(
        {"target": list(q.targets), "state": q.states, "true": true_p, "mean": mean}
    )
    rows = []
    out: dict[Any, Any] = {}
    for level in lv:
        tail = (1.0 - level) / 2.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanquantile(draws_p, [tail, 1.0 - tail], axis=0)
        inside = (true_p >= lo - 1e-12) & (true_p <= hi + 1e-12)
        rate = float(inside.mean())
        per_query[f"lower_{level:g}"] = lo
        per_query[f"upper_{level:g}"] = hi
        rows.append(
            {
                "level": level,
                "coverage": rate,
                "n_queries": int(inside.size),
                "se": float(np.sqrt(rate * (1.0 - rate) / inside.size)),
            }
        )
        out[level] = rate
    out["table"] = pd.DataFrame(rows)
    out["queries"] = per_query
    return out


def coverage_study(
    truth: BayesNet,
    *,
    rows: int = 2000,
    replicates: int = 4,
    queries: int = 500,
    levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
    draws: int = 250,
    prior: str = "bdeu",
    ess: float = 1.0,
    max_observed: int = 5,
    seed: int = 0,
) -> dict[Any, Any]:
    """Coverage over several training sets: the property of the fitting procedure.

    The coverage of one posterior varies a lot from one training set to the next, because
    all queries share its parameters (on child with 2,000 rows, 90% intervals cover
    0.84-0.96 of 500 queries depending on the training set). This study fits the conjugate
    posterior to ``replicates`` independent training sets of ``rows`` rows each, answers the
    same random queries with all of them in one engine (their draws stacked), and reports
    the coverage pooled over replicates and per replicate.

    Returns
    -------
    dict
        As :func:`coverage` (pooled over replicates: ``table``, ``{level: coverage}``) plus
        ``replicates``: a DataFrame ``replicate, level, coverage``.
    """
    import bnlab
    from bnlab.infer import Engine
    from bnlab.sampling import sample

    fit = bnlab.fit  # the public function (importing the bnlab.fit package first would shadow it)

    lv = [float(x) for x in levels]
    if not lv or any(not 0.0 < x < 1.0 for x in lv):
        raise BNError(f"levels must lie strictly between 0 and 1, got {list(levels)}.")
    if replicates < 1:
        raise BNError(f"replicates must be a positive integer, got {replicates!r}.")
    seeds = np.random.SeedSequence(seed).generate_state(replicates + 1)
    q = random_queries(truth, int(queries), max_observed=max_observed, seed=int(seeds[0]))
    stacked: dict[str, list[NDArray[np.float64]]] = {v: [] for v in truth.variables}
    for r in range(replicates):
        train = sample(truth, n=rows, seed=int(seeds[r + 1]))
        post = fit(truth.structure, train, prior=prior, ess=ess)
        d = post.draws(draws, seed=int(seeds[r + 1]))
        for v in truth.variables:
            stacked[v].append(d[v])
    eng = Engine.from_draws(truth.structure, {v: np.concatenate(x) for v, x in stacked.items()})
    wanted = sorted(set(q.targets))
    true_p = _pick(Engine(truth).marginals(q.evidence, variables=wanted), q.targets, q.states)
    all_p = _pick(
        eng.marginals(q.evidence, variables=wanted, on_impossible="nan"), q.targets, q.states
    )
    per_rep = []
    for r in range(replicates):
        res = _summarise(true_p, all_p[r * draws : (r + 1) * draws], q, lv)
        for level in lv:
            per_rep.append({"replicate": r, "level": level, "coverage": res[level]})
    table = pd.DataFrame(per_rep)
    out: dict[Any, Any] = {}
    pooled = table.groupby("level", sort=True)["coverage"].mean()
    n_total = int(queries) * replicates
    out["table"] = pd.DataFrame(
        {
            "level": pooled.index.to_numpy(),
            "coverage": pooled.to_numpy(),
            "n_queries": n_total,
            "se_between_replicates": table.groupby("level", sort=True)["coverage"]
            .std(ddof=1)
            .reindex(pooled.index)
            .fillna(0.0)
            .to_numpy()
            / np.sqrt(replicates),
        }
    )
    for level, rate in pooled.items():
        out[float(level)] = float(rate)
    out["replicates"] = table
    return out
