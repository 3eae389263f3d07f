"""Integer codes of a table: the dtype that holds them and the one shape check.

Codes are ``(rows, variables)`` integers, a variable's state index per cell and ``-1`` for a
missing value, columns in ``structure.variables`` order. Counting, fitting and structure
search read them; this module needs numpy alone, so paths that never see a DataFrame do
not import pandas.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import DataError
from bnlab.network import BayesNet, Structure, as_structure


class ExtraColumnsWarning(UserWarning):
    """Columns in the data that are not variables of the structure (they are ignored)."""


def code_dtype(max_card: int) -> np.dtype[np.signedinteger]:
    """Smallest signed integer dtype whose range holds states ``0..max_card-1`` and -1."""
    for dt in (np.int8, np.int16, np.int32):
        if max_card - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.int64)


def check_codes(codes: NDArray[np.integer], structure: Structure | BayesNet) -> NDArray[np.integer]:
    """``codes`` as an array, checked to be ``(rows, variables)`` in ``structure.variables`` order.

    Raises
    ------
    DataError
        If ``codes`` is not a 2-D array with one column per variable.
    """
    s = as_structure(structure)
    arr = np.asarray(codes)
    if arr.ndim != 2 or arr.shape[1] != len(s.variables):
        raise DataError(
            f"codes have shape {arr.shape}; expected (rows, {len(s.variables)}) with columns "
            "in structure.variables order (see bnlab.encode)."
        )
    return arr


def codes_with_structure(
    codes: NDArray[np.integer], structure: Structure | BayesNet
) -> tuple[Structure, NDArray[np.integer]]:
    """``(structure without edges, checked codes)``; a table without rows is refused.

    Raises
    ------
    DataError
        Codes of the wrong shape, or no rows.
    """
    s = as_structure(structure)
    base = Structure(s.variables, s.states, {})
    arr = check_codes(codes, base)
    if arr.shape[0] == 0:
        raise DataError("the data have no rows; counting needs data.")
    return base, arr
