"""Posterior over the CPTs of a structure: the one result type of every fitting backend.

A :class:`Posterior` holds the structure and, per variable, EITHER

- Dirichlet parameters ``alpha`` shaped like the CPT, ``(*parent cards, card)``, one
  independent Dirichlet per CPT row (``kind == "dirichlet"``, the conjugate backend); or
- CPT draws shaped ``(chain, draw, *parent cards, card)``, every row summing to one
  (``kind == "draws"``, the MCMC backends),

plus metadata: the prior, its equivalent sample size, the backend, the number of data rows,
the rows dropped per family for missing values, sampler statistics (MCMC) and the time spent.

Labelled form (``to_dataset``, ``to_arviz``, NetCDF files): the CPT of variable ``X`` is the
data variable ``"X"``; the axis of the states of a variable ``V`` is the dimension
``"V_state"`` (see :func:`state_dim`) with the state names as coordinates, whether ``V`` is the
child or a parent. A variable that is a parent of several children gives them the same
dimension with the same coordinates, which is what xarray needs to align them. The suffix
exists because xarray cannot hold a data variable ``"X"`` and a dimension coordinate ``"X"``
at once; a structure with variables ``X`` and ``X_state`` is refused by the labelled form.
Draws put ``chain`` and ``draw`` first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from itertools import product
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from bnlab.dirichlet import beta_hdi, dirichlet_draws, hdi_from_samples
from bnlab.display.methods import Displayable
from bnlab.errors import BNError, CPTError
from bnlab.io.posterior_file import (
    FORMAT,
    FORMAT_VERSION,
    cpt_dims,
    read_posterior_record,
    refuse,
    state_coords,
    state_dim,
    structure_to_json,
    write_tree,
)
from bnlab.network import CPT_SUM_ATOL, BayesNet, Structure, as_structure

Kind = Literal["dirichlet", "draws"]

#: Attributes the MCMC backends set that hold wall-clock seconds (kept in memory, not saved).
WALL_CLOCK_ATTRS = ("build_s", "sampling_s")

# kept for modules that imported these from here before they moved to bnlab.dirichlet
_golden_hdi = beta_hdi
__all__ = [
    "Posterior",
    "cpt_dims",
    "dirichlet_draws",
    "hdi_from_samples",
    "load_posterior",
    "state_coords",
    "state_dim",
]


def _float_array(x: ArrayLike, what: str) -> NDArray[np.float64]:
    try:
        return np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CPTError(f"{what} are not numbers ({exc}).") from None


def _check_alpha(s: Structure, alpha: Mapping[str, ArrayLike]) -> dict[str, NDArray[np.float64]]:
    out: dict[str, NDArray[np.float64]] = {}
    for v in s.variables:
        if v not in alpha:
            raise CPTError(f"no Dirichlet parameters for {v!r}; every variable needs them.")
        a = _float_array(alpha[v], f"Dirichlet parameters of {v!r}")
        shape = s.family_shape(v)
        if a.shape != shape:
            raise CPTError(
                f"Dirichlet parameters of {v!r} have shape {a.shape}, expected {shape} "
                f"(parents {list(s.parents[v])} then the states of {v!r})."
            )
        bad = ~np.isfinite(a) | (a <= 0)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise CPTError(
                f"Dirichlet parameters of {v!r} must be finite and > 0, found {float(a[where])} "
                f"at index {where}."
            )
        a.setflags(write=False)
        out[v] = a
    extra = [str(v) for v in alpha if v not in s.states]
    if extra:
        raise CPTError(f"Dirichlet parameters given for unknown variables {extra}.")
    return out


def _check_draws(s: Structure, draws: Mapping[str, ArrayLike]) -> dict[str, NDArray[np.float64]]:
    out: dict[str, NDArray[np.float64]] = {}
    lead: tuple[int, ...] | None = None
    for v in s.variables:
        if v not in draws:
            raise CPTError(f"no CPT draws for {v!r}; every variable needs them.")
        d = _float_array(draws[v], f"CPT draws of {v!r}")
        shape = s.family_shape(v)
        if d.ndim != len(shape) + 2 or d.shape[2:] != shape:
            raise CPTError(
                f"CPT draws of {v!r} have shape {d.shape}, expected (chain, draw, *{shape})."
            )
        if lead is None:
            lead = d.shape[:2]
        elif d.shape[:2] != lead:
            raise CPTError(
                f"CPT draws of {v!r} have (chain, draw) = {d.shape[:2]}, but other variables "
                f"have {lead}; all variables need the same chains and draws."
            )
        if not np.isfinite(d).all() or (d < 0).any():
            raise CPTError(f"CPT draws of {v!r} contain NaN, infinite or negative values.")
        sums = d.sum(axis=-1)
        if np.abs(sums - 1.0).max(initial=0.0) > CPT_SUM_ATOL:
            raise CPTError(
                f"CPT draws of {v!r} have rows summing to {float(sums.min()):.6g}.."
                f"{float(sums.max()):.6g}, not 1 (tolerance {CPT_SUM_ATOL})."
            )
        d /= sums[..., None]
        d.setflags(write=False)
        out[v] = d
    extra = [str(v) for v in draws if v not in s.states]
    if extra:
        raise CPTError(f"CPT draws given for unknown variables {extra}.")
    return out


def _stats_dataset(stats_in: xr.Dataset | Mapping[str, ArrayLike] | None) -> xr.Dataset | None:
    if stats_in is None:
        return None
    if isinstance(stats_in, xr.Dataset):
        absent = [d for d in ("chain", "draw") if d in stats_in.dims and d not in stats_in.coords]
        return stats_in.assign_coords({d: np.arange(stats_in.sizes[d]) for d in absent})
    data: dict[str, tuple[tuple[str, ...], NDArray[Any]]] = {}
    for name, value in stats_in.items():
        arr = np.asarray(value)
        if arr.ndim < 2:
            raise CPTError(
                f"sampler statistic {name!r} has shape {arr.shape}; expected (chain, draw, ...)."
            )
        extra = tuple(f"{name}_dim_{i}" for i in range(arr.ndim - 2))
        data[name] = (("chain", "draw", *extra), arr)
    ds = xr.Dataset(data)
    return ds.assign_coords(chain=np.arange(ds.sizes["chain"]), draw=np.arange(ds.sizes["draw"]))


class Posterior(Displayable):
    """Posterior distribution of the CPTs of a structure (Dirichlet parameters or draws).

    Parameters
    ----------
    structure
        The structure (or a network, whose structure is used).
    alpha
        Dirichlet parameters per variable, each shaped ``(*parent cards, card)``, all > 0.
    draws
        CPT draws per variable, each shaped ``(chain, draw, *parent cards, card)``. Give
        exactly one of ``alpha`` and ``draws``.
    prior, ess
        Name of the prior (``"bdeu"``, ``"k2"``, ``"uniform"``, ``"custom"``) and its
        equivalent sample size (``None`` where it has none).
    backend
        The fitting backend that produced it.
    n_rows
        Number of data rows fitted.
    n_dropped
        Rows left out of each family because a value was missing.
    sample_stats
        MCMC sampler statistics with leading ``(chain, draw)`` axes (Dataset or arrays).
    elapsed_s
        Wall time of the fit.
    attrs
        Further backend metadata (JSON-serialisable values).
    """

    def __init__(
        self,
        structure: Structure | BayesNet,
        *,
        alpha: Mapping[str, ArrayLike] | None = None,
        draws: Mapping[str, ArrayLike] | None = None,
        prior: str = "custom",
        ess: float | None = None,
        backend: str = "conjugate",
        n_rows: int = 0,
        n_dropped: Mapping[str, int] | None = None,
        sample_stats: xr.Dataset | Mapping[str, ArrayLike] | None = None,
        elapsed_s: float | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        s = as_structure(structure)
        if (alpha is None) == (draws is None):
            raise CPTError("give exactly one of `alpha` (Dirichlet) and `draws` (MCMC).")
        self._structure = s
        self._alpha = None if alpha is None else _check_alpha(s, alpha)
        self._draws = None if draws is None else _check_draws(s, draws)
        self.prior = str(prior)
        self.ess = None if ess is None else float(ess)
        self.backend = str(backend)
        self.n_rows = int(n_rows)
        self.n_dropped: dict[str, int] = {v: 0 for v in s.variables}
        self.n_dropped.update({str(k): int(c) for k, c in (n_dropped or {}).items()})
        self.sample_stats = _stats_dataset(sample_stats)
        self.elapsed_s = None if elapsed_s is None else float(elapsed_s)
        self.attrs: dict[str, Any] = dict(attrs or {})

    # -- what it holds -------------------------------------------------------------------
    @property
    def structure(self) -> Structure:
        """The structure whose CPTs this is a posterior over."""
        return self._structure

    @property
    def variables(self) -> tuple[str, ...]:
        """Variable names in topological order."""
        return self._structure.variables

    @property
    def kind(self) -> Kind:
        """``"dirichlet"`` (closed form) or ``"draws"`` (stored MCMC draws)."""
        return "dirichlet" if self._alpha is not None else "draws"

    @property
    def alpha(self) -> Mapping[str, NDArray[np.float64]]:
        """Dirichlet parameters per variable (``kind == "dirichlet"`` only)."""
        if self._alpha is None:
            raise CPTError("this posterior holds MCMC draws, not Dirichlet parameters.")
        return self._alpha

    @property
    def stored_draws(self) -> Mapping[str, NDArray[np.float64]]:
        """Stored CPT draws ``(chain, draw, *shape)`` per variable (``kind == "draws"`` only)."""
        if self._draws is None:
            raise CPTError(
                "this posterior is a closed-form Dirichlet; use draws(n, seed) to sample it."
            )
        return self._draws

    # -- moments -------------------------------------------------------------------------
    def mean_cpts(self) -> dict[str, NDArray[np.float64]]:
        """Posterior-mean CPT per variable."""
        if self._alpha is not None:
            return {v: a / a.sum(axis=-1, keepdims=True) for v, a in self._alpha.items()}
        return {v: d.mean(axis=(0, 1)) for v, d in self.stored_draws.items()}

    def mean(self) -> BayesNet:
        """Network of posterior-mean CPTs (exact ``alpha / alpha.sum()`` for a Dirichlet).

        The network carries the posterior's data schema (``attrs["schema"]``), if any.
        """
        return BayesNet(
            structure=self._structure, cpts=self.mean_cpts(), schema=self.attrs.get("schema")
        )

    def var(self) -> dict[str, NDArray[np.float64]]:
        """Posterior variance of every CPT entry.

        Dirichlet: ``a_k (a_0 - a_k) / (a_0^2 (a_0 + 1))`` exactly; draws: the sample
        variance over chains and draws (``ddof=1``).
        """
        if self._alpha is not None:
            out = {}
            for v, a in self._alpha.items():
                a0 = a.sum(axis=-1, keepdims=True)
                out[v] = a * (a0 - a) / (a0**2 * (a0 + 1.0))
            return out
        return {
            v: d.reshape(-1, *d.shape[2:]).var(axis=0, ddof=1) for v, d in self.stored_draws.items()
        }

    def sd(self) -> dict[str, NDArray[np.float64]]:
        """Posterior standard deviation of every CPT entry (square root of :meth:`var`)."""
        return {v: np.sqrt(x) for v, x in self.var().items()}

    # -- draws ---------------------------------------------------------------------------
    def draws(self, n: int, seed: int = 0) -> dict[str, NDArray[np.float64]]:
        """``n`` posterior CPT draws per variable, shaped ``(n, *parent cards, card)``.

        A Dirichlet posterior is sampled exactly (vectorised gammas, normalised on the last
        axis). Stored MCMC draws are thinned (``n`` at most the number stored, without
        replacement, in stored order) or resampled with replacement (more than stored),
        with the given seed.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise CPTError(f"n must be a positive integer number of draws, got {n!r}.")
        rng = np.random.default_rng(seed)
        if self._alpha is not None:
            return dirichlet_draws(self._alpha, int(n), rng)
        stored = self.stored_draws
        first = next(iter(stored.values()))
        total = first.shape[0] * first.shape[1]
        if n <= total:
            idx = np.sort(rng.choice(total, size=int(n), replace=False))
        else:
            idx = rng.integers(0, total, size=int(n))
        return {v: d.reshape(total, *d.shape[2:])[idx] for v, d in stored.items()}

    # -- summaries -----------------------------------------------------------------------
    def summary(
        self, interval: float = 0.9, kind: Literal["eti", "hdi"] = "eti", n_draws: int = 4000
    ) -> pd.DataFrame:
        """One row per CPT entry: its mean, sd and credible interval.

        Parameters
        ----------
        interval
            Probability mass of the interval, in (0, 1).
        kind
            ``"eti"`` (equal-tailed) or ``"hdi"`` (highest density). For a Dirichlet both
            are exact, from each entry's Beta marginal; for draws both come from the draws.
        n_draws
            Unused for a Dirichlet; kept for a uniform signature.

        Returns
        -------
        pandas.DataFrame
            Columns ``variable``, ``parent_states`` (tuple of parent state names, in parent
            order), ``state``, ``mean``, ``sd``, ``lower``, ``upper``.
        """
        from scipy.special import betaincinv  # the Beta quantile; here: 0.4 s to import

        if not isinstance(interval, (int, float)) or not 0.0 < float(interval) < 1.0:
            raise CPTError(f"interval must lie strictly between 0 and 1, got {interval!r}.")
        if kind not in ("eti", "hdi"):
            raise CPTError(f"kind must be 'eti' or 'hdi', got {kind!r}.")
        means, sds = self.mean_cpts(), self.sd()
        frames = []
        s = self._structure
        for v in s.variables:
            mean = means[v]
            if self._alpha is not None:
                a = self._alpha[v]
                b = np.maximum(a.sum(axis=-1, keepdims=True) - a, 0.0)
                degenerate = b <= 0  # a single state: its probability is 1
                b_safe = np.where(degenerate, 1.0, b)
                if kind == "eti":
                    tail = (1.0 - interval) / 2.0
                    lower = betaincinv(a, b_safe, tail)
                    upper = betaincinv(a, b_safe, 1.0 - tail)
                else:
                    lower, upper = beta_hdi(a, b_safe, float(interval))
                lower = np.where(degenerate, 1.0, lower)
                upper = np.where(degenerate, 1.0, upper)
            else:
                d = self.stored_draws[v]
                flat = d.reshape(-1, *d.shape[2:])
                if kind == "eti":
                    tail = (1.0 - interval) / 2.0
                    lower, upper = np.quantile(flat, [tail, 1.0 - tail], axis=0)
                else:
                    lower, upper = hdi_from_samples(flat, float(interval))
            configs = list(product(*(s.states[p] for p in s.parents[v])))
            card = s.cards[v]
            frames.append(
                pd.DataFrame(
                    {
                        "variable": v,
                        "parent_states": [c for c in configs for _ in range(card)],
                        "state": list(s.states[v]) * len(configs),
                        "mean": mean.ravel(),
                        "sd": sds[v].ravel(),
                        "lower": np.asarray(lower).ravel(),
                        "upper": np.asarray(upper).ravel(),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    # -- labelled forms ------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "ess": self.ess,
            "backend": self.backend,
            "n_rows": self.n_rows,
            "n_dropped": self.n_dropped,
            # elapsed_s and the samplers' timings stay out: a wall-clock time would make the
            # saved file differ between two runs of the same fit (DVC outputs and registry
            # artifacts must reproduce)
            "attrs": {k: v for k, v in self.attrs.items() if k not in WALL_CLOCK_ATTRS},
        }

    def to_dataset(self) -> xr.Dataset:
        """Return the parameters as a labelled Dataset (``alpha`` or draws), metadata in attrs."""
        s = self._structure
        coords: dict[str, Any] = dict(state_coords(s))
        if self._alpha is not None:
            data = {v: (cpt_dims(s, v), self._alpha[v]) for v in s.variables}
        else:
            data = {
                v: (("chain", "draw", *cpt_dims(s, v)), d) for v, d in self.stored_draws.items()
            }
            first = next(iter(self.stored_draws.values()))
            coords["chain"] = np.arange(first.shape[0])
            coords["draw"] = np.arange(first.shape[1])
        return xr.Dataset(
            data,
            coords=coords,
            attrs={
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "kind": self.kind,
                "structure": structure_to_json(s),
                "metadata": json.dumps(self._metadata()),
            },
        )

    def to_arviz(self, n_draws: int = 1000, seed: int = 0, n_chains: int = 4) -> xr.DataTree:
        """ArviZ 1.x data: an ``xarray.DataTree`` with a ``posterior`` group.

        The ``posterior`` group has one data variable per CPT, dims ``(chain, draw,
        <parent>_state..., <variable>_state)`` with state names as coordinates (see the
        module docstring); MCMC posteriors add their ``sample_stats`` group. A Dirichlet
        posterior is represented by ``n_draws`` exact independent draws split into
        ``n_chains`` chains.
        """
        s = self._structure
        if self._alpha is not None:
            if n_draws % n_chains:
                raise CPTError(f"n_draws={n_draws} is not a multiple of n_chains={n_chains}.")
            flat = self.draws(n_draws, seed)
            cpts = {
                v: x.reshape(n_chains, n_draws // n_chains, *x.shape[1:]) for v, x in flat.items()
            }
        else:
            cpts = dict(self.stored_draws)
        first = next(iter(cpts.values()))
        posterior = xr.Dataset(
            {v: (("chain", "draw", *cpt_dims(s, v)), cpts[v]) for v in s.variables},
            coords={
                "chain": np.arange(first.shape[0]),
                "draw": np.arange(first.shape[1]),
                **state_coords(s),
            },
            attrs={"backend": self.backend, "prior": self.prior, "kind": self.kind},
        )
        groups: dict[str, xr.Dataset] = {"posterior": posterior}
        if self.sample_stats is not None:
            groups["sample_stats"] = self.sample_stats
        return xr.DataTree.from_dict(groups)

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the posterior to a NetCDF file (h5netcdf; no pickle), atomically.

        The root group holds the parameters (``alpha`` or draws) with the structure as JSON
        text and a format version in its attributes; sampler statistics go to the
        ``sample_stats`` group. Read it back with :func:`load_posterior`.
        """
        groups: dict[str, xr.Dataset] = {"/": self.to_dataset()}
        if self.sample_stats is not None:
            groups["sample_stats"] = self.sample_stats
        return write_tree(xr.DataTree.from_dict(groups), path)

    def __repr__(self) -> str:
        return (
            f"Posterior({self.kind}, {len(self.variables)} variables, backend={self.backend!r}, "
            f"prior={self.prior!r}, ess={self.ess}, n_rows={self.n_rows})"
        )


def load_posterior(path: str | os.PathLike[str]) -> Posterior:
    """Read a posterior written by :meth:`Posterior.save`, validating everything.

    Raises
    ------
    ArtifactError
        If the file is missing, not NetCDF, of another format or version, or holds a
        structure, shapes, labels or values (NaN, non-positive alpha, rows not summing to
        one) that do not make a valid posterior.
    """
    record = read_posterior_record(path)
    meta = record.metadata
    try:
        return Posterior(
            record.structure,
            alpha=record.arrays if record.kind == "dirichlet" else None,
            draws=record.arrays if record.kind == "draws" else None,
            prior=meta.get("prior", "custom"),
            ess=meta.get("ess"),
            backend=meta.get("backend", "unknown"),
            n_rows=meta.get("n_rows", 0),
            n_dropped=meta.get("n_dropped"),
            sample_stats=record.sample_stats,
            elapsed_s=meta.get("elapsed_s"),
            attrs=meta.get("attrs"),
        )
    except (BNError, TypeError, ValueError) as exc:
        raise refuse(Path(path), str(exc)) from None
