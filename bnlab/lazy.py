"""Lazy public names for packages whose modules import heavy libraries (JAX, SciPy).

A package lists ``{public name: defining module}``; :func:`lazy_exports` gives it the
module-level ``__getattr__`` and ``__dir__`` (PEP 562) that import the defining module on
first access. Each pipeline stage is a fresh process, so importing only what a stage uses
keeps its start-up short.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose public names load on first use.

    Parameters
    ----------
    namespace
        The package's ``globals()``; a resolved name is cached there.
    names
        Public name -> the module that defines it.
    """
    package = namespace["__name__"]

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted([*namespace, *names])

    return getattr_, dir_
