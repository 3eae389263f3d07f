"""Stage ``fit``: the posterior over the CPTs of the learned structure."""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from bnlab.config import BackendConfig, PriorConfig, load_params
from bnlab.network import Structure
from bnlab.posterior import Posterior
from bnlab.stages import common


def backend_options(backend: BackendConfig, seed: int) -> dict[str, Any]:
    """Keyword arguments of :func:`bnlab.fit` for the configured backend (none: conjugate)."""
    if backend.name == "conjugate":
        return {}
    options: dict[str, Any] = {
        "draws": backend.draws,
        "tune": backend.warmup,
        "chains": backend.chains,
        "target_accept": backend.target_accept,
        "seed": seed,
    }
    if backend.name == "pymc" and backend.sampler is not None:
        options["nuts_sampler"] = backend.sampler
    return options


def fit_posterior(
    structure: Structure, train: pd.DataFrame, prior: PriorConfig, backend: BackendConfig, seed: int
) -> Posterior:
    """Fit ``structure`` to the training rows with the configured prior and backend.

    ``prior.ess`` is BDeu's equivalent sample size, and the pseudo-count per cell of the
    uniform prior.
    """
    from bnlab.fit import fit

    return fit(
        structure,
        train,
        prior=prior.name,
        ess=prior.ess,
        backend=backend.name,
        alpha=prior.ess,
        **backend_options(backend, seed),
    )


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m bnlab.stages.fit``."""
    p = common.parser("fit", __doc__ or "")
    p.add_argument("--train", required=True, help="input: training rows (.parquet)")
    p.add_argument("--structure", required=True, help="input: the graph (.json)")
    p.add_argument("--posterior", required=True, help="output: the posterior (.nc)")
    p.add_argument("--network", required=True, help="output: posterior-mean network (.json)")
    return p


def run(args: argparse.Namespace) -> None:
    """Read the parameters, rows and structure; write the posterior and its mean network."""
    from bnlab.io import read_structure, write_network

    cfg = load_params(args.params, root=args.root)
    train = common.read_frame(args.train)
    structure = read_structure(args.structure)
    post = fit_posterior(structure, train, cfg.prior, cfg.backend, cfg.seed)
    mean = post.mean()
    post.save(args.posterior)
    write_network(mean, args.network)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 on a bnlab error."""
    return common.main(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
