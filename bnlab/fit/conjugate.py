"""The conjugate backend: exact Dirichlet posterior ``alpha + family counts``.

With complete data in a family, each CPT row's posterior is ``Dirichlet(alpha + N)``. Rows
with a missing value in a family are left out of that family only (this is exact under
missingness completely at random for that family's parameters, and their number is reported
per family in ``Posterior.n_dropped``); use an MCMC backend to use them.
"""

from __future__ import annotations

from typing import Any

from bnlab.counts import family_counts
from bnlab.errors import BackendError
from bnlab.fit import FitInput
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
    post_alpha = {v: inputs.alpha[v] + counts[v].counts for v in inputs.structure.variables}
    return Posterior(
        inputs.structure,
        alpha=post_alpha,
        prior=inputs.prior,
        ess=inputs.ess,
        backend="conjugate",
        n_rows=int(inputs.codes.shape[0]),
        n_dropped={v: c.n_dropped for v, c in counts.items()},
    )
