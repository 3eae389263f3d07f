"""The conjugate backend: exact Dirichlet posterior ``alpha + family counts``.

With complete data in a family, each CPT row's posterior is ``Dirichlet(alpha + N)``. Rows
with a missing value in a family are left out of that family only (this is exact under
missingness completely at random for that family's parameters, and their number is reported
per family in ``Posterior.n_dropped``); use an MCMC backend to use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bnlab.counts import family_counts
from bnlab.errors import BackendError
from bnlab.fitting import FitInput
from bnlab.posterior import Posterior


def fit_conjugate(inputs: FitInput, **options: Any) -> Posterior:
    """Closed-form posterior: ``Dirichlet(prior pseudo-counts + family counts)`` per row.

    Raises
    ------
    BackendError
        If any option is given (the conjugate backend takes none).
    """
    if options:
        raise BackendError(
            f"backend 'conjugate' takes no options, got {sorted(options)}; remove them or "
            "choose an MCMC backend ('numpyro', 'pymc')."
        )
    counts = family_counts(inputs.codes, inputs.structure)
    return posterior_from_counts(
        inputs, {v: c.counts for v, c in counts.items()}, int(inputs.codes.shape[0])
    )


def posterior_from_counts(
    inputs: FitInput, counts: Mapping[str, NDArray[np.int64]], n_rows: int
) -> Posterior:
    """``Dirichlet(alpha + counts)`` per row, from family counts however they were made.

    ``inputs.codes`` is not used (the partitioned paths count without materialising
    codes); rows dropped per family are ``n_rows`` minus the family's total count.
    """
    s = inputs.structure
    return Posterior(
        s,
        alpha={v: inputs.alpha[v] + counts[v] for v in s.variables},
        prior=inputs.prior,
        ess=inputs.ess,
        backend="conjugate",
        n_rows=int(n_rows),
        n_dropped={v: int(n_rows - int(counts[v].sum())) for v in s.variables},
    )
