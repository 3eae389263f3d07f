"""The one model specification that the NumPyro and PyMC backends both build from.

A :class:`ModelSpec` is plain numpy data; each backend turns it into a log density with its
own array library, through the same formula, so the two cannot drift apart:

``log p(theta, data) = log prior(theta) + sum_v <N_v, log theta_v>
+ sum_blocks sum_j w_j logsumexp_k sum_{f in block} log theta_f.flat[idx_f[j, k]]``

- **Prior.** ``"dirichlet"``: each CPT row ``theta_v[u] ~ Dirichlet(alpha_v[u])`` with the
  conjugate backend's pseudo-counts. ``"hierarchical"``: for a variable with more than one
  parent configuration, ``m_v ~ Dirichlet(1)``, ``s_v ~ LogNormal(log r_v + s_loc, s_scale)``
  and every row ``theta_v[u] ~ Dirichlet(s_v m_v)`` (partial pooling of the rows towards a
  shared mean, as R bnlearn's ``hdir``, but with the concentration learned); a root keeps
  ``Dirichlet(1)``.
- **Complete families.** ``N_v`` counts the rows in which ``v`` and all its parents are
  observed (:func:`bnlab.counts.family_counts_array`). Only its non-zero cells are kept
  (``count_index``/``count_value``), so ``0 * log 0`` never arises.
- **Missing cells, summed out exactly.** In a row with missing variables ``M``, the families
  that touch ``M`` group into connected components (two missing variables are connected when
  they share a family). Each component ``C`` contributes
  ``log sum_{x_C} prod_{f touching C} theta_f[x_f]``, with the other family members fixed at
  their observed values. Identical (component, observed context) pairs are merged across rows
  with a count ``w_j``. Missing variables with no observed descendant in their row are barren:
  their families sum to one, so they are pruned first (before the components are formed),
  which keeps the components and their joint state spaces small. A :class:`MissingBlock`
  batches all contexts of one ``C``: ``idx_f[j, k]`` is the flat CPT index of family ``f`` for
  context ``j`` and joint state ``k`` of ``C``. No handlers.scale, no enumeration of sample
  sites: the count weights multiply exact log terms.
- **Packed form.** :func:`pack` flattens the counts and all blocks into a handful of arrays
  (:class:`PackedLikelihood`) that a backend passes to its compiled log density as data
  arguments: one gather for the counts, one gather-and-sum per family count, one segment
  logsumexp, whatever the number of blocks (the PyMC backend's form).
- **Elimination circuit.** :attr:`ModelSpec.circuit` sums the same blocks out by exact
  variable elimination instead of enumerating their joint states
  (:mod:`bnlab.backends.elimination`; the NumPyro backend's form): ALARM, 5,000 rows, 20%
  missing, gathers 216 k entries per evaluation instead of 3.6 M.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from bnlab.counts import family_counts_array
from bnlab.errors import BackendError, DataError
from bnlab.network import Structure

if TYPE_CHECKING:
    from bnlab.backends.elimination import EliminationCircuit

PriorKind = Literal["dirichlet", "hierarchical"]

#: Largest joint state space of one component of missing variables that is summed out.
MAX_COMPONENT_STATES = 1_048_576


@dataclass(frozen=True)
class MissingBlock:
    """All merged terms of one component ``missing`` of missing variables.

    Attributes
    ----------
    missing
        The variables summed out (structure order).
    families
        Children of the families that touch ``missing``.
    index
        One int64 array per family, shape ``(terms, joint states)``: flat CPT indices.
    weight
        Shape ``(terms,)``: number of data rows with this term.
    """

    missing: tuple[str, ...]
    families: tuple[str, ...]
    index: tuple[NDArray[np.int64], ...]
    weight: NDArray[np.float64]


@dataclass(frozen=True)
class CardGroup:
    """The CPT rows of all variables with ``r`` states, stacked into one ``(rows, r)`` block.

    One Dirichlet sample site per group (not per variable) keeps the compiled sampler small.

    Attributes
    ----------
    card
        Number of states ``r``.
    variables
        The variables of this card (structure order).
    offsets
        First stacked row of each variable (its ``q`` rows follow).
    alpha
        Stacked Dirichlet pseudo-counts ``(rows, r)``; ones for unpooled rows of a
        hierarchical model.
    pool
        Per stacked row, the index of its pooled variable in ``pooled``, or -1 (unpooled).
    pooled
        Variables of this group with a hierarchical mean and concentration.
    """

    card: int
    variables: tuple[str, ...]
    offsets: tuple[int, ...]
    alpha: NDArray[np.float64]
    pool: NDArray[np.int64]
    pooled: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        """Number of stacked CPT rows."""
        return int(self.alpha.shape[0])


@dataclass(frozen=True)
class ModelSpec:
    """Everything a backend needs to write the model's log density (numpy arrays only).

    Attributes
    ----------
    structure
        The fitted structure.
    prior
        ``"dirichlet"`` or ``"hierarchical"``.
    alpha
        Dirichlet pseudo-counts per variable, shape ``(q, r)`` (``"dirichlet"``).
    count_index, count_value
        Non-zero complete-family counts per variable: flat indices into the ``(q, r)`` table
        and the counts there.
    blocks
        Missing-data terms (see the module docstring).
    s_loc, s_scale
        Hierarchical concentration prior: ``log s_v ~ Normal(log r_v + s_loc, s_scale)``.
    n_rows
        Number of data rows.
    latent
        Variables declared never observed.
    """

    structure: Structure
    prior: PriorKind
    alpha: Mapping[str, NDArray[np.float64]]
    count_index: Mapping[str, NDArray[np.int64]]
    count_value: Mapping[str, NDArray[np.float64]]
    blocks: tuple[MissingBlock, ...]
    s_loc: float = 0.0
    s_scale: float = 1.5
    n_rows: int = 0
    latent: tuple[str, ...] = field(default_factory=tuple)

    def n_configs(self, variable: str) -> int:
        """Number of parent configurations ``q`` of ``variable``."""
        return self.structure.n_parent_configs(variable)

    def card(self, variable: str) -> int:
        """Number of states ``r`` of ``variable``."""
        return int(self.structure.cards[variable])

    def is_pooled(self, variable: str) -> bool:
        """Whether ``variable``'s rows share a hierarchical mean and concentration."""
        return self.prior == "hierarchical" and self.n_configs(variable) > 1

    @cached_property
    def groups(self) -> tuple[CardGroup, ...]:
        """CPT rows stacked by card (see :class:`CardGroup`), cards ascending."""
        out = []
        s = self.structure
        for r in sorted({s.cards[v] for v in s.variables}):
            vs = tuple(v for v in s.variables if s.cards[v] == r)
            offsets: list[int] = []
            alphas: list[NDArray[np.float64]] = []
            pool: list[NDArray[np.int64]] = []
            pooled: list[str] = []
            row = 0
            for v in vs:
                q = self.n_configs(v)
                offsets.append(row)
                row += q
                if self.prior == "hierarchical":
                    alphas.append(np.ones((q, r)))
                else:
                    alphas.append(np.asarray(self.alpha[v]).reshape(q, r))
                if self.is_pooled(v):
                    pool.append(np.full(q, len(pooled), dtype=np.int64))
                    pooled.append(v)
                else:
                    pool.append(np.full(q, -1, dtype=np.int64))
            out.append(
                CardGroup(
                    r,
                    vs,
                    tuple(offsets),
                    np.concatenate(alphas, axis=0),
                    np.concatenate(pool),
                    tuple(pooled),
                )
            )
        return tuple(out)

    @cached_property
    def group_gather(self) -> NDArray[np.int64]:
        """Positions of the flat parameter vector's entries in the stacked group rows.

        Entry ``i`` of :func:`flat_params`'s vector (variable by variable) lies at position
        ``group_gather[i]`` of the groups' stacked rows laid end to end, each flattened row
        by row (see :func:`flat_from_groups`).
        """
        where: dict[str, NDArray[np.int64]] = {}
        base = 0
        for g in self.groups:
            for v, off in zip(g.variables, g.offsets, strict=True):
                where[v] = base + off * g.card + np.arange(self.n_configs(v) * g.card)
            base += g.n_rows * g.card
        return np.concatenate([where[v] for v in self.structure.variables]).astype(np.int64)

    def split(self, group: CardGroup, stacked: Any) -> dict[str, Any]:
        """Per-variable slices ``[..., q, r]`` of a group's stacked rows ``[..., rows, r]``.

        Works on numpy, JAX and PyTensor arrays alike.
        """
        return {
            v: stacked[..., off : off + self.n_configs(v), :]
            for v, off in zip(group.variables, group.offsets, strict=True)
        }

    @cached_property
    def packed(self) -> PackedLikelihood:
        """The log-likelihood data flattened for vectorised backends (see :func:`pack`)."""
        return pack(self)

    @cached_property
    def circuit(self) -> EliminationCircuit:
        """The summed-out terms as an elimination circuit (:mod:`bnlab.backends.elimination`)."""
        from bnlab.backends.elimination import build_circuit

        return build_circuit(self)

    def row_names(self, group: CardGroup) -> tuple[str, str, str]:
        """Sample-site names of a group: stacked CPT rows, pooled means, concentrations."""
        r = group.card
        return f"cpt_rows_card{r}", f"pooled_mean_card{r}", f"pooled_concentration_card{r}"


class PackedLikelihood(NamedTuple):
    """The spec's log-likelihood as a few flat arrays, for one vectorised evaluation.

    All CPTs are concatenated (structure order) into one flat parameter vector of length
    ``n_params``; ``logp`` is its log. The missing-data terms of every block are flattened
    into *elements*, one per (term, joint state of the summed-out component), ordered by the
    number of families ``F`` of their block, then the component size ``K``, then term, then
    state. An element's log value is the sum of ``F`` entries of ``logp``; its ``F`` global
    indices are consecutive in ``elem_index``. Then

    ``loglik = <count_value, logp[count_index]>
    + <term_weight, segment_logsumexp(element values, elem_term)>``.

    Elements of equal ``F`` form one contiguous ``(n, F)`` gather (``widths``); terms of equal
    ``(F, K)`` are contiguous (``buckets``), so a backend without segment reductions can
    gather each bucket as ``(terms, K, F)`` and take a row-wise logsumexp.

    Attributes
    ----------
    n_params
        Length of the flat parameter vector.
    offsets
        Start of each variable's flat ``(q, r)`` table in the parameter vector.
    count_index, count_value
        Non-zero complete-family counts: global flat indices and counts.
    elem_index
        ``(sum of n * F,)`` int32 global parameter indices, ``F`` per element.
    elem_term
        ``(elements,)`` int32 term of each element (sorted).
    term_weight
        ``(terms,)`` number of data rows of each term.
    widths
        ``(F, n elements, first element)`` per family count ``F``.
    buckets
        ``(F, K, n terms, first element, first term, first index)`` per ``(F, K)``, in
        element order (``first index``: position in ``elem_index``).
    """

    n_params: int
    offsets: dict[str, int]
    count_index: NDArray[np.int32]
    count_value: NDArray[np.float64]
    elem_index: NDArray[np.int32]
    elem_term: NDArray[np.int32]
    term_weight: NDArray[np.float64]
    widths: tuple[tuple[int, int, int], ...]
    buckets: tuple[tuple[int, int, int, int, int, int], ...]

    @property
    def n_terms(self) -> int:
        """Number of summed-out terms."""
        return int(self.term_weight.size)

    @property
    def n_elements(self) -> int:
        """Number of (term, joint state) elements."""
        return int(self.elem_term.size)

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The data arrays (what a backend passes to its compiled log density as arguments)."""
        return {
            "count_index": self.count_index,
            "count_value": self.count_value,
            "elem_index": self.elem_index,
            "elem_term": self.elem_term,
            "term_weight": self.term_weight,
        }


def pack(spec: ModelSpec) -> PackedLikelihood:
    """Flatten a spec's counts and missing-data blocks into a :class:`PackedLikelihood`."""
    s = spec.structure
    offsets: dict[str, int] = {}
    n = 0
    for v in s.variables:
        offsets[v] = n
        n += spec.n_configs(v) * spec.card(v)
    if n >= np.iinfo(np.int32).max:
        raise BackendError(f"{n} CPT entries exceed int32 indices; fit a smaller structure.")
    count_index = np.concatenate(
        [np.zeros(0, dtype=np.int64)] + [spec.count_index[v] + offsets[v] for v in s.variables]
    ).astype(np.int32)
    count_value = np.concatenate([np.zeros(0)] + [spec.count_value[v] for v in s.variables]).astype(
        np.float64
    )
    by_shape: dict[tuple[int, int], list[MissingBlock]] = {}
    for b in spec.blocks:
        by_shape.setdefault((len(b.families), int(b.index[0].shape[1])), []).append(b)
    idx_parts: list[NDArray[np.int64]] = []
    weights: list[NDArray[np.float64]] = []
    sizes: list[int] = []
    widths: dict[int, list[int]] = {}
    buckets: list[tuple[int, int, int, int, int, int]] = []
    elem = term = pos = 0
    for f_count, k in sorted(by_shape):
        n_terms = 0
        for b in by_shape[(f_count, k)]:
            # (terms, K, F) global indices, flattened element-major
            stacked = np.stack(
                [idx + offsets[f] for f, idx in zip(b.families, b.index, strict=True)], axis=-1
            )
            idx_parts.append(stacked.reshape(-1))
            weights.append(b.weight)
            n_terms += int(b.weight.size)
        buckets.append((f_count, k, n_terms, elem, term, pos))
        pos += n_terms * k * f_count
        widths.setdefault(f_count, [0, elem])[0] += n_terms * k
        sizes.extend([k] * n_terms)
        elem += n_terms * k
        term += n_terms
    if elem >= np.iinfo(np.int32).max or sum(p.size for p in idx_parts) >= np.iinfo(np.int32).max:
        raise BackendError(
            f"{elem} summed-out elements exceed int32 indices; observe more cells or use the "
            "gibbs backend."
        )
    term_weight = np.concatenate([np.zeros(0), *weights]).astype(np.float64)
    return PackedLikelihood(
        n,
        offsets,
        count_index,
        count_value,
        np.concatenate([np.zeros(0, dtype=np.int64), *idx_parts]).astype(np.int32),
        np.repeat(np.arange(term, dtype=np.int32), np.asarray(sizes, dtype=np.int64)),
        term_weight,
        tuple((f, c, first) for f, (c, first) in sorted(widths.items())),
        tuple(buckets),
    )


def flat_params(spec: ModelSpec, thetas: Mapping[str, Any], xp: Any) -> Any:
    """Concatenate CPTs ``(q, r)`` into the flat parameter vector of :func:`pack`.

    ``xp`` is the array module: ``numpy``, ``jax.numpy`` or ``pytensor.tensor``.
    """
    return xp.concatenate([xp.reshape(thetas[v], (-1,)) for v in spec.structure.variables])


def flat_from_groups(spec: ModelSpec, stacked: Sequence[Any], xp: Any) -> Any:
    """The flat parameter vector of :func:`flat_params` from each group's stacked rows.

    ``stacked``: one ``(rows, r)`` array per group of ``spec.groups``, in that order. One
    concatenation and one gather, however many variables there are: per-variable slices put
    one slice per variable into a compiled sampler, and into its gradient one full-size
    padded add per variable, and on networks of hundreds of variables compiling those
    dominated short runs. ``xp``: ``jax.numpy`` or ``pytensor.tensor``.
    """
    return xp.concatenate([xp.reshape(s, (-1,)) for s in stacked])[spec.group_gather]


def element_values(packed: PackedLikelihood, logp: Any, elem_index: Any, xp: Any) -> Any:
    """Log value of every element: per width ``F``, an ``(n, F)`` gather summed over ``F``."""
    parts = []
    pos = 0
    for f, count, _ in packed.widths:
        ix = elem_index[pos : pos + count * f]
        parts.append(xp.sum(xp.reshape(logp[ix], (count, f)), axis=1))
        pos += count * f
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def check_latent(structure: Structure, codes: NDArray[np.integer], latent: Sequence[str]) -> None:
    """Validate the latent variables against the structure and the data.

    Raises
    ------
    BackendError
        A latent name that is not a variable of the structure.
    DataError
        A latent variable with observed cells, or a column that is entirely missing (in a
        non-empty data set) but not declared latent.
    """
    unknown = [str(v) for v in latent if v not in structure.states]
    if unknown:
        more = " ..." if len(structure.variables) > 10 else ""
        raise BackendError(
            f"latent variable(s) {unknown} are not in the structure; declare latent variables "
            f"among {list(structure.variables[:10])}{more} (add them to the structure first)."
        )
    if codes.shape[0] == 0:
        return
    observed = (codes >= 0).any(axis=0)
    seen = [v for v in latent if observed[structure.index[v]]]
    if seen:
        raise DataError(
            f"latent variable(s) {seen} have observed cells; a latent variable is never "
            "observed: set its column to NaN or drop it from latent=[...]."
        )
    undeclared = [
        v for v in structure.variables if not observed[structure.index[v]] and v not in latent
    ]
    if undeclared:
        raise DataError(
            f"column(s) {undeclared} are entirely missing; a variable that is never observed "
            f"must be declared: pass latent={undeclared!r}."
        )


def _barren(s: Structure, missing: NDArray[np.bool_]) -> set[str]:
    """Missing variables with no observed descendant in the row (they sum out to one)."""
    out: set[str] = set()
    for v in reversed(s.variables):
        if missing[s.index[v]] and all(c in out for c in s.children[v]):
            out.add(v)
    return out


def _components(
    s: Structure, missing: list[str], barren: set[str]
) -> list[tuple[list[str], set[str]]]:
    """Connected components of the non-barren missing variables, with their families.

    Two missing variables are connected when they share a non-barren family (the family of a
    barren variable sums to one and links nothing).
    """
    left = set(missing)
    out: list[tuple[list[str], set[str]]] = []
    for v in missing:
        if v not in left:
            continue
        comp: list[str] = []
        fams: set[str] = set()
        stack = [v]
        left.discard(v)
        while stack:
            x = stack.pop()
            comp.append(x)
            for f in (x, *s.children[x]):
                if f in barren or f in fams:
                    continue
                fams.add(f)
                for y in (*s.parents[f], f):
                    if y in left:
                        left.discard(y)
                        stack.append(y)
        out.append((comp, fams))
    return out


def _block(
    s: Structure,
    comp: tuple[str, ...],
    fams: tuple[str, ...],
    context_vars: tuple[str, ...],
    contexts: NDArray[np.int64],
    weight: NDArray[np.float64],
) -> MissingBlock:
    cards = [s.cards[v] for v in comp]
    n_states = math.prod(cards)
    joint = np.indices(cards).reshape(len(comp), -1).T  # (K, |C|)
    pos_c = {v: i for i, v in enumerate(comp)}
    pos_x = {v: i for i, v in enumerate(context_vars)}
    index: list[NDArray[np.int64]] = []
    n_terms = contexts.shape[0]
    for f in fams:
        flat = np.zeros((n_terms, n_states), dtype=np.int64)
        for u in (*s.parents[f], f):
            flat *= s.cards[u]
            if u in pos_c:
                flat += joint[None, :, pos_c[u]]
            else:
                flat += contexts[:, pos_x[u], None]
        index.append(flat)
    return MissingBlock(comp, fams, tuple(index), weight)


def missing_blocks(s: Structure, codes: NDArray[np.integer]) -> tuple[MissingBlock, ...]:
    """Merge the rows with missing cells into exact summed-out terms (see module docstring).

    Raises
    ------
    BackendError
        If a component of missing variables has more than :data:`MAX_COMPONENT_STATES` joint
        states.
    """
    incomplete = codes[(codes < 0).any(axis=1)]
    if incomplete.shape[0] == 0:
        return ()
    rows, row_count = np.unique(incomplete.astype(np.int64), axis=0, return_counts=True)
    order = s.index
    # (component, families, context vars) -> {context values: count}
    groups: dict[
        tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], dict[tuple[int, ...], int]
    ]
    groups = {}
    for row, cnt in zip(rows, row_count, strict=True):
        miss_mask = row < 0
        barren = _barren(s, miss_mask)
        miss = [s.variables[j] for j in np.flatnonzero(miss_mask) if s.variables[j] not in barren]
        for comp_list, fam_set in _components(s, miss, barren):
            comp = tuple(sorted(comp_list, key=order.__getitem__))
            fams = tuple(sorted(fam_set, key=order.__getitem__))
            cset = set(comp)
            ctx = tuple(
                sorted({u for f in fams for u in (*s.parents[f], f)} - cset, key=order.__getitem__)
            )
            ctx_vals = tuple(int(row[order[u]]) for u in ctx)
            bucket = groups.setdefault((comp, fams, ctx), {})
            bucket[ctx_vals] = bucket.get(ctx_vals, 0) + int(cnt)
    blocks: list[MissingBlock] = []
    for (comp, fam_t, ctx_t), bucket in groups.items():
        n_states = math.prod(s.cards[v] for v in comp)
        if n_states > MAX_COMPONENT_STATES:
            raise BackendError(
                f"the missing variables {list(comp)} are summed out together and have "
                f"{n_states} joint states (limit {MAX_COMPONENT_STATES}); give fewer latent "
                "variables, or observe some of these variables in more rows."
            )
        contexts = np.array(list(bucket), dtype=np.int64).reshape(len(bucket), len(ctx_t))
        weight = np.array(list(bucket.values()), dtype=np.float64)
        blocks.append(_block(s, comp, fam_t, ctx_t, contexts, weight))
    return tuple(blocks)


def build_spec(
    structure: Structure,
    codes: NDArray[np.integer],
    alpha: Mapping[str, NDArray[np.float64]],
    *,
    prior: PriorKind = "dirichlet",
    latent: Sequence[str] = (),
    s_loc: float = 0.0,
    s_scale: float = 1.5,
) -> ModelSpec:
    """Build the model specification of a structure, its data codes and its prior.

    Parameters
    ----------
    structure
        The structure to fit.
    codes
        Integer codes ``(rows, variables)``, ``-1`` = missing.
    alpha
        Dirichlet pseudo-counts per variable shaped like the CPTs (used by ``"dirichlet"``).
    prior
        ``"dirichlet"`` or ``"hierarchical"``.
    latent
        Variables that are never observed.
    s_loc, s_scale
        Hierarchical concentration prior ``log s_v ~ Normal(log r_v + s_loc, s_scale)``.

    Returns
    -------
    ModelSpec
    """
    s = structure
    codes = np.asarray(codes)
    check_latent(s, codes, latent)
    if s_scale <= 0 or not math.isfinite(s_scale) or not math.isfinite(s_loc):
        raise BackendError(
            f"hierarchical concentration prior needs finite s_loc and s_scale > 0, got "
            f"s_loc={s_loc!r}, s_scale={s_scale!r}."
        )
    has_missing = codes.size > 0 and bool((codes < 0).any())
    idx: dict[str, NDArray[np.int64]] = {}
    val: dict[str, NDArray[np.float64]] = {}
    shaped_alpha: dict[str, NDArray[np.float64]] = {}
    for v in s.variables:
        ps = s.parents[v]
        cols = [s.index[p] for p in ps] + [s.index[v]]
        cards = [s.cards[p] for p in ps] + [s.cards[v]]
        table, _ = family_counts_array(codes, cols, cards, has_missing=has_missing)
        flat = table.reshape(-1)
        nz = np.flatnonzero(flat)
        idx[v] = nz.astype(np.int64)
        val[v] = flat[nz].astype(np.float64)
        shaped_alpha[v] = np.asarray(alpha[v], dtype=np.float64).reshape(
            s.n_parent_configs(v), s.cards[v]
        )
    blocks = missing_blocks(s, codes) if has_missing else ()
    return ModelSpec(
        structure=s,
        prior=prior,
        alpha=shaped_alpha,
        count_index=idx,
        count_value=val,
        blocks=blocks,
        s_loc=float(s_loc),
        s_scale=float(s_scale),
        n_rows=int(codes.shape[0]),
        latent=tuple(str(v) for v in latent),
    )


def log_likelihood(spec: ModelSpec, cpts: Mapping[str, NDArray[np.float64]]) -> float:
    """Log-likelihood of the data under CPTs, from the spec, in numpy (the reference).

    Parameters
    ----------
    spec
        The model specification.
    cpts
        CPT per variable, shape ``(*parent cards, card)`` or ``(q, r)``.

    Returns
    -------
    float
        ``sum_v <N_v, log theta_v> + sum_blocks <w, logsumexp(...)>``.
    """
    with np.errstate(divide="ignore"):  # a zero CPT entry is log 0 = -inf, which is exact
        logs = {v: np.log(np.asarray(cpts[v], dtype=np.float64).reshape(-1)) for v in cpts}
    total = 0.0
    for v in spec.structure.variables:
        total += float(spec.count_value[v] @ logs[v][spec.count_index[v]])
    for b in spec.blocks:
        terms = sum(logs[f][i] for f, i in zip(b.families, b.index, strict=True))
        arr = np.asarray(terms)
        mx = arr.max(axis=1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(arr - mx).sum(axis=1))
        total += float(b.weight @ lse)
    return total


class SamplerOptions(NamedTuple):
    """Options every MCMC backend takes (``bnlab.fit(..., backend=..., **options)``)."""

    chains: int
    draws: int
    tune: int
    seed: int
    latent: tuple[str, ...]
    target_accept: float
    max_tree_depth: int
    s_loc: float
    s_scale: float
    warn: bool


_DEFAULTS: dict[str, Any] = {
    "chains": 4,
    "draws": 1000,
    "tune": 1000,
    "seed": 0,
    "latent": (),
    "target_accept": 0.8,
    "max_tree_depth": 10,
    "s_loc": 0.0,
    "s_scale": 1.5,
    "warn": True,
}


def read_options(
    backend: str, options: Mapping[str, Any], extra: Mapping[str, Any]
) -> tuple[SamplerOptions, dict[str, Any]]:
    """Split and validate backend options into the common ones and ``extra`` backend ones.

    Raises
    ------
    BackendError
        An unknown option, or a value of the wrong kind.
    """
    from bnlab.backends.diagnostics import check_draw_counts

    known = {**_DEFAULTS, **extra}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise BackendError(
            f"backend {backend!r} has no option(s) {unknown}; its options are {sorted(known)}."
        )
    merged = {**known, **options}
    chains, draws, tune = check_draw_counts(merged["chains"], merged["draws"], merged["tune"])
    seed = merged["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise BackendError(f"seed must be a non-negative integer, got {seed!r}.")
    latent = merged["latent"]
    if isinstance(latent, str) or not isinstance(latent, (list, tuple)):
        raise BackendError(f"latent must be a list of variable names, got {latent!r}.")
    ta = merged["target_accept"]
    if not isinstance(ta, (float, int)) or not 0.0 < float(ta) < 1.0:
        raise BackendError(f"target_accept must lie in (0, 1), got {ta!r}; try 0.8 or 0.95.")
    depth = merged["max_tree_depth"]
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not 1 <= depth <= 20:
        raise BackendError(f"max_tree_depth must be an integer in [1, 20], got {depth!r}.")
    common = SamplerOptions(
        chains,
        draws,
        tune,
        int(seed),
        tuple(str(v) for v in latent),
        float(ta),
        int(depth),
        float(merged["s_loc"]),
        float(merged["s_scale"]),
        bool(merged["warn"]),
    )
    return common, {k: merged[k] for k in extra}


def spec_from_inputs(
    structure: Structure,
    codes: NDArray[np.integer],
    alpha: Mapping[str, NDArray[np.float64]],
    prior_name: str,
    opts: SamplerOptions,
) -> ModelSpec:
    """Build the :class:`ModelSpec` of a backend call (``prior_name`` from ``FitInput``)."""
    kind: PriorKind = "hierarchical" if prior_name == "hierarchical" else "dirichlet"
    return build_spec(
        structure,
        codes,
        alpha,
        prior=kind,
        latent=opts.latent,
        s_loc=opts.s_loc,
        s_scale=opts.s_scale,
    )
