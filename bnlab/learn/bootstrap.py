"""Edge confidence by bootstrap: strength and direction of every arc, averaged network.

As R bnlearn's ``boot.strength`` (Friedman et al. 1999; Scutari & Nagarajan 2013): learn a
structure on each of ``R`` bootstrap replicates; the *strength* of a pair is the share of
replicates with an edge between the two variables, and the *direction* of ``from -> to`` the
share of those edges pointing that way (with ``cpdag=True`` each replicate's DAG is first
reduced to its CPDAG and an undirected edge counts half each way).

Replicates are row weights over the distinct rows of the data, so no data are copied:
the non-parametric bootstrap draws multinomial counts, the Bayesian bootstrap (Rubin 1981)
Dirichlet(1, ..., 1) weights over the original rows (summed per distinct row, i.e. Gamma
draws), scaled to the number of rows. Replicates run in joblib worker processes when
``n_jobs != 1``, or on the workers of a Dask cluster (``client=``): each task resamples and
searches its share of the replicates, and replicate ``i`` is seeded by ``(seed, i)`` alone,
so every way of running gives the same result. Partitioned Parquet data are reduced to
their distinct rows first (:func:`bnlab.counts.parquet.distinct_rows`, on the workers too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.counts.memory import unique_rows
from bnlab.data import prepare_data
from bnlab.errors import DataError, StructureError
from bnlab.learn.core import learn_structure
from bnlab.learn.cpdag import adjacency, cpdag, dag_extension
from bnlab.network import BayesNet, Structure, as_structure


@dataclass(frozen=True)
class BootstrapResult:
    """Arc frequencies over bootstrap replicates.

    Attributes
    ----------
    variables
        Variable order of the matrices.
    states
        States per variable (to build structures).
    arcs
        ``arcs[a, b]``: share of replicates with ``a -> b`` (undirected edges count half).
    n_replicates
        Number of replicates.
    kind
        ``"nonparametric"`` or ``"bayesian"``.
    """

    variables: tuple[str, ...]
    states: dict[str, tuple[str, ...]]
    arcs: NDArray[np.float64]
    n_replicates: int
    kind: str

    @property
    def strength(self) -> NDArray[np.float64]:
        """``(p, p)`` symmetric: share of replicates with an edge between the two."""
        return np.asarray(self.arcs + self.arcs.T, dtype=np.float64)

    @property
    def direction(self) -> NDArray[np.float64]:
        """``direction[a, b]``: share of the edges between ``a`` and ``b`` pointing to ``b``."""
        s = self.strength
        return np.asarray(np.where(s > 0, self.arcs / np.where(s > 0, s, 1.0), 0.0))

    def table(self) -> pd.DataFrame:
        """Tidy table, one row per ordered pair: ``from``, ``to``, ``strength``, ``direction``."""
        p = len(self.variables)
        a, b = np.nonzero(~np.eye(p, dtype=bool))
        s, d = self.strength, self.direction
        return pd.DataFrame(
            {
                "from": [self.variables[i] for i in a],
                "to": [self.variables[j] for j in b],
                "strength": s[a, b],
                "direction": d[a, b],
            }
        )

    def to_xarray(self) -> Any:
        """``strength`` and ``direction`` as ``(from, to)`` DataArrays with variable labels."""
        import xarray as xr

        coords = {"from": list(self.variables), "to": list(self.variables)}
        return xr.Dataset(
            {
                "strength": (("from", "to"), self.strength),
                "direction": (("from", "to"), self.direction),
            },
            coords=coords,
            attrs={
                "n_replicates": self.n_replicates,
                "kind": self.kind,
                "threshold": self.threshold(),
            },
        )

    def threshold(self) -> float:
        """Automatic strength threshold (Scutari & Nagarajan 2013).

        The threshold minimises the L1 distance between the empirical CDF of the pairwise
        strengths and the CDF of an ideal 0/1 set of strengths with the same share of
        edges above the threshold.
        """
        p = len(self.variables)
        s = np.sort(self.strength[np.triu_indices(p, 1)])
        if s.size == 0:
            return 0.0
        knots = np.unique(np.concatenate([[0.0], s[s < 1.0]]))
        widths = np.diff(np.concatenate([knots, [1.0]]))
        ecdf = np.searchsorted(s, knots, side="right") / s.size
        cands = np.unique(s)
        best, best_t = np.inf, float(cands[0])
        for t in cands:
            c = 1.0 - float(np.mean(s > t))
            l1 = float(np.sum(widths * np.abs(ecdf - c)))
            if l1 < best - 1e-12:
                best, best_t = l1, float(t)
        return best_t

    def averaged(self, threshold: float | None = None) -> Structure:
        """Build the averaged network at a threshold (default: :meth:`threshold`).

        Pairs with strength above the threshold, in their likelier direction, added by
        decreasing strength and skipping arcs that would close a cycle (as bnlearn's
        ``averaged.network``).
        """
        return averaged_network(self, threshold)


def averaged_network(result: BootstrapResult, threshold: float | None = None) -> Structure:
    """See :meth:`BootstrapResult.averaged`.

    Pairs whose two directions are equally likely (an undirected CPDAG edge in the
    replicates) stay undirected until the end, then the partially directed graph is given a
    consistent DAG extension (:func:`bnlab.learn.cpdag.dag_extension`).
    """
    t = result.threshold() if threshold is None else float(threshold)
    s, d = result.strength, result.direction
    p = len(result.variables)
    cand = []
    for a in range(p):
        for b in range(p):
            if a != b and s[a, b] > t and (d[a, b] > 0.5 or (abs(d[a, b] - 0.5) < 1e-9 and a < b)):
                cand.append((-s[a, b], -d[a, b], a, b))
    cand.sort()
    g = np.zeros((p, p), dtype=bool)
    reach = np.eye(p, dtype=bool)  # reach[u, v]: directed path u ~> v (reflexive)
    for _, negd, a, b in cand:
        if abs(-negd - 0.5) < 1e-9:
            g[a, b] = g[b, a] = True  # undirected for now
            continue
        if reach[b, a]:
            continue
        g[a, b] = True
        reach |= reach[:, a][:, None] & reach[b][None, :]
    dag, _ = dag_extension(g)
    parents = {
        result.variables[j]: tuple(result.variables[i] for i in np.flatnonzero(dag[:, j]))
        for j in range(p)
    }
    return Structure(result.variables, result.states, parents)


def _replicate_weights(
    counts: NDArray[np.float64], rep: int, seed: int, bayesian: bool
) -> NDArray[np.float64]:
    rng = np.random.default_rng([seed, rep])
    n = float(counts.sum())
    if bayesian:
        g = rng.gamma(counts, 1.0)
        return np.asarray(g * (n / g.sum()), dtype=np.float64)
    return rng.multinomial(int(round(n)), counts / n).astype(np.float64)


def _run_batch(
    uniq: NDArray[np.int64],
    counts: NDArray[np.float64],
    base: Structure,
    reps: Sequence[int],
    seed: int,
    bayesian: bool,
    use_cpdag: bool,
    kwargs: dict[str, Any],
) -> NDArray[np.float64]:
    p = len(base.variables)
    arcs = np.zeros((p, p))
    for rep in reps:
        w = _replicate_weights(counts, rep, seed, bayesian)
        keep = w > 0
        s = learn_structure(uniq[keep], structure=base, weights=w[keep], **kwargs)
        g = adjacency(s, base.variables)
        if use_cpdag:
            g = cpdag(g)
            und = g & g.T
            arcs += (g & ~g.T) + 0.5 * und
        else:
            arcs += g
    return arcs


def _distinct(
    data: Any, structure: Structure | BayesNet | None, client: Any, batch_rows: int
) -> tuple[Structure, NDArray[np.int64], NDArray[np.float64]]:
    """Empty structure, distinct rows and their counts, of in-memory or Parquet data."""
    from bnlab.counts.sources import is_path_source

    if is_path_source(data):
        from bnlab.counts.parquet import distinct_rows, parquet_files, parquet_structure

        files = parquet_files(data)
        s = parquet_structure(files) if structure is None else as_structure(structure)
        base = Structure(s.variables, s.states, {})
        uniq, counts = distinct_rows(files, base, client=client, batch_rows=batch_rows)
        if uniq.shape[0] == 0:
            raise DataError("the data have no rows; the bootstrap needs data.")
        return base, uniq, counts
    base, codes = prepare_data(data, structure)
    uniq, counts = unique_rows(codes)
    return base, uniq, counts


def _dask_arcs(
    client: Any,
    uniq: NDArray[np.int64],
    counts: NDArray[np.float64],
    base: Structure,
    reps: list[int],
    seed: int,
    bayesian: bool,
    use_cpdag: bool,
    kwargs: dict[str, Any],
) -> NDArray[np.float64]:
    """Sum of replicate arcs, one task per replicate on the client's cluster."""
    data = client.scatter([uniq, counts], broadcast=True)
    futures = [
        client.submit(
            _run_batch, data[0], data[1], base, [rep], seed, bayesian, use_cpdag, kwargs, pure=False
        )
        for rep in reps
    ]
    # arcs hold 0, 0.5 and 1 per replicate: their sum is exact in any order
    return np.asarray(np.sum(client.gather(futures), axis=0), dtype=np.float64)


def bootstrap_strength(
    data: Any,
    n_replicates: int = 100,
    *,
    bayesian: bool = False,
    cpdag: bool = True,
    structure: Structure | BayesNet | None = None,
    n_jobs: int = 1,
    client: Any = None,
    batch_rows: int = 1_000_000,
    seed: int = 0,
    **learn_kwargs: Any,
) -> BootstrapResult:
    """Bootstrap edge strength and direction (as R bnlearn's ``boot.strength``).

    Parameters
    ----------
    data
        DataFrame (or codes with ``structure``), or a Parquet folder, glob or list of files
        (reduced to distinct rows in bounded memory; the rows are not loaded whole).
    n_replicates
        Number of bootstrap replicates ``R``.
    bayesian
        Bayesian bootstrap (Dirichlet row weights) instead of resampling rows.
    cpdag
        Count each replicate's CPDAG (undirected edges half each way), as bnlearn does.
    structure
        Variables and states, when ``data`` are codes or to fix the states.
    n_jobs
        joblib worker processes (``-1``: all cores); ``1`` runs in this process.
    client
        A ``distributed.Client``: replicates run as tasks on its workers (one per
        replicate; the distinct rows are broadcast once), and ``n_jobs`` is ignored.
    batch_rows
        Rows per record batch when reading Parquet data.
    seed
        Replicate ``i`` uses ``numpy.random.default_rng([seed, i])``, so results do not
        depend on ``n_jobs`` or on the cluster.
    **learn_kwargs
        Passed to :func:`bnlab.learn_structure` (``score``, ``method``, ``constraints``,
        ``max_indegree``, ...).

    Returns
    -------
    BootstrapResult
        ``.table()`` (tidy DataFrame), ``.to_xarray()``, ``.averaged(threshold)``.
    """
    if int(n_replicates) < 1:
        raise StructureError(f"n_replicates must be at least 1, got {n_replicates!r}.")
    for bad in ("weights", "return_info", "structure"):
        if bad in learn_kwargs:
            raise StructureError(f"`{bad}` cannot be passed to bootstrap_strength's learner.")
    base, uniq, counts = _distinct(data, structure, client, batch_rows)
    reps = list(range(int(n_replicates)))
    if client is not None:
        arcs = _dask_arcs(client, uniq, counts, base, reps, seed, bayesian, cpdag, learn_kwargs)
    elif n_jobs == 1:
        arcs = _run_batch(uniq, counts, base, reps, seed, bayesian, cpdag, learn_kwargs)
    else:
        from joblib import Parallel, cpu_count, delayed

        workers = cpu_count() if n_jobs < 0 else int(n_jobs)
        chunks = [reps[i::workers] for i in range(workers) if reps[i::workers]]
        parts = Parallel(n_jobs=workers, backend="loky")(
            delayed(_run_batch)(uniq, counts, base, ch, seed, bayesian, cpdag, learn_kwargs)
            for ch in chunks
        )
        arcs = np.sum(parts, axis=0)
    return BootstrapResult(
        variables=tuple(base.variables),
        states={v: tuple(base.states[v]) for v in base.variables},
        arcs=arcs / len(reps),
        n_replicates=len(reps),
        kind="bayesian" if bayesian else "nonparametric",
    )
