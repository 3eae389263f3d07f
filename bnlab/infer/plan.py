"""Contraction plans: the order in which the network polynomial is summed out, fixed once.

A :class:`Plan` is computed from a structure alone (never from CPT values or evidence), so
one plan serves every evidence batch and every CPT draw. The network polynomial of a BN
with variables ``X_1..X_n`` is

    Z(lambda) = sum_x  prod_i P(x_i | pa_i) * lambda_i[x_i]

with one likelihood vector ``lambda_i`` per variable and evidence row (hard evidence is
one-hot, a missing value is all ones, soft evidence is the given likelihood). ``Z`` is
``P(e)``. The plan is a list of contraction steps over the ``2 n`` input tensors (``n``
CPTs without a batch axis, ``n`` likelihoods with a leading batch axis ``b``); each step
contracts some live tensors into one new tensor, summing out the indices no other live
tensor (nor the output ``b``) needs.

Two searches are run and the cheaper plan (total flops, at a reference batch size) is kept:
variable elimination by weighted min-fill on the moral graph (plain min-fill plus a few
seeded randomised min-fill orders, keeping the cheapest), and opt_einsum's greedy
contraction path over the whole tensor network (its cost model weighs time, not only
treewidth, as TensorInference.jl does).
"""

from __future__ import annotations

import functools
import string
import time
from dataclasses import dataclass
from math import prod

import numpy as np
import opt_einsum

from bnlab.errors import StructureError
from bnlab.network import BayesNet, Structure, as_structure

#: Letters for one step's einsum equation (a step touches far fewer indices than this).
_LETTERS = string.ascii_letters

#: Batch size the order search assumes when weighing batched against unbatched work.
REFERENCE_BATCH = 64
#: Randomised min-fill orders tried per plan, and the work bound (variables squared times
#: tries) that caps them on large networks; the seed is fixed, so a plan is reproducible.
ORDER_TRIALS = 32
ORDER_WORK = 2_000_000
#: The search stops after this many tries in a row without a cheaper order.
ORDER_PATIENCE = 8
#: Beyond this many variables the order search is kept short (plain min-fill plus
#: ``LARGE_TRIALS`` randomised orders, no greedy path: on pigs greedy was 10,000x costlier
#: and took as long as a min-fill order), so that a plan is ready in about a second.
LARGE_NETWORK = 300
LARGE_TRIALS = 2


@dataclass(frozen=True)
class Step:
    """One contraction: ``inputs`` (tensor ids) into a new tensor with ``out`` indices.

    Index ``-1`` is the batch axis (always first when present); index ``i >= 0`` is
    variable ``i`` of the plan. ``equation`` is the einsum equation over the inputs'
    index tuples in order; ``summed`` lists the variables summed out (for max-product
    traceback, in the order of the flattened argmax).
    """

    inputs: tuple[int, ...]
    out: tuple[int, ...]
    equation: str
    summed: tuple[int, ...]
    flops: float
    size: int


@dataclass(frozen=True, eq=False)
class Plan:
    """A compiled contraction plan for one structure (hash and equality by identity).

    Attributes
    ----------
    variables, cards, parents
        Variables in topological order, their cardinalities, and parent indices.
    tensor_indices
        Index tuple of every input tensor: ids ``0..n-1`` are the CPTs (parents then the
        variable), ids ``n..2n-1`` the likelihoods ``(-1, i)``.
    steps
        Contraction steps; new tensors get ids ``2n, 2n+1, ...`` in step order.
    order_method
        ``"min-fill"`` or ``"greedy"``: which search produced the steps.
    flops
        Multiply-adds of one forward pass for one evidence row (log P(e) only; all
        marginals by reverse mode cost about three times this).
    largest
        Entries of the largest intermediate tensor for one evidence row.
    """

    variables: tuple[str, ...]
    cards: tuple[int, ...]
    parents: tuple[tuple[int, ...], ...]
    tensor_indices: tuple[tuple[int, ...], ...]
    steps: tuple[Step, ...]
    order_method: str
    flops: float
    largest: int

    @property
    def n(self) -> int:
        """Number of variables."""
        return len(self.variables)

    @functools.cached_property
    def cpt_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Shape of each CPT, ``(*parent cards, card)``, in plan order."""
        return tuple(
            tuple(self.cards[p] for p in ps) + (self.cards[i],) for i, ps in enumerate(self.parents)
        )

    @functools.cached_property
    def lik_offsets(self) -> tuple[int, ...]:
        """Start of each variable's states in a flat ``(batch, sum(cards))`` likelihood."""
        return tuple(int(x) for x in np.concatenate([[0], np.cumsum(self.cards)[:-1]]))

    @property
    def total_card(self) -> int:
        """Sum of the cardinalities (width of the flat likelihood array)."""
        return int(sum(self.cards))

    def cost(self) -> dict[str, float | int | str]:
        """Flops per evidence row, largest intermediate and step count, as a dict."""
        return {
            "flops_per_row": self.flops,
            "marginals_flops_per_row": 3.0 * self.flops,
            "largest_intermediate": self.largest,
            "steps": len(self.steps),
            "order": self.order_method,
        }

    def __repr__(self) -> str:
        return (
            f"Plan({self.n} variables, {len(self.steps)} steps, order={self.order_method}, "
            f"flops/row={self.flops:.3g}, largest={self.largest})"
        )


def _step(
    inputs: list[int], live: dict[int, tuple[int, ...]], keep: set[int], cards: tuple[int, ...]
) -> Step:
    """Build a step contracting ``inputs`` and keeping the indices in ``keep``."""
    union: list[int] = []
    for t in inputs:
        for ix in live[t]:
            if ix not in union:
                union.append(ix)
    out = tuple(ix for ix in union if ix in keep)
    if -1 in out:  # batch axis first
        out = (-1, *(ix for ix in out if ix != -1))
    summed = tuple(ix for ix in union if ix not in keep)
    if len(union) > len(_LETTERS):
        raise StructureError(
            f"a contraction step touches {len(union)} variables, more than the plan "
            f"supports ({len(_LETTERS)}); the network is too densely connected for exact "
            "inference."
        )
    letter = {ix: _LETTERS[k] for k, ix in enumerate(union)}
    lhs = ",".join("".join(letter[ix] for ix in live[t]) for t in inputs)
    equation = lhs + "->" + "".join(letter[ix] for ix in out)
    size_of = {letter[ix]: (1 if ix == -1 else cards[ix]) for ix in union}
    shapes = [tuple(size_of[letter[ix]] for ix in live[t]) for t in inputs]
    if len(inputs) == 1:
        flops = float(prod(size_of.values()))
    else:
        _, info = opt_einsum.contract_path(equation, *shapes, shapes=True, optimize="greedy")
        flops = float(info.opt_cost) / 2.0  # opt_einsum counts a multiply-add as 2
    size = int(prod(size_of[letter[ix]] for ix in out))
    return Step(tuple(inputs), out, equation, summed, flops, size)


def _inputs(s: Structure) -> tuple[tuple[int, ...], ...]:
    idx = s.index
    cpts = tuple((*(idx[p] for p in s.parents[v]), idx[v]) for v in s.variables)
    liks = tuple((-1, i) for i in range(len(s.variables)))
    return cpts + liks


def _fill_score(v: int, nbrs: dict[int, set[int]], cards: tuple[int, ...]) -> tuple[float, float]:
    """Weighted fill-in of eliminating ``v`` and the size of the clique it creates."""
    nb = list(nbrs[v])
    fill = 0.0
    for k, a in enumerate(nb):
        na = nbrs[a]
        for b in nb[k + 1 :]:
            if b not in na:
                fill += cards[a] * cards[b]
    return fill, float(prod(cards[a] for a in nb)) * cards[v]


def _min_fill_order(
    s: Structure, rng: np.random.Generator | None = None
) -> tuple[list[int], float]:
    """An elimination order by weighted min-fill on the moral graph, and its cost.

    Ties go to the smaller clique, then the lower index. With ``rng`` every choice is made
    on fill-ins perturbed by a uniform factor in [1, 2) plus [0, 1) (a randomised min-fill,
    as stochastic greedy treewidth heuristics do), so repeated calls explore other orders.
    The cost is the size of every step's joint index set (batched steps weighted by
    ``REFERENCE_BATCH``), computed on index sets alone, so many orders are cheap to try.
    """
    n = len(s.variables)
    cards = tuple(s.cards[v] for v in s.variables)
    live: list[frozenset[int]] = [frozenset(t) for t in _inputs(s)]
    nbrs: dict[int, set[int]] = {i: set() for i in range(n)}
    for t in live[:n]:
        for a in t:
            nbrs[a].update(b for b in t if b != a)
    scores = {v: _fill_score(v, nbrs, cards) for v in range(n)}
    order: list[int] = []
    cost = 0.0
    while nbrs:
        remaining = list(nbrs)
        noise = rng.random(len(remaining)) if rng is not None else np.zeros(len(remaining))
        v = min(
            zip(remaining, noise.tolist(), strict=True),
            key=lambda vn: (scores[vn[0]][0] * (1.0 + vn[1]) + vn[1], scores[vn[0]][1], vn[0]),
        )[0]
        order.append(v)
        joined = [t for t in live if v in t]
        live = [t for t in live if v not in t]
        union = frozenset().union(*joined)
        keep = frozenset().union(*live) | {-1}
        cost += prod(1 if ix == -1 else cards[ix] for ix in union) * (
            REFERENCE_BATCH if -1 in union else 1
        )
        live.append(union & keep)
        touched: set[int] = set()
        touched_twice: set[int] = set()
        for u in union - keep:
            nb = nbrs.pop(u)
            del scores[u]
            for a in nb:
                nbrs[a].discard(u)
                nbrs[a].update(b for b in nb if b != a)
            touched |= nb
        # a fill-in changes where the neighbourhood changed, or where two neighbours were
        # just joined: both neighbours are then in the new clique
        touched &= nbrs.keys()
        seen: set[int] = set()
        for u in touched:
            for a in nbrs[u]:
                if a in seen:
                    touched_twice.add(a)
                seen.add(a)
        for a in touched | touched_twice:
            scores[a] = _fill_score(a, nbrs, cards)
    return order, cost


def steps_in_order(s: Structure, order: list[int]) -> list[Step]:
    """Contraction steps eliminating the variables in ``order`` (skipping summed ones)."""
    n = len(s.variables)
    cards = tuple(s.cards[v] for v in s.variables)
    live: dict[int, tuple[int, ...]] = dict(enumerate(_inputs(s)))
    steps: list[Step] = []
    next_id = 2 * n
    for v in order:
        inputs = [tid for tid, ixs in live.items() if v in ixs]
        if not inputs:  # summed out with an earlier variable
            continue
        keep = {ix for tid, ixs in live.items() if tid not in inputs for ix in ixs} | {-1}
        step = _step(inputs, live, keep, cards)
        for tid in inputs:
            del live[tid]
        live[next_id] = step.out
        next_id += 1
        steps.append(step)
    # tensors left without variables (each (b,) or ()) are multiplied in one last step
    if len(live) > 1:
        steps.append(_step(list(live), live, {-1}, cards))
    return steps


def order_trials(n: int) -> int:
    """Randomised min-fill orders tried for ``n`` variables.

    One try costs about ``n**2`` set operations, so the search stays near a second at any
    size: 32 tries up to ~250 variables (ANDES: -35% flops per row), fewer beyond.
    """
    if n > LARGE_NETWORK:
        return LARGE_TRIALS
    return int(min(ORDER_TRIALS, ORDER_WORK // max(n * n, 1)))


def _min_fill_steps(s: Structure, trials: int = 0) -> list[Step]:
    """Steps of the cheapest of plain min-fill and up to ``trials`` randomised orders."""
    best = _min_fill_order(s)
    rng = np.random.default_rng(0)
    since_better = 0
    for _ in range(trials):
        cand = _min_fill_order(s, rng)
        since_better += 1
        if cand[1] < best[1]:
            best, since_better = cand, 0
        if since_better >= ORDER_PATIENCE:
            break
    return steps_in_order(s, best[0])


def _searched_steps(s: Structure, seconds: float) -> tuple[list[Step], int]:
    """Steps of the cheapest randomised min-fill order found in ``seconds``, and the count.

    No patience limit: the search keeps drawing orders (from the same seeded sequence as
    the quick search) until the time is up, so a longer budget never finds a costlier plan.
    """
    deadline = time.perf_counter() + seconds
    best = _min_fill_order(s)
    rng = np.random.default_rng(0)
    tried = 1
    while time.perf_counter() < deadline:
        cand = _min_fill_order(s, rng)
        tried += 1
        if cand[1] < best[1]:
            best = cand
    return steps_in_order(s, best[0]), tried


def _greedy_steps(s: Structure) -> list[Step]:
    """opt_einsum's greedy path over the whole network, as steps."""
    n = len(s.variables)
    cards = tuple(s.cards[v] for v in s.variables)
    tensors = _inputs(s)
    sym = {ix: opt_einsum.get_symbol(ix + 1) for ix in range(-1, n)}
    eq = ",".join("".join(sym[ix] for ix in t) for t in tensors) + "->" + sym[-1]
    shapes = [tuple(REFERENCE_BATCH if ix == -1 else cards[ix] for ix in t) for t in tensors]
    path, _ = opt_einsum.contract_path(eq, *shapes, shapes=True, optimize="greedy")
    order = list(range(2 * n))  # opt_einsum positions -> our tensor ids
    live: dict[int, tuple[int, ...]] = dict(enumerate(tensors))
    steps: list[Step] = []
    next_id = 2 * n
    for contraction in path:
        inputs = [order[p] for p in contraction]
        for p in sorted(contraction, reverse=True):
            order.pop(p)
        keep = {ix for t, ixs in live.items() if t not in inputs for ix in ixs} | {-1}
        step = _step(inputs, live, keep, cards)
        for t in inputs:
            del live[t]
        live[next_id] = step.out
        order.append(next_id)
        next_id += 1
        steps.append(step)
    return steps


def _weighted_cost(steps: list[Step]) -> float:
    """Flops at the reference batch size (unbatched steps are paid once per batch)."""
    return sum(st.flops * (REFERENCE_BATCH if -1 in st.out else 1) for st in steps)


def compile_plan(
    structure: Structure | BayesNet, order: str = "auto", search_s: float = 0.0
) -> Plan:
    """Compute the contraction plan of a structure once.

    Parameters
    ----------
    structure
        The structure (or network) to plan for; CPT values play no part.
    order
        ``"min-fill"``, ``"greedy"`` (opt_einsum over the whole tensor network) or
        ``"auto"`` (both, keeping the cheaper).
    search_s
        Seconds of extra order search (randomised min-fill orders, kept when cheaper at
        ``REFERENCE_BATCH`` rows). The default 0 runs the quick search alone (about a
        second, reproducible); a budget pays on large networks that are queried many times
        (``benchmarks/order_search.py``: MUNIN1 -25% flops per row after 3 s, link -25%
        flops and a 4x smaller largest intermediate after 10 s), but the plan found then
        depends on the machine's speed.

    Returns
    -------
    Plan
        Frozen; pass it to :func:`bnlab.infer.log_evidence` and friends.

    Examples
    --------
    >>> import bnlab
    >>> plan = compile_plan(bnlab.load_example("asia"))
    >>> plan.n
    8
    """
    s = as_structure(structure)
    if order not in ("auto", "min-fill", "greedy"):
        raise StructureError(f"order must be 'auto', 'min-fill' or 'greedy', got {order!r}.")
    candidates: list[tuple[str, list[Step]]] = []
    if order in ("auto", "min-fill"):
        candidates.append(("min-fill", _min_fill_steps(s, order_trials(len(s.variables)))))
    if order == "greedy" or (order == "auto" and len(s.variables) <= LARGE_NETWORK):
        candidates.append(("greedy", _greedy_steps(s)))
    if search_s > 0 and order in ("auto", "min-fill"):
        steps, tried = _searched_steps(s, float(search_s))
        candidates.append((f"min-fill search ({tried} orders)", steps))
    method, steps = min(candidates, key=lambda c: _weighted_cost(c[1]))
    return plan_from_steps(s, steps, method)


def plan_from_steps(s: Structure, steps: list[Step], method: str) -> Plan:
    """Wrap contraction steps over ``s``'s input tensors into a :class:`Plan`."""
    idx = s.index
    return Plan(
        variables=s.variables,
        cards=tuple(s.cards[v] for v in s.variables),
        parents=tuple(tuple(idx[p] for p in s.parents[v]) for v in s.variables),
        tensor_indices=_inputs(s),
        steps=tuple(steps),
        order_method=method,
        flops=float(sum(st.flops for st in steps)),
        largest=max(st.size for st in steps),
    )


@functools.lru_cache(maxsize=64)
def shared_plan(structure: Structure, order: str = "auto", search_s: float = 0.0) -> Plan:
    """The plan of a structure, shared by every engine over that structure in a process.

    Compiled kernels are cached per plan object (see :func:`bnlab.infer.run.jitted`), so
    engines built on equal structures — a refitted posterior, a network with other CPTs —
    reuse one compilation instead of paying XLA's compile time again.
    """
    return compile_plan(structure, order=order, search_s=search_s)
