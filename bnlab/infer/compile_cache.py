"""A persistent XLA compilation cache, on by default, in the user's cache folder.

Compiling a network's plan takes seconds; each process (a CLI call, a pipeline stage, a
served model, a notebook kernel) would pay it again. JAX keeps compiled programs on disk
when ``jax_compilation_cache_dir`` is set; its writes are atomic (a temp file, then a
rename), so concurrent processes share one folder safely. Turned on when the engine is
imported, before anything compiles: ``BNLAB_JAX_CACHE`` names another folder (``""`` turns
it off), and a cache folder the user chose for JAX wins.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> str:
    """``$BNLAB_JAX_CACHE``, else ``$XDG_CACHE_HOME/bnlab/jax`` (``~/.cache/bnlab/jax``)."""
    chosen = os.environ.get("BNLAB_JAX_CACHE")
    if chosen is not None:
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "bnlab" / "jax")


def enable_persistent_cache(min_compile_s: float = 0.5) -> str | None:
    """Point JAX's compilation cache at :func:`default_cache_dir` unless one is chosen.

    Returns
    -------
    str or None
        The cache folder in use, or ``None`` when caching is off.
    """
    import jax

    current = jax.config.jax_compilation_cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if current:
        return str(current)
    folder = default_cache_dir()
    if not folder:
        return None
    jax.config.update("jax_compilation_cache_dir", folder)  # type: ignore[no-untyped-call]
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)  # type: ignore[no-untyped-call]
    return folder
