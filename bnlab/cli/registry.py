"""``bnlab export`` and ``bnlab promote``: the vetting gate and alias moves on the command line.

``bnlab export EXPERIMENT_DIR --name NAME`` reads an experiment folder (the DVC pipeline's
``experiments/<name>/`` or a ``bnlab-experiment`` run folder): ``posterior.nc`` and
``verdict.json`` (required), the report (``report.html`` in the folder, else
``reports/<folder name>/index.html`` under ``--root``) and the configuration
(``config.yaml`` in the folder, else ``params.yaml`` under ``--root``). It registers the
model only if the verdict passed; otherwise it exits with code 2 naming the failed checks
and the registry is untouched. ``--force --reason "..."`` overrides, recording the reason.
Each version is tagged with ``git_commit``, ``dvc_lock_sha256``, ``data_hash``,
``bnlab_version`` and ``verdict``, and gets the alias ``challenger`` (plus ``--alias`` or the
configuration's ``export.alias`` when that differs; never ``champion``).

The store is ``--tracking-uri``, else the configuration's ``export.tracking_uri``, else its
``tracking.uri``, else the embedded SQLite file ``mlflow.db`` under ``--root``.
``--output FILE`` writes the registration record (JSON, atomically). ``--if-enabled`` is
for the DVC ``export`` stage: when the configuration says ``export.enabled: false``
(``export=none``) nothing is registered and the record says so (``"registered": false``).

``bnlab promote NAME VERSION`` points ``champion`` at VERSION (rollback: promote the
previous one, recorded in the ``previous_champion`` tag).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bnlab.errors import BNError


def _config(folder: Path, root: Path, explicit: str | None) -> tuple[dict[str, Any] | None, Path]:
    import yaml

    candidates = [Path(explicit)] if explicit else [folder / "config.yaml", root / "params.yaml"]
    for path in candidates:
        if path.is_file():
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as err:
                raise BNError(f"cannot read the configuration {path}: {err}") from None
            if not isinstance(doc, dict):
                raise BNError(f"the configuration {path} is not a mapping.")
            return doc, path
        if explicit:
            raise BNError(f"no configuration file {path}; give an existing --config.")
    return None, candidates[-1]


def _get(doc: dict[str, Any] | None, *keys: str) -> Any:
    node: Any = doc
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _report(folder: Path, root: Path, explicit: str | None) -> Path | None:
    if explicit:
        if not Path(explicit).is_file():
            raise BNError(f"no report {explicit}; build it (bnlab report) or drop --report.")
        return Path(explicit)
    for path in (folder / "report.html", root / "reports" / folder.name / "index.html"):
        if path.is_file():
            return path
    return None


def _data_hash(folder: Path) -> str | None:
    provenance = folder / "provenance.json"
    if provenance.is_file():
        try:
            value = json.loads(provenance.read_text(encoding="utf-8")).get("data_hash")
        except (ValueError, AttributeError):
            value = None
        if value:
            return str(value)
    train = folder / "data" / "train.parquet"
    if train.is_file():
        from bnlab.stages.common import read_frame
        from bnlab.stages.prepare import data_hash

        return data_hash(read_frame(train))
    return None


def provenance_tags(folder: Path, root: Path) -> dict[str, str | None]:
    """Version tags: git commit, dvc.lock SHA-256 and data hash (``None`` where unknown)."""
    from bnlab.ops.registry import file_sha256
    from bnlab.ops.tracking import git_tags

    commit = git_tags(root)["bnlab.git_commit"]
    return {
        "git_commit": None if commit == "unknown" else commit,
        "dvc_lock_sha256": file_sha256(root / "dvc.lock"),
        "data_hash": _data_hash(folder),
        "experiment_dir": str(folder),
    }


def export(args: argparse.Namespace) -> int:
    """Run ``bnlab export`` (see the module docstring); exit code 2 on a failed gate."""
    from bnlab.evaluate.vetting import Verdict
    from bnlab.ops.registry import register
    from bnlab.ops.tracking import portable_uri, store_uri
    from bnlab.posterior import load_posterior
    from bnlab.report.paths import FILES

    folder, root = Path(args.experiment_dir), Path(args.root)
    if not folder.is_dir():
        raise BNError(f"no experiment folder {folder}; run the pipeline (dvc repro) first.")
    paths = FILES.under(folder)
    if not paths.verdict.is_file():
        raise BNError(
            f"no verdict {paths.verdict}: the model has not been vetted; run the evaluate "
            "stage first. Nothing was registered."
        )
    verdict = Verdict.load(paths.verdict)
    config, config_path = _config(folder, root, args.config)
    if args.if_enabled and _get(config, "export", "enabled") is not True:
        return _skipped(args, config_path)
    from bnlab.ops.registry import CHALLENGER, check_alias

    alias = check_alias(str(args.alias or _get(config, "export", "alias") or CHALLENGER))
    if not verdict.passed and not args.force:
        from bnlab.ops.registry import GateError

        raise GateError(  # before any MLflow import
            [c.name for c in verdict.failed], verdict.failure_lines()
        )
    post = load_posterior(paths.posterior)
    uri = args.tracking_uri or store_uri(
        _get(config, "export", "tracking_uri") or _get(config, "tracking", "uri"), root
    )
    target = args.target or _get(config, "export", "target")
    if not target:
        targets = _get(config, "evaluate", "targets") or _get(config, "dataset", "targets")
        target = targets[0] if isinstance(targets, list) and targets else None
    reg = register(
        post,
        args.name,
        verdict,
        force=args.force,
        reason=args.reason,
        tags=provenance_tags(folder, root),
        tracking_uri=uri,
        experiment=args.experiment or _get(config, "tracking", "experiment") or "bnlab-export",
        targets=[t.strip() for t in str(target).split(",")] if target else None,
        config=config,
        report=_report(folder, root, args.report),
        alias=alias,
    )
    record = {
        "registered": True,
        "name": reg.name,
        "version": reg.version,
        "alias": CHALLENGER,
        "aliases": list(reg.aliases),
        # alias -> the version it pointed to before (null: it was not set)
        "moved_aliases": dict(reg.moved),
        "model_uri": f"models:/{reg.name}/{reg.version}",
        "run_id": reg.run_id,
        "forced": reg.forced,
        "tracking_uri": portable_uri(uri, root),  # relative to the project root when inside it
        "tags": dict(reg.tags),
    }
    if args.output:
        from bnlab.stages.common import write_json

        write_json(args.output, record)
    forced = " (FORCED past a failed verdict)" if reg.forced else ""
    print(
        f"bnlab: registered {reg.name} version {reg.version} as {' and '.join(reg.aliases)}"
        f"{forced} in {uri}"
    )
    for alias_name, before in reg.moved.items():
        if before is not None and before != reg.version:
            print(
                f"bnlab: alias {alias_name!r} of {reg.name} moved from version {before} to "
                f"{reg.version}; records naming version {before} (an older export.json) now "
                "describe the previous model"
            )
    return 0


def _skipped(args: argparse.Namespace, config_path: Path) -> int:
    """``--if-enabled`` with ``export.enabled`` false: register nothing, record why."""
    reason = (
        f"not exported: the configuration {config_path} does not set export.enabled: true "
        "(export=none); the registry is untouched"
    )
    if args.output:
        from bnlab.stages.common import write_json

        write_json(args.output, {"registered": False, "name": args.name, "reason": reason})
    print(f"bnlab: {reason}")
    return 0


def promote_cmd(args: argparse.Namespace) -> int:
    """Run ``bnlab promote NAME VERSION``."""
    from bnlab.ops.registry import promote
    from bnlab.ops.tracking import store_uri

    uri = args.tracking_uri or store_uri(None, args.root)
    previous = promote(args.name, args.version, tracking_uri=uri)
    was = f" (previous champion: version {previous})" if previous else ""
    print(f"bnlab: {args.name} version {args.version} is now champion{was}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Add the ``export`` and ``promote`` subcommands to the ``bnlab`` command."""
    p = subparsers.add_parser(
        "export", help="register a vetted experiment's model in the MLflow registry"
    )
    p.add_argument("experiment_dir", help="experiment folder (posterior.nc, verdict.json, ...)")
    p.add_argument("--name", required=True, help="registered model name")
    p.add_argument("--tracking-uri", default=None, help="MLflow URI (default ./mlflow.db)")
    p.add_argument("--force", action="store_true", help="register even if the verdict failed")
    p.add_argument("--reason", default=None, help="why --force; recorded on the version")
    p.add_argument("--target", default=None, help="pyfunc target(s), comma-separated")
    p.add_argument("--report", default=None, help="report HTML (default: found beside)")
    p.add_argument("--config", default=None, help="config YAML (default: found beside)")
    p.add_argument("--experiment", default=None, help="MLflow experiment of the export run")
    p.add_argument("--root", default=".", help="project folder (dvc.lock, git, reports/)")
    p.add_argument("--output", default=None, help="write the registration record (JSON) here")
    p.add_argument(
        "--alias", default=None, help="an alias besides challenger (default: export.alias)"
    )
    p.add_argument(
        "--if-enabled",
        action="store_true",
        help="register nothing (and record why) unless the config says export.enabled: true",
    )
    p.set_defaults(func=export)

    q = subparsers.add_parser("promote", help="move the champion alias to a model version")
    q.add_argument("name", help="registered model name")
    q.add_argument("version", help="version to make champion")
    q.add_argument("--tracking-uri", default=None, help="MLflow URI (default ./mlflow.db)")
    q.add_argument("--root", default=".", help="project folder of the default store")
    q.set_defaults(func=promote_cmd)
