"""Old import paths of moved modules, kept working for one release with a DeprecationWarning.

The package was laid out by layer in 0.2 (issue 24): ``bnlab.config`` became
``bnlab.ops.config``, ``bnlab.parquet`` became ``bnlab.io.parquet``, and so on
(:data:`MOVED`). The backends under ``bnlab.fit.*`` (now ``bnlab.backends.*``) have no alias:
``bnlab.fit`` is the function again, not a package.

A finder on ``sys.meta_path`` resolves an old name to the module at its new path — the
same module object, so state and ``isinstance`` checks are shared — and warns once per name.
Nothing here imports the moved modules until an old name is asked for.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

#: old module name -> new module name
MOVED: dict[str, str] = {
    "bnlab.partitioned": "bnlab.counts.sources",
    "bnlab.learn.sources": "bnlab.counts.sources",
    "bnlab.parquet": "bnlab.io.parquet",
    "bnlab.posterior_io": "bnlab.io.posterior_file",
    "bnlab.config": "bnlab.ops.config",
    "bnlab.experiment": "bnlab.ops.experiment",
    "bnlab.tracking": "bnlab.ops.tracking",
    "bnlab.registry": "bnlab.ops.registry",
    "bnlab.serve": "bnlab.ops.serve",
    "bnlab.pyfunc": "bnlab.ops.pyfunc",
    "bnlab.monitor_cli": "bnlab.cli.monitor",
    "bnlab.registry_cli": "bnlab.cli.registry",
    "bnlab.report.cli": "bnlab.cli.report",
    "bnlab.quickstart": "bnlab.cli.quickstart",
}


class _Alias:
    """Loader of an old name: returns the module at the new path.

    A plain class, like :class:`MovedModuleFinder`: importing ``importlib.abc`` costs start-up.
    """

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.new}; import it from there (the old path is removed "
            "in the next release).",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new path is already executed."""


class MovedModuleFinder:
    """Resolve the old names of :data:`MOVED` to the modules at their new paths."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec that loads the new module under the old name, or ``None``."""
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))  # type: ignore[arg-type]


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
