"""Stage ``learn``: the graph, from expert knowledge, a structure search, or both."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from bnlab.config import DatasetConfig, StructureConfig, load_params, parse_edges, resolve_path
from bnlab.errors import ConfigError
from bnlab.network import Structure
from bnlab.stages import common
from bnlab.stages.prepare import load_network


def _states(frame: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    return {str(c): tuple(str(s) for s in frame[c].cat.categories) for c in frame.columns}


def expert_structure(
    s: StructureConfig, d: DatasetConfig, frame: pd.DataFrame, root: Path
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
        "ess": s.ess,
        "alpha": s.alpha,
        "test": s.test,
        "seed": seed if s.seed is None else s.seed,
    }


def learn(
    s: StructureConfig, d: DatasetConfig, train: pd.DataFrame, root: Path, seed: int = 0
) -> Structure:
    """The structure for ``structure.source``: expert, learned, or hybrid (search from expert)."""
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
    train = common.read_frame(args.train)
    structure = learn(cfg.structure, cfg.dataset, train, Path(args.root), seed=cfg.seed)
    Path(args.structure).parent.mkdir(parents=True, exist_ok=True)
    write_structure(structure, args.structure)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 on a bnlab error."""
    return common.main(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
