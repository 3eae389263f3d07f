"""Networks shipped with the package (bnlearn repository), loadable by name."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from bnlab.errors import BNError
from bnlab.io.bif import parse_bif
from bnlab.io.files import decode
from bnlab.network import BayesNet

_SUFFIX = ".bif.gz"


def _folder() -> Traversable:
    return files("bnlab").joinpath("examples")


def list_examples() -> list[str]:
    """Names of the networks shipped with bnlab, sorted.

    Examples
    --------
    >>> list_examples()
    ['alarm', 'asia', 'child', 'insurance']
    """
    return sorted(p.name[: -len(_SUFFIX)] for p in _folder().iterdir() if p.name.endswith(_SUFFIX))


@cache
def load_example(name: str) -> BayesNet:
    """Load a network shipped with bnlab by name (``"asia"``, ``"alarm"``, ...).

    Parameters
    ----------
    name
        One of :func:`list_examples`.

    Returns
    -------
    BayesNet
        The network (immutable, so the same object may be returned to every caller).

    Raises
    ------
    BNError
        An unknown name; the message lists the available ones.
    """
    available = list_examples()
    if name not in available:
        raise BNError(
            f"unknown example network {name!r}; available: {available}. "
            "Read other networks with bnlab.read_network(path)."
        )
    resource = _folder().joinpath(name + _SUFFIX)
    label = f"bnlab/examples/{name}{_SUFFIX}"
    return parse_bif(decode(resource.read_bytes(), label, gzipped=True), label)
