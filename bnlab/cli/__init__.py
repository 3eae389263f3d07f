"""Command-line entry points: ``bnlab`` and its subcommands, in one place.

:mod:`bnlab.cli.commands` builds the parser; each subcommand module (``report``, ``registry``,
``monitor``, ``quickstart``) adds its own. ``python -m bnlab.cli`` is ``bnlab``.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bnlab`` command (see :func:`bnlab.cli.commands.main`)."""
    from bnlab.cli.commands import main as run

    return run(argv)


__all__ = ["main"]
