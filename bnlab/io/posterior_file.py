"""Labelled (xarray) form and NetCDF files of a :class:`~bnlab.posterior.Posterior`.

Dimension naming: the axis of the states of variable ``V`` is ``"V_state"`` (see
:func:`state_dim`), with the state names as coordinates, whether ``V`` is the child of a CPT or
one of its parents; the CPT of ``X`` is the data variable ``"X"``. Files are NetCDF-4 written
with h5netcdf (no pickle): the root group holds the parameters, the structure as JSON text and
a format version in its attributes; MCMC sampler statistics go to a ``sample_stats`` group.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bnlab.errors import ArtifactError, BNError, StructureError
from bnlab.io.files import atomic_path
from bnlab.network import Structure

FORMAT = "bnlab.posterior"
FORMAT_VERSION = 1
STATE_SUFFIX = "_state"


def state_dim(variable: str) -> str:
    """Name of the dimension that indexes the states of ``variable``."""
    return f"{variable}{STATE_SUFFIX}"


def cpt_dims(structure: Structure, variable: str) -> tuple[str, ...]:
    """Dimension names of the CPT of ``variable``: its parents' state dims, then its own."""
    return tuple(state_dim(p) for p in structure.parents[variable]) + (state_dim(variable),)


def state_coords(structure: Structure) -> dict[str, list[str]]:
    """Coordinates of every state dimension: ``{state_dim(v): list(states[v])}``.

    Raises
    ------
    StructureError
        If a dimension name equals a variable name (variables ``X`` and ``X_state``), or
        a variable is called ``chain`` or ``draw``.
    """
    reserved = [v for v in ("chain", "draw") if v in structure.states]
    if reserved:
        raise StructureError(
            f"variable name(s) {reserved} are reserved for the draw axes of the labelled "
            "(ArviZ/NetCDF) form; rename them."
        )
    clash = [v for v in structure.variables if state_dim(v) in structure.states]
    if clash:
        raise StructureError(
            f"variables {[state_dim(v) for v in clash]} clash with the state dimensions of "
            f"{clash} in the labelled (xarray/NetCDF) form; rename them."
        )
    return {state_dim(v): list(structure.states[v]) for v in structure.variables}


def structure_to_json(structure: Structure) -> str:
    """Plain JSON text of a structure (variables, ordered states, parents)."""
    return json.dumps(
        {
            "variables": list(structure.variables),
            "states": {v: list(structure.states[v]) for v in structure.variables},
            "parents": {v: list(structure.parents[v]) for v in structure.variables},
        }
    )


def structure_from_json(text: str) -> Structure:
    """Inverse of :func:`structure_to_json`."""
    obj = json.loads(text)
    return Structure(obj["variables"], obj["states"], obj["parents"])


#: Marker of the checksum line appended after the NetCDF bytes (HDF5 ignores bytes past its
#: end-of-file address, so the file stays plain NetCDF to every other reader).
CHECKSUM_MARKER = b"\nbnlab-sha256:"
_TRAILER_BYTES = len(CHECKSUM_MARKER) + 64 + 1


def checksum_trailer(content: bytes) -> bytes:
    """The line appended to a posterior file: the SHA-256 of every byte before it."""
    return CHECKSUM_MARKER + hashlib.sha256(content).hexdigest().encode("ascii") + b"\n"


def write_tree(tree: xr.DataTree, path: str | os.PathLike[str]) -> Path:
    """Write a DataTree to NetCDF (h5netcdf) atomically, with a checksum line appended.

    A temp file, then a rename: a failed write leaves no partial file behind.
    """
    target = Path(path)
    with atomic_path(target) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf")
        content = Path(tmp).read_bytes()
        with open(tmp, "ab") as f:
            f.write(checksum_trailer(content))
    return target


def verified_bytes(path: Path) -> bytes:
    """The NetCDF bytes of a posterior file, after checking its SHA-256 line.

    Checked before any byte reaches the HDF5 parser, so a damaged file is refused at once
    (a flipped byte can otherwise make the parser fail in odd ways, or hang). A file without
    the line (written before bnlab 0.2) is returned as it is.

    Raises
    ------
    ArtifactError
        If the checksum line is malformed or does not match the content.
    """
    data = path.read_bytes()
    at = data.rfind(CHECKSUM_MARKER, max(0, len(data) - 2 * _TRAILER_BYTES))
    if at < 0:
        tail = data[-65:]
        if tail.endswith(b"\n") and all(c in b"0123456789abcdef" for c in tail[:-1]):
            raise _refuse(path, "its checksum line is damaged")
        return data
    content, line = data[:at], data[at + len(CHECKSUM_MARKER) :].strip()
    if len(line) != 64 or any(c not in b"0123456789abcdef" for c in line):
        raise _refuse(path, "its checksum line is damaged")
    if hashlib.sha256(content).hexdigest().encode("ascii") != line:
        raise _refuse(
            path,
            "its content does not match the SHA-256 recorded in it (the file was damaged or "
            "changed after it was written)",
        )
    return content


def _refuse(path: Path, problem: str) -> ArtifactError:
    return ArtifactError(
        f"{path}: {problem.rstrip('.')}. The file is not a valid bnlab posterior (format {FORMAT} "
        f"version {FORMAT_VERSION}); write it again with Posterior.save."
    )


def _text(x: object) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _read_root(
    content: bytes,
) -> tuple[dict[str, object], dict[str, tuple[tuple[str, ...], NDArray[Any]]], bool]:
    """Read the root group with h5netcdf alone: attributes, ``{name: (dims, values)}``, stats.

    The last item says whether a ``sample_stats`` group exists.

    Reading through xarray costs about a second per process here (decoding the string
    coordinates imports Dask and every other duck-array library it can find); the pipeline
    stages, the server and the flavor each load a posterior at start-up.
    """
    import h5netcdf

    with h5netcdf.File(io.BytesIO(content), "r") as f:
        attrs = {str(k): v for k, v in f.attrs.items()}
        coordinates = set(f.dimensions)  # a coordinate variable's only dimension is itself
        variables = {
            str(name): (
                (str(name),) if name in coordinates else tuple(str(d) for d in var.dimensions),
                np.asarray(var[...]),
            )
            for name, var in f.variables.items()
        }
        return attrs, variables, "sample_stats" in f.groups


class PosteriorRecord(NamedTuple):
    """The plain contents of a posterior file, checked against its own structure.

    Attributes
    ----------
    structure
        The structure the parameters belong to.
    kind
        ``"dirichlet"`` (``arrays`` are alpha) or ``"draws"`` (``(chain, draw, *cpt)``).
    arrays
        Parameters per variable, float64.
    metadata
        Prior, backend, row counts and attributes as written.
    sample_stats
        MCMC sampler statistics, when the file has them.
    """

    structure: Structure
    kind: str
    arrays: dict[str, NDArray[np.float64]]
    metadata: dict[str, Any]
    sample_stats: xr.Dataset | None


def refuse(path: Path, problem: str) -> ArtifactError:
    """The error for a file that is not a valid posterior, naming the problem and the fix."""
    return _refuse(path, problem)


def read_posterior_record(path: str | os.PathLike[str]) -> PosteriorRecord:
    """Read a posterior file written by :meth:`Posterior.save`, validating every field.

    :func:`bnlab.load_posterior` builds the :class:`~bnlab.posterior.Posterior` from it.

    Raises
    ------
    ArtifactError
        If the file is missing, not NetCDF, of another format or version, or holds a
        structure, shapes, labels or values (NaN, non-positive alpha, rows not summing to
        one) that do not make a valid posterior.
    """
    p = Path(path)
    if not p.is_file():
        raise ArtifactError(f"{p}: no such posterior file; write one with Posterior.save(path).")
    content = verified_bytes(p)
    try:
        attrs, variables, has_stats = _read_root(content)
        stats_ds = None
        if has_stats:  # MCMC sampler statistics: let xarray decode them (bool, units)
            with xr.open_datatree(io.BytesIO(content), engine="h5netcdf") as tree:
                stats_ds = tree.children["sample_stats"].to_dataset(inherit=False).load()
    except (OSError, ValueError, KeyError) as exc:
        raise _refuse(p, f"cannot be read as NetCDF ({exc})") from None
    if attrs.get("format") != FORMAT:
        raise _refuse(p, f"format attribute is {attrs.get('format')!r}, not {FORMAT!r}")
    version = attrs.get("format_version")
    if version != FORMAT_VERSION:
        raise _refuse(
            p,
            f"format version {version} is not supported (this bnlab reads {FORMAT_VERSION}); "
            "use the bnlab version that wrote it",
        )
    try:
        s = structure_from_json(str(attrs["structure"]))
        meta = json.loads(str(attrs["metadata"]))
    except (KeyError, ValueError, TypeError, BNError) as exc:
        raise _refuse(p, f"its structure or metadata attribute is invalid ({exc})") from None
    kind = attrs.get("kind")
    if kind not in ("dirichlet", "draws"):
        raise _refuse(p, f"kind {kind!r} is neither 'dirichlet' nor 'draws'")
    try:
        coords = state_coords(s)
    except StructureError as exc:
        raise _refuse(p, str(exc)) from None
    arrays: dict[str, NDArray[np.float64]] = {}
    for v in s.variables:
        if v not in variables:
            raise _refuse(p, f"it has no parameters for variable {v!r}")
        var_dims, values = variables[v]
        dims = cpt_dims(s, v) if kind == "dirichlet" else ("chain", "draw", *cpt_dims(s, v))
        if var_dims != dims:
            raise _refuse(p, f"parameters of {v!r} have dims {var_dims}, expected {dims}")
        for d in cpt_dims(s, v):
            labels = [_text(x) for x in variables[d][1]] if d in variables else None
            if labels != coords[d]:
                raise _refuse(p, f"labels of dimension {d!r} are {labels}, expected {coords[d]}")
        arrays[v] = np.asarray(values, dtype=np.float64)
    return PosteriorRecord(s, str(kind), arrays, dict(meta), stats_ds)
