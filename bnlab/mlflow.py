"""The ``bnlab`` MLflow flavor: save, log and load networks and posteriors as plain files.

A saved model is a folder with MLflow's ``MLmodel`` file and a ``bnlab_model/`` data folder
holding only data (:mod:`bnlab.ops.model_folder`) — no pickle, nothing that executes on load:

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
explanations out) is :class:`bnlab.ops.pyfunc.BNPyfunc`; its request and response are
described there.

Examples
--------
>>> import bnlab, bnlab.mlflow, mlflow  # doctest: +SKIP
>>> bnlab.mlflow.save_model(post, "model", targets=["LVFAILURE"])  # doctest: +SKIP
>>> mlflow.pyfunc.load_model("model").predict(pd.DataFrame({"HR": ["HIGH"]}))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

import bnlab
from bnlab.errors import ArtifactError, BNError
from bnlab.network import BayesNet
from bnlab.ops.model_folder import (
    FILES,
    MANIFEST,
    MODEL_FORMAT,
    MODEL_VERSION,
    BNModel,
    _safe_file,
    load_data_dir,
    write_data_dir,
)
from bnlab.ops.requests import (
    MAX_DRAWS,
    check_settings,
    default_input_example,
    default_targets,
    model_signature,
    prediction_columns,
)
from bnlab.posterior import Posterior

if TYPE_CHECKING:
    from bnlab.ops.pyfunc import BNPyfunc

FLAVOR_NAME = "bnlab"
DATA_DIR = "bnlab_model"
#: Where ``mlflow.pyfunc.save_model`` puts the data folder, relative to the model folder.
DATA_PATH = f"data/{DATA_DIR}"


def get_default_pip_requirements() -> list[str]:
    """Return the requirements a served bnlab model needs."""
    return [f"bnlab=={bnlab.__version__}"]


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
    interval_method: str = "sampled",
) -> None:
    """Save a posterior or network as an MLflow model folder (plain files, no pickle).

    Parameters
    ----------
    model
        A :class:`bnlab.Posterior` (served with credible intervals) or a :class:`BayesNet`.
    path
        The folder to create; it must not exist. Written atomically: a failed save leaves
        nothing behind.
    targets, interval, draws, seed, interval_method
        Defaults of the pyfunc's inference params (targets: the first leaf when ``None``;
        ``interval_method`` ``"sampled"`` or ``"delta"``).
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
            interval_method=interval_method,
            verdict=verdict,
            config=config,
            report=report,
        )
        network = load_data_dir(data_dir).network  # the saved files must load back
        from bnlab.schema import schema_of

        data_schema = schema_of(model) if isinstance(model, Posterior) else None
        mlflow_model = mlflow_model if mlflow_model is not None else Model()
        mlflow_model.add_flavor(
            FLAVOR_NAME,
            bnlab_version=bnlab.__version__,
            data=DATA_PATH,
            model_format=MODEL_FORMAT,
            model_version=MODEL_VERSION,
        )
        if input_example is None:
            input_example = default_input_example(network, manifest["targets"], data_schema)
        built = Path(staging) / "model"
        mlflow.pyfunc.save_model(
            str(built),
            loader_module="bnlab.mlflow",
            data_path=str(data_dir),
            mlflow_model=mlflow_model,
            signature=model_signature(network, manifest, data_schema),
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


def load_model(model_uri: str, dst_path: str | None = None) -> BNModel:
    """Load a bnlab model from any MLflow model URI (``runs:/``, ``models:/NAME@ALIAS``, path).

    Raises
    ------
    ArtifactError
        The model is not a bnlab model, or its files fail validation.
    """
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=dst_path))
    except (MlflowException, OSError) as err:
        message = " ".join(str(getattr(err, "message", err)).split())[:500]
        raise ArtifactError(
            f"cannot load model {model_uri!r}: {message}. Check the name and alias (`bnlab "
            "promote` sets champion; the registry lists versions with `mlflow models` / the "
            "UI), and that MLFLOW_TRACKING_URI points at the registry that holds it "
            "(sqlite:///mlflow.db for the embedded one)."
        ) from None
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
    from bnlab.ops.pyfunc import BNPyfunc

    return BNPyfunc(load_data_dir(data_path))


__all__ = [
    "DATA_PATH",
    "FILES",
    "FLAVOR_NAME",
    "MANIFEST",
    "MAX_DRAWS",
    "MODEL_FORMAT",
    "MODEL_VERSION",
    "BNModel",
    "check_settings",
    "default_targets",
    "get_default_pip_requirements",
    "load_data_dir",
    "load_model",
    "log_model",
    "prediction_columns",
    "save_model",
    "write_data_dir",
]
