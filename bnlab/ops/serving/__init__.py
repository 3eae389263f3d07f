"""Serving at load: adaptive batching, limits and backpressure for ``bnlab serve``.

:mod:`~bnlab.ops.serving.settings` holds the knobs (command line and ``conf/serve/``),
:mod:`~bnlab.ops.serving.batcher` gathers concurrent requests into one engine call,
:mod:`~bnlab.ops.serving.predict` answers a batch with fixed-shape engine calls (so an answer
does not depend on what else was in its batch), and :mod:`~bnlab.ops.serving.invocations` is the
``POST /invocations`` endpoint that parses, limits and answers requests.
"""
