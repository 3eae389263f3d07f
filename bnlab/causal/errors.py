"""Typed errors of :mod:`bnlab.causal`."""

from __future__ import annotations

from collections.abc import Iterable

from bnlab.errors import BNError


class CausalGraphError(BNError):
    """A causal question that does not fit the graph: unknown variables, bad latent entries."""


class NotIdentifiableError(BNError):
    """The effect cannot be computed from the observed variables: the graph has a hedge.

    Attributes
    ----------
    treatment, outcome
        The query ``P(outcome | do(treatment))``.
    hedge
        ``(F, F_prime)``: the node sets of the two C-forests of Shpitser & Pearl's hedge
        (``F_prime`` inside ``F``); the effect of ``treatment`` on ``outcome`` differs
        between models that agree on every observed distribution of ``F``.
    """

    def __init__(
        self,
        treatment: Iterable[str],
        outcome: Iterable[str],
        hedge: tuple[frozenset[str], frozenset[str]],
    ) -> None:
        self.treatment = tuple(sorted(treatment))
        self.outcome = tuple(sorted(outcome))
        self.hedge = hedge
        f, f_prime = (sorted(h) for h in hedge)
        super().__init__(
            f"P({', '.join(self.outcome)} | do({', '.join(self.treatment)})) is not identifiable "
            f"from the observed variables: the graph has a hedge, F = {{{', '.join(f)}}} and "
            f"F' = {{{', '.join(f_prime)}}} (two C-forests with the same roots, F' inside F; F "
            "holds treatment variables, F' none). Measure one of the latent confounders inside "
            "F, or add an observed mediator between the treatment and the outcome, then ask "
            "again."
        )
