"""Family counts: how often each child state occurs under each parent configuration.

Everything bnlab learns from complete data reduces to these counts, and counts add across
partitions of the rows, so chunked and distributed counting is exact. Each family is one
flat-index ``np.bincount``; rows with a missing value in the family (code ``-1``) are left
out of that family only and their number is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import DataError
from bnlab.network import BayesNet, Structure, as_structure


class FamilyCounts(NamedTuple):
    """Counts of one family.

    Attributes
    ----------
    variable
        The child variable.
    parents
        Its parents, in the axis order of ``counts``.
    counts
        Shape ``(*parent cards, card)``, int64.
    n_dropped
        Rows left out because a value in the family was missing.
    """

    variable: str
    parents: tuple[str, ...]
    counts: NDArray[np.int64]
    n_dropped: int


def flat_family_index(
    codes: NDArray[np.integer], columns: Sequence[int], cards: Sequence[int]
) -> NDArray[np.int64]:
    """Row-major flat index of each row's values in ``columns`` (cards in the same order).

    Missing values are not checked here; see :func:`family_counts_array`.
    """
    n = codes.shape[0]
    if not columns:
        return np.zeros(n, dtype=np.int64)
    idx = codes[:, columns[0]].astype(np.int64)
    for col, card in zip(columns[1:], cards[1:], strict=True):
        idx *= card
        idx += codes[:, col]
    return idx


def family_counts_array(
    codes: NDArray[np.integer],
    columns: Sequence[int],
    cards: Sequence[int],
    *,
    has_missing: bool | None = None,
) -> tuple[NDArray[np.int64], int]:
    """Contingency table of the given columns, and the number of rows dropped.

    Parameters
    ----------
    codes
        Integer codes, shape ``(rows, variables)``, ``-1`` = missing.
    columns
        Column indices; the table's axes follow this order.
    cards
        Number of states of each column.
    has_missing
        Whether any of these columns may hold ``-1``; computed when ``None``.

    Returns
    -------
    (table, n_dropped)
        ``table`` has shape ``tuple(cards)``.
    """
    shape = tuple(int(c) for c in cards)
    size = int(np.prod(shape, dtype=np.int64))
    cols = list(columns)
    if has_missing is None:
        has_missing = bool(cols) and bool((codes[:, cols] < 0).any())
    if has_missing:
        keep = (codes[:, cols] >= 0).all(axis=1)
        n_dropped = int(keep.size - np.count_nonzero(keep))
        sub = codes[keep]
    else:
        n_dropped = 0
        sub = codes
    idx = flat_family_index(sub, cols, shape)
    table = np.bincount(idx, minlength=size).astype(np.int64, copy=False)
    return table.reshape(shape), n_dropped


def _column_has_missing(codes: NDArray[np.integer]) -> NDArray[np.bool_]:
    if codes.shape[0] == 0:
        return np.zeros(codes.shape[1], dtype=bool)
    return np.asarray(codes.min(axis=0) < 0)


def family_counts(
    codes: NDArray[np.integer],
    structure: Structure | BayesNet,
    variables: Iterable[str] | None = None,
    parents: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, FamilyCounts]:
    """Count every family (or the requested ones).

    Parameters
    ----------
    codes
        Integer codes from :func:`bnlab.data.encode`, columns in ``structure.variables``
        order.
    structure
        Gives the variables, cards and (by default) the parent sets.
    variables
        Children to count; all variables when ``None``.
    parents
        Optional parent sets overriding the structure's (used by structure search).

    Returns
    -------
    dict
        :class:`FamilyCounts` per requested variable.
    """
    s = as_structure(structure)
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != len(s.variables):
        raise DataError(
            f"codes have shape {codes.shape}; expected (rows, {len(s.variables)}) with "
            "columns in structure.variables order (see bnlab.data.encode)."
        )
    col_missing = _column_has_missing(codes)
    out: dict[str, FamilyCounts] = {}
    for v in s.variables if variables is None else variables:
        ps = tuple(parents[v]) if parents is not None and v in parents else s.parents[v]
        cols = [s.index[p] for p in ps] + [s.index[v]]
        cards = [s.cards[p] for p in ps] + [s.cards[v]]
        table, dropped = family_counts_array(
            codes, cols, cards, has_missing=bool(col_missing[cols].any())
        )
        out[v] = FamilyCounts(v, ps, table, dropped)
    return out
