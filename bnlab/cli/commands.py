"""The ``bnlab`` command: ``compose`` (conf/ -> params.yaml), ``stage <name>``, and more.

Subcommands live in their own modules and are listed in :data:`SUBCOMMANDS`; each module
has ``add_parser(subparsers)`` that adds its parser and sets ``func(args) -> int | None``
as the parser's default. Adding a command = adding one line to :data:`SUBCOMMANDS`.
Any :class:`~bnlab.errors.BNError` becomes a one-paragraph message on stderr and exit
code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bnlab.errors import BNError, ConfigError

#: name -> module with ``add_parser(subparsers)``; imported when the command line is built.
SUBCOMMANDS: dict[str, str] = {
    "compose": "bnlab.cli.commands",
    "stage": "bnlab.cli.commands",
    "report": "bnlab.cli.report",
    "export": "bnlab.cli.registry",
    "promote": "bnlab.cli.registry",
    "monitor": "bnlab.cli.monitor",
    "serve": "bnlab.cli.serve",
    "convert": "bnlab.cli.convert",
    "score": "bnlab.cli.score",
}

#: name -> the one line ``bnlab --help`` shows: the top-level help imports no subcommand
#: module (they import pandas, JAX or MLflow). Equal to each parser's ``help`` (a test checks).
SUMMARIES: dict[str, str] = {
    "compose": "compose conf/ into params.yaml (what the DVC stages read)",
    "stage": "run one pipeline stage (what dvc.yaml calls)",
    "report": "build the self-contained HTML report of an experiment folder",
    "export": "register a vetted experiment's model in the MLflow registry",
    "promote": "move the champion alias to a model version",
    "monitor": "check a new batch against a model's posterior (drift, surprise, data quality)",
    "serve": "serve a bnlab model over HTTP with Prometheus metrics and probes",
    "convert": (
        "convert a network file (.bif .json .xml .xmlbif .bifxml .net .uai .xdsl .dsl, + .gz)"
    ),
    "score": "score partitioned data with a model; write scored Parquet partitions",
}


def compose_params(
    output: str | Path = "params.yaml",
    overrides: Sequence[str] = (),
    config_dir: str | Path | None = None,
) -> Path:
    """Compose ``conf/`` into ``params.yaml`` exactly as ``dvc exp run`` does, after validating.

    Uses DVC's own ``dvc.utils.hydra.compose_and_dump``, so the file is byte-for-byte what
    ``dvc exp run -S`` would write.

    Raises
    ------
    ConfigError
        The composed configuration is invalid (nothing is written then).
    """
    from dvc.utils.hydra import compose_and_dump

    from bnlab.ops.config import validate
    from bnlab.ops.experiment import compose
    from bnlab.ops.experiment import config_dir as default_config_dir

    conf = Path(config_dir).resolve() if config_dir is not None else default_config_dir()
    validate(compose(conf, overrides), root=Path.cwd())
    target = Path(output)
    from bnlab.stages import common

    with common.atomic_path(target) as tmp:
        compose_and_dump(tmp, str(conf), None, "config", str(Path.cwd()), list(overrides))
    return target


def _compose(args: argparse.Namespace) -> int:
    path = compose_params(args.output, args.overrides, args.config_dir)
    if args.check:
        return 0
    print(f"bnlab: wrote {path}")
    return 0


def leaf_overrides(base: Any, current: Any, prefix: str = "") -> list[str] | None:
    """Hydra overrides ``key=value`` that turn the mapping ``base`` into ``current``.

    ``None`` when ``current`` has keys ``base`` lacks or drops some (no plain override
    gives that).
    """
    import json

    if not isinstance(base, dict) or not isinstance(current, dict):
        return None if isinstance(base, dict) != isinstance(current, dict) else []
    if set(base) != set(current):
        return None
    out: list[str] = []
    for key in base:
        name = f"{prefix}{key}"
        if isinstance(base[key], dict):
            deeper = leaf_overrides(base[key], current[key], f"{name}.")
            if deeper is None:
                return None
            out += deeper
        elif base[key] != current[key]:
            out.append(f"{name}={json.dumps(current[key])}")
    return out


def _check(args: argparse.Namespace) -> int:
    """``bnlab compose --check``: exit 1 when params.yaml is not what conf/ composes to.

    A params.yaml that ``dvc exp run -S key=value`` wrote — conf/ composed with overrides —
    is accepted when those overrides compose and validate to exactly that file: the
    experiment's parameters stay, and the check says which they are.
    """
    import tempfile

    import yaml

    current = Path(args.output)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = compose_params(Path(tmp) / "params.yaml", args.overrides, args.config_dir)
        if current.is_file() and current.read_bytes() == fresh.read_bytes():
            print(f"bnlab: {args.output} is up to date with conf/")
            return 0
        stale = f"bnlab: {current} is out of date with conf/; run `bnlab compose` to update it."
        if not current.is_file():
            print(stale, file=sys.stderr)
            return 1
        extra = leaf_overrides(
            yaml.safe_load(fresh.read_text()), yaml.safe_load(current.read_text())
        )
        if not extra:
            print(stale, file=sys.stderr)
            return 1
        try:
            again = compose_params(
                Path(tmp) / "again.yaml", [*args.overrides, *extra], args.config_dir
            )
        except BNError as err:
            print(
                f"bnlab: {current} holds values conf/ refuses ({' '.join(extra)}): "
                f"{' '.join(str(err).split())} Run `bnlab compose` to reset it.",
                file=sys.stderr,
            )
            return 1
        if again.read_bytes() != current.read_bytes():
            print(stale, file=sys.stderr)
            return 1
    print(
        f"bnlab: {args.output} is conf/ with the overrides {' '.join(extra)} "
        "(as `dvc exp run -S` writes them); `bnlab compose` resets it to conf/."
    )
    return 0


def _stage(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"bnlab.stages.{args.stage_name}")
    module.run(args)
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``compose`` and ``stage`` (the subcommands this module defines)."""
    p = subparsers.add_parser(
        "compose", help="compose conf/ into params.yaml (what the DVC stages read)"
    )
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. dataset=asia prior.ess=10")
    p.add_argument("-o", "--output", default="params.yaml", help="file to write")
    p.add_argument("--config-dir", default=None, help="Hydra config folder (default ./conf)")
    p.add_argument(
        "--check", action="store_true", help="only check that the file is up to date (exit 1)"
    )
    p.set_defaults(func=lambda a: _check(a) if a.check else _compose(a))

    stage = subparsers.add_parser("stage", help="run one pipeline stage (what dvc.yaml calls)")
    stages = stage.add_subparsers(dest="stage_name", required=True, metavar="STAGE")
    from bnlab.stages import STAGES

    for name in STAGES:
        module = importlib.import_module(f"bnlab.stages.{name}")
        template = module.build_parser()
        sp = stages.add_parser(
            name, help=(module.__doc__ or "").splitlines()[0], parents=[template], add_help=False
        )
        sp.set_defaults(func=_stage)


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(
        prog="bnlab",
        description="bnlab: discrete Bayesian networks whose CPTs carry their posterior.",
        epilog="`bnlab COMMAND --help` describes a command; bnlab-experiment runs Hydra sweeps.",
    )
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``bnlab`` argument parser with every registered subcommand.

    With ``command`` (a key of :data:`SUBCOMMANDS`) only that subcommand's module is
    imported, so ``bnlab compose`` does not pay for importing JAX or MLflow.
    """
    parser, subparsers = _top_parser()
    chosen = [SUBCOMMANDS[command]] if command in SUBCOMMANDS else SUBCOMMANDS.values()
    for module_name in dict.fromkeys(chosen):
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def summary_parser() -> argparse.ArgumentParser:
    """The parser of ``bnlab --help``: subcommands listed from :data:`SUMMARIES`.

    None of their modules is imported (they import pandas, JAX or MLflow).
    """
    parser, subparsers = _top_parser()
    for name in SUBCOMMANDS:
        subparsers.add_parser(name, help=SUMMARIES[name], add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``bnlab``."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(command) if command in SUBCOMMANDS else summary_parser()
    args = parser.parse_args(words)
    from bnlab.stages import common

    common.use_compile_cache()
    try:
        code = args.func(args)
    except BNError as err:
        return common.report_error(err)
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["SUBCOMMANDS", "ConfigError", "build_parser", "compose_params", "main"]
