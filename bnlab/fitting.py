"""Fit the posterior of a structure's CPTs from data, with a pluggable backend.

``fit`` turns the data into integer codes, builds the Dirichlet prior, and hands both to a
backend looked up by name in :data:`BACKENDS`. A backend is a callable
``backend(inputs: FitInput, **options) -> Posterior``; it is registered as the callable
itself or as ``"module:function"`` text, imported only when first used (so ``"numpyro"`` and
``"pymc"`` cost nothing until asked for). :func:`register_backend` adds one.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bnlab.counts import column_reduce
from bnlab.counts.sources import is_partitioned
from bnlab.data import encode
from bnlab.errors import BackendError, DataError
from bnlab.network import BayesNet, Structure, as_structure
from bnlab.posterior import Posterior
from bnlab.priors import PriorSpec, describe_prior, prior_alpha


class FitInput(NamedTuple):
    """What every backend receives.

    Attributes
    ----------
    structure
        The structure to fit.
    codes
        Integer codes ``(rows, variables)`` in ``structure.variables`` order, -1 = missing.
    alpha
        Dirichlet prior pseudo-counts per variable, shaped like the CPTs.
    prior
        Name of the prior (``"bdeu"``, ``"k2"``, ``"uniform"`` or ``"custom"``).
    ess
        Equivalent sample size of a BDeu prior, else ``None``.
    """

    structure: Structure
    codes: NDArray[np.signedinteger]
    alpha: dict[str, NDArray[np.float64]]
    prior: str
    ess: float | None


Backend = Callable[..., Posterior]

#: name -> backend callable, or "module:function" imported on first use
BACKENDS: dict[str, Backend | str] = {
    "conjugate": "bnlab.backends.conjugate:fit_conjugate",
    "numpyro": "bnlab.backends.numpyro_backend:fit_numpyro",
    "pymc": "bnlab.backends.pymc_backend:fit_pymc",
    "gibbs": "bnlab.backends.gibbs_backend:fit_gibbs",
}


#: prior name handled by the MCMC backends' hierarchical model (bnlab.backends.model_spec)
HIERARCHICAL = "hierarchical"
HIERARCHICAL_BACKENDS = frozenset({"numpyro", "pymc"})


def register_backend(name: str, backend: Backend | str) -> None:
    """Register (or replace) a backend under ``name``."""
    BACKENDS[str(name)] = backend


def get_backend(name: str) -> Backend:
    """Return the backend registered under ``name``, importing it if needed.

    Raises
    ------
    BackendError
        If no backend has that name, or its module (an optional dependency) cannot be
        imported.
    """
    target = BACKENDS.get(name) if isinstance(name, str) else None
    if target is None:
        raise BackendError(f"unknown backend {name!r}; known backends are {sorted(BACKENDS)}.")
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(
            f"backend {name!r} is not available ({exc}); install its extra, e.g. "
            f"`uv sync --extra {name}`, or choose another of {sorted(BACKENDS)}."
        ) from None
    backend = getattr(module, attr, None)
    if not callable(backend):
        raise BackendError(f"backend {name!r}: {module_name} has no callable {attr!r}.")
    return backend  # type: ignore[no-any-return]


def _parquet_codes(data: str | os.PathLike[str], s: Structure) -> NDArray[np.signedinteger]:
    from bnlab.counts.parquet import parquet_files
    from bnlab.io.parquet import read_parquet

    parts = [encode(read_parquet(p), s) for p in parquet_files(data)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def as_codes(data: Any, structure: Structure | BayesNet) -> NDArray[np.signedinteger]:
    """Integer codes of ``data`` for ``structure``, validated.

    ``data`` is a DataFrame (encoded with :func:`bnlab.data.encode`), an integer array of
    codes ``(rows, variables)`` in ``structure.variables`` order with -1 = missing, or a path
    or glob of Parquet files.
    """
    s = as_structure(structure)
    if isinstance(data, pd.DataFrame):
        return encode(data, s)
    if isinstance(data, (str, Path)):
        return _parquet_codes(data, s)
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "iu" or data.ndim != 2 or data.shape[1] != len(s.variables):
            raise DataError(
                f"codes must be a 2-D integer array (rows, {len(s.variables)}) in "
                f"structure.variables order, got dtype {data.dtype} and shape {data.shape}; "
                "encode a DataFrame with bnlab.encode(df, structure)."
            )
        if data.shape[0]:
            lo, hi = column_reduce(data, np.minimum), column_reduce(data, np.maximum)
            cards = np.array([s.cards[v] for v in s.variables])
            bad = np.flatnonzero((lo < -1) | (hi >= cards))
            if bad.size:
                v = s.variables[int(bad[0])]
                raise DataError(
                    f"codes of {v!r} (column {int(bad[0])}) lie in [{lo[bad[0]]}, {hi[bad[0]]}] "
                    f"but must lie in [-1, {s.cards[v] - 1}] (-1 = missing)."
                )
        return data
    raise DataError(
        f"cannot fit from {type(data).__name__}; pass a DataFrame, an integer code array or "
        "a path/glob of Parquet files."
    )


def _raw_partitions(data: Any, schema: Any, backend: str) -> tuple[Any, Any]:
    """``(data, Schema)`` for raw partitioned ``data``: conjugate streams them; others load.

    Raises
    ------
    SchemaError
        ``schema="infer"`` (inferring needs the rows in memory), or a non-conjugate backend
        with data other than Parquet files.
    """
    from bnlab.counts.parquet import parquet_files
    from bnlab.counts.sources import is_path_source
    from bnlab.schema import SchemaError, as_categorical, as_schema

    if isinstance(schema, str):
        raise SchemaError(
            f"schema={schema!r} needs the rows in memory to infer from; for partitioned data "
            "infer it on a sample (bnlab.infer_schema(pandas.read_parquet(one_file))) and "
            "pass that schema."
        )
    sch = as_schema(schema)
    if backend == "conjugate":
        return data, sch
    if not is_path_source(data):
        raise SchemaError(
            f"the {backend!r} backend takes schema-encoded partitions from Parquet files or a "
            "DataFrame only; compute the frame (or use the conjugate backend)."
        )
    import pyarrow.parquet as pq

    frame = pd.concat(
        [pq.read_table(f).to_pandas() for f in parquet_files(data)], ignore_index=True
    )
    return as_categorical(frame, sch)


def _check_rows(n_rows: int, allow_empty: bool) -> None:
    if n_rows == 0 and not allow_empty:
        raise DataError(
            "the data have no rows, so the posterior would be the prior alone; check the "
            "filter or file that produced them, or pass allow_empty=True to fit the prior "
            "on purpose."
        )


def fit(
    structure_or_net: Structure | BayesNet,
    data: Any,
    prior: PriorSpec = "bdeu",
    ess: float = 1.0,
    backend: str = "conjugate",
    *,
    alpha: float = 1.0,
    allow_empty: bool = False,
    schema: Any = None,
    **backend_options: Any,
) -> Posterior:
    """Posterior over the CPTs of a structure given data.

    Parameters
    ----------
    structure_or_net
        The structure to fit (a network's CPTs are ignored; only its structure is used).
    data
        A DataFrame of Categorical/str columns, integer codes, or a Parquet path/glob.
    prior
        ``"bdeu"``, ``"k2"``, ``"uniform"`` or ``{variable: pseudo-counts}``
        (see :func:`bnlab.priors.prior_alpha`).
    ess
        BDeu equivalent sample size.
    backend
        Name of a registered backend: ``"conjugate"`` (exact, closed form), ``"numpyro"``
        or ``"pymc"`` (NUTS), or ``"gibbs"`` (data-augmentation Gibbs, numpy).
    alpha
        Pseudo-count per cell of the ``"uniform"`` prior.
    allow_empty
        Accept data without rows and return the prior as the posterior. Off by default: an
        empty training set is almost always a bug upstream (a filter that kept nothing).
    schema
        A :class:`bnlab.Schema` (or ``"infer"``) turning raw ``data`` into states; it is
        stored with the posterior (``attrs["schema"]``) so the model bins raw input. Raw
        Parquet partitions are encoded record batch by record batch with it (the conjugate
        backend streams them; the others read the files whole), so the posterior equals the
        one of the same rows in one frame; ``"infer"`` needs the rows in memory (a frame).
    **backend_options
        Passed to the backend. With the conjugate backend and partitioned data (a Parquet
        folder, glob or list of files, or a Dask DataFrame) the counts are streamed in
        bounded memory: ``compute="local"`` (default) or ``"dask"`` with
        ``scheduler="tcp://host:8786"`` (or a running client), and ``batch_rows``; see
        :func:`bnlab.counts.sources.partitioned_counts`.

    Returns
    -------
    Posterior
        With ``elapsed_s`` set to the wall time of the whole call.

    Raises
    ------
    BackendError
        Unknown or unavailable backend, or an option it does not take.
    PriorError
        Invalid prior parameters.
    DataError
        Data that do not match the structure, or no rows (unless ``allow_empty``).
    """
    start = time.perf_counter()
    from bnlab.schema import as_categorical

    raw_partitions = schema is not None and is_partitioned(data)
    if raw_partitions:
        data, data_schema = _raw_partitions(data, schema, backend)
        raw_partitions = backend == "conjugate"
    else:
        data, data_schema = as_categorical(data, schema)
    fn = get_backend(backend)
    s = as_structure(structure_or_net)
    desc: dict[str, Any]
    if isinstance(prior, str) and prior.lower() == HIERARCHICAL:
        # hierarchical Dirichlet (MCMC backends only): rows ~ Dirichlet(s * m), m and s learned
        if backend not in HIERARCHICAL_BACKENDS:
            raise BackendError(
                f"prior='hierarchical' needs an MCMC backend {sorted(HIERARCHICAL_BACKENDS)}, "
                f"not {backend!r}: its rows are not conjugate. The conjugate and gibbs "
                "backends take 'bdeu', 'k2', 'uniform' or pseudo-counts."
            )
        pseudo, desc = prior_alpha(s, "k2"), {"prior": HIERARCHICAL}
    else:
        pseudo = prior_alpha(s, prior, ess=ess, alpha=alpha)
        desc = describe_prior(prior, ess, alpha)
    if backend == "conjugate" and is_partitioned(data):
        # counts add across partitions: stream or distribute them, never load all rows
        from bnlab.backends.conjugate import posterior_from_counts
        from bnlab.counts.sources import partitioned_counts

        counts, n_rows = partitioned_counts(
            data, s, schema=data_schema if raw_partitions else None, **backend_options
        )
        _check_rows(n_rows, allow_empty)
        empty = np.zeros((0, len(s.variables)), dtype=np.int8)
        inputs = FitInput(s, empty, pseudo, desc["prior"], desc.get("ess"))
        post = posterior_from_counts(inputs, counts, n_rows)
        if data_schema is not None:
            post.attrs["schema"] = data_schema.to_dict()
        post.elapsed_s = time.perf_counter() - start
        return post
    codes = as_codes(data, s)
    _check_rows(codes.shape[0], allow_empty)
    inputs = FitInput(s, codes, pseudo, desc["prior"], desc.get("ess"))
    post = fn(inputs, **backend_options)
    if data_schema is not None:
        post.attrs["schema"] = data_schema.to_dict()
    post.elapsed_s = time.perf_counter() - start
    return post


__all__ = ["BACKENDS", "FitInput", "as_codes", "fit", "get_backend", "register_backend"]
