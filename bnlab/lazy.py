"""Lazy public names for packages whose modules import heavy libraries (JAX, SciPy).

A package lists ``{defining module: its public names}``; :func:`lazy_exports` gives it the
module-level ``__getattr__`` and ``__dir__`` (PEP 562) that import the defining module on
first access, and its ``__all__``. Each pipeline stage is a fresh process, so importing only
what a stage uses keeps its start-up short.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], modules: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` of a package with lazily loaded names.

    Parameters
    ----------
    namespace
        The package's ``globals()``; a resolved name is cached there.
    modules
        Defining module -> the public names it provides.
    """
    package = namespace["__name__"]
    home = {name: module for module, names in modules.items() for name in names}

    def getattr_(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted([*namespace, *home])

    return getattr_, dir_, sorted(home)
