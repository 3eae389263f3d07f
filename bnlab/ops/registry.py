"""The vetting gate in front of the MLflow model registry, and alias moves.

Only a model whose verdict passed is registered; a failed verdict raises :class:`GateError`
before any MLflow call, so the registry is untouched — unless the caller forces it with a
reason, which is recorded on the version. Each new version is tagged with its provenance and
gets the ``challenger`` alias (and, if asked, one more alias of the caller's, never
``champion``); :func:`promote` moves ``champion`` and records the previous champion as the
``previous_champion`` tag, so a rollback is ``promote(name, previous)``.

MLflow is imported inside the functions (its import costs seconds). The tracking URI given
is used for the call only: the process-wide MLflow URI and its environment variables are
restored afterwards.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bnlab
from bnlab.errors import BNError
from bnlab.network import BayesNet
from bnlab.posterior import Posterior

CHALLENGER = "challenger"
CHAMPION = "champion"
#: Version tag naming the champion that a promotion replaced.
PREVIOUS_CHAMPION = "previous_champion"
#: What MLflow accepts as an alias (and not ``latest`` or ``v<digits>``, which it reserves).
_ALIAS = re.compile(r"[A-Za-z0-9_-]{1,255}")


class GateError(BNError):
    """The verdict failed, so the model was not registered (the registry is unchanged)."""

    def __init__(self, failed: list[str], lines: list[str] | None = None) -> None:
        self.failed = failed
        shown = "; ".join(lines) if lines else ", ".join(failed) or "none ran"
        super().__init__(
            f"the vetting verdict failed (failed checks: {shown}); "
            "the model was not registered and the registry is unchanged. Fix the model, or "
            'override with --force --reason "..." (the reason is recorded on the version).'
        )


@dataclass(frozen=True)
class Registered:
    """A registered model version."""

    name: str
    version: str
    run_id: str
    forced: bool
    tags: Mapping[str, str]
    aliases: tuple[str, ...] = (CHALLENGER,)
    #: alias -> the version it pointed to before this registration moved it (None: unset)
    moved: Mapping[str, str | None] = field(default_factory=dict)


def as_verdict(verdict: Any) -> Any:
    """A :class:`~bnlab.evaluate.Verdict` from a Verdict, its dict or its JSON text.

    ``passed`` is recomputed from the checks (a dict saying ``passed: true`` over failing
    checks is refused), so the gate cannot be talked round.

    Raises
    ------
    ArtifactError
        Not a verdict, or one whose ``passed`` disagrees with its checks.
    """
    import json

    from bnlab.evaluate.vetting import Verdict

    if isinstance(verdict, Verdict):
        return verdict
    text = verdict if isinstance(verdict, str) else json.dumps(dict(verdict))
    return Verdict.from_json(text)


def verdict_summary(verdict: Any) -> str:
    """One line: passed or failed, how many checks passed, and the failed ones."""
    v = as_verdict(verdict)
    ok = sum(1 for c in v.checks if c.passed)
    line = f"{'passed' if v.passed else 'failed'}: {ok}/{len(v.checks)} checks passed"
    if v.failed:
        line += f" (failed: {', '.join(c.name for c in v.failed)})"
    return line


def file_sha256(path: str | os.PathLike[str]) -> str | None:
    """SHA-256 of a file, or ``None`` when it does not exist."""
    p = Path(path)
    if not p.is_file():
        return None
    return hashlib.sha256(p.read_bytes()).hexdigest()


def artifact_location(uri: str) -> str | None:
    """Artifact folder for a new experiment: ``mlartifacts`` beside a SQLite store's file.

    ``None`` (MLflow's default) for any other store.
    """
    prefix = "sqlite:///"  # then a relative path, or a fourth slash and an absolute one
    if not uri.startswith(prefix):
        return None
    db = Path(uri[len(prefix) :].split("?", 1)[0])
    return (db.parent / "mlartifacts").resolve().as_uri()


@contextmanager
def using_store(uri: str | None) -> Iterator[str]:
    """Point MLflow's fluent API at ``uri`` (tracking and registry) for the block only."""
    import mlflow

    if uri is None:
        yield mlflow.get_tracking_uri()
        return
    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    saved = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(saved[0])
        mlflow.set_registry_uri(saved[1])
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_alias(alias: str) -> str:
    """Return ``alias`` if an export may set it, else raise a :class:`BNError` saying why.

    ``champion`` is refused: a person promotes a version (:func:`promote`), never an export.
    """
    if alias == CHAMPION:
        raise BNError(
            f"an export never sets {CHAMPION!r}: a person promotes a vetted version with "
            "`bnlab promote NAME VERSION`. Use another alias (export.alias), e.g. 'challenger'."
        )
    if (
        not isinstance(alias, str)
        or not _ALIAS.fullmatch(alias)
        or alias.lower() == "latest"
        or re.fullmatch(r"[vV]\d+", alias)
    ):
        raise BNError(
            f"{alias!r} is not a usable MLflow alias: use letters, digits, '_' and '-', and "
            "neither 'latest' nor 'v<number>' (MLflow reserves them)."
        )
    return alias


def _experiment_id(client: Any, name: str, uri: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location(uri)))
    except Exception:  # another process created it first
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def register(
    model: Posterior | BayesNet,
    name: str,
    verdict: Any,
    *,
    force: bool = False,
    reason: str | None = None,
    tags: Mapping[str, Any] | None = None,
    tracking_uri: str | None = None,
    experiment: str = "bnlab-export",
    alias: str = CHALLENGER,
    **save_kwargs: Any,
) -> Registered:
    """Register ``model`` as a new version of ``name`` if its verdict passed.

    Parameters
    ----------
    model
        The posterior (or network) to register.
    name
        Registered model name.
    verdict
        The vetting verdict: a :class:`~bnlab.evaluate.Verdict`, its dict or JSON text.
    force, reason
        Register a failing model anyway; ``reason`` is required and recorded as the tags
        ``forced`` and ``force_reason`` (with ``failed_checks``).
    tags
        Provenance tags for the version (git commit, dvc.lock hash, data hash, ...); ``None``
        values are dropped. ``bnlab_version`` and ``verdict`` are always added.
    tracking_uri
        MLflow tracking and registry URI (for this call only); the current one when ``None``.
    experiment
        MLflow experiment of the export run (created beside a SQLite store if missing).
    alias
        An alias set on the new version besides ``challenger`` (which it always gets);
        ``champion`` is refused (see :func:`check_alias`).
    **save_kwargs
        Passed to :func:`bnlab.mlflow.save_model` (targets, interval, config, report, ...).

    Returns
    -------
    Registered
        Name, version, run id, whether it was forced, and the version's tags.

    Raises
    ------
    GateError
        The verdict failed and ``force`` is not set; nothing is written to the registry.
    BNError
        ``force`` without a ``reason``; an alias that cannot be set; a model that cannot be
        saved (all before any MLflow call).
    """
    if not name or not isinstance(name, str):
        raise BNError("a registered model needs a non-empty name (--name NAME).")
    check_alias(alias)
    v = as_verdict(verdict)
    if force and not (reason and reason.strip()):
        raise BNError('--force needs --reason "..." explaining why a failing model ships.')
    if not v.passed and not force:
        raise GateError([c.name for c in v.failed], v.failure_lines())

    import mlflow
    from mlflow import MlflowClient

    import bnlab.mlflow as flavor

    # the exported files must save and load back before the registry sees anything
    with tempfile.TemporaryDirectory(prefix="bnlab-export-") as tmp:
        flavor.write_data_dir(Path(tmp) / "check", model, verdict=v, **_data_kwargs(save_kwargs))
        flavor.load_data_dir(Path(tmp) / "check")
    version_tags = {
        **{str(k): str(val) for k, val in (tags or {}).items() if val is not None},
        "bnlab_version": bnlab.__version__,
        "verdict": verdict_summary(v),
    }
    if not v.passed:
        version_tags["forced"] = "true"
        version_tags["force_reason"] = str(reason).strip()
        version_tags["failed_checks"] = ",".join(c.name for c in v.failed)
    with using_store(tracking_uri) as uri:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment_id = _experiment_id(client, experiment, uri)
        nested = mlflow.active_run() is not None
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=f"export-{name}", nested=nested
        ) as run:
            mlflow.set_tags({f"bnlab.{k}": val for k, val in version_tags.items()})
            # the data folder was checked above; MLflow's extra predict on the input example
            # would only compile an engine for nothing
            info = flavor.log_model(
                model,
                name="model",
                registered_model_name=name,
                verdict=v,
                validate_serving_input=False,
                **save_kwargs,
            )
        version = str(info.registered_model_version)
        for key, value in version_tags.items():
            client.set_model_version_tag(name, version, key, value)
        aliases = tuple(dict.fromkeys((CHALLENGER, alias)))
        moved = {each: _alias_version(client, name, each) for each in aliases}
        for each in aliases:
            client.set_registered_model_alias(name, each, version)
    return Registered(
        name=name,
        version=version,
        run_id=run.info.run_id,
        forced=not v.passed,
        tags=version_tags,
        aliases=aliases,
        moved=moved,
    )


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    """The version ``alias`` points to now, or ``None`` when it is not set."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _data_kwargs(save_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("targets", "interval", "draws", "seed", "config", "report")
    return {k: save_kwargs[k] for k in keys if k in save_kwargs}


def promote(name: str, version: str | int, *, tracking_uri: str | None = None) -> str | None:
    """Point the ``champion`` alias at ``version``; return the previous champion's version.

    The previous champion stays a registered version and is recorded as the
    ``previous_champion`` tag of the new one, so rolling back is ``promote(name, previous)``.

    Raises
    ------
    BNError
        No such registered model or version.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    with using_store(tracking_uri) as uri:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        try:
            client.get_model_version(name, str(version))
        except MlflowException:
            raise BNError(
                f"model {name!r} has no version {version} in {uri}; list its versions with "
                "`bnlab export` output or the MLflow UI."
            ) from None
        try:
            previous: str | None = str(client.get_model_version_by_alias(name, CHAMPION).version)
        except MlflowException:
            previous = None
        client.set_registered_model_alias(name, CHAMPION, str(version))
        if previous is not None and previous != str(version):
            client.set_model_version_tag(name, str(version), PREVIOUS_CHAMPION, previous)
    return previous


def registry_state(name: str, *, tracking_uri: str | None = None) -> dict[str, Any]:
    """Versions (with their tags) and aliases of a registered model; empty when absent.

    Returns
    -------
    dict
        ``{"versions": {version: {tag: value}}, "aliases": {alias: version}}``.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    with using_store(tracking_uri) as uri:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        try:
            model = client.get_registered_model(name)
        except MlflowException:
            return {"versions": {}, "aliases": {}}
        versions = client.search_model_versions(f"name = '{name}'")
        return {
            "versions": {str(mv.version): dict(mv.tags) for mv in versions},
            "aliases": {str(k): str(val) for k, val in (model.aliases or {}).items()},
        }
