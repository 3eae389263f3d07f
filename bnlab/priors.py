"""Dirichlet prior pseudo-counts per CPT: BDeu, K2, uniform, or given by the user.

Every prior is an array of pseudo-counts shaped like the CPT, ``(*parent cards, card)``,
one independent Dirichlet per CPT row (parent configuration). With family counts ``N`` the
conjugate posterior of each row is ``Dirichlet(alpha + N)``.

- ``"bdeu"``: ``ess / (q * r)`` in every cell, with ``q`` the number of parent
  configurations and ``r`` the number of states (Heckerman, Geiger & Chickering 1995).
- ``"k2"``: one in every cell (Cooper & Herskovits 1992).
- ``"uniform"``: ``alpha`` in every cell.
- a mapping ``{variable: pseudo-counts}``: a positive scalar or an array of the CPT's shape,
  for every variable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnlab.errors import PriorError
from bnlab.network import BayesNet, Structure, as_structure

PRIOR_NAMES = ("bdeu", "k2", "uniform")

PriorSpec = str | Mapping[str, ArrayLike]


def _positive_number(value: object, name: str, fix: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PriorError(f"{name} must be a positive number, got {value!r}; {fix}")
    x = float(value)
    if not math.isfinite(x) or x <= 0.0:
        raise PriorError(f"{name} must be a positive finite number, got {value!r}; {fix}")
    return x


def _user_alpha(s: Structure, pseudo: Mapping[str, ArrayLike]) -> dict[str, NDArray[np.float64]]:
    unknown = [str(v) for v in pseudo if v not in s.states]
    if unknown:
        raise PriorError(
            f"pseudo-counts given for unknown variable(s) {unknown}; use names from "
            "structure.variables."
        )
    absent = [v for v in s.variables if v not in pseudo]
    if absent:
        raise PriorError(
            f"no pseudo-counts for variable(s) {absent[:10]}{' ...' if len(absent) > 10 else ''}; "
            "give a positive scalar or an array of the CPT's shape for every variable, or use "
            "prior='bdeu', 'k2' or 'uniform'."
        )
    out: dict[str, NDArray[np.float64]] = {}
    for v in s.variables:
        shape = s.family_shape(v)
        try:
            arr = np.asarray(pseudo[v], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise PriorError(
                f"pseudo-counts of {v!r} are not numbers ({exc}); give a positive scalar or an "
                f"array of shape {shape}."
            ) from None
        if arr.ndim == 0:
            arr = np.full(shape, float(arr))
        elif arr.shape != shape:
            raise PriorError(
                f"pseudo-counts of {v!r} have shape {arr.shape}, expected {shape} (parents "
                f"{list(s.parents[v])} then the states of {v!r}); reshape them or give a scalar."
            )
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise PriorError(
                f"pseudo-counts of {v!r} must be finite and > 0, found {float(arr[where])} "
                f"at index {where}; a Dirichlet prior needs positive pseudo-counts."
            )
        out[v] = np.array(arr, dtype=np.float64)
    return out


def prior_alpha(
    structure: Structure | BayesNet,
    prior: PriorSpec = "bdeu",
    ess: float = 1.0,
    alpha: float = 1.0,
) -> dict[str, NDArray[np.float64]]:
    """Dirichlet pseudo-counts per variable, each shaped like the variable's CPT.

    Parameters
    ----------
    structure
        The structure (or network) whose families get a prior.
    prior
        ``"bdeu"``, ``"k2"``, ``"uniform"``, or a mapping ``{variable: pseudo-counts}``.
    ess
        Equivalent sample size of ``"bdeu"`` (> 0).
    alpha
        Pseudo-count per cell of ``"uniform"`` (> 0).

    Returns
    -------
    dict
        ``{variable: array of shape (*parent cards, card)}``, float64, all > 0.

    Raises
    ------
    PriorError
        Unknown prior name, ``ess <= 0``, ``alpha <= 0``, or pseudo-counts of the wrong
        shape, non-positive, or for unknown variables.

    Examples
    --------
    >>> from bnlab import Structure
    >>> s = Structure(["a", "b"], {"a": ("0", "1"), "b": ("0", "1", "2")}, {"b": ("a",)})
    >>> prior_alpha(s, "bdeu", ess=6.0)["b"]
    array([[1., 1., 1.],
           [1., 1., 1.]])
    """
    s = as_structure(structure)
    if isinstance(prior, Mapping):
        return _user_alpha(s, prior)
    if not isinstance(prior, str) or prior.lower() not in PRIOR_NAMES:
        raise PriorError(
            f"unknown prior {prior!r}; choose one of {list(PRIOR_NAMES)} or pass a mapping "
            "{variable: pseudo-counts}."
        )
    name = prior.lower()
    out: dict[str, NDArray[np.float64]] = {}
    if name == "bdeu":
        e = _positive_number(ess, "ess (the BDeu equivalent sample size)", "try ess=1.0.")
        for v in s.variables:
            shape = s.family_shape(v)
            out[v] = np.full(shape, e / (s.n_parent_configs(v) * shape[-1]))
    elif name == "k2":
        for v in s.variables:
            out[v] = np.ones(s.family_shape(v))
    else:
        a = _positive_number(alpha, "alpha (the uniform pseudo-count)", "try alpha=1.0.")
        for v in s.variables:
            out[v] = np.full(s.family_shape(v), a)
    return out


def describe_prior(prior: PriorSpec, ess: float, alpha: float) -> dict[str, Any]:
    """Plain, serialisable description of a prior choice (for metadata and tracking)."""
    if isinstance(prior, Mapping):
        return {"prior": "custom"}
    name = str(prior).lower()
    if name == "bdeu":
        return {"prior": name, "ess": float(ess)}
    if name == "uniform":
        return {"prior": name, "alpha": float(alpha)}
    return {"prior": name}
