"""Stage ``fit``: the posterior over the CPTs of the learned structure.

With ``compute: dask`` or ``compute.train_data`` set, the conjugate fit counts the Parquet
rows in place (streamed here, or one task per file on the Dask scheduler): the same
posterior as in memory, in bounded memory.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from bnlab.errors import ConfigError
from bnlab.network import Structure
from bnlab.ops.config import BackendConfig, ComputeConfig, PriorConfig, load_params
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


def compute_options(compute: ComputeConfig | None, backend: BackendConfig) -> dict[str, Any]:
    """Keyword arguments of :func:`bnlab.fit` that send the counting of Parquet rows to Dask.

    Raises
    ------
    ConfigError
        ``compute: dask`` with an MCMC backend, which needs the rows in memory.
    """
    if compute is None or compute.name == "local":
        return {} if compute is None else {"batch_rows": compute.batch_rows}
    if backend.name != "conjugate":
        raise ConfigError(
            f"compute=dask counts for the conjugate backend only; backend={backend.name!r} "
            "samples from the rows in memory: use compute=local or backend=conjugate."
        )
    return {
        "compute": "dask",
        "scheduler": compute.scheduler_address,
        "timeout": compute.timeout_s,
        "batch_rows": compute.batch_rows,
    }


def fit_posterior(
    structure: Structure,
    train: pd.DataFrame | str,
    prior: PriorConfig,
    backend: BackendConfig,
    seed: int,
    compute: ComputeConfig | None = None,
) -> Posterior:
    """Fit ``structure`` to the training rows with the configured prior and backend.

    ``prior.ess`` is BDeu's equivalent sample size, and the pseudo-count per cell of the
    uniform prior. ``train`` is a DataFrame, or a Parquet location counted in place as
    ``compute`` says (MCMC backends read such rows into memory).
    """
    from bnlab.fitting import fit

    options = backend_options(backend, seed)
    if isinstance(train, str) and backend.name == "conjugate":
        options.update(compute_options(compute, backend))
    elif isinstance(train, str):
        compute_options(compute, backend)  # refuses compute=dask for MCMC
    return fit(
        structure,
        train,
        prior=prior.name,
        ess=prior.ess,
        backend=backend.name,
        alpha=prior.ess,
        **options,
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
    structure = read_structure(args.structure)
    train: pd.DataFrame | str
    if common.partitioned(cfg.compute):
        train = common.train_location(cfg.compute, args.train, Path(args.root))
    else:
        train = common.read_frame(args.train)
    post = fit_posterior(structure, train, cfg.prior, cfg.backend, cfg.seed, cfg.compute)
    from bnlab.stages.prepare import schema_path

    if schema_path(args.train).is_file():  # inferred by the prepare stage: kept in the model
        import json

        post.attrs["schema"] = json.loads(schema_path(args.train).read_text())
    mean = post.mean()
    post.save(args.posterior)
    write_network(mean, args.network)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit code 2 on a bnlab error."""
    return common.main(run, build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
