"""``learn_structure``: data (+ expert knowledge) in, a :class:`bnlab.Structure` out.

Data are a DataFrame or codes in memory, or a counts source
(:mod:`bnlab.counts.sources`: Parquet files streamed in batches, or on Dask) from which the
search requests the tables of the candidate families of each move in one batch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
from numpy.typing import NDArray

from bnlab.codes import codes_with_structure
from bnlab.counts.csv_file import is_csv_path, read_csv_codes
from bnlab.errors import DataError, StructureError
from bnlab.learn.constraints import ConstraintError, Constraints, Edge, structure_config_from_dict
from bnlab.learn.scores import FamilyScorer, check_score
from bnlab.learn.search import Scorer, greedy_search
from bnlab.network import BayesNet, Structure, as_structure

if TYPE_CHECKING:  # pandas and pyarrow load only for the data that need them
    import pandas as pd

    from bnlab.counts.parquet import PathSource
    from bnlab.counts.sources import CountsSource

METHODS = ("hc", "tabu", "pc")

#: Data structure learning takes: in memory, or a counts source / Parquet location.
type LearnData = (
    pd.DataFrame | NDArray[np.integer] | str | os.PathLike[str] | CountsSource | PathSource
)


@dataclass(frozen=True)
class LearnResult:
    """A learned structure with what it took to get there (``return_info=True``).

    Attributes
    ----------
    structure
        The learned DAG (for ``pc``: a consistent extension of ``cpdag``).
    score
        Total score of ``structure`` under ``score_name`` (on the data searched).
    local_scores
        Local score per variable.
    n_dropped
        Rows left out of each family for missing values (complete-case per family).
    n_rows
        Rows in the data.
    method, score_name
        What was run.
    iterations
        Moves applied (score-based) or conditional-independence tests run (``pc``).
    elapsed_s
        Wall time of the search.
    cpdag
        ``pc`` only: ``{"directed": [...], "undirected": [...]}`` edges of the learned CPDAG.
    """

    structure: Structure
    score: float
    local_scores: dict[str, float]
    n_dropped: dict[str, int]
    n_rows: int
    method: str
    score_name: str
    iterations: int
    elapsed_s: float
    cpdag: dict[str, list[Edge]] | None = field(default=None)


def as_source(data: Any, structure: Structure | BayesNet | None) -> CountsSource | None:
    """A counts source for partitioned data (a source, Parquet paths, a Dask frame), else ``None``.

    Parquet paths are streamed in this process; pass a
    :class:`~bnlab.counts.dask.DaskCounts` to count on a cluster.
    """
    if not _is_partitioned(data):
        return None
    from bnlab.counts.sources import counts_source

    source = counts_source(data, structure)
    if structure is not None and list(as_structure(structure).variables) != list(
        source.structure.variables
    ):
        raise DataError(
            "`structure=` does not match the counts source's variables; build the source "
            "with that structure."
        )
    if source.n_rows == 0:
        raise DataError("the data have no rows; structure learning needs data.")
    return source


def _scorer(
    data: Any,
    structure: Structure | BayesNet | None,
    score: str,
    ess: float,
    weights: NDArray[np.floating] | None = None,
) -> tuple[Structure, Scorer, int, NDArray[np.integer] | None]:
    """``(empty structure, scorer, rows, codes)``; ``codes`` is ``None`` for partitioned data.

    Codes with a structure and CSV files are read without pandas or pyarrow.
    """
    if isinstance(data, np.ndarray) and structure is not None:
        base, codes = codes_with_structure(data, structure)
    elif is_csv_path(data):
        base, codes = read_csv_codes(data, structure)
    else:
        source = as_source(data, structure)
        if source is not None:
            from bnlab.learn.source_scorer import SourceScorer

            if weights is not None:
                raise StructureError(
                    "row weights need the data in memory; a counts source has no rows to weigh."
                )
            return source.structure, SourceScorer(source, score, ess), source.n_rows, None
        from bnlab.data import prepare_data

        base, codes = prepare_data(data, structure)
    cards = [base.cards[v] for v in base.variables]
    scorer = FamilyScorer(
        codes, cards, score, ess, weights=weights, engine=counting_engine(codes.shape)
    )
    return base, scorer, int(codes.shape[0]), codes


#: Below this many cells (rows x variables) a fresh process learns faster with numpy alone:
#: loading numba and its cached kernels costs ~1-2 s, more than the whole search there.
NUMPY_CELLS = 200_000


def counting_engine(shape: tuple[int, ...]) -> Literal["numba", "numpy"]:
    """``"numpy"`` for small data in a process that has not loaded numba yet, else ``"numba"``.

    Both engines give the same scores and the same moves (the numpy path is the compiled
    kernels' reference); only the time differs.
    """
    import sys

    small = int(np.prod(shape)) <= NUMPY_CELLS
    return "numpy" if small and "numba" not in sys.modules else "numba"


def _start_edges(start: Any, variables: Sequence[str]) -> tuple[Edge, ...] | None:
    if start is None:
        return None
    if isinstance(start, (Structure, BayesNet)):
        s = as_structure(start)
        unknown = sorted(set(s.variables) - set(variables))
        if unknown:
            raise ConstraintError(f"the start graph has unknown variables {unknown}.")
        return tuple(s.edges)
    if isinstance(start, Mapping):
        return tuple((str(p), str(c)) for c, ps in start.items() for p in ps)
    return Constraints.from_dict({"start": list(start)}, "start").start


def _in_memory(data: Any) -> bool:
    """Codes or a CSV file: data the counts sources (and pyarrow) are not loaded for."""
    return isinstance(data, np.ndarray) or is_csv_path(data)


def _is_counts_source(data: Any) -> bool:
    if _in_memory(data):
        return False
    from bnlab.counts.sources import CountsSource

    return isinstance(data, CountsSource)


def _is_partitioned(data: Any) -> bool:
    if _in_memory(data):
        return False
    from bnlab.counts.sources import is_partitioned

    return is_partitioned(data)


def structure_score(
    structure: Structure | BayesNet,
    data: LearnData,
    score: str = "bic",
    *,
    ess: float = 1.0,
) -> float:
    """Total decomposable score of ``structure`` on ``data`` (sum of local scores)."""
    return float(sum(local_scores(structure, data, score, ess=ess).values()))


def local_scores(
    structure: Structure | BayesNet,
    data: LearnData,
    score: str = "bic",
    *,
    ess: float = 1.0,
) -> dict[str, float]:
    """Local score of every family of ``structure`` on ``data``."""
    s = as_structure(structure)
    name = check_score(score, ess)
    # a counts source keeps its own variable order; everything else is read with ``s``'s
    base, sc, _, _ = _scorer(data, None if _is_counts_source(data) else s, name, ess)
    absent = [v for v in s.variables if v not in base.index or base.states[v] != tuple(s.states[v])]
    if absent:
        raise DataError(
            f"the data lack, or have other states for, variable(s) {absent} of the structure."
        )
    idx = base.index
    return {v: sc.score(idx[v], sorted(idx[p] for p in s.parents[v])) for v in s.variables}


@overload
def learn_structure(
    data: LearnData,
    score: str = ...,
    method: str = ...,
    *,
    structure: Structure | BayesNet | None = ...,
    constraints: Constraints | Mapping[str, Any] | None = ...,
    start: Structure | BayesNet | Sequence[Edge] | Mapping[str, Sequence[str]] | None = ...,
    max_indegree: int | None = ...,
    restarts: int = ...,
    perturb: int = ...,
    tabu_length: int = ...,
    max_stall: int | None = ...,
    tree_start: bool | None = ...,
    ess: float = ...,
    alpha: float = ...,
    test: str = ...,
    seed: int = ...,
    weights: NDArray[np.floating] | None = ...,
    schema: Any = ...,
    return_info: Literal[False] = ...,
) -> Structure: ...


@overload
def learn_structure(
    data: LearnData,
    score: str = ...,
    method: str = ...,
    *,
    structure: Structure | BayesNet | None = ...,
    constraints: Constraints | Mapping[str, Any] | None = ...,
    start: Structure | BayesNet | Sequence[Edge] | Mapping[str, Sequence[str]] | None = ...,
    max_indegree: int | None = ...,
    restarts: int = ...,
    perturb: int = ...,
    tabu_length: int = ...,
    max_stall: int | None = ...,
    tree_start: bool | None = ...,
    ess: float = ...,
    alpha: float = ...,
    test: str = ...,
    seed: int = ...,
    weights: NDArray[np.floating] | None = ...,
    schema: Any = ...,
    return_info: Literal[True],
) -> LearnResult: ...


def learn_structure(
    data: LearnData,
    score: str = "bic",
    method: str = "hc",
    *,
    structure: Structure | BayesNet | None = None,
    constraints: Constraints | Mapping[str, Any] | None = None,
    start: Structure | BayesNet | Sequence[Edge] | Mapping[str, Sequence[str]] | None = None,
    max_indegree: int | None = None,
    restarts: int = 0,
    perturb: int = 5,
    tabu_length: int = 10,
    max_stall: int | None = None,
    tree_start: bool | None = None,
    ess: float = 1.0,
    alpha: float = 0.05,
    test: str = "g2",
    seed: int = 0,
    weights: NDArray[np.floating] | None = None,
    schema: Any = None,
    return_info: bool = False,
) -> Structure | LearnResult:
    """Learn a DAG from data, optionally refining expert knowledge.

    Parameters
    ----------
    data
        DataFrame with one column per variable (Categorical columns give the states; NaN is
        missing), integer codes ``(rows, variables)`` with ``structure``, a CSV file
        (``.csv``/``.csv.gz``, read without pandas: each column's states are its distinct
        texts, sorted, as :func:`bnlab.counts.csv_file.read_csv_codes` reads them; with
        ``schema``, read by pandas and encoded by the schema), or partitioned
        data (``hc``/``tabu`` only): a Parquet folder, glob or list of files (streamed in
        this process) or a :class:`bnlab.counts.sources.CountsSource` such as
        :class:`~bnlab.counts.sources.DaskCounts`. Partitioned data give the same graph and
        score, bit for bit, as the same rows in memory.
    score
        ``"bic"``, ``"aic"``, ``"bdeu"``, ``"k2"`` or ``"loglik"`` (all larger-is-better).
    method
        ``"hc"`` (greedy hill climbing over add / delete / reverse), ``"tabu"`` (hill
        climbing from the start and from its spanning-tree completion, then tabu search
        from the better graph; see ``tree_start``) or ``"pc"`` (PC-stable, then a DAG
        extension).
    structure
        Gives the variables and states (its edges are ignored); inferred from ``data``
        when omitted.
    constraints
        :class:`Constraints` or a mapping with its YAML keys (see
        :func:`bnlab.learn.load_structure_config`).
    start
        Start graph (a structure, a list of ``(parent, child)`` edges or a parents
        mapping); overrides ``constraints.start``. Default: the required edges only.
    max_indegree
        Most parents a variable may have.
    restarts, perturb
        Random restarts after the first climb, each after ``perturb`` random moves.
    tabu_length, max_stall
        Tabu list length and non-improving tabu iterations allowed (``method="tabu"``).
    tree_start
        After the climb from the start graph, climb again from the start graph completed
        by a maximum-weight spanning forest of the pairwise score gains (a Chow-Liu tree
        when the start is empty; required / forbidden edges, tiers and ``max_indegree``
        are honoured) and keep the better result. Default (``None``): on for ``"tabu"``,
        off for ``"hc"`` (plain greedy hill climbing). The result never scores below the
        climb from the start graph alone.
    ess
        BDeu equivalent sample size.
    alpha, test
        PC's significance level and test (``"g2"`` or ``"x2"``).
    seed
        Seed of the random restarts.
    weights
        Optional row weights (e.g. a bootstrap replicate).
    schema
        A :class:`bnlab.Schema` (or ``"infer"``) turning a raw ``data`` frame into states
        (see :func:`bnlab.infer_schema`).
    return_info
        Return a :class:`LearnResult` (score, dropped rows per family, effort) instead of
        the bare structure.

    Returns
    -------
    Structure or LearnResult
        The learned structure over the same variables and states.

    Examples
    --------
    >>> structure = bnlab.learn_structure(df, score="bic", method="hc")  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if schema is not None:
        from bnlab.schema import as_categorical

        if is_csv_path(data):
            import pandas as pd

            data = pd.read_csv(data, keep_default_na=True)  # numbers as numbers, for the schema
        data, _ = as_categorical(data, schema)
    method_name = str(method).lower()
    if method_name not in METHODS:
        raise StructureError(f"unknown method {method!r}; choose one of {list(METHODS)}.")
    name = check_score(score, ess)
    if method_name == "pc" and _is_partitioned(data):
        raise StructureError(
            "method='pc' needs the data in memory; use method='hc' or 'tabu' on partitioned "
            "data, or read the rows into a DataFrame."
        )
    base, scorer, n_rows, codes = _scorer(data, structure, name, ess, weights)
    variables = list(base.variables)
    if constraints is None:
        cons = Constraints()
    elif isinstance(constraints, Constraints):
        cons = constraints
    else:
        cons = structure_config_from_dict(dict(constraints))["constraints"]
    start_edges = _start_edges(start, variables)
    if start_edges is not None:
        cons = Constraints(
            cons.required,
            cons.forbidden,
            cons.tiers,
            cons.no_parents,
            cons.no_children,
            start_edges,
            cons.source,
        )
    if max_indegree is not None and (int(max_indegree) != max_indegree or max_indegree < 0):
        raise StructureError(f"max_indegree must be a non-negative integer, got {max_indegree!r}.")
    cons.validate(variables, max_indegree)
    cards = [base.cards[v] for v in variables]
    idx = {v: i for i, v in enumerate(variables)}
    pdag_edges: dict[str, list[Edge]] | None = None
    if method_name == "pc":
        from bnlab.learn.pc import pc_stable

        if codes is None:  # pragma: no cover - partitioned data are refused above
            raise StructureError("method='pc' needs the data in memory.")
        pc = pc_stable(
            codes, cards, variables, alpha=alpha, test=test, constraints=cons, max_cond=max_indegree
        )
        parent_idx = [
            tuple(int(a) for a in np.flatnonzero(pc.dag[:, j])) for j in range(len(cards))
        ]
        iterations = pc.n_tests
        pdag_edges = pc.cpdag_edges
    else:
        allowed, required = cons.masks(variables)
        start_sets: list[set[int]] = [set() for _ in variables]
        for a, b in (*(cons.start or ()), *cons.required):
            start_sets[idx[b]].add(idx[a])
        res = greedy_search(
            scorer,
            allowed=allowed,
            required=required,
            start=[tuple(sorted(s)) for s in start_sets],
            max_indegree=max_indegree,
            tabu_length=tabu_length if method_name == "tabu" else 0,
            max_stall=max_stall,
            restarts=restarts,
            perturb=perturb,
            seed=seed,
            tree_start=method_name == "tabu" if tree_start is None else bool(tree_start),
        )
        parent_idx = list(res.parents)
        iterations = res.iterations
    parents = {variables[j]: tuple(variables[i] for i in ps) for j, ps in enumerate(parent_idx)}
    learned = Structure(variables, base.states, parents)
    if not return_info:
        return learned
    loc = {v: scorer.score(idx[v], tuple(sorted(idx[p] for p in parents[v]))) for v in variables}
    dropped = {
        v: scorer.dropped(idx[v], tuple(sorted(idx[p] for p in parents[v]))) for v in variables
    }
    return LearnResult(
        structure=learned,
        score=float(sum(loc.values())),
        local_scores=loc,
        n_dropped=dropped,
        n_rows=n_rows,
        method=method_name,
        score_name=name,
        iterations=iterations,
        elapsed_s=time.perf_counter() - t0,
        cpdag=pdag_edges,
    )
