"""Which method and execution mode an :class:`~bnlab.infer.Engine` uses, and its kernels.

``method``:

* ``"exact"``: the contraction plan; raises :class:`~bnlab.infer.budget.BudgetError` at
  construction (right after the plan search, before anything compiles) when the plan's
  all-marginals flops per row or its largest intermediate exceed ``max_flops`` /
  ``max_memory``.
* ``"importance"``: likelihood weighting (:mod:`bnlab.infer.importance`) with ``samples``
  particles per row (and per CPT draw).
* ``"lbp"``: loopy belief propagation (:mod:`bnlab.infer.lbp`), damped, with a
  convergence report per row; exact on polytrees, an approximation without an error
  bound elsewhere. Never chosen by ``"auto"``.
* ``"auto"`` (default): exact when the plan fits the budget, else importance sampling, with
  a log line (logger ``bnlab.infer``) that says which and why.

For exact plans the execution ``mode`` is ``"program"`` (one XLA program) or
``"segmented"`` (cached per-step kernels), chosen by :func:`bnlab.infer.budget.choose_mode`
unless given, or ``"sliced"`` (:mod:`bnlab.infer.slicing`) when only the largest
intermediate exceeds ``max_memory`` and slicing a few variables brings it within the
budget at a flop count still within ``max_flops``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from bnlab.errors import BNError
from bnlab.infer import budget
from bnlab.infer.plan import Plan
from bnlab.infer.slicing import Slicing, choose_slicing
from bnlab.network import Structure

log = logging.getLogger("bnlab.infer")

METHODS = ("auto", "exact", "importance", "lbp")
MODES = ("auto", "program", "segmented")
#: Modes the engine may report: the above, and ``"sliced"`` (chosen by the budget only).
SLICED = "sliced"
#: Seconds of expected work above which a call logs what it is doing and how long it takes.
PROGRESS_S = 5.0


def resolve(
    plan: Plan,
    name: str,
    method: str,
    mode: str,
    max_flops: float | None,
    max_memory: float | None,
    itemsize: int,
    structure: Structure | None = None,
) -> tuple[str, str, budget.Estimate, Slicing | None]:
    """``(method, mode, estimate, slicing)`` for a plan under the caller's choices and budget.

    ``slicing`` is set in mode ``"sliced"`` only: when the plan exceeds ``max_memory`` alone
    and ``structure`` is given, the variables sliced to fit it (see
    :mod:`bnlab.infer.slicing`); the estimate is then the sliced execution's.
    """
    if method not in METHODS:
        raise BNError(f"method must be one of {METHODS}, got {method!r}.")
    if mode not in MODES:
        raise BNError(f"execution must be one of {MODES}, got {mode!r}.")
    est = budget.estimate(plan, itemsize)
    flops = budget.DEFAULT_MAX_FLOPS if max_flops is None else float(max_flops)
    memory = budget.DEFAULT_MAX_MEMORY if max_memory is None else float(max_memory)
    chosen_mode = budget.choose_mode(est) if mode == "auto" else mode
    if method in ("importance", "lbp"):
        return method, chosen_mode, est, None
    over = budget.check_budget(est, flops, memory)
    if over is None:
        if method == "auto":
            log.debug("%s: exact inference fits the budget (%s mode)", name, chosen_mode)
        return "exact", chosen_mode, est, None
    slicing = None
    if structure is not None and budget.check_budget(est, flops, None) is None:
        slicing = choose_slicing(plan, structure, memory / itemsize)
    if slicing is not None:
        sliced_est = budget.sliced_estimate(
            budget.estimate(slicing.plan, itemsize), slicing.n_slices
        )
        if budget.check_budget(sliced_est, flops, memory) is None:
            log.info(
                "%s: the largest intermediate (%.3g MiB per row) exceeds max_memory; exact "
                "inference slices %d variable(s) into %d slices of %.3g MiB per row, "
                "%.3g multiply-adds per row for all marginals.",
                name, est.largest_bytes / 2**20, len(slicing.variables), slicing.n_slices,
                sliced_est.largest_bytes / 2**20, sliced_est.marginals_flops_per_row,
            )  # fmt: skip
            return "exact", SLICED, sliced_est, slicing
        over = budget.check_budget(est, flops, memory)
        assert over is not None
        over += (
            f"; slicing {len(slicing.variables)} variable(s) would fit the memory but needs "
            f"{sliced_est.marginals_flops_per_row:.3g} multiply-adds per row"
        )
    if method == "exact":
        raise budget.budget_error(name, over, est)
    log.warning(
        "%s: exact inference needs %s; answering by importance sampling instead "
        "(method='auto'). Pass method='exact' with a larger budget for exact answers.",
        name,
        over,
    )
    return "importance", chosen_mode, est, None


class ImportanceRunner:
    """``f(flat_cpts, flat_liks)`` in the layout of the exact kernels, plus diagnostics.

    Returns ``(log_z, flat marginals)`` for ``"marginals"`` and ``log_z`` for
    ``"log_evidence"``; the last call's ESS per row and Monte Carlo error per marginal
    entry are kept in ``last`` (concatenated by the engine over chunks).
    """

    def __init__(self, plan: Plan, what: str, draws: bool, samples: int, seed: int) -> None:
        import jax

        from bnlab.infer.importance import importance_kernel

        if what not in ("marginals", "log_evidence"):
            raise BNError(
                f"{what} needs exact inference: method='importance' answers marginals, "
                "queries and log_prob (an estimate)."
            )
        self.what = what
        self.kernel = importance_kernel(plan, samples, draws)
        self.key = jax.random.PRNGKey(seed)
        self.calls = 0

    def __call__(self, flat_cpts: Any, flat_liks: Any) -> Any:
        """Estimates for one chunk (a fresh key per call)."""
        import jax

        key = jax.random.fold_in(self.key, self.calls)
        self.calls += 1
        log_z, p, err, ess = self.kernel(flat_cpts, flat_liks, key)
        if self.what == "log_evidence":
            return log_z
        return log_z, p, err, ess


class Progress:
    """Log lines with an estimate while a long batch runs (logger ``bnlab.infer``)."""

    def __init__(self, label: str, chunks: int, expected_s: float) -> None:
        self.label = label
        self.chunks = chunks
        self.start = time.perf_counter()
        self.last = self.start
        self.on = expected_s >= PROGRESS_S
        if self.on:
            log.info("%s: %d chunk(s), expected about %.0f s", label, chunks, expected_s)

    def step(self, done: int) -> None:
        """Log progress when the last line is ``PROGRESS_S`` old (``done`` chunks)."""
        now = time.perf_counter()
        if self.on and now - self.last >= PROGRESS_S and done < self.chunks:
            spent = now - self.start
            log.info(
                "%s: %d/%d chunks in %.0f s, about %.0f s left",
                self.label,
                done,
                self.chunks,
                spent,
                spent / done * (self.chunks - done),
            )
            self.last = now


def host(x: Any) -> np.ndarray:
    """A device array as NumPy."""
    return np.asarray(x)
