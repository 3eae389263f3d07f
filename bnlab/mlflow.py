"""The ``bnlab`` MLflow flavor: save, log and load networks and posteriors as plain files.

A saved model is a folder with MLflow's ``MLmodel`` file and a ``bnlab_model/`` data folder
holding only data — no pickle, nothing that executes on load:

``model.json``
    The flavor's manifest: ``{"format": "bnlab.model", "version": 1, "files": {...},
    "targets": [...], "interval": 0.9, "draws": 1000, "seed": 0}``.
``network.json``
    The network (posterior-mean CPTs) in bnlab's JSON format.
``posterior.nc``
    The posterior (NetCDF), when the model carries one.
``verdict.json``, ``config.json``, ``report.html``
    The vetting verdict, the experiment's configuration and its report, when given.

The pyfunc flavor takes a DataFrame of evidence (one column per observed variable; NaN or
a missing column = unobserved; the target's own column is ignored) and returns one row per
input row with columns ``P(T=s)_mean``, ``P(T=s)_lower`` and ``P(T=s)_upper`` for every
target ``T`` and state ``s``. Inference params: ``targets`` (comma-separated names),
``interval``, ``draws`` and ``seed``. A whole batch is answered by one engine call.

Examples
--------
>>> import bnlab, bnlab.mlflow  # doctest: +SKIP
>>> bnlab.mlflow.save_model(post, "model", targets=["LVFAILURE"])  # doctest: +SKIP
>>> pyfunc = mlflow.pyfunc.load_model("model")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import bnlab
from bnlab.errors import ArtifactError, BNError, EvidenceError
from bnlab.network import BayesNet
from bnlab.posterior import Posterior

FLAVOR_NAME = "bnlab"
MODEL_FORMAT = "bnlab.model"
MODEL_VERSION = 1
DATA_DIR = "bnlab_model"
MANIFEST = "model.json"
_FILES = {
    "network": "network.json",
    "posterior": "posterior.nc",
    "verdict": "verdict.json",
    "config": "config.json",
    "report": "report.html",
}


@dataclass(frozen=True)
class BNModel:
    """What :func:`load_model` returns: the network, its posterior and the vetting record."""

    network: BayesNet
    posterior: Posterior | None
    targets: tuple[str, ...]
    interval: float
    draws: int
    seed: int
    verdict: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)


def get_default_pip_requirements() -> list[str]:
    """Return the requirements a served bnlab model needs."""
    return [f"bnlab=={bnlab.__version__}"]


def _default_targets(network: BayesNet) -> list[str]:
    # leaves are what a BN is usually asked about when no target is named
    leaves = [v for v in network.variables if not network.structure.children[v]]
    return leaves[:1] or [network.variables[-1]]


def _write_data_dir(
    folder: Path,
    model: Posterior | BayesNet,
    *,
    targets: Sequence[str] | None,
    interval: float,
    draws: int,
    seed: int,
    verdict: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None,
    report: str | os.PathLike[str] | None,
) -> dict[str, Any]:
    network = model.mean() if isinstance(model, Posterior) else model
    if not isinstance(network, BayesNet):
        raise BNError(f"save_model expects a bnlab Posterior or BayesNet, got {type(model)}.")
    chosen = list(targets) if targets else _default_targets(network)
    unknown = [t for t in chosen if t not in network.states]
    if unknown:
        raise BNError(f"targets {unknown} are not variables of the network.")
    if not 0.0 < interval < 1.0:
        raise BNError(f"interval must lie in (0, 1), got {interval}.")
    folder.mkdir(parents=True)
    files: dict[str, str] = {}
    bnlab.write_network(network, folder / _FILES["network"])
    files["network"] = _FILES["network"]
    if isinstance(model, Posterior):
        model.save(folder / _FILES["posterior"])
        files["posterior"] = _FILES["posterior"]
    if verdict is not None:
        (folder / _FILES["verdict"]).write_text(json.dumps(dict(verdict), indent=2))
        files["verdict"] = _FILES["verdict"]
    if config is not None:
        (folder / _FILES["config"]).write_text(json.dumps(dict(config), indent=2, default=str))
        files["config"] = _FILES["config"]
    if report is not None:
        shutil.copyfile(report, folder / _FILES["report"])
        files["report"] = _FILES["report"]
    manifest = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "bnlab_version": bnlab.__version__,
        "files": files,
        "targets": chosen,
        "interval": float(interval),
        "draws": int(draws),
        "seed": int(seed),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def model_signature(network: BayesNet, manifest: Mapping[str, Any]) -> Any:
    """MLflow signature: optional string columns, the params schema, per-state outputs."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("string", v, required=False) for v in network.variables])
    outputs = Schema(
        [
            ColSpec("double", f"P({t}={s})_{stat}")
            for t in manifest["targets"]
            for s in network.states[t]
            for stat in ("mean", "lower", "upper")
        ]
    )
    params = ParamSchema(
        [
            ParamSpec("targets", "string", ",".join(manifest["targets"])),
            ParamSpec("interval", "double", manifest["interval"]),
            ParamSpec("draws", "long", manifest["draws"]),
            ParamSpec("seed", "long", manifest["seed"]),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def save_model(
    model: Posterior | BayesNet,
    path: str | os.PathLike[str],
    *,
    targets: Sequence[str] | None = None,
    interval: float = 0.9,
    draws: int = 1000,
    seed: int = 0,
    verdict: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    report: str | os.PathLike[str] | None = None,
    mlflow_model: Any = None,
    input_example: pd.DataFrame | None = None,
    pip_requirements: Sequence[str] | None = None,
    extra_pip_requirements: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Save a posterior or network as an MLflow model folder (plain files, no pickle).

    Parameters
    ----------
    model
        A :class:`bnlab.Posterior` (served with credible intervals) or a :class:`BayesNet`.
    path
        The folder to create; it must not exist. Written atomically: a failed save leaves
        nothing behind.
    targets, interval, draws, seed
        Defaults of the pyfunc's inference params.
    verdict, config, report
        The vetting verdict (as a dict), the experiment configuration, a report HTML file.
    mlflow_model, input_example, pip_requirements, extra_pip_requirements, metadata
        As for MLflow's own flavors.
    """
    import mlflow.pyfunc
    from mlflow.models import Model

    final = Path(path)
    if final.exists():
        raise BNError(f"{final} already exists; choose a new path or remove it first.")
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=f".{final.name}.") as staging:
        data_dir = Path(staging) / DATA_DIR
        manifest = _write_data_dir(
            data_dir,
            model,
            targets=targets,
            interval=interval,
            draws=draws,
            seed=seed,
            verdict=verdict,
            config=config,
            report=report,
        )
        network = bnlab.read_network(data_dir / _FILES["network"])
        mlflow_model = mlflow_model if mlflow_model is not None else Model()
        mlflow_model.add_flavor(
            FLAVOR_NAME,
            bnlab_version=bnlab.__version__,
            data=DATA_DIR,
            model_format=MODEL_FORMAT,
            model_version=MODEL_VERSION,
        )
        if input_example is None:
            observed = [v for v in network.variables if v not in manifest["targets"]][:3]
            input_example = pd.DataFrame({v: [network.states[v][0], None] for v in observed})
        built = Path(staging) / "model"
        mlflow.pyfunc.save_model(
            built,
            loader_module="bnlab.mlflow",
            data_path=str(data_dir),
            mlflow_model=mlflow_model,
            signature=model_signature(network, manifest),
            input_example=input_example,
            pip_requirements=list(pip_requirements or get_default_pip_requirements()),
            extra_pip_requirements=extra_pip_requirements,
            metadata=dict(metadata) if metadata else None,
        )
        os.replace(built, final)


def log_model(
    model: Posterior | BayesNet,
    name: str = "model",
    *,
    registered_model_name: str | None = None,
    **kwargs: Any,
) -> Any:
    """Log a posterior or network to the active MLflow run (see :func:`save_model`).

    Returns MLflow's ``ModelInfo``; with ``registered_model_name`` the model is also
    registered as a new version.
    """
    import mlflow.models

    import bnlab.mlflow as flavor

    return mlflow.models.Model.log(
        name=name,
        flavor=flavor,
        registered_model_name=registered_model_name,
        model=model,
        **kwargs,
    )


def _safe_file(folder: Path, name: object) -> Path:
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ArtifactError(
            f"model file name {name!r} is not a plain file name; the model folder has been "
            "tampered with. Re-export the model."
        )
    return folder / name


def load_data_dir(folder: str | os.PathLike[str]) -> BNModel:
    """Load a bnlab model's data folder, validating every file before use.

    Raises
    ------
    ArtifactError
        A missing or malformed manifest, an unsupported version, a file name that is not a
        plain name (``../`` and the like), or a network/posterior that fails validation.
    """
    root = Path(folder)
    manifest_path = root / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ArtifactError(
            f"cannot read the bnlab model manifest {manifest_path}: {err}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ArtifactError(f"{manifest_path} is not a bnlab model manifest.")
    if manifest.get("version") != MODEL_VERSION:
        raise ArtifactError(
            f"{manifest_path} has model format version {manifest.get('version')!r}; this "
            f"bnlab reads version {MODEL_VERSION}. Re-export the model with this bnlab."
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or "network" not in files:
        raise ArtifactError(f"{manifest_path} lists no network file.")
    paths = {key: _safe_file(root, name) for key, name in files.items()}
    try:
        network = bnlab.read_network(paths["network"])
        posterior = bnlab.load_posterior(paths["posterior"]) if "posterior" in paths else None
    except ArtifactError:
        raise
    except BNError as err:
        raise ArtifactError(f"the model's files fail validation: {err}") from None
    verdict = json.loads(paths["verdict"].read_text()) if "verdict" in paths else None
    config = json.loads(paths["config"].read_text()) if "config" in paths else None
    targets = manifest.get("targets") or _default_targets(network)
    unknown = [t for t in targets if t not in network.states]
    if unknown:
        raise ArtifactError(f"{manifest_path} names unknown targets {unknown}.")
    return BNModel(
        network=network,
        posterior=posterior,
        targets=tuple(targets),
        interval=float(manifest.get("interval", 0.9)),
        draws=int(manifest.get("draws", 1000)),
        seed=int(manifest.get("seed", 0)),
        verdict=verdict,
        config=config,
        files={k: str(p) for k, p in paths.items()},
    )


def load_model(model_uri: str, dst_path: str | None = None) -> BNModel:
    """Load a bnlab model from any MLflow model URI (``runs:/``, ``models:/NAME@ALIAS``, path)."""
    import mlflow.artifacts
    from mlflow.models import Model

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=dst_path))
    conf = Model.load(str(local)).flavors.get(FLAVOR_NAME)
    if conf is None:
        raise ArtifactError(f"{model_uri} is not a bnlab model (no {FLAVOR_NAME!r} flavor).")
    return load_data_dir(_safe_file(local, conf.get("data", DATA_DIR)))


def prediction_columns(network: BayesNet, targets: Sequence[str]) -> list[str]:
    """Output column names of the pyfunc, in order."""
    return [
        f"P({t}={s})_{stat}"
        for t in targets
        for s in network.states[t]
        for stat in ("mean", "lower", "upper")
    ]


class BNPyfunc:
    """The pyfunc wrapper: answers a batch of evidence rows with one engine call per target."""

    def __init__(self, model: BNModel) -> None:
        self.model = model
        self._engines: dict[tuple[int, int], Any] = {}

    def _engine(self, draws: int, seed: int) -> Any:
        key = (draws, seed) if self.model.posterior is not None else (0, 0)
        if key not in self._engines:
            if self.model.posterior is None:
                self._engines[key] = bnlab.Engine(self.model.network)
            else:
                self._engines[key] = bnlab.Engine(self.model.posterior, draws=draws, seed=seed)
        return self._engines[key]

    def _params(self, params: Mapping[str, Any] | None) -> tuple[list[str], float, int, int]:
        params = dict(params or {})
        unknown = sorted(set(params) - {"targets", "interval", "draws", "seed"})
        if unknown:
            raise EvidenceError(
                f"unknown params {unknown}; the bnlab pyfunc takes targets, interval, draws, seed."
            )
        raw_targets = params.get("targets") or list(self.model.targets)
        targets = (
            [t.strip() for t in raw_targets.split(",") if t.strip()]
            if isinstance(raw_targets, str)
            else [str(t) for t in raw_targets]
        )
        unknown_t = [t for t in targets if t not in self.model.network.states]
        if unknown_t:
            raise EvidenceError(f"params targets {unknown_t} are not variables of the model.")
        interval = float(params.get("interval", self.model.interval))
        if not 0.0 < interval < 1.0:
            raise EvidenceError(f"params interval must lie in (0, 1), got {interval}.")
        draws = int(params.get("draws", self.model.draws))
        if draws < 2:
            raise EvidenceError(f"params draws must be at least 2, got {draws}.")
        return targets, interval, draws, int(params.get("seed", self.model.seed))

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Return ``P(target=state)`` mean, lower and upper for every evidence row."""
        targets, interval, draws, seed = self._params(params)
        net = self.model.network
        evidence = pd.DataFrame(model_input).copy()
        unknown = [c for c in evidence.columns if c not in net.states]
        if unknown:
            raise EvidenceError(
                f"input columns {unknown} are not variables of the model; drop them."
            )
        for v in net.variables:
            if v not in evidence.columns:
                evidence[v] = None
        evidence = evidence[list(net.variables)].astype(object).where(evidence.notna(), None)
        engine = self._engine(draws, seed)
        out: dict[str, np.ndarray] = {}
        lo_q, hi_q = (1.0 - interval) / 2.0, (1.0 + interval) / 2.0
        for t in targets:
            rows = evidence.copy()
            rows[t] = None  # the prediction is P(t | the other observed columns)
            marg = np.asarray(engine.marginals(rows, variables=[t])[t])
            if marg.ndim == 2:  # a point network: no interval
                mean = lower = upper = marg
            else:
                mean = marg.mean(axis=0)
                lower, upper = np.quantile(marg, [lo_q, hi_q], axis=0)
            for k, s in enumerate(net.states[t]):
                out[f"P({t}={s})_mean"] = mean[:, k]
                out[f"P({t}={s})_lower"] = lower[:, k]
                out[f"P({t}={s})_upper"] = upper[:, k]
        return pd.DataFrame(out, index=pd.RangeIndex(len(evidence)))[
            prediction_columns(net, targets)
        ]


def _load_pyfunc(data_path: str) -> BNPyfunc:
    """MLflow's pyfunc entry point: build the wrapper from the model's data folder."""
    return BNPyfunc(load_data_dir(data_path))
