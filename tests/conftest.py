"""Test setup: JAX pinned to the CPU in float64 unless a `gpu` test asks, seeded randomness."""

from __future__ import annotations

import os
import random
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
# subprocesses (CLI, dvc repro, mlflow serve) inherit the persistent XLA compilation cache
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

import numpy as np
import pytest

SHARED_NETWORKS = Path(__file__).resolve().parents[2] / "shared" / "networks"
TEST_NETWORKS = Path(__file__).resolve().parent / "data" / "networks"


def pytest_configure(config: pytest.Config) -> None:
    # exactness tests compare to 1e-9; engine float32 tests request float32 explicitly
    import jax

    jax.config.update("jax_enable_x64", True)


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 - legacy global seed for any third-party code


def network_path(name: str) -> Path:
    """Path of a bnlearn network's BIF file shipped as test data (or with the package)."""
    for folder in (TEST_NETWORKS, Path(__file__).resolve().parents[1] / "bnlab" / "examples"):
        p = folder / f"{name}.bif.gz"
        if p.exists():
            return p
    raise FileNotFoundError(f"network {name!r} is not in tests/data/networks or bnlab/examples")


def _has_gpu() -> bool:
    try:
        import jax

        return any(d.platform == "gpu" for d in jax.devices("gpu"))
    except RuntimeError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `gpu` tests run only where a CUDA build of jax sees a GPU; elsewhere they are
    # deselected (not skipped), so the CPU-only CI reports what it really ran
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    # (run them with JAX_PLATFORMS=cuda on a machine with a GPU)
    if gpu_items and not _has_gpu():
        config.hook.pytest_deselected(items=gpu_items)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]
