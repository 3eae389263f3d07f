"""Dask clients for batch scoring: a scheduler's address, or a LocalCluster on this machine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bnlab.errors import ConfigError


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A client to ``scheduler``, or to a new LocalCluster of ``workers`` processes.

    The LocalCluster listens on 127.0.0.1 only, runs one thread per worker process and no
    dashboard; it is closed when the block ends. Yields ``None`` when neither is given.

    Raises
    ------
    ConfigError
        Both given, a worker count below 1, dask.distributed missing, or a scheduler that
        cannot be reached.
    """
    if scheduler is not None and workers is not None:
        raise ConfigError("give --scheduler (an existing cluster) or --workers N, not both.")
    if scheduler is None and workers is None:
        yield None
        return
    if workers is not None and int(workers) < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}.")
    from bnlab.counts.dask import connect

    if scheduler is not None:
        client = connect(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    from distributed import Client, LocalCluster

    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=int(workers or 1),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # loopback, any free port (8787 may be taken)
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client
