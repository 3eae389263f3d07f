"""The ``bnlab`` MLflow flavor: save, log and load networks and posteriors as plain files.

A saved model is a folder with MLflow's ``MLmodel`` file and a ``bnlab_model/`` data folder
holding only data — no pickle, nothing that executes on load:

``model.json``
    The flavor's manifest: ``{"format": "bnlab.model", "version": 1, "files": {...},
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
:class:`~bnlab.errors.ArtifactError`.

The pyfunc flavor (evidence rows in, posterior answers with credible intervals and optional
explanations out) is :class:`bnlab.pyfunc.BNPyfunc`; its request and response are
described there.

Examples
--------
>>> import bnlab, bnlab.mlflow, mlflow  # doctest: +SKIP
>>> bnlab.mlflow.save_model(post, "model", targets=["LVFAILURE"])  # doctest: +SKIP
>>> mlflow.pyfunc.load_model("model").predict(pd.DataFrame({"HR": ["HIGH"]}))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import bnlab
from bnlab.errors import ArtifactError, BNError
from bnlab.network import BayesNet
from bnlab.posterior import Posterior

if TYPE_CHECKING:
    from bnlab.pyfunc import BNPyfunc

FLAVOR_NAME = "bnlab"
MODEL_FORMAT = "bnlab.model"
MODEL_VERSION = 1
DATA_DIR = "bnlab_model"
#: Where ``mlflow.pyfunc.save_model`` puts the data folder, relative to the model folder.
DATA_PATH = f"data/{DATA_DIR}"
MANIFEST = "model.json"
#: Role -> file name inside the data folder (the only roles a manifest may list).
FILES = {
    "network": "network.json",
    "posterior": "posterior.nc",
    "verdict": "verdict.json",
    "config": "config.json",
    "report": "report.html",
}
#: Largest number of posterior draws a request may ask for.
MAX_DRAWS = 20_000
#: Engines (one per draws/seed pair) kept by a served model.
MAX_ENGINES = 4
#: Network CPTs must equal the posterior mean to this tolerance.
MEAN_ATOL = 1e-9
#: Most contributions an explained row may carry (``explain_top``).
MAX_EXPLAIN_TOP = 20
#: Default number of contributions per target in an explained row.
EXPLAIN_TOP = 3
#: Permutations of the sampled Shapley estimator (rows observing more than MAX_EXACT).
EXPLAIN_PERMUTATIONS = 200
#: The pyfunc's inference params.
PARAMS = ("targets", "interval", "draws", "seed", "explain", "explain_top")


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


def get_default_pip_requirements() -> list[str]:
    """Return the requirements a served bnlab model needs."""
    return [f"bnlab=={bnlab.__version__}"]


def default_targets(network: BayesNet) -> list[str]:
    """The first leaf of the network: what a BN is usually asked about."""
    leaves = [v for v in network.variables if not network.structure.children[v]]
    return leaves[:1] or [network.variables[-1]]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verdict_text(verdict: Any) -> str:
    """Validated JSON text of a verdict given as a Verdict, a dict or JSON text."""
    from bnlab.evaluate.vetting import Verdict

    if isinstance(verdict, Verdict):
        return verdict.to_json()
    text = verdict if isinstance(verdict, str) else json.dumps(dict(verdict))
    return Verdict.from_json(text).to_json()


def check_settings(
    network: BayesNet, targets: Sequence[str] | None, interval: float, draws: int, seed: int
) -> list[str]:
    """Validate inference settings (shared by saving and by each pyfunc request).

    Returns the targets (the network's defaults when ``targets`` is empty).

    Raises
    ------
    BNError
        An unknown target, an interval outside (0, 1), draws outside [2, MAX_DRAWS] or a
        negative seed.
    """
    chosen = [str(t) for t in targets] if targets else default_targets(network)
    unknown = [t for t in chosen if t not in network.states]
    if unknown:
        raise BNError(
            f"targets {unknown} are not variables of the network; pick from "
            f"{list(network.variables)[:10]}."
        )
    if not 0.0 < float(interval) < 1.0:
        raise BNError(f"interval must lie in (0, 1), got {interval}.")
    if not 2 <= int(draws) <= MAX_DRAWS:
        raise BNError(f"draws must lie in [2, {MAX_DRAWS}], got {draws}.")
    if int(seed) < 0:
        raise BNError(f"seed must be non-negative, got {seed}.")
    return chosen


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
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def prediction_columns(network: BayesNet, targets: Sequence[str]) -> list[str]:
    """Output column names of the pyfunc, in order."""
    return [
        f"P({t}={s})_{stat}"
        for t in targets
        for s in network.states[t]
        for stat in ("mean", "lower", "upper")
    ]


def explanation_columns(targets: Sequence[str], top: int) -> list[str]:
    """Columns that ``params={"explain": True, "explain_top": top}`` adds, in order."""
    cols: list[str] = []
    for t in targets:
        cols += [f"explain({t})_{c}" for c in ("state", "baseline", "method")]
        for k in range(1, top + 1):
            cols += [
                f"explain({t})_{k}_{c}"
                for c in ("variable", "state", "shapley", "lower", "upper", "se")
            ]
    return cols


def model_signature(network: BayesNet, manifest: Mapping[str, Any]) -> Any:
    """MLflow signature: optional string columns, the params schema, per-state outputs."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("string", v, required=False) for v in network.variables])
    outputs = Schema(
        [ColSpec("double", c) for c in prediction_columns(network, manifest["targets"])]
    )
    params = ParamSchema(
        [
            ParamSpec("targets", "string", ",".join(manifest["targets"])),
            ParamSpec("interval", "double", float(manifest["interval"])),
            ParamSpec("draws", "long", int(manifest["draws"])),
            ParamSpec("seed", "long", int(manifest["seed"])),
            ParamSpec("explain", "boolean", False),
            ParamSpec("explain_top", "long", EXPLAIN_TOP),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def default_input_example(network: BayesNet, targets: Sequence[str]) -> pd.DataFrame:
    """Two evidence rows over the first three non-target variables (first state, then unset)."""
    observed = [v for v in network.variables if v not in targets][:3]
    return pd.DataFrame({v: [network.states[v][0], network.states[v][-1]] for v in observed})


def save_model(
    model: Posterior | BayesNet,
    path: str | os.PathLike[str],
    *,
    targets: Sequence[str] | None = None,
    interval: float = 0.9,
    draws: int = 1000,
    seed: int = 0,
    verdict: Any = None,
    config: Mapping[str, Any] | None = None,
    report: str | os.PathLike[str] | None = None,
    mlflow_model: Any = None,
    input_example: pd.DataFrame | None = None,
    pip_requirements: Sequence[str] | None = None,
    extra_pip_requirements: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    validate_serving_input: bool = True,
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
        Defaults of the pyfunc's inference params (targets: the first leaf when ``None``).
    verdict, config, report
        The vetting verdict (a ``Verdict``, its dict or its JSON), the experiment
        configuration (JSON-ready mapping), the path of a report HTML file.
    mlflow_model, input_example, pip_requirements, extra_pip_requirements, metadata
        As for MLflow's own flavors.
    validate_serving_input
        Read by :func:`log_model` (MLflow then predicts the input example once); unused here.

    Raises
    ------
    BNError
        An unknown target, an interval outside (0, 1), an existing ``path``.
    """
    import mlflow.pyfunc
    from mlflow.models import Model

    final = Path(path)
    if final.exists():
        raise BNError(f"{final} already exists; choose a new path or remove it first.")
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=f".{final.name}.") as staging:
        data_dir = Path(staging) / DATA_DIR
        manifest = write_data_dir(
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
        network = load_data_dir(data_dir).network  # the saved files must load back
        mlflow_model = mlflow_model if mlflow_model is not None else Model()
        mlflow_model.add_flavor(
            FLAVOR_NAME,
            bnlab_version=bnlab.__version__,
            data=DATA_PATH,
            model_format=MODEL_FORMAT,
            model_version=MODEL_VERSION,
        )
        if input_example is None:
            input_example = default_input_example(network, manifest["targets"])
        built = Path(staging) / "model"
        mlflow.pyfunc.save_model(
            str(built),
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
    registered as a new version (``info.registered_model_version``).
    """
    from mlflow.models import Model

    import bnlab.mlflow as flavor

    return Model.log(
        artifact_path=None,
        flavor=flavor,
        name=name,
        registered_model_name=registered_model_name,
        model=model,
        **kwargs,
    )


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
    )


def load_model(model_uri: str, dst_path: str | None = None) -> BNModel:
    """Load a bnlab model from any MLflow model URI (``runs:/``, ``models:/NAME@ALIAS``, path).

    Raises
    ------
    ArtifactError
        The model is not a bnlab model, or its files fail validation.
    """
    import mlflow.artifacts
    from mlflow.models import Model

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=dst_path))
    conf = Model.load(str(local)).flavors.get(FLAVOR_NAME)
    if conf is None:
        raise ArtifactError(f"{model_uri} is not a bnlab model (no {FLAVOR_NAME!r} flavor).")
    data = conf.get("data", DATA_PATH)
    folder = local
    for part in str(data).split("/") if isinstance(data, str) else [data]:
        folder = _safe_file(folder, part)
    return load_data_dir(folder)


def _load_pyfunc(data_path: str) -> BNPyfunc:
    """MLflow's pyfunc entry point: build the wrapper from the model's data folder."""
    from bnlab.pyfunc import BNPyfunc

    return BNPyfunc(load_data_dir(data_path))
