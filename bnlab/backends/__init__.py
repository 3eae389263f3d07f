"""Posterior backends: each turns a :class:`~bnlab.fitting.FitInput` into a Posterior.

``conjugate`` (closed-form Dirichlet), ``gibbs`` (data augmentation, numpy), ``numpyro`` and
``pymc`` (NUTS on one model spec, :mod:`bnlab.backends.model_spec`). They are looked up by
name in :data:`bnlab.fitting.BACKENDS` and imported only when first used; call them through
:func:`bnlab.fit`.
"""
