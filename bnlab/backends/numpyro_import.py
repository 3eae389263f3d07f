"""Import NumPyro whole before any of its submodules.

``import arviz_base`` registers ``numpyro`` in ``sys.modules`` as a lazy placeholder
(``lazy_loader``). If the first NumPyro import of the process is a submodule import such as
``from numpyro.distributions import biject_to``, the placeholder's package code runs in the
middle of that import and ``numpyro.distributions`` is executed twice; the copy that wins
lacks its ``distribution`` attribute, and every later ``numpyro.factor`` fails with
AttributeError. Loading the top-level package first avoids it.

JAX is set up as the engine sets it (:func:`bnlab.infer.devices.start_jax`: one CPU device
per core, the persistent compilation cache) before NumPyro runs anything: a process whose
first JAX work is a fit then answers queries on the same devices as any other process, so
its answers equal theirs bit for bit.
"""

from __future__ import annotations

from typing import Any


def load_numpyro() -> Any:
    """Return the fully loaded ``numpyro`` package (running a lazy placeholder's loader)."""
    from bnlab.infer.devices import start_jax

    start_jax()
    import numpyro

    _ = numpyro.__version__  # attribute access runs a lazy module's loader
    return numpyro
