"""Score-based search: greedy hill climbing over add / delete / reverse moves, tabu, restarts.

A search may also climb a second time from a maximum-weight spanning tree of the pairwise
score gains (:meth:`_Search.tree_start`, Chow-Liu) and keep the better of the two climbs.

The search keeps, for the current graph, two ``(p, p)`` matrices of local scores: ``add[x, y]``
is the score of ``y``'s family with ``x`` added to its parents and ``dele[x, y]`` the score with
``x`` removed. Every move's score change is then a difference of entries (a reversal
``x -> y`` is ``dele[x, y] + add[y, x]`` minus two current local scores), so choosing a move
is one compiled pass over the pairs (:func:`bnlab.learn.kernels.best_move`, equal to the
numpy :meth:`_Search.deltas` and :meth:`_Search.best`); after a move only the changed
families' columns are recomputed, with all candidate additions of a child counted in one
batched pass
(:meth:`FamilyScorer.add_scores`). Columns are cached by ``(child, parent set)``, so tabu
moves back and forth and random restarts revisit families for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


class Scorer(Protocol):
    """What the search scores with: local scores of families over ``p`` variables.

    :class:`bnlab.learn.scores.FamilyScorer` (codes in memory) and
    :class:`bnlab.learn.source_scorer.SourceScorer` (a counts source) implement it.
    """

    p: int
    #: whether :meth:`prefetch` counts announced families in one pass (worth announcing)
    batches_requests: bool
    #: families counted from the data so far
    n_counted: int

    def score(self, child: int, parents: Sequence[int]) -> float:
        """Local score of ``child`` given ``parents``."""
        ...

    def score_sets(self, child: int, sets: Sequence[Sequence[int]]) -> NDArray[np.float64]:
        """Local scores of ``child`` given each parent set of ``sets``."""
        ...

    def add_scores(
        self, child: int, parents: Sequence[int], candidates: NDArray[np.integer]
    ) -> NDArray[np.float64]:
        """Local scores of ``child`` given ``parents + {x}`` for each ``x`` in ``candidates``."""
        ...

    def dropped(self, child: int, parents: Sequence[int]) -> int:
        """Rows left out of the family for missing values."""
        ...

    def prefetch(self, requests: Sequence[tuple[int, tuple[int, ...]]]) -> None:
        """Announce the ``(child, parents)`` families the next scoring calls need."""
        ...

    def precompute_pairs(self) -> None:
        """Score every empty and one-parent family (the first columns of an empty graph)."""
        ...


_NEG = -np.inf
# score differences closer than this are ties (rounding noise is ~1e-10)
_TIE = 1e-7


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a search: parent sets (column indices), total score and effort."""

    parents: tuple[tuple[int, ...], ...]
    score: float
    iterations: int
    families_counted: int


def reachability(adj: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``R[a, b]`` is True when a directed path of length >= 1 leads from ``a`` to ``b``."""
    r = adj.astype(np.float32)
    while True:
        nxt = np.minimum(r + r @ r, 1.0)
        if np.array_equal(nxt, r):
            return r > 0
        r = nxt


class _Search:
    """Mutable search state over one :class:`Scorer` (internal)."""

    def __init__(
        self,
        scorer: Scorer,
        allowed: NDArray[np.bool_],
        required: NDArray[np.bool_],
        max_indegree: int | None,
    ) -> None:
        self.sc = scorer
        self.p = scorer.p
        self.allowed = allowed.copy()
        np.fill_diagonal(self.allowed, False)
        self.required = required
        self.max_in = self.p if max_indegree is None else int(max_indegree)
        self.adj = np.zeros((self.p, self.p), dtype=bool)
        self.parents: list[tuple[int, ...]] = [() for _ in range(self.p)]
        self.local = np.zeros(self.p)
        self.add = np.full((self.p, self.p), _NEG)
        self.dele = np.full((self.p, self.p), _NEG)
        self.columns: dict[
            tuple[int, tuple[int, ...]], tuple[float, NDArray[np.float64], NDArray[np.float64]]
        ] = {}
        self.iterations = 0
        self._reach: NDArray[np.bool_] | None = None

    # -- bookkeeping ----------------------------------------------------------------------
    def _candidates(self, y: int, ps: tuple[int, ...]) -> NDArray[np.intp]:
        """Variables that may be added to ``y``'s parents ``ps``."""
        if len(ps) >= self.max_in:
            return np.zeros(0, dtype=np.intp)
        cand_mask = self.allowed[:, y].copy()
        cand_mask[list(ps)] = False
        return np.flatnonzero(cand_mask)

    def _prefetch(self, columns: list[tuple[int, tuple[int, ...]]]) -> None:
        """Announce every family the given ``(child, parents)`` columns will score.

        Parent orders are those the scoring calls of :meth:`_column` use, so a counts
        source builds each table with the axis order in-memory counting gives it.
        """
        if not self.sc.batches_requests:
            return
        requests: list[tuple[int, tuple[int, ...]]] = []
        for y, ps in columns:
            if (y, ps) in self.columns:
                continue
            requests.append((y, ps))
            requests.extend((y, (*ps, int(x))) for x in self._candidates(y, ps))
            requests.extend((y, tuple(q for q in ps if q != x)) for x in ps)
        if requests:
            self.sc.prefetch(requests)

    def _get_column(
        self, y: int, ps: tuple[int, ...]
    ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
        """``(local score, add column, delete column)`` of ``y`` with parents ``ps`` (cached)."""
        key = (y, ps)
        got = self.columns.get(key)
        if got is None:
            loc = self.sc.score(y, ps)
            add_col = np.full(self.p, _NEG)
            cand = self._candidates(y, ps)
            if cand.size:
                add_col[cand] = self.sc.add_scores(y, ps, cand)
            del_col = np.full(self.p, _NEG)
            if ps:
                subsets = [tuple(q for q in ps if q != x) for x in ps]
                del_col[list(ps)] = self.sc.score_sets(y, subsets)
            got = (loc, add_col, del_col)
            self.columns[key] = got
        return got

    def _column(self, y: int) -> None:
        self.local[y], self.add[:, y], self.dele[:, y] = self._get_column(y, self.parents[y])

    def set_graph(self, parents: list[tuple[int, ...]]) -> None:
        """Move to a graph given by parent sets, rescoring only the changed families."""
        first = not self.iterations and not self.columns
        if first and sum(1 for ps in parents if not ps) * 2 >= self.p:
            self.sc.precompute_pairs()
        changed = [
            (y, tuple(sorted(parents[y])))
            for y in range(self.p)
            if first or tuple(sorted(parents[y])) != self.parents[y]
        ]
        self._prefetch(changed)
        for y in range(self.p):
            ps = tuple(sorted(parents[y]))
            if first or ps != self.parents[y]:
                self.parents[y] = ps
                self._reach = None
                self.adj[:, y] = False
                self.adj[list(ps), y] = True
                self._column(y)

    def total(self) -> float:
        return float(self.local.sum())

    def deltas(
        self, tabu: set[tuple[int, int, int]] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Score changes of every legal add, delete and reverse move (``-inf`` if illegal)."""
        adj = self.adj
        if self._reach is None:
            self._reach = reachability(adj)
        reach = self._reach
        indeg = adj.sum(axis=0)
        free_in = indeg < self.max_in
        add_ok = ~adj & ~adj.T & self.allowed & ~reach.T & free_in[None, :]
        d_add = np.where(add_ok, self.add - self.local[None, :], _NEG)
        del_ok = adj & ~self.required
        d_del = np.where(del_ok, self.dele - self.local[None, :], _NEG)
        # reversing x -> y is illegal when another path x ~> y exists
        other_path = (adj.astype(np.float32) @ reach.astype(np.float32)) > 0
        rev_ok = del_ok & self.allowed.T & ~other_path & free_in[:, None]
        d_rev = np.where(
            rev_ok, (self.dele - self.local[None, :]) + (self.add.T - self.local[:, None]), _NEG
        )
        if tabu:
            for kind, x, y in tabu:
                (d_add, d_del, d_rev)[kind][x, y] = _NEG
        return d_add, d_del, d_rev

    def apply(self, kind: int, x: int, y: int) -> None:
        """Apply move ``kind`` (0 add, 1 delete, 2 reverse) on the pair ``x -> y``."""
        if kind == 0:
            self._prefetch([(y, tuple(sorted((*self.parents[y], x))))])
            self.parents[y] = tuple(sorted((*self.parents[y], x)))
            self.adj[x, y] = True
            if self._reach is not None:
                # new paths: from x and its ancestors to y and its descendants
                src_ = self._reach[:, x].copy()
                src_[x] = True
                dst = self._reach[y].copy()
                dst[y] = True
                self._reach |= src_[:, None] & dst[None, :]
            self._column(y)
        elif kind == 1:
            self._reach = None
            self._prefetch([(y, tuple(q for q in self.parents[y] if q != x))])
            self.parents[y] = tuple(q for q in self.parents[y] if q != x)
            self.adj[x, y] = False
            self._column(y)
        else:
            self._reach = None
            self._prefetch(
                [
                    (y, tuple(q for q in self.parents[y] if q != x)),
                    (x, tuple(sorted((*self.parents[x], y)))),
                ]
            )
            self.parents[y] = tuple(q for q in self.parents[y] if q != x)
            self.parents[x] = tuple(sorted((*self.parents[x], y)))
            self.adj[x, y] = False
            self.adj[y, x] = True
            self._column(y)
            self._column(x)
        self.iterations += 1

    def best_move(
        self, tabu: set[tuple[int, int, int]] | None = None
    ) -> tuple[float, int, int, int]:
        """``best(deltas(tabu))`` in one compiled pass (:func:`bnlab.learn.kernels.best_move`).

        With a numpy-engine scorer (small data, see :func:`bnlab.learn.core.counting_engine`)
        the numpy reference itself, so nothing is compiled or loaded from numba's cache.
        """
        if getattr(self.sc, "engine", "numba") == "numpy":
            return self.best(self.deltas(tabu))
        from bnlab.learn import kernels

        if self._reach is None:
            self._reach = reachability(self.adj)
        mask = np.zeros((3, self.p, self.p), dtype=bool)
        for kind, x, y in tabu or ():
            mask[kind, x, y] = True
        gain, kind, x, y = kernels.best_move(
            self.adj,
            self._reach,
            self.add,
            self.dele,
            self.local,
            self.allowed,
            self.required,
            self.max_in,
            mask,
            _TIE,
        )
        return float(gain), int(kind), int(x), int(y)

    @staticmethod
    def best(
        d: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    ) -> tuple[float, int, int, int]:
        """Best move; near-ties (within ``_TIE``) go to the first kind, then the first pair.

        Score-equivalent moves (``x -> y`` vs ``y -> x`` under BIC/BDeu) differ only by
        rounding, so breaking ties by value would make the path depend on summation order.
        """
        vals = [float(m.max()) for m in d]
        top = max(vals)
        if top == _NEG:
            return top, 0, 0, 0
        p = d[0].shape[0]
        for kind, m in enumerate(d):
            if vals[kind] >= top - _TIE:
                flat = int(np.flatnonzero(m.ravel() >= top - _TIE)[0])
                return float(m.ravel()[flat]), kind, flat // p, flat % p
        return top, 0, 0, 0  # unreachable: the kind holding `top` qualifies

    # -- searches -------------------------------------------------------------------------
    def climb(self, max_iter: int, tol: float) -> None:
        """Greedy hill climbing: take the best improving move until none improves."""
        for _ in range(max_iter):
            gain, kind, x, y = self.best_move()
            if not gain > tol:
                return
            self.apply(kind, x, y)

    def tabu(self, tabu_length: int, max_stall: int, tol: float) -> None:
        """Tabu search from the current (locally optimal) graph; ends at the best graph."""
        best_score = self.total()
        best_graph = list(self.parents)
        recent: list[tuple[int, int, int]] = []
        stall = 0
        while stall < max_stall:
            gain, kind, x, y = self.best_move(set(recent))
            if gain == _NEG:
                break
            self.apply(kind, x, y)
            # forbid undoing this move for a while
            undo = (1, x, y) if kind == 0 else (0, x, y) if kind == 1 else (2, y, x)
            recent.append(undo)
            if len(recent) > tabu_length:
                recent.pop(0)
            now = self.total()
            if now > best_score + tol:
                best_score, best_graph, stall = now, list(self.parents), 0
            else:
                stall += 1
        self.set_graph(best_graph)

    def pair_gains(self) -> NDArray[np.float64]:
        """``G[x, y]``: score change of adding ``x -> y`` to the empty graph (``-inf`` if illegal).

        Read from the cached empty-parent columns (:meth:`_get_column`); the search from an
        empty start has them all, and a counts source counts the missing ones in one batch.
        """
        gains = np.full((self.p, self.p), _NEG)
        if self.max_in < 1:
            return gains
        self._prefetch([(y, ()) for y in range(self.p) if (y, ()) not in self.columns])
        for y in range(self.p):
            loc, add_col, _ = self._get_column(y, ())
            gains[:, y] = add_col - loc
        return gains

    def tree_start(self, start: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """``start`` completed by a maximum-weight spanning forest (Chow-Liu) of pair gains.

        The weight of a pair is the larger score gain of its legal single-edge additions to
        the empty graph (for BIC, BDeu, AIC and log-likelihood both directions gain the same,
        ``N`` times the empirical mutual information less the penalty). Kruskal's rule adds
        pairs of positive weight, best first (ties: first pair in row-major order), that join
        two components of ``start``'s skeleton; each tree is then oriented away from the
        variable of largest total positive weight it holds, reversing an edge that is not
        allowed that way or whose head has no parent slot left, and leaving it out when
        neither direction fits. As the new edges join distinct components, no orientation
        closes a cycle, so the result is a DAG holding ``start`` (and its required edges)
        and honouring ``allowed`` and ``max_indegree``. With no constraints, an empty
        ``start`` and a score-equivalent score (all but K2) it is the highest-scoring graph
        in which no variable has two parents (Chow & Liu 1968).
        """
        p = self.p
        gains = self.pair_gains()
        weight = np.maximum(gains, gains.T)
        np.fill_diagonal(weight, _NEG)
        comp = list(range(p))

        def find(a: int) -> int:
            while comp[a] != a:
                comp[a] = comp[comp[a]]
                a = comp[a]
            return a

        for y, ps in enumerate(start):
            for x in ps:
                comp[find(x)] = find(y)
        iu, ju = np.triu_indices(p, 1)
        w = weight[iu, ju]
        order = np.argsort(-w, kind="stable")
        nbrs: list[list[int]] = [[] for _ in range(p)]
        for k in order.tolist():
            if not w[k] > 0:
                break
            a, b = int(iu[k]), int(ju[k])
            ra, rb = find(a), find(b)
            if ra != rb:
                comp[ra] = rb
                nbrs[a].append(b)
                nbrs[b].append(a)
        parents = [list(ps) for ps in start]
        indeg = [len(ps) for ps in start]
        strength = np.where(weight > 0, weight, 0.0).sum(axis=1)
        seen = [False] * p
        for root in np.argsort(-strength, kind="stable").tolist():
            if seen[root] or not nbrs[root]:
                continue
            seen[root] = True
            queue = [root]
            while queue:
                u = queue.pop(0)
                for v in nbrs[u]:
                    if seen[v]:
                        continue
                    seen[v] = True
                    queue.append(v)
                    if self.allowed[u, v] and indeg[v] < self.max_in:
                        parents[v].append(u)
                        indeg[v] += 1
                    elif self.allowed[v, u] and indeg[u] < self.max_in:
                        parents[u].append(v)
                        indeg[u] += 1
        return [tuple(sorted(ps)) for ps in parents]

    def perturb(self, n_moves: int, rng: np.random.Generator) -> None:
        """Apply ``n_moves`` random legal moves (ignoring their score).

        The kind of move (add, delete, reverse) is drawn first, uniformly among the kinds
        with a legal move, so that deletions and reversals, which hill climbing does not
        simply undo, are as likely as the far more numerous additions.
        """
        for _ in range(n_moves):
            d = self.deltas()
            legal = [np.argwhere(np.isfinite(m)) for m in d]
            kinds = [k for k, arr in enumerate(legal) if len(arr)]
            if not kinds:
                return
            kind = kinds[int(rng.integers(len(kinds)))]
            x, y = legal[kind][int(rng.integers(len(legal[kind])))]
            self.apply(kind, int(x), int(y))


def greedy_search(
    scorer: Scorer,
    *,
    allowed: NDArray[np.bool_],
    required: NDArray[np.bool_],
    start: list[tuple[int, ...]],
    max_indegree: int | None = None,
    tabu_length: int = 0,
    max_stall: int | None = None,
    restarts: int = 0,
    perturb: int = 5,
    seed: int = 0,
    max_iter: int = 100_000,
    tol: float = 1e-9,
    tree_start: bool = False,
) -> SearchResult:
    """Hill climbing from ``start``, then optional tree start, tabu search and random restarts.

    Every phase starts from the best graph so far and only ever keeps a better one, so the
    result never scores below plain hill climbing from the same start.

    With ``tree_start``, a second climb starts from ``start`` completed by a maximum-weight
    spanning forest of the pairwise score gains (:meth:`_Search.tree_start`, a Chow-Liu
    tree when ``start`` is empty) and the better of the two climbs goes on (the first on a
    tie); tabu search then runs from that graph. Greedy climbs from the empty graph orient
    their first edges by tie-breaking among score-equivalent additions, and that early
    choice decides which local optimum they reach; the tree start fixes the strongest
    dependencies at once and orients them from the most connected variable.

    Parameters
    ----------
    scorer
        Local scores of the data.
    allowed
        ``allowed[x, y]``: the edge ``x -> y`` may be present (expert knowledge).
    required
        ``required[x, y]``: the edge ``x -> y`` must stay (it must be in ``start``).
    start
        Parent sets (column indices) of the start graph.
    max_indegree
        Largest number of parents a variable may get by a move.
    tabu_length
        Length of the tabu list; ``0`` disables tabu search.
    max_stall
        Tabu iterations without improvement before stopping (default ``tabu_length``).
    restarts, perturb
        Number of random restarts, and random moves applied before each.
    tree_start
        Also climb from the spanning-forest completion of ``start`` and keep the better.
    seed
        Seed of the restarts' random moves.
    max_iter
        Cap on hill-climbing moves per climb.
    tol
        Smallest score gain counted as an improvement.
    """
    st = _Search(scorer, allowed, required, max_indegree)
    st.set_graph(start)
    st.climb(max_iter, tol)
    if tree_start:
        first_score, first_graph = st.total(), list(st.parents)
        st.set_graph(st.tree_start([tuple(sorted(ps)) for ps in start]))
        st.climb(max_iter, tol)
        if not st.total() > first_score + tol:
            st.set_graph(first_graph)
    if tabu_length > 0:
        st.tabu(tabu_length, tabu_length if max_stall is None else max_stall, tol)
        st.climb(max_iter, tol)
    best_score, best_graph = st.total(), list(st.parents)
    rng = np.random.default_rng(seed)
    for _ in range(restarts):
        st.set_graph(best_graph)
        st.perturb(perturb, rng)
        st.climb(max_iter, tol)
        if tabu_length > 0:
            st.tabu(tabu_length, tabu_length if max_stall is None else max_stall, tol)
            st.climb(max_iter, tol)
        if st.total() > best_score + tol:
            best_score, best_graph = st.total(), list(st.parents)
    st.set_graph(best_graph)
    return SearchResult(tuple(st.parents), st.total(), st.iterations, scorer.n_counted)
