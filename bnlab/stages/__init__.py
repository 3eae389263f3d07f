"""Pipeline stages: thin entry points that read their inputs, compute, and write outputs.

One module per DVC stage (``prepare``, ``learn``, ``fit``, ``evaluate``, ``report``), each
runnable as ``python -m bnlab.stages.<name> --params params.yaml ...`` or ``bnlab stage
<name> ...``. Each module has a pure-ish compute function (config and objects in, objects
out) that ``bnlab-experiment`` calls in-process, and a ``run(args)`` that does the file I/O.
Every output is written atomically (temp file, then rename), and only after everything the
stage computes has succeeded, so a failing stage leaves the previous outputs intact.
"""

#: Stage names in pipeline order.
STAGES = ("prepare", "learn", "fit", "evaluate", "report")
