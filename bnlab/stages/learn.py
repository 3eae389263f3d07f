"""Stage ``learn``: the graph, from expert knowledge, a structure search, or both.

With ``compute: dask`` or ``compute.train_data`` set, the training rows are never loaded:
the search takes its counts from a counts source over the Parquet files (streamed here, or
one task per file on the Dask scheduler), with the same result as in memory.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from bnlab.counts.sources import CountsSource
from bnlab.errors import ConfigError
from bnlab.network import Structure
from bnlab.ops.config import (
    ComputeConfig,
    DatasetConfig,
    StructureConfig,
    load_params,
    parse_edges,
    resolve_path,
)
from bnlab.stages import common
from bnlab.stages.prepare import load_network

#: Training data of the learn and fit steps: rows in memory, or a counts source over Parquet.
type TrainData = pd.DataFrame | CountsSource


def _states(train: TrainData) -> dict[str, tuple[str, ...]]:
    if isinstance(train, CountsSource):
        return {v: tuple(train.structure.states[v]) for v in train.structure.variables}
    return {str(c): tuple(str(s) for s in train[c].cat.categories) for c in train.columns}


def open_source(compute: ComputeConfig, location: str) -> CountsSource:
    """A counts source over the Parquet ``location`` as ``compute`` says (local or Dask).

    Raises
    ------
    ConfigError
        The Dask scheduler does not answer within ``compute.timeout_s`` seconds.
    DataError
        No Parquet files at ``location``, or partitions that differ (the file is named).
    """
    from bnlab.counts.sources import counts_source

    return counts_source(
        location,
        compute=compute.name,
        scheduler=compute.scheduler_address,
        timeout=compute.timeout_s,
        batch_rows=compute.batch_rows,
    )


def expert_structure(
    s: StructureConfig, d: DatasetConfig, frame: TrainData, root: Path
) -> Structure:
    """The expert graph: ``structure.edges``, else ``structure.network``, else the true network.

    Variables and states come from the data, so that the graph fits them.

    Raises
    ------
    ConfigError
        No expert graph is configured, or it names variables the data do not have.
    """
    states = _states(frame)
    if s.edges is not None:
        edges = parse_edges(list(s.edges), "structure.edges")
    else:
        ref = s.network if s.network is not None else d.network
        if ref is None:
            raise ConfigError(
                "no expert graph: set structure.edges or structure.network (file data have no "
                "true network to take the graph from)."
            )
        from bnlab.io import list_examples, read_structure

        graph = (
            load_network(ref, root).structure
            if ref in list_examples()
            else read_structure(resolve_path(ref, root))
        )
        edges = list(graph.edges)
    unknown = sorted({v for e in edges for v in e} - set(states))
    if unknown:
        raise ConfigError(
            f"the expert graph names variable(s) {unknown} that the data do not have; fix "
            "structure.edges / structure.network or the data's columns."
        )
    parents: dict[str, list[str]] = {}
    for a, b in edges:
        parents.setdefault(b, []).append(a)
    return Structure(variables=list(states), states=states, parents=parents)


def search_options(s: StructureConfig, seed: int) -> dict[str, Any]:
    """Keyword arguments of :func:`bnlab.learn_structure` from the structure config."""
    constraints = {
        "required": s.required,
        "forbidden": s.forbidden,
        "tiers": s.tiers,
        "no_parents": s.no_parents,
        "no_children": s.no_children,
        "start": s.start,
    }
    return {
        "score": s.score,
        "method": s.method,
        "constraints": constraints,
        "max_indegree": s.max_indegree,
        "restarts": s.restarts,
        "perturb": s.perturb,
        "tabu_length": s.tabu_length,
        "tree_start": s.tree_start,
        "ess": s.ess,
        "alpha": s.alpha,
        "test": s.test,
        "seed": seed if s.seed is None else s.seed,
    }


def learn(
    s: StructureConfig, d: DatasetConfig, train: TrainData, root: Path, seed: int = 0
) -> Structure:
    """The structure for ``structure.source``: expert, learned, or hybrid (search from expert).

    ``train`` is a DataFrame, or a counts source (see :func:`open_source`) for data counted
    in place; ``structure.method: pc`` needs a DataFrame.
    """
    from bnlab.learn import learn_structure

    if s.source == "expert":
        return expert_structure(s, d, train, root)
    options = search_options(s, seed)
    if s.source == "hybrid":
        options["start"] = expert_structure(s, d, train, root)
    result = learn_structure(train, **options)
    if not isinstance(result, Structure):  # pragma: no cover - return_info=False
        raise ConfigError("structure search returned no structure")
    return result


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m bnlab.stages.learn``."""
    p = common.parser("learn", __doc__ or "")
    p.add_argument("--train", required=True, help="input: training rows (.parquet)")
    p.add_argument("--structure", required=True, help="output: the graph (.json)")
    return p


def run(args: argparse.Namespace) -> None:
    """Read the parameters and training rows, write the structure."""
    from bnlab.io import write_structure

    cfg = load_params(args.params, root=args.root)
    root = Path(args.root)
    if common.partitioned(cfg.compute):
        with open_source(
            cfg.compute, common.train_location(cfg.compute, args.train, root)
        ) as source:
            structure = learn(cfg.structure, cfg.dataset, source, root, seed=cfg.seed)
    else:
        train = common.read_frame(args.train)
        structure = learn(cfg.structure, cfg.dataset, train, root, seed=cfg.seed)
    Path(args.structure).parent.mkdir(parents=True, exist_ok=True)
    write_structure(structure, args.structure)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 on a bnlab error."""
    return common.main(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
