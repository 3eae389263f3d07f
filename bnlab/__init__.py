"""bnlab: discrete Bayesian networks whose probability tables carry their full posterior.

The public API (see ``README.md``) is importable from the top level; the heavy parts
(JAX, the MCMC backends, MLflow) are imported only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlab.errors import BNError
from bnlab.lazy import lazy_exports
from bnlab.network import BayesNet, Structure

__version__ = "0.1.0"

# public name -> module that defines it; resolved on first access so `import bnlab` stays fast
_LAZY: dict[str, str] = {
    "read_network": "bnlab.io",
    "write_network": "bnlab.io",
    "load_example": "bnlab.io",
    "list_examples": "bnlab.io",
    "sample": "bnlab.sampling",
    "read_parquet": "bnlab.parquet",
    "write_parquet": "bnlab.parquet",
    "encode": "bnlab.data",
    "decode": "bnlab.data",
    "family_counts": "bnlab.counts",
    "fit": "bnlab.fit",
    "Posterior": "bnlab.posterior",
    "load_posterior": "bnlab.posterior",
    "Engine": "bnlab.infer",
    "learn_structure": "bnlab.learn",
}

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.counts import family_counts as family_counts
    from bnlab.data import decode as decode
    from bnlab.data import encode as encode
    from bnlab.fit import fit as fit
    from bnlab.infer import Engine as Engine
    from bnlab.io import (
        list_examples as list_examples,
    )
    from bnlab.io import (
        load_example as load_example,
    )
    from bnlab.io import (
        read_network as read_network,
    )
    from bnlab.io import (
        write_network as write_network,
    )
    from bnlab.learn import learn_structure as learn_structure
    from bnlab.parquet import read_parquet as read_parquet
    from bnlab.parquet import write_parquet as write_parquet
    from bnlab.posterior import Posterior as Posterior
    from bnlab.posterior import load_posterior as load_posterior
    from bnlab.sampling import sample as sample


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)

__all__ = ["BNError", "BayesNet", "Structure", "__version__", *_LAZY]
