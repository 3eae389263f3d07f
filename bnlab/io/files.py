"""File plumbing shared by the network formats: suffixes, gzip, atomic writes, error paths."""

from __future__ import annotations

import gzip
import os
import secrets
import zlib
from pathlib import Path

from bnlab.errors import BNError, ParseError

#: Suffixes understood by :func:`bnlab.io.read_network` and :func:`bnlab.io.write_network`.
SUFFIXES = (".bif", ".bif.gz", ".json")


def file_kind(path: str | os.PathLike[str], *, writing: bool = False) -> str:
    """Return ``"bif"``, ``"bif.gz"`` or ``"json"`` from a file name's suffix.

    Raises
    ------
    ParseError
        For reading, an unknown suffix.
    BNError
        For writing, an unknown suffix.
    """
    name = Path(path).name.lower()
    for kind in ("bif.gz", "bif", "json"):
        if name.endswith("." + kind):
            return kind
    message = (
        f"unknown network file suffix in {Path(path).name!r}; bnlab "
        f"{'writes' if writing else 'reads'} {', '.join(SUFFIXES)}. Rename the file or "
        "convert it (pgmpy / pyAgrum objects: bnlab.io.from_pgmpy, bnlab.io.from_pyagrum)."
    )
    if writing:
        raise BNError(message)
    raise ParseError(message, path=str(path))


def decode(data: bytes, path: str, *, gzipped: bool) -> str:
    """Bytes of a network file (gzip-compressed or not) as text.

    Raises
    ------
    ParseError
        A corrupt or truncated gzip stream.
    """
    if gzipped:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ParseError(
                f"not a valid gzip file ({err}); the file may be truncated or not compressed "
                "(rename it to .bif if it is plain text)",
                path=path,
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older BIF files; every byte decodes


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` reproducibly (no time stamp, so equal inputs give equal files)."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, then rename.

    On any error the temp file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def with_message[E: Exception](err: E, message: str) -> E:
    """Copy of ``err`` (same type and attributes) whose message is ``message``."""
    new = type(err).__new__(type(err))
    new.__dict__.update(err.__dict__)
    new.args = (message,)
    return new


def with_path[E: Exception](err: E, path: str) -> E:
    """Copy of ``err`` with the file name in front of its message."""
    return with_message(err, f"{path}: {err}")
