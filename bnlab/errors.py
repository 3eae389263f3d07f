"""Typed errors: every one names what was wrong, where, and how to fix it."""

from __future__ import annotations


class BNError(ValueError):
    """Base class of every error bnlab raises on bad input.

    Subclasses ``ValueError`` so callers that already catch ``ValueError`` keep working.
    The CLI turns any ``BNError`` into exit code 2 and a message without a traceback.
    """


class StructureError(BNError):
    """A graph that is not a valid DAG over well-defined discrete variables."""


class CycleError(StructureError):
    """The parent sets form a directed cycle."""

    def __init__(self, cycle: list[str]) -> None:
        if cycle:  # rotate to start at the smallest name so the message is deterministic
            start = cycle.index(min(cycle))
            cycle = cycle[start:] + cycle[:start]
        self.cycle = cycle
        path = " -> ".join([*cycle, cycle[0]])
        super().__init__(
            f"the graph has a directed cycle: {path}. "
            "Remove or reverse one of these edges so the graph is acyclic."
        )


class CPTError(BNError):
    """A conditional probability table of the wrong shape or with invalid values."""


class ParseError(BNError):
    """A network file that cannot be read; carries the file and line number."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)


class DataError(BNError):
    """Data that do not match the variables and states of a structure."""


class PriorError(BNError):
    """Invalid prior parameters (non-positive sample size, wrong pseudo-count shapes)."""


class EvidenceError(BNError):
    """Evidence naming an unknown variable or state, or otherwise unusable."""


class ImpossibleEvidenceError(EvidenceError):
    """Evidence rows whose probability under the model is zero."""

    def __init__(self, rows: list[int]) -> None:
        self.rows = rows
        shown = ", ".join(str(r) for r in rows[:20]) + (" ..." if len(rows) > 20 else "")
        super().__init__(
            f"evidence has probability zero under the model in {len(rows)} row(s): {shown}. "
            "Check those rows for contradictory observations, or pass on_impossible='nan' "
            "to get NaN rows with a flag instead of this error."
        )


class BackendError(BNError):
    """An unknown fitting backend, a missing optional dependency, or a bad sampler option."""


class ConfigError(BNError):
    """An invalid experiment configuration."""


class ArtifactError(BNError):
    """A saved model or posterior file that is malformed or has been tampered with."""


class UnsupportedNodeError(ParseError):
    """A node a discrete Bayesian network cannot hold (decision, utility, continuous, ...)."""

    def __init__(
        self, nodes: list[tuple[str, str, int | None]], *, path: str | None = None
    ) -> None:
        self.nodes = [(name, kind) for name, kind, _ in nodes]
        shown = "; ".join(
            f"{name!r} is a {kind} node" + (f" (line {line})" if line is not None else "")
            for name, kind, line in nodes[:10]
        ) + (" ..." if len(nodes) > 10 else "")
        super().__init__(
            f"{shown}: a discrete Bayesian network holds only discrete chance nodes. Remove "
            "them in the tool that made the file, or read it with on_unsupported='drop' to "
            "drop them with a warning.",
            path=path,
        )
