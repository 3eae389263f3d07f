"""Evidence in any accepted form -> integer codes -> likelihood vectors per variable.

Accepted evidence: a list of dicts ``{variable: state}`` (one dict per row; ``None``/NaN
values mean unobserved), a single dict (one row), a DataFrame (one column per observed
variable, Categorical / string / integer-text columns, NaN or None = unobserved; columns
that are not variables are an error), or an integer array ``(rows, variables)`` of codes
in ``structure.variables`` order with ``-1`` = unobserved. ``None`` means one empty row.

Soft (virtual) evidence is a mapping ``{variable: likelihood}``, each ``(card,)`` (the same
for every row) or ``(rows, card)``, non-negative; it multiplies the hard-evidence
indicator of the variable.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import EvidenceError
from bnlab.network import BayesNet, Structure, as_structure

if TYPE_CHECKING:
    import pandas as pd

type Evidence = pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Any] | NDArray[Any] | None


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):  # text is a state or an error, never missing
        return False
    # pandas is imported only where the caller already uses it (pd.NA, NaT need it)
    pandas = sys.modules.get("pandas")
    try:
        return bool(pandas.isna(value) if pandas is not None else np.isnan(value))
    except (TypeError, ValueError):
        return False


def _is_frame(evidence: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(evidence, pandas.DataFrame)


@functools.lru_cache(maxsize=64)
def _state_codes(s: Structure) -> dict[str, dict[str, int]]:
    """``{variable: {state: code}}`` of a structure, built once per structure."""
    return {v: {state: k for k, state in enumerate(states)} for v, states in s.states.items()}


def _state_code(s: Structure, variable: str, value: Any, row: Any) -> int:
    lookup = _state_codes(s)[variable]
    # the common cell is a state's own text: one dict lookup
    code = lookup.get(value) if isinstance(value, str) else None
    if code is None:
        text = str(value)
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        code = lookup.get(text)
    if code is None:
        raise EvidenceError(
            f"evidence row {row}, column {variable!r}: {value!r} is not a state of "
            f"{variable!r}; its states are {list(s.states[variable])}."
        )
    return code


def _unknown_variable(s: Structure, name: Any, row: Any) -> EvidenceError:
    return EvidenceError(
        f"evidence row {row}, column {name!r}: {name!r} is not a variable of the network; "
        f"drop it or check the spelling (variables: {list(s.variables)[:10]}"
        f"{' ...' if len(s.variables) > 10 else ''})."
    )


def _codes_from_frame(s: Structure, df: pd.DataFrame) -> NDArray[np.int32]:
    out = np.full((len(df), len(s.variables)), -1, dtype=np.int32)
    idx = s.index
    for col in df.columns:
        if col not in s.states:
            bad = next((r for r, v in zip(df.index, df[col], strict=True) if not _missing(v)), 0)
            raise _unknown_variable(s, col, bad)
        states = s.states[col]
        column = df[col]
        if column.dtype.name == "category":
            cats = [str(c) for c in column.cat.categories]
            lookup = {st: k for k, st in enumerate(states)}
            mapping = np.array([lookup.get(c, -2) for c in cats] + [-1], dtype=np.int32)
            codes = mapping[np.asarray(column.cat.codes, dtype=np.int64)]
            bad_rows = np.flatnonzero(codes == -2)
            if bad_rows.size:
                r = bad_rows[0]
                raise EvidenceError(
                    f"evidence row {df.index[r]}, column {col!r}: {column.iloc[r]!r} is not a "
                    f"state of {col!r}; its states are {list(states)}."
                )
        else:
            values = column.to_numpy(dtype=object)
            codes = np.array(
                [
                    -1 if _missing(v) else _state_code(s, col, v, df.index[r])
                    for r, v in enumerate(values)
                ],
                dtype=np.int32,
            )
        out[:, idx[col]] = codes
    return out


def _codes_from_dicts(s: Structure, rows: Sequence[Mapping[str, Any]]) -> NDArray[np.int32]:
    out = np.full((len(rows), len(s.variables)), -1, dtype=np.int32)
    idx = s.index
    for r, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise EvidenceError(
                f"evidence row {r} is a {type(row).__name__}, not a dict {{variable: state}}."
            )
        for name, value in row.items():
            if name not in s.states:
                raise _unknown_variable(s, name, r)
            if not _missing(value):
                out[r, idx[name]] = _state_code(s, name, value, r)
    return out


def encode_cells(
    structure: Structure | BayesNet, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> NDArray[np.int32]:
    """Cells of a table (``columns``, ``rows`` of values; ``None`` = unobserved) as codes.

    The row-major form a JSON request carries, encoded without a dict or DataFrame per row.

    Raises
    ------
    EvidenceError
        An unknown variable or state, naming the row and column.
    """
    s = as_structure(structure)
    out = np.full((len(rows), len(s.variables)), -1, dtype=np.int32)
    for name in columns:
        if name not in s.states:
            raise _unknown_variable(s, name, 0)
    at = [(s.index[name], name) for name in columns]
    for r, row in enumerate(rows):
        for (j, name), value in zip(at, row, strict=True):
            if not _missing(value):
                out[r, j] = _state_code(s, name, value, r)
    return out


def _codes_from_array(s: Structure, arr: NDArray[Any]) -> NDArray[np.int32]:
    if arr.ndim != 2 or arr.shape[1] != len(s.variables) or arr.dtype.kind not in "iu":
        raise EvidenceError(
            f"encoded evidence must be an integer array (rows, {len(s.variables)}) in "
            f"network variable order with -1 = unobserved; got {arr.dtype} {arr.shape}."
        )
    cards = np.array([s.cards[v] for v in s.variables])
    bad = np.argwhere((arr < -1) | (arr >= cards[None, :]))
    if bad.size:
        r, j = bad[0]
        raise EvidenceError(
            f"evidence row {r}, column {s.variables[j]!r}: code {arr[r, j]} is outside "
            f"-1..{cards[j] - 1}."
        )
    return arr.astype(np.int32)


def encode_evidence(structure: Structure | BayesNet, evidence: Evidence) -> NDArray[np.int32]:
    """Evidence in any accepted form as codes ``(rows, variables)``, ``-1`` = unobserved.

    Raises
    ------
    EvidenceError
        An unknown variable or state, naming the row and column.
    """
    s = as_structure(structure)
    if evidence is None:
        return np.full((1, len(s.variables)), -1, dtype=np.int32)
    if _is_frame(evidence):
        return _codes_from_frame(s, evidence)
    if isinstance(evidence, np.ndarray):
        return _codes_from_array(s, evidence)
    if isinstance(evidence, Mapping):
        return _codes_from_dicts(s, [evidence])
    if isinstance(evidence, Sequence) and not isinstance(evidence, str):
        return _codes_from_dicts(s, list(evidence))
    raise EvidenceError(
        f"evidence of type {type(evidence).__name__} is not understood; pass a list of "
        "dicts, a DataFrame, or an integer code array."
    )


def soft_evidence(
    structure: Structure | BayesNet, soft: Mapping[str, Any] | None, rows: int
) -> dict[str, NDArray[np.float64]]:
    """Validate soft evidence; return ``{variable: (rows, card)}`` likelihoods."""
    s = as_structure(structure)
    out: dict[str, NDArray[np.float64]] = {}
    for name, lik in (soft or {}).items():
        if name not in s.states:
            raise _unknown_variable(s, name, "all")
        a = np.asarray(lik, dtype=np.float64)
        card = s.cards[name]
        if a.shape == (card,):
            a = np.broadcast_to(a, (rows, card))
        if a.shape != (rows, card):
            raise EvidenceError(
                f"soft evidence on {name!r} has shape {a.shape}; give ({card},) or "
                f"({rows}, {card})."
            )
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise EvidenceError(f"soft evidence on {name!r} must be finite and non-negative.")
        zero = np.flatnonzero(a.sum(axis=1) == 0)
        if zero.size:
            raise EvidenceError(
                f"evidence row {zero[0]}, column {name!r}: the soft-evidence likelihood is "
                "all zero, which rules out every state."
            )
        out[name] = a
    return out


def likelihoods(
    structure: Structure | BayesNet,
    codes: NDArray[np.integer],
    soft: Mapping[str, NDArray[np.float64]] | None = None,
    dtype: Any = np.float64,
) -> NDArray[Any]:
    """Flat likelihood array ``(rows, sum(cards))`` from codes and validated soft evidence.

    Column block ``j`` (width ``card_j``) is the likelihood vector of variable ``j``:
    one-hot where observed, ones where not, times the soft evidence.
    """
    s = as_structure(structure)
    cards = [s.cards[v] for v in s.variables]
    offsets = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64)
    rows = codes.shape[0]
    lik = np.ones((rows, int(sum(cards))), dtype=dtype)
    obs_r, obs_j = np.nonzero(codes >= 0)
    if obs_r.size:
        block = np.zeros((rows, int(sum(cards))), dtype=bool)
        for j, c in enumerate(cards):
            block[:, offsets[j] : offsets[j] + c] = (codes[:, j] >= 0)[:, None]
        lik[block] = 0.0
        lik[obs_r, offsets[obs_j] + codes[obs_r, obs_j]] = 1.0
    for name, a in (soft or {}).items():
        j = s.index[name]
        lik[:, offsets[j] : offsets[j] + cards[j]] *= a
    return lik


def evidence_likelihoods(
    structure: Structure | BayesNet,
    evidence: Evidence,
    soft: Mapping[str, Any] | None = None,
    dtype: Any = np.float64,
) -> dict[str, NDArray[Any]]:
    """Evidence (any accepted form) as ``{variable: (rows, card)}`` likelihood arrays.

    The result is the ``liks`` argument of :func:`bnlab.infer.log_evidence` and friends.

    Examples
    --------
    >>> import bnlab
    >>> net = bnlab.load_example("asia")
    >>> lk = evidence_likelihoods(net, [{"smoke": "yes"}, {}])
    >>> lk["smoke"].tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    s = as_structure(structure)
    codes = encode_evidence(s, evidence)
    flat = likelihoods(s, codes, soft_evidence(s, soft, codes.shape[0]), dtype)
    out: dict[str, NDArray[Any]] = {}
    start = 0
    for v in s.variables:
        out[v] = flat[:, start : start + s.cards[v]]
        start += s.cards[v]
    return out
