"""Which network format a file holds: from its suffix or an explicit ``format=``.

Every format but JSON may also be gzip-compressed (a trailing ``.gz``).

============  ===================================  =================================
format        suffixes                             module
============  ===================================  =================================
``bif``       ``.bif``                             :mod:`bnlab.io.bif`
``json``      ``.json``                            :mod:`bnlab.io.json_format`
``xmlbif``    ``.xml``, ``.xmlbif``, ``.bifxml``   :mod:`bnlab.io.xmlbif`
``net``       ``.net``                             :mod:`bnlab.io.hugin_net`
``uai``       ``.uai``                             :mod:`bnlab.io.uai`
``xdsl``      ``.xdsl``                            :mod:`bnlab.io.xdsl`
``dsl``       ``.dsl``                             :mod:`bnlab.io.dsl`
============  ===================================  =================================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bnlab.errors import BNError, ParseError
from bnlab.io.assemble import OnUnsupported
from bnlab.io.bif import parse_bif
from bnlab.io.bif_writer import format_bif
from bnlab.io.dsl import format_dsl, parse_dsl
from bnlab.io.hugin_net import format_net, parse_net
from bnlab.io.xdsl import format_xdsl, parse_xdsl
from bnlab.io.xmlbif import format_xmlbif, parse_xmlbif
from bnlab.network import BayesNet

#: format -> the suffixes that select it (the first is the one written by default)
FORMATS: dict[str, tuple[str, ...]] = {
    "bif": (".bif",),
    "json": (".json",),
    "xmlbif": (".xml", ".xmlbif", ".bifxml"),
    "net": (".net",),
    "uai": (".uai",),
    "xdsl": (".xdsl",),
    "dsl": (".dsl",),
}

#: formats whose text readers take ``on_unsupported`` (UAI and BIF have only chance nodes)
_READERS: dict[str, Callable[[str, str, OnUnsupported], BayesNet]] = {
    "xmlbif": parse_xmlbif,
    "net": parse_net,
    "xdsl": parse_xdsl,
    "dsl": parse_dsl,
}
_WRITERS: dict[str, Callable[[BayesNet], str]] = {
    "bif": format_bif,
    "xmlbif": format_xmlbif,
    "net": format_net,
    "xdsl": format_xdsl,
    "dsl": format_dsl,
}


def suffix_list() -> str:
    """All suffixes, for messages: ``.bif, .json, .xml, ...`` (each also ``.gz`` but JSON)."""
    return ", ".join(s for suffixes in FORMATS.values() for s in suffixes)


def detect(
    path: str | os.PathLike[str], format: str | None = None, *, writing: bool = False
) -> tuple[str, bool]:
    """Return ``(format, gzipped)`` for ``path``: from ``format`` if given, else the suffix.

    Raises
    ------
    ParseError
        For reading, an unknown suffix or format name.
    BNError
        For writing, an unknown suffix or format name.
    """
    name = Path(path).name.lower()
    gzipped = name.endswith(".gz")
    stem = name[:-3] if gzipped else name
    error: type[BNError] = BNError if writing else ParseError
    if format is not None:
        key = format.lower().lstrip(".")
        key = next((k for k, sfx in FORMATS.items() if key == k or "." + key in sfx), key)
        if key not in FORMATS:
            raise BNError(f"unknown network format {format!r}; bnlab knows {', '.join(FORMATS)}.")
    else:
        key = next((k for k, sfx in FORMATS.items() for s in sfx if stem.endswith(s)), "")
        if not key:
            message = (
                f"unknown network file suffix in {Path(path).name!r}; bnlab "
                f"{'writes' if writing else 'reads'} {suffix_list()} (each also gzipped, "
                "+ .gz, but .json). Rename the file, pass format=..., or convert it "
                "(pgmpy / pyAgrum objects: bnlab.io.from_pgmpy, bnlab.io.from_pyagrum)."
            )
            if writing:
                raise BNError(message)
            raise ParseError(message, path=str(path))
    if key == "json" and gzipped:
        raise error(
            "bnlab's JSON format is not read or written gzipped; drop the .gz or use .bif.gz"
        )
    return key, gzipped


def parse_text(fmt: str, text: str, path: str, on_unsupported: OnUnsupported = "error") -> BayesNet:
    """Parse the text of a ``bif``, ``xmlbif``, ``net``, ``xdsl`` or ``dsl`` file."""
    if fmt == "bif":
        return parse_bif(text, path)
    return _READERS[fmt](text, path, on_unsupported)


def format_text(fmt: str, net: BayesNet) -> str:
    """Write ``net`` as ``bif``, ``xmlbif``, ``net``, ``xdsl`` or ``dsl`` text."""
    return _WRITERS[fmt](net)
