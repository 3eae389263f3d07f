"""The vetting gate in front of the MLflow model registry, and alias moves.

Only a model whose verdict passed is registered; a failed verdict leaves the registry
untouched unless the caller forces it with a reason, which is recorded on the version.
Each new version is tagged with its provenance and gets the ``challenger`` alias;
:func:`promote` moves ``champion`` and remembers the previous champion for rollback.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bnlab
from bnlab.errors import BNError
from bnlab.network import BayesNet
from bnlab.posterior import Posterior

CHALLENGER = "challenger"
CHAMPION = "champion"


class GateError(BNError):
    """The verdict failed, so the model was not registered."""

    def __init__(self, failed: list[str]) -> None:
        self.failed = failed
        super().__init__(
            f"the vetting verdict failed ({', '.join(failed) or 'no checks passed'}); the model "
            "was not registered and the registry is unchanged. Fix the model, or override with "
            '--force --reason "..." (the reason is recorded on the version).'
        )


@dataclass(frozen=True)
class Registered:
    """A registered model version."""

    name: str
    version: str
    run_id: str
    forced: bool


def failed_checks(verdict: Mapping[str, Any]) -> list[str]:
    """Names of the checks that did not pass in a verdict dict (``Verdict.to_json`` form)."""
    checks = verdict.get("checks", [])
    return [str(c.get("name")) for c in checks if not c.get("passed", False)]


def verdict_summary(verdict: Mapping[str, Any]) -> str:
    """One line: passed or failed, and how many checks passed."""
    checks = verdict.get("checks", [])
    ok = sum(1 for c in checks if c.get("passed", False))
    state = "passed" if verdict.get("passed", False) else "failed"
    return f"{state}: {ok}/{len(checks)} checks passed"


def file_sha256(path: str | Path) -> str | None:
    """SHA-256 of a file, or ``None`` when it does not exist."""
    p = Path(path)
    if not p.is_file():
        return None
    return hashlib.sha256(p.read_bytes()).hexdigest()


def git_commit(cwd: str | Path = ".") -> str | None:
    """Return the current git commit of ``cwd``, or ``None`` outside a repository."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def register(
    model: Posterior | BayesNet,
    name: str,
    verdict: Mapping[str, Any],
    *,
    force: bool = False,
    reason: str | None = None,
    tags: Mapping[str, str] | None = None,
    tracking_uri: str | None = None,
    experiment: str = "bnlab-export",
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
        The vetting verdict as a dict (``Verdict.to_json()`` parsed); ``passed`` decides.
    force, reason
        Register a failing model anyway; ``reason`` is required and recorded as a tag.
    tags
        Extra version tags (git commit, dvc.lock hash, data hash, ...).
    tracking_uri
        MLflow tracking/registry URI; the current one when ``None``.
    **save_kwargs
        Passed to :func:`bnlab.mlflow.save_model` (targets, interval, report, config, ...).

    Raises
    ------
    GateError
        The verdict failed and ``force`` is not set; nothing is written to the registry.
    """
    import mlflow
    from mlflow import MlflowClient

    import bnlab.mlflow as flavor

    passed = bool(verdict.get("passed", False))
    if force and not (reason and reason.strip()):
        raise BNError('--force needs --reason "..." explaining why a failing model ships.')
    if not passed and not force:
        raise GateError(failed_checks(verdict))
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    version_tags = {
        "bnlab_version": bnlab.__version__,
        "verdict": verdict_summary(verdict),
        **{k: str(v) for k, v in (tags or {}).items() if v is not None},
    }
    if not passed:
        version_tags["forced"] = "true"
        version_tags["force_reason"] = str(reason)
        version_tags["failed_checks"] = ",".join(failed_checks(verdict))
    with mlflow.start_run(run_name=f"export-{name}") as run:
        mlflow.set_tags(version_tags)
        info = flavor.log_model(
            model, name="model", registered_model_name=name, verdict=verdict, **save_kwargs
        )
    client = MlflowClient()
    version = str(info.registered_model_version)
    for key, value in version_tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHALLENGER, version)
    return Registered(name=name, version=version, run_id=run.info.run_id, forced=not passed)


def promote(name: str, version: str | int, *, tracking_uri: str | None = None) -> str | None:
    """Point the ``champion`` alias at ``version``; return the previous champion's version.

    The previous champion stays a registered version and is recorded as the
    ``previous_champion`` tag of the new one, so rolling back is ``promote(name, previous)``.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient()
    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise BNError(
            f"model {name!r} has no version {version}; list versions with "
            "`mlflow models` or the MLflow UI."
        ) from None
    try:
        previous: str | None = client.get_model_version_by_alias(name, CHAMPION).version
    except MlflowException:
        previous = None
    client.set_registered_model_alias(name, CHAMPION, str(version))
    if previous is not None and previous != str(version):
        client.set_model_version_tag(name, str(version), "previous_champion", previous)
    return previous
