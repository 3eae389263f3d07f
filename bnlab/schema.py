"""A schema: how each raw column becomes a discrete variable, inferred or declared.

:func:`infer_schema` looks at a raw DataFrame and decides, per column (every decision is kept
and printed by :meth:`Schema.summary`):

- ``bool`` columns: states ``False < True``;
- pandas ``Categorical`` columns: their categories, in their order;
- text columns: the distinct values in sorted (lexicographic, case-sensitive) order; text
  whose every value reads as a number is treated as that number;
- integer columns (and floats that only hold whole numbers) with at most ``max_states``
  distinct values: categorical, states in **numeric** order (``1 < 2 < 10``);
- other numeric columns: discretized (:mod:`bnlab.discretize`), labels like ``[18, 30)``;
- refused with :class:`SchemaError` (naming the column and the fix): identifier-like columns
  (integers or text unique per row, or text with more than ``max_states`` values), all-missing
  columns and columns mixing numbers and text.

A declared schema (a mapping, or a YAML file, one entry per column) overrides any of it::

    age: {discretize: quantile, bins: 4}     # or uniform / kmeans / mdlp, or cuts: [30, 45]
    size: {states: [1, 2, 3, 4, 5]}          # declared states, in this order
    person_id: drop                          # leave the column out

:meth:`Schema.encode` turns a raw frame into the categorical frame that ``fit``,
``learn_structure`` and the evaluation functions take. The schema is JSON-ready
(:meth:`Schema.to_dict`) and is stored in the posterior file, so a fitted model applies its
own bins to raw numbers wherever it takes input.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.discretize import Bins, DiscretizeError, fit_bins, method_name
from bnlab.errors import DataError

#: default most distinct values a non-discretized column may have
MAX_STATES = 20
#: default bins of a discretized column
N_BINS = 5

Kind = Literal["categorical", "integer", "discretized"]
#: the raw type a column had (what :meth:`Schema.decode` gives back)
RawType = Literal["text", "bool", "category", "int", "float"]
KINDS: tuple[str, ...] = ("categorical", "integer", "discretized")
RAW_TYPES: tuple[str, ...] = ("text", "bool", "category", "int", "float")


class SchemaError(DataError):
    """A raw column that cannot become a discrete variable as it is, or a bad declaration."""


class OutOfRangeWarning(UserWarning):
    """Values outside a discretized column's training range (they went to the edge bins)."""


class SchemaNotSavedWarning(UserWarning):
    """A network with a schema written to a format that cannot hold it (only JSON can)."""


class DeclaredStateWarning(UserWarning):
    """A declared state that no training row has (it is kept)."""


class UnseenCategoryError(SchemaError):
    """Values at prediction time that are not states of their column."""


@dataclass(frozen=True)
class Column:
    """How one raw column becomes a variable.

    Attributes
    ----------
    name
        Column (and variable) name.
    kind
        ``"categorical"`` (text/bool/Categorical states), ``"integer"`` (whole numbers as
        states, numeric order) or ``"discretized"`` (numeric, binned).
    states
        Ordered state labels.
    bins
        The bins of a discretized column, else ``None``.
    reason
        Why this was decided (shown by :meth:`Schema.summary`).
    declared
        Whether a declared schema set it.
    raw_type
        The raw column's type: ``"text"``, ``"bool"``, ``"category"``, ``"int"`` or
        ``"float"`` (``None`` in schemas written before it was recorded);
        :meth:`Schema.decode` gives values of this type back.
    """

    name: str
    kind: Kind
    states: tuple[str, ...]
    bins: Bins | None = None
    reason: str = ""
    declared: bool = False
    raw_type: RawType | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "kind": self.kind,
            "states": list(self.states),
            "bins": None if self.bins is None else self.bins.to_dict(),
            "reason": self.reason,
            "declared": self.declared,
            "raw_type": self.raw_type,
        }


@dataclass(frozen=True)
class EncodeReport:
    """What :meth:`Schema.encode_report` saw: out-of-range and unseen values per column."""

    out_of_range: dict[str, int] = field(default_factory=dict)
    unseen_rows: dict[str, list[int]] = field(default_factory=dict)

    @property
    def n_out_of_range(self) -> int:
        """Values sent to an edge bin, all columns together."""
        return sum(self.out_of_range.values())


@dataclass(frozen=True)
class Schema:
    """Variables, ordered states and bins of a raw data set (see the module docstring)."""

    columns: tuple[Column, ...]
    target: str | None = None
    dropped: tuple[str, ...] = ()

    @property
    def variables(self) -> tuple[str, ...]:
        """Variable names, in column order."""
        return tuple(c.name for c in self.columns)

    @property
    def states(self) -> dict[str, tuple[str, ...]]:
        """``{variable: ordered states}``."""
        return {c.name: c.states for c in self.columns}

    @property
    def bins(self) -> dict[str, Bins]:
        """``{variable: Bins}`` of the discretized columns."""
        return {c.name: c.bins for c in self.columns if c.bins is not None}

    def column(self, name: str) -> Column:
        """The :class:`Column` of ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise SchemaError(f"{name!r} is not a column of the schema {list(self.variables)}.")

    def summary(self) -> pd.DataFrame:
        """One row per decision: column, kind, number of states, states, method, reason."""
        rows = [
            {
                "column": c.name,
                "kind": c.kind,
                "n_states": len(c.states),
                "states": ", ".join(c.states[:6]) + (" ..." if len(c.states) > 6 else ""),
                "method": c.bins.method if c.bins else "",
                "source": "declared" if c.declared else "inferred",
                "reason": c.reason,
            }
            for c in self.columns
        ]
        rows += [
            {
                "column": d,
                "kind": "dropped",
                "n_states": 0,
                "states": "",
                "method": "",
                "source": "declared",
                "reason": "declared drop",
            }
            for d in self.dropped
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in posterior and network files)."""
        return {
            "format": "bnlab-schema",
            "version": 1,
            "target": self.target,
            "dropped": list(self.dropped),
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Schema:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        SchemaError
            If the document is not a bnlab schema, or is malformed (see
            :func:`bnlab.schema_check.check_schema_doc`).
        """
        from bnlab.schema_check import check_schema_doc

        check_schema_doc(doc)
        cols = tuple(
            Column(
                name=c["name"],
                kind=c["kind"],
                states=tuple(c["states"]),
                bins=None if c.get("bins") is None else Bins.from_dict(c["bins"]),
                reason=str(c.get("reason", "")),
                declared=bool(c.get("declared", False)),
                raw_type=c.get("raw_type"),
            )
            for c in doc["columns"]
        )
        target = doc.get("target")
        return cls(cols, target, tuple(doc.get("dropped", ())))

    def decode(
        self,
        data: pd.DataFrame,
        *,
        numbers: Literal["uniform", "midpoint"] = "uniform",
        seed: int = 0,
    ) -> pd.DataFrame:
        """Raw-typed values of a frame of states: the inverse of :meth:`encode`.

        See :func:`bnlab.raw_values.decode_states` for the rules (integer, text, bool and
        Categorical columns exactly; a discretized column's state becomes a number inside
        its bin, drawn uniformly with ``seed`` or the bin's midpoint).
        """
        from bnlab.raw_values import decode_states

        return decode_states(self, data, numbers=numbers, seed=seed)

    def encode(
        self,
        data: pd.DataFrame,
        *,
        partial: bool = False,
        unseen: Literal["raise", "nan"] = "raise",
    ) -> pd.DataFrame:
        """The categorical frame of ``data``: one Categorical column per variable.

        Parameters
        ----------
        data
            Raw frame. Extra columns are ignored.
        partial
            Encode only the schema's columns present in ``data`` (evidence); otherwise a
            missing column is an error.
        unseen
            ``"raise"``: a value that is not a state raises :class:`UnseenCategoryError`
            naming column and rows; ``"nan"``: it becomes missing (see
            :meth:`encode_report` for the flagged rows).

        Returns
        -------
        pandas.DataFrame
            Categorical columns (categories = states), NaN = missing.

        Warns
        -----
        OutOfRangeWarning
            Numbers outside a discretized column's training range (sent to the edge bins).
        """
        frame, report = self.encode_report(data, partial=partial, unseen=unseen)
        if report.n_out_of_range:
            shown = {k: v for k, v in report.out_of_range.items() if v}
            warnings.warn(
                f"{report.n_out_of_range} value(s) outside the training range went to the edge "
                f"bins: {shown}",
                OutOfRangeWarning,
                stacklevel=2,
            )
        return frame

    def encode_report(
        self,
        data: pd.DataFrame,
        *,
        partial: bool = False,
        unseen: Literal["raise", "nan"] = "raise",
    ) -> tuple[pd.DataFrame, EncodeReport]:
        """:meth:`encode` without the warning, plus an :class:`EncodeReport`."""
        codes, present, report = self.encode_codes(data, partial=partial, unseen=unseen)
        out = {
            col.name: pd.Categorical.from_codes(
                codes[:, j], dtype=pd.CategoricalDtype(list(col.states), ordered=False)
            )
            for j, col in enumerate(self.columns)
            if present[j]
        }
        return pd.DataFrame(out, index=data.index), report

    def encode_codes(
        self,
        data: pd.DataFrame,
        *,
        partial: bool = False,
        unseen: Literal["raise", "nan"] = "raise",
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_], EncodeReport]:
        """Integer codes ``(rows, variables)`` in :attr:`variables` order, ``-1`` = missing.

        Returns the codes, which schema columns the frame has (absent ones are all ``-1``,
        only with ``partial``) and the :class:`EncodeReport`; see :meth:`encode`.
        """
        if not isinstance(data, pd.DataFrame):
            raise SchemaError(
                f"expected a pandas DataFrame, got {type(data).__name__}; build one with "
                "pandas.DataFrame(...)."
            )
        absent = [c.name for c in self.columns if c.name not in data.columns]
        if absent and not partial:
            raise SchemaError(
                f"column(s) {absent} are in the schema but not in the data; add them (all "
                "missing if never observed) or drop them from the schema (declare `drop`)."
            )
        out = np.full((len(data), len(self.columns)), -1, dtype=np.int64)
        present = np.zeros(len(self.columns), dtype=bool)
        out_of_range: dict[str, int] = {}
        unseen_rows: dict[str, list[int]] = {}
        for j, col in enumerate(self.columns):
            if col.name not in data.columns:
                continue
            present[j] = True
            codes, outside, bad = _encode_column(col, data[col.name])
            if bad.size:
                if unseen == "raise":
                    values = sorted({str(v) for v in data[col.name].to_numpy()[bad]})[:10]
                    rows = [str(r) for r in data.index[bad][:5]]
                    raise UnseenCategoryError(
                        f"column {col.name!r} has {bad.size} value(s) that are not among its "
                        f"states {list(col.states)[:10]}: {values} (rows {rows}). Recode or "
                        "mark them missing, refit with data that contain them, or pass "
                        "unseen='nan' to treat them as missing and flag the rows."
                    )
                unseen_rows[col.name] = [int(r) for r in bad]
                codes[bad] = -1
            out_of_range[col.name] = outside
            out[:, j] = codes
        return out, present, EncodeReport(out_of_range, unseen_rows)


def _as_numbers(series: pd.Series) -> NDArray[np.float64] | None:
    """The column as floats (NaN = missing) if every present value is a number, else None."""
    if series.dtype.kind in "iuf":
        floats: NDArray[np.float64] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return floats
    if series.dtype.kind == "b" or isinstance(series.dtype, pd.CategoricalDtype):
        return None
    present = series.dropna()
    numbers = pd.to_numeric(present.astype(str), errors="coerce")
    if len(present) and numbers.notna().all():
        out = np.full(len(series), np.nan)
        out[series.notna().to_numpy()] = numbers.to_numpy(dtype=np.float64)
        return out
    return None


def _int_label(x: float) -> str:
    return str(int(x))


def _encode_column(
    col: Column, series: pd.Series
) -> tuple[NDArray[np.int64], int, NDArray[np.intp]]:
    """Codes (-1 missing), values out of range, positions of unseen values."""
    values = _as_numbers(series) if col.kind in ("discretized", "integer") else None
    present = ~np.isnan(values) if values is not None else series.notna().to_numpy()
    if col.kind == "discretized":
        assert col.bins is not None
        if values is None:  # state labels (e.g. "[18, 30)"), numbers as text, or both
            label_codes = pd.Index(list(col.states)).get_indexer(series.astype(object))
            numbers = pd.to_numeric(series.where(label_codes < 0), errors="coerce")
            codes, outside = col.bins.assign(numbers.to_numpy(dtype=np.float64))
            codes = np.where(label_codes >= 0, label_codes, codes).astype(np.int64)
            bad = np.flatnonzero(present & (codes < 0))
            return codes, outside, bad
        codes, outside = col.bins.assign(values)
        return codes, outside, np.empty(0, dtype=np.intp)
    if col.kind == "integer":
        if values is not None:
            # one label per distinct number, not per row
            distinct, inverse = np.unique(values[present], return_inverse=True)
            code_of = {state: i for i, state in enumerate(col.states)}
            distinct_codes = [
                code_of.get(_int_label(v) if float(v).is_integer() else str(v), -1)
                for v in distinct
            ]
            codes = np.full(len(values), -1, dtype=np.int64)
            codes[present] = np.asarray(distinct_codes, dtype=np.int64)[inverse]
            return codes, 0, np.flatnonzero((codes == -1) & present)
        labels = pd.Series(series.astype(object).to_numpy()).where(present)
    elif series.dtype.kind == "b":
        labels = (
            series.astype(object)
            .where(series.notna())
            .map(
                lambda v: v if v is None or (isinstance(v, float) and np.isnan(v)) else str(bool(v))
            )
        )
    else:
        labels = (
            series.astype(object)
            .where(series.notna())
            .map(lambda v: v if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        )
    codes = pd.Index(list(col.states)).get_indexer(pd.Series(np.asarray(labels, dtype=object)))
    codes = np.asarray(codes, dtype=np.int64)
    bad = np.flatnonzero((codes == -1) & present)
    return codes, 0, bad


def _read_declared(declared: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    if declared is None:
        return {}
    if isinstance(declared, (str, os.PathLike)):
        import yaml

        path = Path(declared)
        if not path.is_file():
            raise SchemaError(f"schema file {str(path)!r} does not exist; check the path.")
        doc = yaml.safe_load(path.read_text()) or {}
        if not isinstance(doc, Mapping):
            raise SchemaError(f"schema file {str(path)!r} must map column names to entries.")
        declared = doc
    return {str(k): v for k, v in declared.items()}


def _declared_column(
    name: str, entry: Any, series: pd.Series | None, target_codes: Any, max_states: int, n_bins: int
) -> Column | None:
    """The column a declaration asks for (None for ``drop``)."""
    if entry == "drop" or (isinstance(entry, Mapping) and entry.get("drop")):
        return None
    if isinstance(entry, (list, tuple)):
        entry = {"states": list(entry)}
    if not isinstance(entry, Mapping):
        raise SchemaError(
            f"declared schema entry of {name!r} is {entry!r}; write `drop`, a list of states, "
            "or a mapping with `states`, `discretize`/`bins`, or `cuts`."
        )
    unknown = set(entry) - {"states", "discretize", "bins", "cuts", "drop"}
    if unknown:
        raise SchemaError(
            f"declared schema entry of {name!r} has unknown key(s) {sorted(unknown)}; "
            "allowed: states, discretize, bins, cuts, drop."
        )
    if "states" in entry:
        raw_states = list(entry["states"])
        states = tuple(
            _int_label(s)
            if isinstance(s, (int, float)) and not isinstance(s, bool) and float(s).is_integer()
            else str(s)
            for s in raw_states
        )
        if len(set(states)) != len(states):
            raise SchemaError(f"declared states of {name!r} repeat a state: {list(states)}.")
        numeric = all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in raw_states)
        kind: Kind = "integer" if numeric else "categorical"
        raw: RawType = "int" if numeric else _categorical_raw_type(series)
        col = Column(name, kind, states, None, "declared states", True, raw)
        if series is not None:
            codes, _, bad = _encode_column(col, series)
            if bad.size:
                values = sorted({str(v) for v in series.to_numpy()[bad]})[:10]
                raise SchemaError(
                    f"column {name!r} has value(s) {values} outside its declared states "
                    f"{list(states)}; add them to the declaration or recode the data."
                )
            absent = [s for i, s in enumerate(states) if not np.any(codes == i)]
            if absent:
                warnings.warn(
                    f"declared state(s) {absent} of {name!r} never occur in the data; they are "
                    "kept (their probabilities come from the prior alone).",
                    DeclaredStateWarning,
                    stacklevel=4,
                )
        return col
    if series is None:
        raise SchemaError(
            f"column {name!r} is declared for discretizing but is not in the data; add the "
            "column, declare its `states`/`cuts` outright, or remove it from the schema."
        )
    numbers = _as_numbers(series)
    if numbers is None:
        raise SchemaError(
            f"column {name!r} is declared for discretizing but holds non-numeric values; "
            "declare its `states` instead, or fix the column."
        )
    method = method_name(entry.get("discretize", "quantile")) if "cuts" not in entry else "cuts"
    bins = _fit(
        name, numbers, method, int(entry.get("bins", n_bins)), target_codes, entry.get("cuts")
    )
    return Column(
        name,
        "discretized",
        bins.labels,
        bins,
        f"declared: {bins.method}, {len(bins.labels)} bins",
        True,
        "int" if bins.integer else "float",
    )


def _fit(
    name: str,
    values: NDArray[np.float64],
    method: str,
    n_bins: int,
    target_codes: Any,
    cuts: Any = None,
) -> Bins:
    try:
        return fit_bins(
            values,
            "quantile" if method == "cuts" else method,
            n_bins,
            target=target_codes,
            cuts=cuts,
        )
    except DiscretizeError as exc:
        raise SchemaError(f"column {name!r}: {exc}") from None


def _target_codes(data: pd.DataFrame, target: str | None) -> NDArray[np.int64] | None:
    if target is None:
        return None
    codes, _ = pd.factorize(data[target].astype(object), sort=False)
    return np.asarray(codes, dtype=np.int64)


def _mixed_types(series: pd.Series) -> list[str]:
    if series.dtype.kind != "O":
        return []
    kinds = set()
    for v in series.dropna().to_numpy():
        if isinstance(v, (bool, np.bool_)):
            kinds.add("bool")
        elif isinstance(v, (int, float, np.integer, np.floating)):
            kinds.add("number")
        elif isinstance(v, str):
            kinds.add("text")
        else:
            kinds.add(type(v).__name__)
    return sorted(kinds) if len(kinds) > 1 else []


def infer_column(
    name: str,
    series: pd.Series,
    *,
    max_states: int = MAX_STATES,
    discretize: str = "quantile",
    n_bins: int = N_BINS,
    target_codes: NDArray[np.int64] | None = None,
    is_target: bool = False,
    refuse_identifiers: bool = True,
) -> Column:
    """Decide how one raw column becomes a variable (the rules of :mod:`bnlab.schema`).

    Raises
    ------
    SchemaError
        All-missing, mixed-type or identifier-like columns.
    """
    if series.dtype.kind in "iuf":  # numbers: numpy only
        numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = numbers[~np.isnan(numbers)]
        if finite.size == 0:
            raise _all_missing(name)
        n_distinct = int(np.unique(finite).size)
        return _numeric_column(
            name, series, numbers, n_distinct == finite.size and finite.size > max_states,
            max_states=max_states, discretize=discretize, n_bins=n_bins,
            target_codes=target_codes, is_target=is_target,
            refuse_identifiers=refuse_identifiers,
        )  # fmt: skip
    present = series.dropna()
    if present.empty:
        raise _all_missing(name)
    mixed = _mixed_types(series)
    if mixed:
        raise SchemaError(
            f"column {name!r} mixes value types {mixed}; convert it to one type (all text or "
            "all numbers) or declare its states."
        )
    n_unique = int(present.nunique())
    unique_per_row = n_unique == len(present) and len(present) > max_states
    if series.dtype.kind == "b" or all(isinstance(v, (bool, np.bool_)) for v in present):
        return Column(
            name, "categorical", ("False", "True"), None, "bool: False < True", False, "bool"
        )
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = tuple(str(c) for c in series.cat.categories)
        if len(cats) > max_states and not is_target:
            raise SchemaError(
                f"column {name!r} is a Categorical with {len(cats)} categories, more than "
                f"max_states={max_states}; drop it, merge categories, or raise max_states."
            )
        return Column(
            name, "categorical", cats, None, "Categorical: categories in their order", False,
            "category",
        )  # fmt: skip
    values = _as_numbers(series)
    if values is None:
        if (unique_per_row or n_unique > max_states) and refuse_identifiers and not is_target:
            why = "unique in every row" if unique_per_row else f"{n_unique} distinct values"
            raise SchemaError(
                f"column {name!r} looks like an identifier ({why}, text): a variable with that "
                f"many states learns nothing. Drop it (declare `{name}: drop`), or declare its "
                f"states, or raise max_states (now {max_states})."
            )
        states = tuple(sorted(str(v) for v in present.unique()))
        return Column(
            name, "categorical", states, None, f"text: {n_unique} values in sorted order", False,
            "text",
        )  # fmt: skip
    return _numeric_column(
        name, series, values, unique_per_row, max_states=max_states, discretize=discretize,
        n_bins=n_bins, target_codes=target_codes, is_target=is_target,
        refuse_identifiers=refuse_identifiers,
    )  # fmt: skip


def _categorical_raw_type(series: pd.Series | None) -> RawType:
    """The raw type of a column with declared (non-numeric) states."""
    if series is not None and series.dtype.kind == "b":
        return "bool"
    if series is not None and isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    return "text"


def _all_missing(name: str) -> SchemaError:
    return SchemaError(
        f"column {name!r} is missing in every row; drop it, or declare its states "
        f"(schema entry `{name}: {{states: [...]}}`) if it is a latent variable."
    )


def _numeric_column(
    name: str,
    series: pd.Series,
    values: NDArray[np.float64],
    unique_per_row: bool,
    *,
    max_states: int,
    discretize: str,
    n_bins: int,
    target_codes: NDArray[np.int64] | None,
    is_target: bool,
    refuse_identifiers: bool,
) -> Column:
    """The rules for a column of numbers (see :func:`infer_column`)."""
    finite = values[~np.isnan(values)]
    whole = bool(np.all(np.mod(finite, 1.0) == 0))
    source = (
        "text holding numbers"
        if series.dtype.kind not in "iuf"
        else ("integer" if whole else "float")
    )
    if whole and unique_per_row and refuse_identifiers and not is_target:
        raise SchemaError(
            f"column {name!r} looks like an identifier (whole numbers, unique in every row); "
            f"drop it (declare `{name}: drop`), or declare a discretizer for it "
            f"(`{name}: {{discretize: quantile, bins: 5}}`) if it is a measurement."
        )
    distinct = np.unique(finite)
    if whole and (distinct.size <= max_states or is_target):
        return Column(
            name,
            "integer",
            tuple(_int_label(v) for v in distinct),
            None,
            f"{source}: {distinct.size} values <= max_states, numeric order",
            False,
            "int",
        )
    if is_target:
        raise SchemaError(
            f"target column {name!r} holds {distinct.size} distinct non-integer numbers; a "
            "target must be discrete: declare its states or bins."
        )
    method = method_name(discretize)
    if method == "mdlp" and target_codes is None:
        method = "quantile"
    bins = _fit(name, values, method, n_bins, target_codes)
    why = f"{distinct.size} values > max_states" if whole else "non-integer numbers"
    return Column(
        name,
        "discretized",
        bins.labels,
        bins,
        f"{source}: {why}, {bins.method} bins ({len(bins.labels)})",
        False,
        "int" if whole else "float",
    )


def infer_schema(
    data: pd.DataFrame,
    target: str | None = None,
    max_states: int = MAX_STATES,
    discretize: str = "quantile",
    *,
    bins: int = N_BINS,
    declared: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    identifiers: Literal["refuse", "keep"] = "refuse",
) -> Schema:
    """Infer how each column of a raw frame becomes a discrete variable.

    Parameters
    ----------
    data
        Raw training rows: text, bool, Categorical, integer and float columns; NaN/None =
        missing.
    target
        The column to predict: kept discrete (never binned), and the class labels of the
        ``"mdlp"`` discretizer.
    max_states
        Most distinct values a column may keep as states; integer columns above it are
        discretized, text columns above it are refused as identifiers.
    discretize
        Default discretizer of numeric columns: ``"quantile"``, ``"uniform"``
        (equal width), ``"kmeans"`` or ``"mdlp"`` (needs ``target``; without one, quantile).
    bins
        Default number of bins.
    declared
        Per-column declarations (mapping or YAML path) overriding the inference; see the
        module docstring.
    identifiers
        ``"refuse"`` (default): identifier-like columns raise :class:`SchemaError`;
        ``"keep"``: whole numbers unique per row are discretized and text keeps all its
        values as states (what :class:`bnlab.sklearn.BNClassifier` does).

    Returns
    -------
    Schema

    Raises
    ------
    SchemaError
        Identifier-like, all-missing or mixed-type columns, a target or declared column not
        in the data, or a malformed declaration.

    Examples
    --------
    >>> import pandas as pd, bnlab
    >>> df = pd.DataFrame({"n": [1, 10, 2, 2] * 10, "c": list("abab") * 10})
    >>> bnlab.infer_schema(df).states["n"]
    ('1', '2', '10')
    """
    if not isinstance(data, pd.DataFrame):
        raise SchemaError(f"expected a pandas DataFrame, got {type(data).__name__}.")
    if target is not None and target not in data.columns:
        raise SchemaError(
            f"target {target!r} is not a column of the data (columns: "
            f"{[str(c) for c in data.columns][:10]}); fix the name."
        )
    decl = _read_declared(declared)
    target_codes = _target_codes(data, target)
    columns: list[Column] = []
    dropped: list[str] = []
    for name in [str(c) for c in data.columns]:
        if name in decl:
            col = _declared_column(name, decl[name], data[name], target_codes, max_states, bins)
            if col is None:
                dropped.append(name)
                continue
        else:
            col = infer_column(
                name,
                data[name],
                max_states=max_states,
                discretize=discretize,
                n_bins=bins,
                target_codes=target_codes,
                is_target=name == target,
                refuse_identifiers=identifiers != "keep",
            )
        columns.append(col)
    for name, entry in decl.items():
        if name not in data.columns:
            col = _declared_column(name, entry, None, target_codes, max_states, bins)
            if col is None:
                dropped.append(name)
            else:
                columns.append(col)
    return Schema(tuple(columns), target, tuple(dropped))


type SchemaSpec = Schema | Mapping[str, Any] | Literal["infer"] | None


def as_schema(schema: SchemaSpec, data: Any = None, target: str | None = None) -> Schema | None:
    """A :class:`Schema` from a schema, its dict form, or ``"infer"`` (from ``data``)."""
    if schema is None or isinstance(schema, Schema):
        return schema
    if isinstance(schema, str):
        if schema != "infer" or not isinstance(data, pd.DataFrame):
            raise SchemaError(
                f"schema={schema!r}: pass a bnlab.Schema, its to_dict() form, or 'infer' with "
                "a DataFrame."
            )
        return infer_schema(data, target=target)
    return Schema.from_dict(schema)


def as_categorical(
    data: Any, schema: SchemaSpec, target: str | None = None
) -> tuple[Any, Schema | None]:
    """``(raw frame, schema)`` -> ``(categorical frame, schema)``.

    The one helper ``fit``, ``learn_structure`` and the evaluation functions call at entry:
    with ``schema=None`` or data that are not a DataFrame, ``data`` is returned unchanged;
    ``"infer"`` infers the schema from ``data`` (``target`` as in :func:`infer_schema`).
    """
    if schema is None or not isinstance(data, pd.DataFrame):
        return data, as_schema(schema) if not isinstance(schema, str) else None
    sch = as_schema(schema, data, target)
    assert sch is not None
    return sch.encode(data), sch


def encode_evidence_frame(
    schema: Schema, evidence: Any, unseen: Literal["raise", "nan"] = "raise"
) -> Any:
    """Evidence with raw values (numbers, dicts of numbers) turned into states by ``schema``.

    Evidence that is not a DataFrame, a dict or a list of dicts is returned unchanged;
    columns that are not in the schema are kept as they are (the engine judges them).
    """
    if isinstance(evidence, Mapping):
        evidence = [evidence]
    if isinstance(evidence, list) and all(isinstance(r, Mapping) for r in evidence):
        evidence = pd.DataFrame.from_records([dict(r) for r in evidence])
    if not isinstance(evidence, pd.DataFrame):
        return evidence
    encoded = schema.encode(evidence, partial=True, unseen=unseen)
    out = evidence.copy()
    for name in encoded.columns:
        out[name] = encoded[name]
    return out


def bin_numeric_columns(schema: Schema, batch: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Raw numbers of a batch's integer and discretized columns turned into state labels.

    Text columns are left as they are (so a monitor still sees and counts unknown values);
    a numeric column value that fits no state becomes missing. Returns the new frame and
    the count of values outside each discretized column's training range.
    """
    numeric = [c for c in schema.columns if c.kind != "categorical" and c.name in batch.columns]
    if not numeric:
        return batch, {}
    sub = Schema(tuple(numeric))
    encoded, report = sub.encode_report(batch, partial=True, unseen="nan")
    out = batch.copy()
    for c in numeric:
        out[c.name] = encoded[c.name].astype(object).where(encoded[c.name].notna(), None)
    return out, report.out_of_range


def schema_of(model: Any) -> Schema | None:
    """The schema stored with a posterior (``attrs["schema"]``) or network, if any."""
    doc = getattr(model, "attrs", {}).get("schema") if hasattr(model, "attrs") else None
    if doc is None:
        doc = getattr(model, "schema", None)
    if doc is None:
        return None
    return doc if isinstance(doc, Schema) else Schema.from_dict(doc)
