"""``Engine``: a compiled plan plus CPTs (a point network or posterior draws), with labels.

The engine only holds a :class:`~bnlab.infer.plan.Plan` and flat CPT arrays and calls the
jitted kernels of :mod:`bnlab.infer.run`. Evidence rows are processed in chunks whose
size is a power of two (padded with empty rows), so a handful of compiled shapes serve any
batch size. A chunk with rows enough for several devices is split across them (every GPU,
or one CPU device per core: :mod:`bnlab.infer.devices`); rows are independent, so the
devices never communicate.

Interventions ``do={variable: state}`` apply to every row of a call: the variable's CPT is
replaced by a point mass on the state for every parent configuration (graph surgery by
masking: its parents no longer influence it), so the same plan and compiled code serve
observational and interventional queries.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from bnlab.errors import BNError, EvidenceError, ImpossibleEvidenceError
from bnlab.infer.budget import as_dict, host_call_s
from bnlab.infer.eager import segmented
from bnlab.infer.evidence import Evidence, encode_evidence, likelihoods, soft_evidence
from bnlab.infer.intervals import (
    DeltaParams,
    delta_params,
    delta_query,
    mc_interval,
    sampled_interval,
)
from bnlab.infer.layout import cpt_offsets, flatten_cpts
from bnlab.infer.lbp import LBPOptions, LBPRunner
from bnlab.infer.methods import ImportanceRunner, Progress, log, resolve
from bnlab.infer.plan import Plan, shared_plan
from bnlab.infer.slicing import sliced
from bnlab.network import BayesNet, Structure

if TYPE_CHECKING:
    import pandas as pd

    from bnlab.posterior import Posterior

#: Bytes of intermediate tensors one chunk may hold (reverse mode keeps them all). Sized so
#: that a chunk's tensors stay within a last-level cache: on ANDES, 16 rows in float32 ran
#: 1.3-1.5x faster per row than 32.
CHUNK_BYTES = 1 << 26
#: Bytes per chunk of segmented and sampling runs (their cost is dispatch per chunk, so
#: larger chunks pay; the memory is one chunk's tensors or particles).
SEGMENTED_CHUNK_BYTES = 1 << 28
#: Largest number of evidence rows per compiled call (per device).
MAX_CHUNK = 4096
#: Fewest rows a device is given when a batch is split across devices.
MIN_ROWS_PER_DEVICE = 8


class Marginals(dict[str, NDArray[np.float64]]):
    """Marginals per variable, plus ``log_prob`` and ``impossible`` flags per row."""

    log_prob: NDArray[np.float64]
    impossible: NDArray[np.bool_]
    #: Approximate methods only: Monte Carlo standard error per entry, and ESS per row.
    mc_error: dict[str, NDArray[np.float64]] | None = None
    ess: NDArray[np.float64] | None = None
    #: ``method="lbp"`` only: whether belief propagation converged (shape of ``log_prob``).
    converged: NDArray[np.bool_] | None = None


def _x64_enabled() -> bool:
    """Whether JAX runs in 64-bit mode, read without importing JAX when it is not loaded."""
    jax = sys.modules.get("jax")
    if jax is not None:
        return bool(jax.config.jax_enable_x64)
    flag = os.environ.get("JAX_ENABLE_X64", "").strip().lower()
    return flag in ("1", "true", "t", "yes", "y", "on")


def _is_posterior(model: Any) -> bool:
    # a Posterior exists only once bnlab.posterior is loaded (it pulls in pandas/xarray)
    module = sys.modules.get("bnlab.posterior")
    return module is not None and isinstance(model, module.Posterior)


def _pow2_at_least(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


# Posterior queries run on the ancestral set of the target and the evidence when it holds at
# most this share of the variables (smaller plans; each relevant set compiles once).
RELEVANT_SHARE = 0.8
RELEVANT_CACHE = 32


class Engine:
    """Exact inference on a network or over posterior CPT draws, batched over evidence rows.

    Parameters
    ----------
    model
        A :class:`bnlab.BayesNet` (point answers) or a :class:`bnlab.Posterior` (answers
        per CPT draw, with credible intervals).
    draws
        Number of posterior draws (default 1000); only with a posterior.
    seed
        Seed of the posterior draws.
    dtype
        ``jnp.float64`` or ``jnp.float32``; default float64 when ``jax_enable_x64`` is on,
        else float32 (exact to ~1e-6 thanks to per-step rescaling).
    order
        Elimination-order search passed to :func:`bnlab.infer.compile_plan`.
    jit
        Compile the kernels with ``jax.jit`` (default). ``False`` runs them op by op: no
        compile time, slower per call; useful for small networks used once.
    method
        ``"auto"`` (default: exact when the plan fits ``max_flops``/``max_memory``, else
        importance sampling, with a log line saying so), ``"exact"`` (raises
        :class:`~bnlab.infer.budget.BudgetError` at once when the plan does not fit),
        ``"importance"`` (likelihood weighting) or ``"lbp"`` (loopy belief propagation;
        see :mod:`bnlab.infer.methods`).
    max_flops, max_memory
        Budget of exact inference: multiply-adds per evidence row for all marginals, and
        bytes of the largest intermediate per row (defaults in :mod:`bnlab.infer.budget`).
        A plan over ``max_memory`` alone is *sliced* (:mod:`bnlab.infer.slicing`: a few
        variables summed outside the plan, one state at a time) when that fits both
        budgets; ``cost`` then lists the sliced variables and the slice count, and the
        slices run on the host unless ``execution="program"`` compiles the sliced plan.
    execution
        ``"auto"``, ``"program"`` (the plan as one XLA program) or ``"segmented"`` (cached
        per-step kernels; compile time bounded by the distinct step shapes). ``"auto"``
        picks by the cost model of :mod:`bnlab.infer.budget`.
    samples
        Particles per evidence row (and per CPT draw) of ``method="importance"``.
    order_search_s
        Seconds of extra elimination-order search (see :func:`bnlab.infer.compile_plan`):
        worth it for a large network answered many times; 0 (default) keeps the quick,
        reproducible search.
    max_iter, damping, tol
        ``method="lbp"``: most iterations, the weight of the old message in each update
        (0 to below 1), and the largest message change of a converged row. Rows that do
        not converge are logged and flagged in ``Marginals.converged``.

    Examples
    --------
    >>> import bnlab
    >>> eng = Engine(bnlab.load_example("asia"))
    >>> m = eng.marginals([{"smoke": "yes"}])
    >>> m["lung"].shape
    (1, 2)
    """

    def __init__(
        self,
        model: BayesNet | Any,
        draws: int | None = None,
        seed: int = 0,
        dtype: Any = None,
        order: str = "auto",
        jit: bool = True,
        *,
        method: str = "auto",
        max_flops: float | None = None,
        max_memory: float | None = None,
        execution: str = "auto",
        samples: int = 1000,
        max_iter: int = 100,
        damping: float = 0.5,
        tol: float = 1e-8,
        order_search_s: float = 0.0,
    ) -> None:
        if not (0.0 <= float(damping) < 1.0) or int(max_iter) < 1 or not float(tol) > 0:
            raise BNError(
                f"method='lbp' needs 0 <= damping < 1, max_iter >= 1 and tol > 0; got "
                f"damping={damping!r}, max_iter={max_iter!r}, tol={tol!r}."
            )
        self.lbp_options = LBPOptions(int(max_iter), float(damping), float(tol))
        if dtype is None:
            dtype = np.float64 if _x64_enabled() else np.float32
        self.dtype = np.dtype(dtype)
        self.jit = bool(jit)
        self.posterior: Posterior | None = None
        if isinstance(model, BayesNet):
            if draws is not None:
                raise BNError("draws apply to a Posterior; a BayesNet has one set of CPTs.")
            self.network = model
            structure = model.structure
        elif _is_posterior(model):
            self.posterior = model
            structure = model.structure
            self.network = model.mean()
            n_draws = 1000 if draws is None else int(draws)
            if n_draws < 1:
                raise BNError(f"draws must be a positive integer, got {draws!r}.")
        else:
            raise BNError(
                f"Engine takes a BayesNet or a Posterior, got {type(model).__name__}; "
                "use Engine.from_draws(structure, draws) for a dict of CPT draws."
            )
        self.structure: Structure = structure
        self.max_memory = max_memory
        self.execution = execution
        if not float(order_search_s) >= 0:
            raise BNError(f"order_search_s must be >= 0 seconds, got {order_search_s!r}.")
        self.plan: Plan = shared_plan(structure, order, float(order_search_s))
        self.method, self.mode, self._estimate, self.slicing = resolve(
            self.plan, f"a {len(structure.variables)}-variable network", method, execution,
            max_flops, max_memory, self.dtype.itemsize, structure,
        )  # fmt: skip
        # execution="auto" with a one-program plan: calls run on the host (no compile) until
        # the host time they are expected to have cost reaches the program's expected
        # compile time; from then on the program is compiled and used (deterministic: the
        # choice depends on the call sizes only, never on measured times).
        self._tiered = (
            execution == "auto" and self.method == "exact" and self.mode == "program" and self.jit
        )
        self._host_s: dict[tuple[str, bool], float] = {}
        self._compiled: set[tuple[str, bool, int, int]] = set()
        self.samples = int(samples)
        self.seed = int(seed)
        #: Diagnostics of the last approximate call: ``ess`` per row, ``mc_error`` like the
        #: marginals (importance sampling); empty for exact answers.
        self.diagnostics: dict[str, NDArray[Any]] = {}
        self._mean_flat = flatten_cpts(self.plan, self.network.cpts).astype(self.dtype)
        self._draws_flat: NDArray[Any] | None = None
        if self.posterior is not None:
            d = self.posterior.draws(n_draws, seed=seed)
            flat = flatten_cpts(self.plan, d, draw_axis=True).astype(self.dtype)
            # A posterior entry is never 0, but a draw of one whose pseudo-count is far below
            # 1 can underflow (in float32 often), and XLA flushes subnormal products to 0:
            # evidence the model allows would be impossible under that draw. Entries are
            # kept >= sqrt(tiny), so a product of two stays normal; a conditional query
            # does not depend on the size of an observed entry, only on it being non-zero.
            self._draws_flat = np.maximum(flat, np.sqrt(np.finfo(self.dtype).tiny))
        self._device_cpts: dict[bool, Any] = {}
        self._relevant: dict[frozenset[str], Engine] = {}
        self._delta_cache: DeltaParams | None = None
        self._draws_last: dict[str, NDArray[np.float64]] | None = None
        #: the data schema stored with the posterior: raw numbers in evidence are binned
        self.schema = None
        if self.posterior is not None:
            from bnlab.schema import schema_of  # pandas: loaded with the posterior anyway

            self.schema = schema_of(self.posterior)
        self._seen: set[tuple[str, int]] = set()

    @classmethod
    def from_draws(
        cls,
        structure: Structure | BayesNet,
        draws: Mapping[str, Any],
        dtype: Any = None,
        jit: bool = True,
        **options: Any,
    ) -> Engine:
        """An engine over given CPT draws ``{variable: (draws, *parent cards, card)}``."""
        s = structure.structure if isinstance(structure, BayesNet) else structure
        mean = {v: np.asarray(draws[v], dtype=np.float64).mean(axis=0) for v in s.variables}
        eng = cls(BayesNet(structure=s, cpts=mean), dtype=dtype, jit=jit, **options)
        eng._draws_flat = flatten_cpts(eng.plan, draws, draw_axis=True).astype(eng.dtype)
        return eng

    # -- what it is ------------------------------------------------------------------------
    @property
    def n_draws(self) -> int | None:
        """Number of CPT draws (``None`` for a point network)."""
        return None if self._draws_flat is None else int(self._draws_flat.shape[0])

    def cpt_arrays(self) -> Mapping[str, NDArray[Any]]:
        """The CPTs the engine answers with, per variable.

        Shaped ``(draws, *parent cards, card)`` over posterior draws, else the network's
        ``(*parent cards, card)``.
        """
        if self._draws_flat is None:
            return self.network.cpts
        # views into the flat draws the kernels use (no second copy of the draws is kept)
        off, flat = cpt_offsets(self.plan), self._draws_flat
        return {
            v: flat[:, off[i] : off[i + 1]].reshape(flat.shape[0], *shape)
            for i, (v, shape) in enumerate(
                zip(self.plan.variables, self.plan.cpt_shapes, strict=True)
            )
        }

    @property
    def cost(self) -> dict[str, float | int | str]:
        """The plan's cost and what running it takes.

        Flops per evidence row (forward, and all marginals), largest intermediate (entries
        and bytes per row), step count and order, the method and execution mode, the
        distinct kernels, and the expected compile seconds and run seconds per row (cost
        model estimates, see :mod:`bnlab.infer.budget`). A sliced engine (``mode ==
        "sliced"``) adds ``sliced_variables`` and ``slices``; its flops are those of all
        slices and its largest intermediate that of one slice.
        """
        out = {**self.plan.cost(), **as_dict(self._estimate, self.mode, self.method)}
        if self.slicing is not None:
            out["sliced_variables"] = [self.plan.variables[i] for i in self.slicing.variables]
            out["slices"] = self.slicing.n_slices
        return out

    def __repr__(self) -> str:
        what = "point" if self.n_draws is None else f"{self.n_draws} draws"
        return f"Engine({self.plan.n} variables, {what}, {self.dtype.name}, {self.plan!r})"

    # -- evidence ---------------------------------------------------------------------------
    def _flat_cpts(self, do: Mapping[str, Any] | None, draws: bool) -> Any:
        """The flat CPT vector(s) on the JAX device (cached without interventions)."""
        from bnlab.infer.devices import start_jax

        start_jax()
        import jax

        if not do and draws in self._device_cpts:
            return self._device_cpts[draws]
        flat = jax.device_put(self._host_cpts(do, draws))
        if not do:
            self._device_cpts[draws] = flat
        return flat

    def _host_cpts(self, do: Mapping[str, Any] | None, draws: bool) -> NDArray[Any]:
        """The flat CPT vector(s) as NumPy, with the interventions ``do`` applied."""
        base = self._draws_flat if draws else self._mean_flat
        assert base is not None
        if not do:
            return base
        flat = np.array(base, copy=True)
        off = cpt_offsets(self.plan)
        for name, state in do.items():
            if name not in self.structure.states:
                raise EvidenceError(
                    f"do column {name!r}: {name!r} is not a variable of the network."
                )
            states = self.structure.states[name]
            if str(state) not in states:
                raise EvidenceError(
                    f"do column {name!r}: {state!r} is not a state of {name!r}; its states "
                    f"are {list(states)}."
                )
            j = self.structure.index[name]
            card = self.plan.cards[j]
            block = np.zeros((off[j + 1] - off[j]) // card * card, dtype=flat.dtype)
            block.reshape(-1, card)[:, states.index(str(state))] = 1.0
            flat[..., off[j] : off[j + 1]] = block
        return flat

    def _liks(
        self, evidence: Evidence, soft: Mapping[str, Any] | None
    ) -> tuple[NDArray[np.int32], NDArray[Any]]:
        if self.schema is not None:
            from bnlab.schema import encode_evidence_frame

            evidence = encode_evidence_frame(self.schema, evidence)
        codes = encode_evidence(self.structure, evidence)
        soft_l = soft_evidence(self.structure, soft, codes.shape[0])
        return codes, likelihoods(self.structure, codes, soft_l, dtype=self.dtype)

    def _chunk(self, rows: int, draws: int, what: str) -> int:
        # a sliced engine holds one slice's intermediates at a time
        plan = self.plan if self.slicing is None else self.slicing.plan
        per_row = sum(st.size for st in plan.steps)
        if what == "mpe":
            per_row = sum(
                st.size * int(np.prod([plan.cards[i] for i in st.summed])) for st in plan.steps
            )
        per_row *= 3 * self.dtype.itemsize * max(draws, 1)
        limit = CHUNK_BYTES
        if self.method == "lbp":  # messages both ways on every family slot, and beliefs
            slots = sum(
                self.plan.cards[v] for f in self.plan.tensor_indices[: self.plan.n] for v in f
            )
            biggest = max(int(np.prod(shape)) for shape in self.plan.cpt_shapes)
            per_row = (3 * slots + biggest) * 8 * max(draws, 1)
            limit = SEGMENTED_CHUNK_BYTES
        elif self.method == "importance":  # particle codes and weights of one draw at a time
            per_row = self.samples * (
                4 * self.plan.n + 3 * self.dtype.itemsize * max(self.plan.cards)
            )
            limit = SEGMENTED_CHUNK_BYTES
        elif (self.mode != "program" and what != "mpe") or what == "host":
            limit = SEGMENTED_CHUNK_BYTES
        cap = max(1, min(MAX_CHUNK, limit // max(per_row, 1)))
        cap = 1 << (cap.bit_length() - 1)
        return int(min(_pow2_at_least(rows), cap))

    def _run(self, what: str, flat_liks: NDArray[Any], cpts: Any, draws: bool) -> list[Any]:
        """Run a kernel over row chunks; results have rows on axis 0 (or 1 with draws).

        With several devices (GPUs, or one CPU device per core, see
        :mod:`bnlab.infer.devices`) and rows enough for each, a chunk is split across them.
        ``cpts`` is the flat CPT vector as NumPy; it is put on the device for JAX kernels.
        """
        rows = flat_liks.shape[0]
        segmented_mode = self.method == "exact" and self.mode == "segmented" and self.jit
        if self.method == "lbp":
            fn: Any
            fn, pad = LBPRunner(self.plan, what, draws, self.lbp_options), False
            size = self._chunk(rows, self.n_draws or 1 if draws else 1, what)
        elif self.slicing is not None:
            # each slice on the host, or (execution="program") as one compiled program
            compiled = self.execution == "program" and self.jit and what != "mpe"
            if compiled:
                from bnlab.infer.devices import start_jax

                start_jax()
            mode = "program" if compiled else "segmented"
            size = self._chunk(rows, self.n_draws or 1 if draws else 1, what)
            # few rows: several slices share a chunk's memory (and its step dispatch)
            group = self._chunk(MAX_CHUNK, self.n_draws or 1 if draws else 1, what) // size
            fn = functools.partial(
                sliced(self.plan, self.slicing, what, draws, mode), group=max(group, 1)
            )
            pad = compiled
        elif (segmented_mode and not (what == "mpe" and draws)) or self._on_host(what, rows, draws):
            fn, pad = segmented(self.plan, what), False  # no compiled shapes to reuse
            size = self._chunk(rows, self.n_draws or 1 if draws else 1, "host")
        else:
            from bnlab.infer.devices import row_devices, start_jax

            start_jax()
            n_dev = len(row_devices()) if self.jit and self.method == "exact" else 1
            n_dev = 1 if segmented_mode else n_dev
            n_dev = max(1, min(n_dev, rows // MIN_ROWS_PER_DEVICE))
            per_dev = -(-rows // n_dev)
            size = self._chunk(per_dev, self.n_draws or 1 if draws else 1, what) * n_dev
            fn, pad = self._kernel(what, draws, n_dev), True
            self._compiled.add((what, draws, n_dev, size))
            cpts = self._device(cpts, draws)
        pieces: list[list[NDArray[Any]]] = []
        progress = Progress(f"{what} of {rows} rows", -(-rows // size), self._expected(rows))
        for start in range(0, rows, size):
            part = flat_liks[start : start + size]
            real = part.shape[0]
            if pad and real < size:
                part = np.concatenate([part, np.ones((size - real, part.shape[1]), part.dtype)])
            out = fn(cpts, part)
            out = out if isinstance(out, tuple) else (out,)
            ax = 1 if draws else 0
            pieces.append([np.asarray(o).take(np.arange(real), axis=ax) for o in out])
            progress.step(len(pieces))
        ax = 1 if draws else 0
        result = [np.concatenate(parts, axis=ax) for parts in zip(*pieces, strict=True)]
        if self.method == "importance" and what == "marginals":
            self.diagnostics = {"mc_error": result[2], "ess": result[3]}
        if self.method == "lbp" and what == "marginals":
            self.diagnostics = {"converged": result[2], "iterations": result[3], "delta": result[4]}
            if not result[2].all():
                log.warning(
                    "method='lbp': %d of %d row(s x draws) did not converge in %d iterations "
                    "(largest last change %.3g); raise max_iter or damping, or use "
                    "method='exact'.",
                    int((~result[2]).sum()), result[2].size, self.lbp_options.max_iter,
                    float(np.max(result[4])),
                )  # fmt: skip
        return result

    def _on_host(self, what: str, rows: int, draws: bool) -> bool:
        """Whether this call runs step by step on the host instead of the compiled program.

        Only under ``execution="auto"`` with a one-program plan: while the expected host
        time of this engine's calls (of this kind) stays within the program's expected
        compile time, and no program of this call's shape is compiled yet.
        """
        if not self._tiered or what not in ("marginals", "log_evidence", "mpe"):
            return False
        if what == "mpe" and draws:
            return False  # the host MPE runs the posterior-mean CPTs only
        key = (what, draws)
        n_draws = self.n_draws or 1 if draws else 1
        if any(c[:2] == key for c in self._compiled):
            return False
        spent = self._host_s.get(key, 0.0) + host_call_s(self._estimate, rows, n_draws)
        if spent > self._estimate.program_compile_s:
            return False
        self._host_s[key] = spent
        return True

    def _device(self, cpts: Any, draws: bool) -> Any:
        """``cpts`` on the JAX device (the cached copy when they are the engine's own)."""
        own = self._draws_flat if draws else self._mean_flat
        if cpts is own:
            return self._flat_cpts(None, draws)
        import jax

        return jax.device_put(cpts)

    def _kernel(self, what: str, draws: bool, n_dev: int) -> Any:
        """The JAX kernel of the engine's method and mode (see :mod:`bnlab.infer.methods`)."""
        from bnlab.infer.run import jitted

        if self.method == "importance":
            return ImportanceRunner(self.plan, what, draws, self.samples, self.seed)
        return jitted(self.plan, what, draws, self.jit, n_dev)

    def _expected(self, rows: int) -> float:
        est = self._estimate
        if self.method == "importance":
            return rows * (self.n_draws or 1) * self.samples * self.plan.n * 2e-8
        if self.method == "lbp":  # ~1 us per message update and row, at most max_iter
            slots = sum(len(f) for f in self.plan.tensor_indices[: self.plan.n])
            return rows * (self.n_draws or 1) * slots * self.lbp_options.max_iter * 1e-6
        compiled = self.jit and (self.mode, rows) not in self._seen
        self._seen.add((self.mode, rows))
        first = est.program_compile_s if self.mode == "program" else est.segmented_compile_s
        per_row = (
            est.program_run_s_per_row if self.mode == "program" else est.segmented_run_s_per_row
        )
        return (first if compiled else 0.0) + rows * per_row

    # -- building blocks for callers that batch requests themselves (serving, scoring) --------
    def likelihoods(
        self, evidence: Evidence, soft: Mapping[str, Any] | None = None
    ) -> NDArray[Any]:
        """Flat likelihoods ``(rows, sum(cards))`` of evidence rows, as every kernel takes them.

        Raw values are binned by the posterior's schema first, as in :meth:`marginals`.
        """
        return self._liks(evidence, soft)[1]

    def chunk_rows(self, what: str = "marginals", draws: bool | None = None) -> int:
        """Rows per device in one call of a large batch (the engine's own memory rule).

        ``draws``: with the posterior's draws (default: whenever the engine has them).
        """
        with_draws = self.n_draws is not None if draws is None else bool(draws)
        return self._chunk(1 << 40, (self.n_draws or 1) if with_draws else 1, what)

    def device_cpts(self, draws: bool | None = None) -> Any:
        """The flat CPT vector (``(draws, T)`` with draws) on the JAX device, cached."""
        return self._flat_cpts(None, self.n_draws is not None if draws is None else bool(draws))

    def delta_marginal(
        self,
        flat_liks: NDArray[Any],
        target: str,
        interval: float = 0.9,
        kind: Literal["eti", "hdi"] = "eti",
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Delta-method mean, lower and upper ``(rows, states)`` of ``target``'s marginal.

        ``flat_liks`` as :meth:`likelihoods` returns them; needs a Dirichlet posterior.
        """
        return self._delta(flat_liks, self.structure.index[target], interval, kind, None)

    # -- queries ----------------------------------------------------------------------------
    def marginals(
        self,
        evidence: Evidence = None,
        *,
        soft: Mapping[str, Any] | None = None,
        do: Mapping[str, Any] | None = None,
        variables: Sequence[str] | None = None,
        on_impossible: Literal["raise", "nan"] = "raise",
        point: bool = False,
    ) -> Marginals:
        """Posterior marginal of every (or each listed) variable for each evidence row.

        Parameters
        ----------
        evidence
            List of dicts, a DataFrame (NaN = unobserved), or codes; see
            :mod:`bnlab.infer.evidence`.
        soft
            Soft evidence ``{variable: likelihood}``, ``(card,)`` or ``(rows, card)``.
        do
            Interventions ``{variable: state}`` applied to every row.
        variables
            Variables to return (default all).
        on_impossible
            ``"raise"``: :class:`~bnlab.errors.ImpossibleEvidenceError` listing the rows of
            probability zero; ``"nan"``: those rows are NaN and flagged in ``.impossible``.
        point
            With a posterior, answer with the posterior-mean network instead of the draws.

        Returns
        -------
        Marginals
            ``{variable: (rows, states)}``, or ``(draws, rows, states)`` with a posterior;
            ``.log_prob`` (``log P(e)``) and ``.impossible`` have the leading shape.
        """
        names = list(self.structure.variables if variables is None else variables)
        for v in names:
            if v not in self.structure.states:
                raise EvidenceError(f"variables: {v!r} is not a variable of the network.")
        _, flat = self._liks(evidence, soft)
        draws = self._draws_flat is not None and not point
        z, m, *_ = self._run("marginals", flat, self._host_cpts(do, draws), draws)
        impossible = ~np.isfinite(z)
        if impossible.any() and on_impossible == "raise":
            bad = np.flatnonzero(impossible.any(axis=0) if draws else impossible)
            raise ImpossibleEvidenceError([int(r) for r in bad])
        out = Marginals()
        offsets = self.plan.lik_offsets
        for v in names:
            j = self.structure.index[v]
            out[v] = m[..., offsets[j] : offsets[j] + self.plan.cards[j]].astype(np.float64)
        out.log_prob = z.astype(np.float64)
        out.impossible = impossible
        if self.method == "lbp":
            out.converged = np.asarray(self.diagnostics["converged"], dtype=bool)
        if self.method == "importance":
            err = self.diagnostics["mc_error"]
            out.ess = np.asarray(self.diagnostics["ess"], dtype=np.float64)
            out.mc_error = {}
            for v in names:
                j = self.structure.index[v]
                out.mc_error[v] = err[..., offsets[j] : offsets[j] + self.plan.cards[j]]
        return out

    def log_prob(
        self,
        evidence: Evidence = None,
        *,
        soft: Mapping[str, Any] | None = None,
        do: Mapping[str, Any] | None = None,
        point: bool = False,
    ) -> NDArray[np.float64]:
        """``log P(evidence)`` per row: ``-inf`` for impossible rows (an exact answer).

        Shaped ``(rows,)``, or ``(draws, rows)`` with a posterior unless ``point``.
        """
        _, flat = self._liks(evidence, soft)
        draws = self._draws_flat is not None and not point
        (z,) = self._run("log_evidence", flat, self._host_cpts(do, draws), draws)
        return np.asarray(z, dtype=np.float64)

    def query(
        self,
        target: str,
        evidence: Evidence = None,
        interval: float = 0.9,
        kind: Literal["eti", "hdi"] = "eti",
        method: Literal["sample", "delta"] = "sample",
        *,
        soft: Mapping[str, Any] | None = None,
        do: Mapping[str, Any] | None = None,
        on_impossible: Literal["raise", "nan"] = "raise",
    ) -> pd.DataFrame:
        """``P(target = state | evidence row)`` with a credible interval, as a long table.

        Returns
        -------
        pandas.DataFrame
            One row per evidence row and state, columns ``row`` (position of the evidence
            row), ``state``, ``mean``, ``lower``, ``upper``. ``method="sample"`` takes the
            mean and the equal-tailed (``kind="eti"``) or highest-density (``"hdi"``)
            interval over the engine's CPT draws; ``method="delta"`` needs a Dirichlet
            posterior and uses the first-order delta method at the posterior mean (mean is
            then the query at the mean CPTs). A point network gives lower = upper = mean.
            With hard evidence over posterior draws, each row is answered from the
            target's requisite factors alone (:mod:`bnlab.infer.requisite`: barren and
            blocked variables drop out; no compilation); soft evidence runs on the
            ancestral set of the target and the evidence.
        """
        if target not in self.structure.states:
            raise EvidenceError(f"query target {target!r} is not a variable of the network.")
        if not 0.0 < interval < 1.0:
            raise EvidenceError(f"interval must lie in (0, 1), got {interval}.")
        if kind not in ("eti", "hdi") or method not in ("sample", "delta"):
            raise EvidenceError(
                f"kind must be 'eti' or 'hdi' and method 'sample' or 'delta'; got {kind!r}, "
                f"{method!r}."
            )
        codes, flat = self._liks(evidence, soft)
        j = self.structure.index[target]
        seen = np.flatnonzero(codes[:, j] >= 0)
        if seen.size or (soft and target in soft):
            row = int(seen[0]) if seen.size else 0
            raise EvidenceError(
                f"evidence row {row}, column {target!r}: the query target is observed; "
                "remove it from the evidence."
            )
        states = self.structure.states[target]
        by_rows = method == "sample" and do is None and not soft and self.method == "exact"
        cpts = self.requisite_cpts() if by_rows else None
        if cpts is not None:  # hard evidence over draws: row by row from the requisite factors
            p = self._requisite_marginals(cpts, codes, flat, target)
            mean, lower, upper = sampled_interval(p, interval, kind)
            return _long_table(states, mean, lower, upper)
        if method == "sample" and do is None and self._draws_flat is not None:
            pruned = self._relevant_engine(codes, soft, target)
            if pruned is not None:
                sub, cols = pruned
                sub_soft = (
                    {k: v for k, v in soft.items() if k in sub.structure.states} if soft else None
                )
                return sub.query(
                    target, codes[:, cols], interval, kind, method,
                    soft=sub_soft, on_impossible=on_impossible,
                )  # fmt: skip
        if method == "delta":
            mean, lower, upper = self._delta(flat, j, interval, kind, do)
        else:
            draws = self._draws_flat is not None
            z, m, *_ = self._run("marginals", flat, self._host_cpts(do, draws), draws)
            off = self.plan.lik_offsets[j]
            p = m[..., off : off + len(states)].astype(np.float64)
            bad = ~np.isfinite(z)
            if draws:
                bad = bad.any(axis=0)
            if bad.any() and on_impossible == "raise":
                raise ImpossibleEvidenceError([int(r) for r in np.flatnonzero(bad)])
            if draws:  # with sampling, each draw's estimate carries its own MC error
                mean, lower, upper = sampled_interval(p, interval, kind)
            else:
                mean = lower = upper = p
            if self.method == "importance" and not draws:
                err = self.diagnostics["mc_error"][..., off : off + len(states)]
                mean, lower, upper = mc_interval(p, err, interval)
        return _long_table(states, mean, lower, upper)

    def requisite_cpts(self) -> Mapping[str, NDArray[np.float64]] | None:
        """The CPT draws, draw axis last, for :mod:`bnlab.infer.requisite`; or ``None``.

        ``None`` for a point network, or when an entry is zero (a row could then be
        impossible through a factor the requisite part drops). The engine's draws are kept
        above zero (see ``__init__``), so a posterior always has them. Built once.
        """
        from bnlab.infer.requisite import draws_last, strictly_positive

        if self._draws_flat is None:
            return None
        if self._draws_last is None:
            cpts = draws_last(self.cpt_arrays())
            self._draws_last = cpts if strictly_positive(cpts) else {}  # {}: checked, unusable
        return self._draws_last or None

    def _requisite_marginals(
        self,
        cpts: Mapping[str, NDArray[np.float64]],
        codes: NDArray[np.int32],
        flat: NDArray[Any],
        target: str,
    ) -> NDArray[np.float64]:
        """``P(target | row)`` per draw, ``(draws, rows, card)``, for hard evidence.

        Each row from its requisite factors, no compilation; rows whose requisite part
        costs more than three passes of the whole plan go to the plan.

        Raises
        ------
        ImpossibleEvidenceError
            A row left to the plan that has probability zero under a draw.
        """
        from bnlab.infer.requisite import requisite_marginals

        off = self.plan.lik_offsets[self.structure.index[target]]
        card = self.structure.cards[target]

        def on_plan(rest: list[int]) -> NDArray[np.float64]:
            z, m, *_ = self._run("marginals", flat[rest], self._host_cpts(None, True), True)
            bad = (~np.isfinite(z)).any(axis=0)
            if bad.any():
                raise ImpossibleEvidenceError([rest[int(r)] for r in np.flatnonzero(bad)])
            return np.asarray(m[..., off : off + card], dtype=np.float64)

        return requisite_marginals(
            self.structure, cpts, codes, target, 3.0 * self.plan.flops, on_plan
        )

    def _relevant_engine(
        self, codes: NDArray[np.int32], soft: Mapping[str, Any] | None, target: str
    ) -> tuple[Engine, list[int]] | None:
        """An engine over the ancestral set of the target and the evidence, or ``None``.

        Variables that are neither observed nor ancestors of the target or of an observed
        variable sum out to one (barren nodes), so ``P(target | e)`` is the same on the
        sub-network they leave; over many CPT draws the smaller plan pays for its own
        compilation. Cached per relevant set (at most ``RELEVANT_CACHE`` of them).
        """
        s = self.structure
        seeds = {target} | {s.variables[j] for j in np.flatnonzero((codes >= 0).any(axis=0))}
        seeds |= set(soft or ())
        keep = s.ancestral_set(seeds)
        if len(keep) > RELEVANT_SHARE * len(s.variables):
            return None
        key = frozenset(keep)
        cached = self._relevant.pop(key, None)
        if cached is None:
            names = [v for v in s.variables if v in keep]
            sub = Structure(
                names, {v: s.states[v] for v in names}, {v: s.parents[v] for v in names}
            )
            draws = self.cpt_arrays()
            cached = Engine.from_draws(
                sub, {v: draws[v] for v in names}, dtype=self.dtype, jit=self.jit,
                method=self.method, samples=self.samples, max_flops=np.inf,
                # a sliced engine's sub-engines keep its memory budget (and slice as needed)
                max_memory=np.inf if self.slicing is None else self.max_memory,
                **self.lbp_options._asdict(),
            )  # fmt: skip
            if len(self._relevant) >= RELEVANT_CACHE:
                self._relevant.pop(next(iter(self._relevant)))
        self._relevant[key] = cached  # most recently used last
        return cached, [s.index[v] for v in cached.structure.variables]

    def _delta(
        self,
        flat: NDArray[Any],
        j: int,
        interval: float,
        kind: Literal["eti", "hdi"],
        do: Mapping[str, Any] | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        if self.posterior is None or self.posterior.kind != "dirichlet":
            raise BNError(
                "method='delta' needs a Dirichlet posterior (Engine(post) with a conjugate "
                "fit); use method='sample' otherwise."
            )
        if do:
            alpha: dict[str, Any] = dict(self.posterior.alpha)
            mean_cpts = dict(self.network.cpts)
            for name, state in do.items():
                if (
                    name not in self.structure.states
                    or str(state) not in self.structure.states[name]
                ):
                    self._host_cpts({name: state}, False)  # raises the typed error
                point = np.zeros(self.structure.family_shape(name))
                point[..., self.structure.states[name].index(str(state))] = 1.0
                mean_cpts[name] = point
                alpha[name] = None  # an intervened CPT is fixed: no variance
            params = self._delta_inputs(mean_cpts, alpha)
        else:
            if self._delta_cache is None:  # built once: a query is then one kernel call
                self._delta_cache = self._delta_inputs(self.network.cpts, self.posterior.alpha)
            params = self._delta_cache
        return delta_query(self.plan, params, np.asarray(flat, dtype=np.float64), j, interval, kind)

    def _delta_inputs(self, mean_cpts: Mapping[str, Any], alpha: Mapping[str, Any]) -> DeltaParams:
        variables = self.plan.variables
        return delta_params(
            self.plan,
            [np.asarray(mean_cpts[v], dtype=np.float64) for v in variables],
            [None if alpha[v] is None else np.asarray(alpha[v]) for v in variables],
        )

    def mpe(
        self,
        evidence: Evidence = None,
        *,
        soft: Mapping[str, Any] | None = None,
        do: Mapping[str, Any] | None = None,
        on_impossible: Literal["raise", "nan"] = "raise",
    ) -> pd.DataFrame:
        """Most probable full assignment per evidence row (posterior-mean CPTs).

        Returns
        -------
        pandas.DataFrame
            One Categorical column per variable (network order) and a last column
            ``log_prob`` (``log P(assignment, evidence)``); with ``on_impossible="nan"``
            impossible rows hold NaN.
        """
        _, flat = self._liks(evidence, soft)
        codes, logp = self._run("mpe", flat, self._host_cpts(do, False), False)
        bad = ~np.isfinite(logp)
        if bad.any() and on_impossible == "raise":
            raise ImpossibleEvidenceError([int(r) for r in np.flatnonzero(bad)])
        import pandas as pd

        codes = np.where(bad[:, None], -1, codes)
        data: dict[str, Any] = {}
        for k, v in enumerate(self.structure.variables):
            states = self.structure.states[v]
            data[v] = pd.Categorical.from_codes(codes[:, k], categories=list(states))
        data["log_prob"] = np.where(bad, np.nan, logp.astype(np.float64))
        return pd.DataFrame(data)


def _long_table(
    states: Sequence[str],
    mean: NDArray[np.float64],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
) -> pd.DataFrame:
    """The long ``row, state, mean, lower, upper`` table of :meth:`Engine.query`."""
    import pandas as pd

    rows = mean.shape[0]
    return pd.DataFrame(
        {
            "row": np.repeat(np.arange(rows), len(states)),
            "state": pd.Categorical(np.tile(np.array(states, dtype=object), rows), states),
            "mean": mean.reshape(-1),
            "lower": lower.reshape(-1),
            "upper": upper.reshape(-1),
        }
    )
