"""Cost model and budgets: how an exact plan will run, what it costs, and whether it fits.

A plan runs in one of two modes:

* ``"program"``: the whole plan is one XLA program (:func:`bnlab.infer.run.jitted`). Fastest
  per row, but its compile time grows faster than the step count (measured on the 2-core
  box: 2.6 s for alarm's 37 steps, 13 s pathfinder 109, 21-25 s andes 223, 60-70 s pigs and
  diabetes ~430, minutes for munin's 1,041).
* ``"segmented"``: the plan runs step by step from Python, one cached opt_einsum
  expression per distinct step signature on the host (:mod:`bnlab.infer.eager`): no
  compile, milliseconds of set-up per distinct step, slower per flop than XLA.

:func:`estimate` predicts both from the plan alone and :func:`choose_mode` keeps the
program unless its compile is expected to take more than ``MAX_PROGRAM_COMPILE_S``. The
constants are fits to the measurements above; they are estimates (the machine's load
moves them by 2-5x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bnlab.errors import BNError
from bnlab.infer.plan import Plan

#: Fit of one-program compile seconds to the step count (see the module docstring).
PROGRAM_COMPILE_S = 0.035
PROGRAM_COMPILE_POWER = 1.25
#: Seconds to set up one distinct step (an opt_einsum expression on the host path of
#: :mod:`bnlab.infer.eager`; a jitted JAX step kernel costs ~0.04 s), and to run one call.
KERNEL_COMPILE_S = 0.003
KERNEL_CALL_S = 40e-6
#: Multiply-adds per second the kernels reach on one core (ANDES measured ~1 GFlop/s).
FLOPS_PER_S = 1.0e9
#: Longest expected one-program compile ``choose_mode`` accepts (ANDES: ~30 s estimated).
MAX_PROGRAM_COMPILE_S = 40.0
#: Host-side contractions (NumPy/BLAS, no fusion) against the XLA program: ~10x slower per
#: flop on pigs (measured under load).
SEGMENTED_SLOWDOWN = 10.0
#: Rows per chunk the segmented mode assumes in its dispatch estimate.
SEGMENTED_CHUNK_ROWS = 64
#: Default budgets of ``Engine(method="auto")``: multiply-adds per evidence row for all
#: marginals, and bytes of the largest intermediate per evidence row.
DEFAULT_MAX_FLOPS = 2.0e9
DEFAULT_MAX_MEMORY = 1 << 30


class BudgetError(BNError):
    """Exact inference would exceed the flop or memory budget the caller set."""


@dataclass(frozen=True)
class Estimate:
    """Predicted cost of running a plan (seconds are estimates on one CPU core)."""

    flops_per_row: float
    marginals_flops_per_row: float
    largest_intermediate: int
    largest_bytes: int
    steps: int
    kernels: int
    program_compile_s: float
    segmented_compile_s: float
    run_s_per_row: float
    program_run_s_per_row: float
    segmented_run_s_per_row: float


def estimate(plan: Plan, itemsize: int = 8) -> Estimate:
    """Flops, memory and compile/run time estimates of a plan, from the plan alone."""
    from bnlab.infer.layout import signatures

    steps = len(plan.steps)
    kernels = len(signatures(plan))
    run = 3.0 * plan.flops / FLOPS_PER_S
    dispatch = kernels and (steps * 2.5 * KERNEL_CALL_S / SEGMENTED_CHUNK_ROWS)
    return Estimate(
        flops_per_row=plan.flops,
        marginals_flops_per_row=3.0 * plan.flops,
        largest_intermediate=plan.largest,
        largest_bytes=plan.largest * itemsize,
        steps=steps,
        kernels=kernels,
        program_compile_s=PROGRAM_COMPILE_S * steps**PROGRAM_COMPILE_POWER,
        segmented_compile_s=KERNEL_COMPILE_S * kernels,
        run_s_per_row=run,
        program_run_s_per_row=run,
        segmented_run_s_per_row=run * SEGMENTED_SLOWDOWN + dispatch,
    )


def sliced_estimate(one_slice: Estimate, n_slices: int) -> Estimate:
    """The estimate of running ``n_slices`` slices of one sliced plan on the host.

    Flops and run time are the slice's times the slice count, memory is one slice's; step
    kernels are set up once (every slice runs the same steps).
    """
    run = one_slice.run_s_per_row * n_slices
    return Estimate(
        flops_per_row=one_slice.flops_per_row * n_slices,
        marginals_flops_per_row=one_slice.marginals_flops_per_row * n_slices,
        largest_intermediate=one_slice.largest_intermediate,
        largest_bytes=one_slice.largest_bytes,
        steps=one_slice.steps,
        kernels=one_slice.kernels,
        program_compile_s=one_slice.program_compile_s,
        segmented_compile_s=one_slice.segmented_compile_s,
        run_s_per_row=run,
        program_run_s_per_row=run,
        segmented_run_s_per_row=one_slice.segmented_run_s_per_row * n_slices,
    )


def host_call_s(est: Estimate, rows: int, draws: int) -> float:
    """Expected seconds of one call run step by step on the host (:mod:`bnlab.infer.eager`).

    Python dispatch per step (forward and reverse pass) plus the flops at the host's
    slower rate; no compile. The engine compares the running sum of these with
    ``est.program_compile_s`` to decide when compiling the one-program kernel pays.
    """
    dispatch = est.steps * 2.5 * KERNEL_CALL_S
    return dispatch + rows * max(draws, 1) * est.run_s_per_row * SEGMENTED_SLOWDOWN


def choose_mode(est: Estimate) -> str:
    """``"program"`` or ``"segmented"``.

    One program is the fastest per row, so it is kept whenever its compile is expected to
    take at most ``MAX_PROGRAM_COMPILE_S`` (every network up to ANDES's 223 variables);
    beyond that the segmented mode, whose set-up is expected to be
    ``est.segmented_compile_s``, answers in seconds instead of minutes.
    """
    return "program" if est.program_compile_s <= MAX_PROGRAM_COMPILE_S else "segmented"


def check_budget(est: Estimate, max_flops: float | None, max_memory: float | None) -> str | None:
    """A sentence saying which budget the plan exceeds, or ``None`` when it fits."""
    over = []
    if max_flops is not None and est.marginals_flops_per_row > max_flops:
        over.append(
            f"{est.marginals_flops_per_row:.3g} multiply-adds per evidence row for all "
            f"marginals (max_flops={max_flops:.3g})"
        )
    if max_memory is not None and est.largest_bytes > max_memory:
        over.append(
            f"a largest intermediate of {est.largest_intermediate:,} entries = "
            f"{est.largest_bytes / 2**20:.1f} MiB per row (max_memory={max_memory / 2**20:.1f} "
            "MiB)"
        )
    return " and ".join(over) if over else None


def budget_error(network: str, why: str, est: Estimate) -> BudgetError:
    """The error ``Engine(method="exact")`` raises when the plan does not fit the budget."""
    return BudgetError(
        f"exact inference on {network} needs {why}; estimated run time "
        f"{est.run_s_per_row * 1e3:.3g} ms per row. Options: raise max_flops/max_memory, "
        "use method='importance' (likelihood weighting with an effective sample size and "
        "a Monte Carlo error per marginal), or method='auto' to fall back to it by itself."
    )


def as_dict(est: Estimate, mode: str, method: str) -> dict[str, Any]:
    """The ``Engine.cost`` dictionary."""
    compile_s = est.program_compile_s if mode == "program" else est.segmented_compile_s
    run = est.program_run_s_per_row if mode == "program" else est.segmented_run_s_per_row
    return {
        "method": method,
        "mode": mode,
        "flops_per_row": est.flops_per_row,
        "marginals_flops_per_row": est.marginals_flops_per_row,
        "largest_intermediate": est.largest_intermediate,
        "largest_bytes": est.largest_bytes,
        "steps": est.steps,
        "kernels": est.kernels,
        "expected_compile_s": compile_s,
        "expected_run_s_per_row": run,
    }
