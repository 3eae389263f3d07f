"""The model a scoring run uses: resolved once on the client, shipped as its plain files.

Whatever the caller gives — a :class:`~bnlab.BayesNet`, a :class:`~bnlab.Posterior`, an
MLflow model folder, the flavor's data folder, or an MLflow URI such as
``models:/NAME@ALIAS`` — becomes the bytes of the ``bnlab`` flavor's data folder
(``model.json`` with its SHA-256 digests, ``network.json``, ``posterior.nc``: JSON and
NetCDF, no pickle). Those bytes are what travels to Dask workers; each process rebuilds the
model from them with :func:`bnlab.ops.model_folder.load_data_dir` (which checks every
digest) and keeps one scorer (engine and compiled plan) per model and settings for every
partition it scores.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnlab.errors import ArtifactError, BNError
from bnlab.network import BayesNet

#: Models (with their engines) a process keeps for reuse across partitions.
MAX_CACHED = 4


@dataclass(frozen=True)
class ModelFiles:
    """The flavor data folder's files, by name, and a digest of all of them."""

    files: Mapping[str, bytes]
    digest: str


def _folder_files(folder: Path) -> ModelFiles:
    from bnlab.ops.model_folder import MANIFEST, load_data_dir

    load_data_dir(folder)  # validates every file (names, digests, schemas) before use
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    names = [MANIFEST, *sorted(manifest["files"].values())]
    files = {name: (folder / name).read_bytes() for name in names}
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return ModelFiles(files=files, digest=digest.hexdigest())


def data_folder(model: str | os.PathLike[str]) -> Path | None:
    """The flavor data folder of a local model folder (or the data folder itself), else None."""
    from bnlab.mlflow import DATA_PATH
    from bnlab.ops.model_folder import MANIFEST

    p = Path(model)
    if (p / MANIFEST).is_file():
        return p
    if (p / "MLmodel").is_file() and (p / DATA_PATH / MANIFEST).is_file():
        return p / DATA_PATH
    return None


def _model_file(path: Path) -> Any:
    """A posterior (``.nc``) or a network file (``.json``, ``.bif``, ...) read from disk."""
    import bnlab

    if path.suffix == ".nc":
        return bnlab.load_posterior(path)
    return bnlab.read_network(path)


def resolve_model(model: Any, targets: Sequence[str] | None = None) -> ModelFiles:
    """The data-folder files of any model ``bnlab.score`` accepts.

    Parameters
    ----------
    model
        A ``BayesNet``, a ``Posterior``, a model folder (MLflow's, or the flavor's data
        folder), a posterior (``.nc``) or network file, or an MLflow model URI
        (``models:/NAME@ALIAS``, ``runs:/ID/model``).
    targets
        Targets recorded as the defaults of an in-memory model (checked against it).

    Raises
    ------
    ArtifactError
        A folder or URI that holds no valid bnlab model.
    BNError
        Any other object, or unknown targets.
    """
    from bnlab.posterior import Posterior

    if isinstance(model, (BayesNet, Posterior)):
        from bnlab.ops.model_folder import write_data_dir

        with tempfile.TemporaryDirectory(prefix="bnlab-score-") as tmp:
            folder = Path(tmp) / "model"
            write_data_dir(folder, model, targets=list(targets) if targets else None)
            return _folder_files(folder)
    if isinstance(model, (str, os.PathLike)) and Path(model).is_file():
        return resolve_model(_model_file(Path(model)), targets)
    if isinstance(model, (str, os.PathLike)):
        local = data_folder(model)
        if local is not None:
            return _folder_files(local)
        if Path(model).exists():
            raise ArtifactError(
                f"{model} is not a bnlab model folder (no MLmodel with {'data/bnlab_model'!r} "
                "and no model.json); export one with bnlab.mlflow.save_model."
            )
        import mlflow.artifacts

        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=str(model))
        except Exception as err:  # MLflow raises its own exception types for a bad URI
            raise ArtifactError(
                f"cannot fetch the model {model!s} ({' '.join(str(err).split())[:300]}); give "
                "a model folder or a models:/NAME@ALIAS URI of a registered bnlab model."
            ) from None
        local = data_folder(path)
        if local is None:
            raise ArtifactError(f"{model} is not a bnlab model (no bnlab flavor data folder).")
        return _folder_files(local)
    raise BNError(
        f"bnlab.score takes a BayesNet, a Posterior, a model folder or a models:/ URI as its "
        f"model, got {type(model).__name__}."
    )


@dataclass(frozen=True)
class Settings:
    """What a scoring run asks of every partition (plain values: it travels to workers)."""

    targets: tuple[str, ...]
    interval: float
    draws: int
    seed: int
    method: str
    explain: bool
    batch_rows: int


def load_files(files: ModelFiles) -> Any:
    """The :class:`bnlab.ops.model_folder.BNModel` the files hold (every digest checked)."""
    from bnlab.ops.model_folder import load_data_dir

    with tempfile.TemporaryDirectory(prefix="bnlab-model-") as tmp:
        for name, data in files.files.items():
            (Path(tmp) / name).write_bytes(data)
        return load_data_dir(tmp)


class Scorer:
    """A loaded model with its pyfunc and engine: what one process scores partitions with."""

    def __init__(self, files: ModelFiles, settings: Settings) -> None:
        import jax

        from bnlab.ops.pyfunc import BNPyfunc

        self.model = load_files(files)
        self.settings = settings
        self.pyfunc = BNPyfunc(self.model)
        with jax.enable_x64(True):
            # the pyfunc's own engine: scored numbers are the served model's numbers
            self.engine = self.pyfunc._engine(settings.draws, settings.seed)
        self.lock = threading.Lock()


_SCORERS: OrderedDict[tuple[str, Settings], Scorer] = OrderedDict()
_SCORERS_LOCK = threading.Lock()


def scorer_for(files: ModelFiles, settings: Settings) -> Scorer:
    """The scorer of this process for ``files`` and ``settings`` (built once, then kept)."""
    key = (files.digest, settings)
    with _SCORERS_LOCK:
        found = _SCORERS.get(key)
        if found is not None:
            _SCORERS.move_to_end(key)
            return found
    scorer = Scorer(files, settings)
    with _SCORERS_LOCK:
        _SCORERS[key] = scorer
        while len(_SCORERS) > MAX_CACHED:
            _SCORERS.popitem(last=False)
    return scorer
