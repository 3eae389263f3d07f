"""MCMC diagnostics of CPT draws: R-hat, bulk/tail ESS, divergences, with a warning.

The numbers come from ArviZ (``arviz_stats``' array interface: rank-normalised split R-hat,
bulk and tail ESS, Vehtari et al. 2021) computed on the ``(chain, draw, ...)`` arrays of every
CPT entry. :func:`warn_if_poor` raises a :class:`ConvergenceWarning` that states the numbers
when R-hat exceeds 1.01, a bulk or tail ESS falls below 400, or any transition diverged.
CPT entries that are constant across all draws (a variable with one state) have no defined
R-hat or ESS and are ignored.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import BackendError

if TYPE_CHECKING:
    from bnlab.network import Structure
    from bnlab.posterior import Posterior

#: Fewest draws per chain for which split R-hat and ESS are meaningful.
MIN_DRAWS = 20
RHAT_MAX = 1.01
ESS_MIN = 400.0


class ConvergenceWarning(UserWarning):
    """MCMC draws that may not represent the posterior (high R-hat, low ESS, divergences)."""


class Diagnostics(NamedTuple):
    """Convergence summary of CPT draws.

    Attributes
    ----------
    rhat, ess_bulk, ess_tail, mcse_mean, mcse_sd
        Per variable, shaped like the CPT.
    max_rhat, min_ess_bulk, min_ess_tail
        Extremes over all (non-constant) CPT entries.
    n_divergent
        Number of divergent transitions over all chains.
    n_draws
        Total number of draws (chains x draws).
    """

    rhat: dict[str, NDArray[np.float64]]
    ess_bulk: dict[str, NDArray[np.float64]]
    ess_tail: dict[str, NDArray[np.float64]]
    mcse_mean: dict[str, NDArray[np.float64]]
    mcse_sd: dict[str, NDArray[np.float64]]
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    n_divergent: int
    n_draws: int

    def as_dict(self) -> dict[str, Any]:
        """Scalar summary (JSON-serialisable)."""
        return {
            "max_rhat": self.max_rhat,
            "min_ess_bulk": self.min_ess_bulk,
            "min_ess_tail": self.min_ess_tail,
            "n_divergent": self.n_divergent,
            "n_draws": self.n_draws,
        }


def check_draw_counts(chains: object, draws: object, tune: object) -> tuple[int, int, int]:
    """Validate the numbers of chains, draws and tuning steps.

    Raises
    ------
    BackendError
        Non-integer or too small values (fewer than :data:`MIN_DRAWS` draws per chain leave
        split R-hat and ESS undefined).
    """
    out = []
    for name, value, low in (("chains", chains, 1), ("draws", draws, MIN_DRAWS), ("tune", tune, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            fix = (
                f"R-hat and ESS need at least {MIN_DRAWS} draws per chain; use draws=1000"
                if name == "draws"
                else f"give an integer >= {low}"
            )
            raise BackendError(f"{name}={value!r} is not usable; {fix}.")
        out.append(int(value))
    return out[0], out[1], out[2]


def _extreme(values: Mapping[str, NDArray[np.float64]], fn: Any, empty: float) -> float:
    finite = [x[np.isfinite(x)] for x in values.values()]
    flat = np.concatenate(finite) if finite else np.zeros(0)
    return float(fn(flat)) if flat.size else empty


def diagnose(
    draws: Mapping[str, NDArray[np.float64]], diverging: NDArray[np.bool_] | None = None
) -> Diagnostics:
    """R-hat, ESS and MCSE of every CPT entry, and the number of divergences.

    Parameters
    ----------
    draws
        Per variable, arrays shaped ``(chain, draw, ...)``.
    diverging
        Boolean ``(chain, draw)`` flags of divergent transitions, if known.

    Returns
    -------
    Diagnostics
    """
    import importlib

    # arviz_stats is untyped: go through Any
    array_stats: Any = importlib.import_module("arviz_stats.base").array_stats

    rhat, bulk, tail, mse, msd = {}, {}, {}, {}, {}
    n_draws = 0
    for v, x in draws.items():
        arr = np.asarray(x, dtype=np.float64)
        n_draws = arr.shape[0] * arr.shape[1]
        const = np.ptp(arr.reshape(n_draws, -1), axis=0).reshape(arr.shape[2:]) == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            rhat[v] = np.where(const, np.nan, array_stats.rhat(arr, chain_axis=0, draw_axis=1))
            bulk[v] = np.where(const, np.nan, array_stats.ess(arr, 0, 1, method="bulk"))
            tail[v] = np.where(const, np.nan, array_stats.ess(arr, 0, 1, method="tail", prob=0.05))
            mse[v] = np.asarray(array_stats.mcse(arr, 0, 1, method="mean"), dtype=np.float64)
            msd[v] = np.asarray(array_stats.mcse(arr, 0, 1, method="sd"), dtype=np.float64)
    n_div = 0 if diverging is None else int(np.count_nonzero(diverging))
    return Diagnostics(
        rhat,
        bulk,
        tail,
        mse,
        msd,
        max_rhat=_extreme(rhat, np.max, float("nan")),
        min_ess_bulk=_extreme(bulk, np.min, float("nan")),
        min_ess_tail=_extreme(tail, np.min, float("nan")),
        n_divergent=n_div,
        n_draws=n_draws,
    )


def problems(diag: Diagnostics, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN) -> list[str]:
    """Plain-text list of the thresholds a fit misses (empty when it passes)."""
    out = []
    if diag.max_rhat > rhat_max:
        out.append(f"max R-hat {diag.max_rhat:.4f} > {rhat_max}")
    if diag.min_ess_bulk < ess_min:
        out.append(f"min bulk ESS {diag.min_ess_bulk:.0f} < {ess_min:.0f}")
    if diag.min_ess_tail < ess_min:
        out.append(f"min tail ESS {diag.min_ess_tail:.0f} < {ess_min:.0f}")
    if diag.n_divergent:
        out.append(f"{diag.n_divergent} divergent transition(s) of {diag.n_draws}")
    return out


def warn_if_poor(
    diag: Diagnostics, backend: str, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN
) -> None:
    """Warn with a :class:`ConvergenceWarning` stating the numbers when a threshold is missed."""
    found = problems(diag, rhat_max, ess_min)
    if found:
        warnings.warn(
            f"{backend} MCMC may not have converged: {'; '.join(found)}. Run more draws/tune "
            "steps or more chains, or raise target_accept to remove divergences.",
            ConvergenceWarning,
            stacklevel=3,
        )


def diagnosed_posterior(
    structure: Structure,
    draws: Mapping[str, NDArray[np.float64]],
    *,
    backend: str,
    prior: str,
    ess: float | None,
    n_rows: int,
    sample_stats: Mapping[str, NDArray[Any]],
    warn: bool,
    attrs: Mapping[str, Any],
) -> Posterior:
    """Diagnose CPT draws, warn if they are poor, and wrap them in a :class:`Posterior`.

    Parameters
    ----------
    structure
        The fitted structure.
    draws
        Per variable, CPT draws ``(chain, draw, *parent cards, card)``.
    backend, prior, ess, n_rows
        Posterior metadata.
    sample_stats
        Per-draw sampler statistics ``(chain, draw, ...)``; a boolean ``"diverging"``
        entry is counted as divergences.
    warn
        Whether to raise a :class:`ConvergenceWarning` on poor diagnostics.
    attrs
        Backend metadata; ``"diagnostics"`` (:meth:`Diagnostics.as_dict`) is added.

    Returns
    -------
    Posterior
        Of kind ``"draws"``, no rows dropped (MCMC backends use every row).
    """
    from bnlab.posterior import Posterior

    diag = diagnose(draws, sample_stats.get("diverging"))
    if warn:
        warn_if_poor(diag, backend)
    return Posterior(
        structure,
        draws=draws,
        prior=prior,
        ess=ess,
        backend=backend,
        n_rows=n_rows,
        n_dropped=dict.fromkeys(structure.variables, 0),
        sample_stats=dict(sample_stats),
        attrs={"diagnostics": diag.as_dict(), **attrs},
    )
