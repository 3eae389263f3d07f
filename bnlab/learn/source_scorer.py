"""Local scores from a counts source: structure search on data that are not in memory.

:class:`SourceScorer` offers the interface :func:`bnlab.learn.search.greedy_search` uses
(``score``, ``score_sets``, ``add_scores``, ``precompute_pairs``, ``prefetch``) but takes
every family's table from a :class:`~bnlab.counts.sources.CountsSource`: the search
announces the families a move needs (:meth:`SourceScorer.prefetch`) and they are counted
in one batch, i.e. one pass over partitioned data per move.

A family's table is requested with the axis order the in-memory
:class:`~bnlab.learn.scores.FamilyScorer` uses for it (parents in the order given, the
child last), and scores sum cells in that order (:func:`~bnlab.learn.scores.ordered_sum`),
so both scorers return bit-identical scores and the search takes the same path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bnlab.counts.sources import CountsSource
from bnlab.learn.scores import LgammaTables, check_score, score_tables, xlogy

Request = tuple[int, tuple[int, ...]]

# x log x lookup tables pay off while they are short
_MAX_LUT_ROWS = 1 << 22
_MAX_LGAMMA_LUT_ROWS = 50_000


class SourceScorer:
    """Cached local scores of the families of a counts source's variables.

    Parameters
    ----------
    source
        Where the tables come from (its ``structure.variables`` give the column indices).
    score, ess
        The score (see :data:`bnlab.learn.scores.SCORES`) and BDeu's equivalent sample size.
    """

    #: The search announces each move's families, counted in one pass (:meth:`prefetch`).
    batches_requests = True

    def __init__(self, source: CountsSource, score: str = "bic", ess: float = 1.0) -> None:
        self.score_name = check_score(score, ess)
        self.ess = float(ess)
        self.source = source
        self.variables = list(source.structure.variables)
        self.p = len(self.variables)
        self.cards = np.array([source.structure.cards[v] for v in self.variables], np.int64)
        self.n_total = float(source.n_rows)
        n = int(source.n_rows)
        self.lut: NDArray[np.float64] | None = None
        if n <= _MAX_LUT_ROWS:
            x = np.arange(n + 1, dtype=np.float64)
            self.lut = np.asarray(xlogy(x, x), dtype=np.float64)
        self._lgamma: LgammaTables | None = None
        if self.n_total <= _MAX_LGAMMA_LUT_ROWS:
            self._lgamma = LgammaTables(n)
        self.cache: dict[tuple[int, frozenset[int]], float] = {}
        self.n_dropped: dict[tuple[int, frozenset[int]], float] = {}
        self.n_counted = 0

    def _store(self, child: int, parents: Sequence[int], table: NDArray[np.int64]) -> None:
        r = int(self.cards[child])
        tab = table.reshape(1, -1, r)
        q = int(np.prod(self.cards[list(parents)])) if len(parents) else 1
        val = float(
            score_tables(
                tab,
                np.array([q]),
                self.score_name,
                self.ess,
                xlogx_lut=self.lut,
                lgamma_lut=self._lgamma,
            )[0]
        )
        key = (child, frozenset(parents))
        self.cache[key] = val
        self.n_dropped[key] = self.n_total - float(tab.sum())

    def prefetch(self, requests: Sequence[Request]) -> None:
        """Count and score, in one batch, the requested families not scored yet.

        A request is ``(child, parents)`` in column indices; the parents' order is the
        table's axis order.
        """
        todo: list[Request] = []
        seen: set[tuple[int, frozenset[int]]] = set()
        for child, parents in requests:
            key = (int(child), frozenset(parents))
            if key in self.cache or key in seen:
                continue
            seen.add(key)
            todo.append((int(child), tuple(int(x) for x in parents)))
        if not todo:
            return
        names = self.variables
        tables = self.source.family_counts_batch(
            [(names[c], [names[x] for x in ps]) for c, ps in todo]
        )
        for (child, parents), table in zip(todo, tables, strict=True):
            self._store(child, parents, table)
        self.n_counted += len(todo)

    def score(self, child: int, parents: Sequence[int]) -> float:
        """Local score of ``child`` given ``parents`` (cached)."""
        self.prefetch([(child, tuple(parents))])
        return self.cache[(child, frozenset(parents))]

    def score_sets(self, child: int, sets: Sequence[Sequence[int]]) -> NDArray[np.float64]:
        """Local scores of ``child`` under each parent set."""
        self.prefetch([(child, tuple(s)) for s in sets])
        return np.array([self.cache[(child, frozenset(s))] for s in sets], dtype=np.float64)

    def add_scores(
        self, child: int, parents: Sequence[int], candidates: NDArray[np.integer]
    ) -> NDArray[np.float64]:
        """Local scores of ``child`` given ``parents + {x}`` for each candidate ``x``."""
        sets = [(*parents, int(x)) for x in np.asarray(candidates).ravel()]
        return self.score_sets(child, sets)

    def precompute_pairs(self) -> None:
        """Score every one-parent family, both directions of a pair from one table."""
        pairs = [
            (y, x)
            for y in range(self.p - 1)
            for x in range(y + 1, self.p)
            if (y, frozenset((x,))) not in self.cache or (x, frozenset((y,))) not in self.cache
        ]
        if not pairs:
            return
        names = self.variables
        tables = self.source.table_counts([(names[y], names[x]) for y, x in pairs])
        for (y, x), table in zip(pairs, tables, strict=True):
            # table axes (y, x): family x | {y}; its transpose is y | {x}
            self._store(x, (y,), table)
            self._store(y, (x,), np.ascontiguousarray(table.T))
        self.n_counted += 2 * len(pairs)

    def dropped(self, child: int, parents: Sequence[int]) -> int:
        """Rows the family ``child | parents`` left out for missing values."""
        self.score(child, parents)
        return int(round(self.n_dropped[(child, frozenset(parents))]))
