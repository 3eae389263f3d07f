"""File plumbing shared by the network formats: suffixes, gzip, atomic writes, error paths."""

from __future__ import annotations

import gzip
import os
import secrets
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
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
                "(drop the .gz from its name if it is plain text)",
                path=path,
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older BIF files; every byte decodes


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` reproducibly (no time stamp, so equal inputs give equal files)."""
    return gzip.compress(data, compresslevel=6, mtime=0)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temp file keeps the target's suffixes (for writers that choose a format by suffix)
    and is created with the usual permissions (``0o666`` less the umask). On any error it
    is removed and ``path`` is left as it was; the folder is created if needed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes) or ".tmp"
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{suffix}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`), synced to disk."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def with_message[E: Exception](err: E, message: str) -> E:
    """Copy of ``err`` (same type and attributes) whose message is ``message``."""
    new = type(err).__new__(type(err))
    new.__dict__.update(err.__dict__)
    new.args = (message,)
    return new


def with_path[E: Exception](err: E, path: str) -> E:
    """Copy of ``err`` with the file name in front of its message."""
    return with_message(err, f"{path}: {err}")
