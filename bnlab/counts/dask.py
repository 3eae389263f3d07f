"""Counts on a Dask cluster: one small task per Parquet file or per DataFrame partition.

Workers read their own files (or partitions); only the structure (JSON), the file name and
the requested variable indices go out, and one small array per table comes back, summed on
the client. Equal, bit for bit, to in-memory counting.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from bnlab.counts.memory import count_families
from bnlab.counts.parquet import PathSource, Spec, Table, file_tables
from bnlab.counts.sources import CountsSource, ParquetCounts
from bnlab.errors import ConfigError
from bnlab.network import BayesNet, Structure, as_structure


def _structure_payload(structure: Structure) -> str:
    from bnlab.io.json_format import dumps, structure_to_dict

    return dumps(structure_to_dict(structure))


def _structure_of(payload: str) -> Structure:
    from bnlab.io.json_format import loads, structure_from_dict

    return structure_from_dict(loads(payload, "<task>", ("bnlab.structure",)), "<task>")


def connect(address: str | None, timeout: float = 10.0) -> Any:
    """Return a Dask client: to the scheduler at ``address``, or the current/default one.

    Raises
    ------
    ConfigError
        If the scheduler cannot be reached within ``timeout`` seconds, or dask.distributed
        is not installed.
    """
    try:
        from distributed import Client, get_client
    except ImportError:
        raise ConfigError(
            "compute: dask needs dask.distributed, which is not installed: "
            "`uv sync --extra dask` (or pip install 'bnlab[dask]')."
        ) from None

    if address is None:
        try:
            return get_client()
        except ValueError:
            raise ConfigError(
                "compute: dask needs a scheduler address (compute.scheduler_address: "
                "tcp://host:8786) or a running dask.distributed Client."
            ) from None
    try:
        return Client(address, timeout=f"{timeout}s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as err:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({err}). "
            "Check the address and that the scheduler is running, or use compute: local."
        ) from None


def _task_tables(path: str, structure_json: str, specs_json: str, batch_rows: int) -> list[Table]:
    """Dask task: every requested table of one Parquet file."""
    s = _structure_of(structure_json)
    specs = [(list(cols), list(cards)) for cols, cards in json.loads(specs_json)]
    return file_tables([path], s, specs, batch_rows)


class DaskCounts(ParquetCounts):
    """Tables of partitioned Parquet data on a Dask cluster: per batch, one task per file.

    Workers read their own files; only the structure (JSON), the file name and the
    requested variable indices go out, and one small array per table comes back.

    Parameters
    ----------
    source, structure, batch_rows, check
        As :class:`ParquetCounts` (the files must be readable by the workers under the
        same paths).
    client
        A ``distributed.Client``; left open by :meth:`close`.
    address
        Scheduler address (``tcp://host:8786``) when no ``client`` is given; the client
        opened for it is closed by :meth:`close`.
    timeout
        Seconds to wait for the scheduler before a :class:`~bnlab.errors.ConfigError`.
    """

    def __init__(
        self,
        source: PathSource,
        structure: Structure | BayesNet | None = None,
        *,
        client: Any = None,
        address: str | None = None,
        timeout: float = 10.0,
        batch_rows: int = 1_000_000,
        check: bool = True,
    ) -> None:
        super().__init__(source, structure, batch_rows=batch_rows, check=check)
        self._own = client is None
        self.client = client if client is not None else connect(address, timeout)
        self._payload = _structure_payload(self.structure)

    def _count(self, specs: list[Spec]) -> list[Table]:
        # the request travels as one JSON string: large list arguments of client.map are
        # turned into tasks of their own, which this distributed version fails to schedule
        request = json.dumps(specs)
        futures = [
            self.client.submit(
                _task_tables, str(f), self._payload, request, self.batch_rows, pure=False
            )
            for f in self.files
        ]
        totals = [np.zeros(tuple(cards), dtype=np.int64) for _, cards in specs]
        for part in self.client.gather(futures):
            for total, table in zip(totals, part, strict=True):
                total += table
        return totals

    def close(self) -> None:
        """Close the client if this source opened it."""
        if self._own and self.client is not None:
            self.client.close()
            self.client = None


def _partition_tables(frame: Any, payload: str, specs_json: str) -> list[Table]:
    """Dask task: every requested table of one DataFrame partition."""
    from bnlab.data import encode

    s = _structure_of(payload)
    specs = [(list(cols), list(cards)) for cols, cards in json.loads(specs_json)]
    codes = encode(frame[list(s.variables)], s)
    return [table for table, _ in count_families(codes, specs)]


class DaskFrameCounts(CountsSource):
    """Tables of a Dask DataFrame of Categorical/str columns: per batch, one task per partition.

    Parameters
    ----------
    frame
        The Dask DataFrame (one column per variable of ``structure``).
    structure
        Variables and states.
    """

    def __init__(self, frame: Any, structure: Structure | BayesNet) -> None:
        s = as_structure(structure)
        self.structure = Structure(s.variables, s.states, {})
        self.frame = frame
        self._payload = _structure_payload(self.structure)
        self.passes = 0
        self.n_rows = int(self.table_counts([[]])[0].sum())
        self.passes = 0

    def _count(self, specs: list[Spec]) -> list[Table]:
        import dask

        request = json.dumps(specs)
        tasks = [
            dask.delayed(_partition_tables)(part, self._payload, request)  # type: ignore[attr-defined]
            for part in self.frame.to_delayed()
        ]
        totals = [np.zeros(tuple(cards), dtype=np.int64) for _, cards in specs]
        for part in dask.compute(*tasks):  # type: ignore[attr-defined,no-untyped-call]
            for total, table in zip(totals, part, strict=True):
                total += table
        return totals
