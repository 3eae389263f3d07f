"""The bnlab model folder: plain files and a manifest with their SHA-256 digests.

A model's data folder holds only data — no pickle, nothing that executes on load:

``model.json``
    The manifest: ``{"format": "bnlab.model", "version": 1, "files": {...},
    "sha256": {...}, "targets": [...], "interval": 0.9, "draws": 1000, "seed": 0}``.
``network.json``
    The network (posterior-mean CPTs) in bnlab's JSON format.
``posterior.nc``
    The posterior (NetCDF), when the model carries one.
``verdict.json``, ``config.json``, ``report.html``
    The vetting verdict, the experiment's configuration and its report, when given.

Loading checks every file before anything runs: plain file names only, SHA-256 digests as
recorded in the manifest, the network and posterior schemas and values (CPT rows summing to
one, no NaN), and agreement of the network with the posterior mean; a failure is an
:class:`~bnlab.errors.ArtifactError`. MLflow is not needed here (:mod:`bnlab.mlflow` wraps
this folder into an MLflow model).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import bnlab
from bnlab.errors import ArtifactError, BNError
from bnlab.network import BayesNet
from bnlab.ops.requests import INTERVAL_METHODS, check_settings
from bnlab.posterior import Posterior

MODEL_FORMAT = "bnlab.model"
MODEL_VERSION = 1
MANIFEST = "model.json"
#: Role -> file name inside the data folder (the only roles a manifest may list).
FILES = {
    "network": "network.json",
    "posterior": "posterior.nc",
    "verdict": "verdict.json",
    "config": "config.json",
    "report": "report.html",
}
#: Network CPTs must equal the posterior mean to this tolerance.
MEAN_ATOL = 1e-9


@dataclass(frozen=True)
class BNModel:
    """What :func:`load_model` returns: the network, its posterior and the vetting record."""

    network: BayesNet
    posterior: Posterior | None
    targets: tuple[str, ...]
    interval: float
    draws: int
    seed: int
    verdict: Any = None
    config: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)
    interval_method: str = "sampled"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verdict_text(verdict: Any) -> str:
    """Validated JSON text of a verdict given as a Verdict, a dict or JSON text."""
    from bnlab.evaluate.vetting import Verdict

    if isinstance(verdict, Verdict):
        return verdict.to_json()
    text = verdict if isinstance(verdict, str) else json.dumps(dict(verdict))
    return Verdict.from_json(text).to_json()


def write_data_dir(
    folder: str | os.PathLike[str],
    model: Posterior | BayesNet,
    *,
    targets: Sequence[str] | None = None,
    interval: float = 0.9,
    draws: int = 1000,
    seed: int = 0,
    verdict: Any = None,
    config: Mapping[str, Any] | None = None,
    report: str | os.PathLike[str] | None = None,
    interval_method: str = "sampled",
) -> dict[str, Any]:
    """Write the flavor's data folder (plain files and the manifest); return the manifest.

    ``folder`` must not exist. See :func:`save_model` for the arguments.
    """
    if isinstance(model, Posterior):
        network = model.mean()
    elif isinstance(model, BayesNet):
        network = model
    else:
        raise BNError(
            f"a bnlab model is a Posterior or a BayesNet, got {type(model).__name__}; fit one "
            "with bnlab.fit or read one with bnlab.read_network."
        )
    chosen = check_settings(network, targets, interval, draws, seed)
    if interval_method not in INTERVAL_METHODS:
        raise BNError(
            f"interval_method must be one of {list(INTERVAL_METHODS)}, got {interval_method!r}."
        )
    root = Path(folder)
    root.mkdir(parents=True)
    files: dict[str, str] = {"network": FILES["network"]}
    bnlab.write_network(network, root / FILES["network"])
    if isinstance(model, Posterior):
        model.save(root / FILES["posterior"])
        files["posterior"] = FILES["posterior"]
    if verdict is not None:
        (root / FILES["verdict"]).write_text(_verdict_text(verdict), encoding="utf-8")
        files["verdict"] = FILES["verdict"]
    if config is not None:
        text = json.dumps(dict(config), indent=2, default=str, allow_nan=False)
        (root / FILES["config"]).write_text(text, encoding="utf-8")
        files["config"] = FILES["config"]
    if report is not None:
        if not Path(report).is_file():
            raise BNError(f"report {str(report)!r} is not a file; build the report first.")
        shutil.copyfile(report, root / FILES["report"])
        files["report"] = FILES["report"]
    manifest = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "bnlab_version": bnlab.__version__,
        "files": files,
        "sha256": {role: _sha256(root / name) for role, name in files.items()},
        "targets": chosen,
        "interval": float(interval),
        "draws": int(draws),
        "seed": int(seed),
        "interval_method": interval_method,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _safe_file(folder: Path, name: object) -> Path:
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
    ):
        raise ArtifactError(
            f"model file name {name!r} in {folder} is not a plain file name (no folders, no "
            "'..'); the model has been tampered with. Re-export it with bnlab."
        )
    return folder / name


def _read_json(path: Path, what: str) -> Any:
    def refuse(token: str) -> float:
        raise ValueError(f"{token} is not allowed")

    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ArtifactError(f"cannot read the {what} {path}: {err}. Re-export the model.") from None


def _manifest_number(manifest: Mapping[str, Any], key: str, kind: type, where: Path) -> Any:
    value = manifest.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArtifactError(f"{where}: {key!r} must be a number, found {value!r}.")
    return kind(value)


def _check_mean(network: BayesNet, posterior: Posterior, where: Path) -> None:
    if posterior.structure != network.structure:
        raise ArtifactError(f"{where}: the network and the posterior have different structures.")
    mean = posterior.mean_cpts()
    for v in network.variables:
        if not np.allclose(network.cpt(v), mean[v], rtol=0.0, atol=MEAN_ATOL):
            raise ArtifactError(
                f"{where}: the CPT of {v!r} in the network is not the posterior mean; one of "
                "the two files was altered. Re-export the model."
            )


def load_data_dir(folder: str | os.PathLike[str]) -> BNModel:
    """Load a bnlab model's data folder, validating every file before use.

    Raises
    ------
    ArtifactError
        A missing or malformed manifest, an unsupported version, a file name that is not a
        plain name (``../`` and the like), a digest mismatch, or a network, posterior or
        verdict that fails validation.
    """
    root = Path(folder)
    if ".." in root.parts:
        raise ArtifactError(f"model data path {str(folder)!r} leaves the model folder.")
    where = root / MANIFEST
    manifest = _read_json(where, "bnlab model manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ArtifactError(f"{where} is not a bnlab model manifest (format {MODEL_FORMAT!r}).")
    if manifest.get("version") != MODEL_VERSION:
        raise ArtifactError(
            f"{where} has model format version {manifest.get('version')!r}; this bnlab reads "
            f"version {MODEL_VERSION}. Re-export the model with this bnlab."
        )
    files, digests = manifest.get("files"), manifest.get("sha256")
    if not isinstance(files, dict) or "network" not in files or not isinstance(digests, dict):
        raise ArtifactError(f"{where} lists no network file or no digests.")
    unknown = sorted(set(files) - set(FILES))
    if unknown:
        raise ArtifactError(f"{where} lists unknown files {unknown}; known: {sorted(FILES)}.")
    paths = {role: _safe_file(root, name) for role, name in files.items()}
    for role, p in paths.items():
        if not p.is_file() or p.is_symlink():
            raise ArtifactError(f"{where} lists {p.name!r}, which is not a regular file there.")
        if _sha256(p) != digests.get(role):
            raise ArtifactError(
                f"{p} does not match the SHA-256 digest in {where}; the file was changed after "
                "export. Re-export the model."
            )
    try:
        network = bnlab.read_network(paths["network"])
        posterior = bnlab.load_posterior(paths["posterior"]) if "posterior" in paths else None
        verdict = None
        if "verdict" in paths:
            from bnlab.evaluate.vetting import Verdict

            verdict = Verdict.load(paths["verdict"])
    except ArtifactError:
        raise
    except BNError as err:
        raise ArtifactError(f"the model's files fail validation: {err}") from None
    if posterior is not None:
        _check_mean(network, posterior, root)
    config = _read_json(paths["config"], "model config") if "config" in paths else None
    targets = manifest.get("targets")
    if not isinstance(targets, list) or not targets:
        raise ArtifactError(f"{where}: 'targets' must be a non-empty list of variable names.")
    try:
        chosen = check_settings(
            network,
            targets,
            _manifest_number(manifest, "interval", float, where),
            _manifest_number(manifest, "draws", int, where),
            _manifest_number(manifest, "seed", int, where),
        )
    except ArtifactError:
        raise
    except BNError as err:
        raise ArtifactError(f"{where}: {err}") from None
    method = manifest.get("interval_method", "sampled")
    if method not in INTERVAL_METHODS:
        raise ArtifactError(
            f"{where}: interval_method must be one of {list(INTERVAL_METHODS)}, got {method!r}."
        )
    return BNModel(
        network=network,
        posterior=posterior,
        targets=tuple(chosen),
        interval=float(manifest["interval"]),
        draws=int(manifest["draws"]),
        seed=int(manifest["seed"]),
        verdict=verdict,
        config=config if isinstance(config, dict) else None,
        files={k: str(p) for k, p in paths.items()},
        interval_method=str(method),
    )
