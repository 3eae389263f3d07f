"""The devices an engine spreads its evidence-row chunks over.

Rows are independent, so a batch splits across devices with no communication: each device
runs the same compiled plan on its share of the rows (``jax.shard_map`` over a 1-D mesh).
On a GPU machine the devices are the GPUs. On CPU, JAX shows one device by default, and one
XLA CPU execution keeps about one core busy on these many small contractions, so the
engine asks JAX for one CPU device per core when it is imported before JAX has started
(``BNLAB_CPU_DEVICES=1`` turns this off; an explicit ``JAX_NUM_CPU_DEVICES`` or
``--xla_force_host_platform_device_count`` wins).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import jax

from bnlab.errors import BNError

#: Upper bound on the CPU devices asked for (each is a row chunk in flight).
MAX_CPU_DEVICES = 16


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def spread_cpu_devices() -> int:
    """Ask JAX for one CPU device per core, if JAX has not started and nobody chose.

    Returns
    -------
    int
        The CPU device count asked for, or 0 when the setting was left alone (already
        chosen by the user, turned off, or JAX's backends already running).
    """
    chosen = os.environ.get("BNLAB_CPU_DEVICES", "").strip()
    if chosen and not chosen.isdigit():
        raise BNError(
            f"BNLAB_CPU_DEVICES must be a whole number of CPU devices, got {chosen!r}; "
            "set it to 1 to keep JAX's single CPU device."
        )
    if int(jax.config.jax_num_cpu_devices) > 0:
        return 0
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return 0
    wanted = int(chosen) if chosen else min(available_cores(), MAX_CPU_DEVICES)
    if wanted <= 1:
        return 0
    try:
        jax.config.update("jax_num_cpu_devices", wanted)  # type: ignore[no-untyped-call]
    except RuntimeError:  # JAX already ran something in this process: keep its devices
        return 0
    return wanted


@cache
def start_jax() -> int:
    """Set JAX up for the engine once per process, before it first runs anything.

    One CPU device per core (:func:`spread_cpu_devices`) and the persistent compilation
    cache (:func:`bnlab.infer.compile_cache.enable_persistent_cache`). The engine calls
    this only when it runs a JAX kernel: a process that answers on the host never
    imports JAX.

    Returns
    -------
    int
        What :func:`spread_cpu_devices` returned.
    """
    from bnlab.infer.compile_cache import enable_persistent_cache

    spread = spread_cpu_devices()
    enable_persistent_cache()
    return spread


def row_devices() -> list[Any]:
    """The local devices of JAX's default backend, which share the evidence rows."""
    start_jax()
    return list(jax.local_devices())
