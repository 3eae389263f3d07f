"""bnlab: discrete Bayesian networks whose probability tables carry their full posterior.

The public API (see ``README.md``) is importable from the top level; the heavy parts
(JAX, the MCMC backends, MLflow) are imported only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlab import compat
from bnlab.errors import BNError
from bnlab.lazy import lazy_exports

__version__ = "0.1.0"

# defining module -> its public names, resolved on first access so `import bnlab` stays fast
_LAZY: dict[str, tuple[str, ...]] = {
    "bnlab.network": ("BayesNet", "Structure"),
    "bnlab.io": ("read_network", "write_network", "load_example", "list_examples"),
    "bnlab.sampling": ("sample",),
    "bnlab.io.parquet": ("read_parquet", "write_parquet"),
    "bnlab.data": ("encode", "decode"),
    "bnlab.counts": ("family_counts",),
    "bnlab.fitting": ("fit",),
    "bnlab.posterior": ("Posterior", "load_posterior"),
    "bnlab.infer": ("Engine",),
    "bnlab.learn": ("learn_structure",),
    "bnlab.schema": ("Schema", "infer_schema"),
    "bnlab.ops.scoring": ("score",),
}

if TYPE_CHECKING:  # pragma: no cover
    from bnlab.counts import family_counts as family_counts
    from bnlab.data import decode as decode
    from bnlab.data import encode as encode
    from bnlab.fitting import fit as fit
    from bnlab.infer import Engine as Engine
    from bnlab.io import list_examples as list_examples
    from bnlab.io import load_example as load_example
    from bnlab.io import read_network as read_network
    from bnlab.io import write_network as write_network
    from bnlab.io.parquet import read_parquet as read_parquet
    from bnlab.io.parquet import write_parquet as write_parquet
    from bnlab.learn import learn_structure as learn_structure
    from bnlab.network import BayesNet as BayesNet
    from bnlab.network import Structure as Structure
    from bnlab.ops.scoring import score as score
    from bnlab.posterior import Posterior as Posterior
    from bnlab.posterior import load_posterior as load_posterior
    from bnlab.sampling import sample as sample
    from bnlab.schema import Schema as Schema
    from bnlab.schema import infer_schema as infer_schema

__getattr__, __dir__, _lazy_names = lazy_exports(globals(), _LAZY)
compat.install()

__all__ = ["BNError", "__version__", *_lazy_names]
