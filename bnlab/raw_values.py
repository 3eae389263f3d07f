"""States back to raw values: the inverse of :meth:`bnlab.Schema.encode`.

:func:`decode_states` (also :meth:`bnlab.Schema.decode`, and ``bnlab.sample(..., raw=True)``)
turns a frame of states, such as ``bnlab.sample(net, n)`` gives, into columns that look like
the raw data the schema was inferred from, column by column (``raw_type`` of each
:class:`~bnlab.schema.Column`):

- text: the state labels (``object`` dtype); bool: ``False``/``True`` (``bool``, or pandas'
  nullable ``boolean`` when a value is missing); Categorical: a ``Categorical`` with the
  states as categories;
- integer columns: the states as numbers in their numeric order (``int64``, or pandas'
  nullable ``Int64`` when a value is missing; ``float64`` for declared non-whole states);
- discretized columns: a number inside the state's bin ``[a, b)`` (the last bin ``[a, b]``).
  The edge bins are bounded by the training range stored with the bins (``low``, ``high``),
  so no value lies outside the range the model saw. ``numbers="uniform"`` (default) draws
  uniformly within the bin; ``numbers="midpoint"`` gives ``(a + b) / 2``. A column whose
  training values were whole numbers gets whole numbers: a uniform draw among the integers
  of the bin, or their middle one (the lower of two), unless a bin holds no integer, in
  which case the column falls back to the real-valued rule (``float64``).

So ``decode(encode(x)) == x`` for text, bool, Categorical and integer columns, and
``encode(decode(states)) == states`` for discretized ones. Missing states stay missing.
Draws are reproducible: column ``j`` of the schema draws from the child stream
``SeedSequence(seed, spawn_key=(2, j))``, apart from the streams ``sample`` uses for the
states themselves and the missingness mask, so decoding a subset of columns gives the same
numbers for those columns.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.discretize import Bins

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.schema import Column, Schema

NumberRule = Literal["uniform", "midpoint"]
#: spawn-key prefix of the decoding streams (0 and 1 are sample's values and mask)
_STREAM = 2


def state_codes(column: Column, series: pd.Series) -> NDArray[np.int64]:
    """Codes (``-1`` = missing) of a column of states, by label.

    Raises
    ------
    SchemaError
        A present value that is not one of the column's states.
    """
    from bnlab.schema import SchemaError

    if isinstance(series.dtype, pd.CategoricalDtype) and tuple(
        str(c) for c in series.cat.categories
    ) == tuple(column.states):
        return np.asarray(series.cat.codes, dtype=np.int64)
    labels = series.astype(object).where(series.notna())
    text = [v if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in labels]
    codes = np.asarray(pd.Index(list(column.states)).get_indexer(text), dtype=np.int64)
    bad = np.flatnonzero((codes < 0) & series.notna().to_numpy())
    if bad.size:
        values = sorted({str(series.iloc[i]) for i in bad[:50]})[:10]
        raise SchemaError(
            f"column {column.name!r} has value(s) {values} that are not among its states "
            f"{list(column.states)[:10]}; decode takes states (what bnlab.sample gives), not "
            "raw values."
        )
    return codes


def _integers_of_bin(lo: float, hi: float, closed: bool) -> tuple[float, float]:
    """The first and last integer of a bin (first > last: it holds none)."""
    first = math.ceil(lo)
    last = math.floor(hi) if closed else math.ceil(hi) - 1
    return float(first), float(last)


def bin_values(
    bins: Bins,
    codes: NDArray[np.int64],
    numbers: NumberRule = "uniform",
    rng: np.random.Generator | None = None,
) -> NDArray[np.float64]:
    """A number inside the bin of each code (NaN where ``-1``); see the module docstring.

    Whole numbers when the bins were fitted on whole numbers and every bin used holds one.
    """
    if numbers not in ("uniform", "midpoint"):
        from bnlab.schema import SchemaError

        raise SchemaError(f"numbers must be 'uniform' or 'midpoint', got {numbers!r}.")
    rng = np.random.default_rng(0) if rng is None else rng
    edges = np.array([bins.low, *bins.cuts, bins.high], dtype=np.float64)
    k = edges.size - 1
    present = codes >= 0
    idx = np.where(present, codes, 0)
    lo, hi = edges[idx], edges[idx + 1]
    closed = idx == k - 1
    u = rng.random(codes.size)
    out = np.full(codes.size, np.nan)
    if bins.integer:
        ints = [_integers_of_bin(edges[i], edges[i + 1], i == k - 1) for i in range(k)]
        first = np.array([a for a, _ in ints])[idx]
        last = np.array([b for _, b in ints])[idx]
        if np.all(first[present] <= last[present]):
            span = last - first + 1
            pick = np.floor(u * span) if numbers == "uniform" else np.floor((span - 1) / 2)
            out[present] = (first + np.minimum(pick, span - 1))[present]
            return out
    below_hi = np.nextafter(hi, -np.inf)  # the largest number a half-open bin holds
    if numbers == "uniform":
        value = lo + (hi - lo) * u
    else:
        value = (lo + hi) / 2.0
    value = np.where(closed, np.minimum(value, hi), np.minimum(value, below_hi))
    value = np.where(hi > lo, value, np.where(closed, hi, below_hi))  # empty/one-point bins
    out[present] = value[present]
    return out


def _as_whole(values: NDArray[np.float64]) -> Any:
    """``int64`` if nothing is missing, else pandas' nullable ``Int64``."""
    missing = np.isnan(values)
    if not missing.any():
        return values.astype(np.int64)
    out = pd.array(np.where(missing, 0, values).astype(np.int64), dtype="Int64")
    out[missing] = pd.NA
    return out


def decode_column(
    column: Column,
    series: pd.Series,
    *,
    numbers: NumberRule = "uniform",
    rng: np.random.Generator | None = None,
) -> Any:
    """Raw-typed values (array-like) of one column of states; see the module docstring."""
    codes = state_codes(column, series)
    missing = codes < 0
    if column.kind == "discretized":
        assert column.bins is not None  # checked by the schema document check
        values = bin_values(column.bins, codes, numbers, rng)
        whole = column.raw_type != "float" and bool(
            np.all(np.mod(values[~np.isnan(values)], 1.0) == 0)
        )
        return _as_whole(values) if whole and column.bins.integer else values
    if column.kind == "integer":
        numbers_of = np.array([float(s) for s in column.states])
        values = np.where(missing, np.nan, numbers_of[np.where(missing, 0, codes)])
        if np.all(np.mod(numbers_of, 1.0) == 0):
            return _as_whole(values)
        return values
    if column.raw_type == "category":
        return pd.Categorical.from_codes(codes, categories=list(column.states))
    if column.raw_type == "bool":
        truth = np.array([s == "True" for s in column.states])[np.where(missing, 0, codes)]
        if not missing.any():
            return truth
        flags = pd.array(truth, dtype="boolean")
        flags[missing] = pd.NA
        return flags
    labels = np.array(list(column.states), dtype=object)[np.where(missing, 0, codes)]
    labels[missing] = np.nan
    return labels


def decode_states(
    schema: Schema,
    data: pd.DataFrame,
    *,
    numbers: NumberRule = "uniform",
    seed: int = 0,
) -> pd.DataFrame:
    """Raw-typed columns of a frame of states (the inverse of :meth:`Schema.encode`).

    Parameters
    ----------
    schema
        The schema the states come from.
    data
        One column of states (Categorical or text) per variable, as ``bnlab.sample`` gives;
        columns the schema does not know are kept as they are, schema columns absent from
        ``data`` are skipped.
    numbers
        Discretized columns: ``"uniform"`` (a uniform draw within the bin) or
        ``"midpoint"`` (the bin's midpoint); see the module docstring.
    seed
        Seed of the uniform draws (column ``j`` of the schema uses the stream
        ``SeedSequence(seed, spawn_key=(2, j))``).

    Returns
    -------
    pandas.DataFrame
        Same index and column order as ``data``.

    Raises
    ------
    SchemaError
        ``data`` is not a DataFrame, a value is not a state of its column, or ``numbers`` is
        neither rule.

    Examples
    --------
    >>> import pandas as pd, bnlab
    >>> df = pd.DataFrame({"n": [1, 10, 2, 2] * 10, "c": list("abab") * 10})
    >>> s = bnlab.infer_schema(df)
    >>> s.decode(s.encode(df)).equals(df)
    True
    """
    from bnlab.schema import SchemaError

    if not isinstance(data, pd.DataFrame):
        raise SchemaError(
            f"decode expects a pandas DataFrame of states, got {type(data).__name__}."
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise SchemaError(f"seed must be a non-negative integer, got {seed!r}.")
    out = data.copy()
    for j, column in enumerate(schema.columns):
        if column.name not in data.columns:
            continue
        stream = np.random.SeedSequence(int(seed), spawn_key=(_STREAM, j))
        out[column.name] = decode_column(
            column, data[column.name], numbers=numbers, rng=np.random.default_rng(stream)
        )
    return out
