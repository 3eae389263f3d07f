"""Test setup: JAX pinned to the CPU in float64 (`gpu` tests start their own GPU processes),
seeded randomness, `gpu` tests deselected where no CUDA build of jax sees a GPU."""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import sys
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
    # JAX's devices as bnlab's engine sets them in any process (one CPU device per core),
    # whichever test of this worker runs JAX first: answers computed here equal those of
    # the processes the tests start (Dask workers, servers) bit for bit
    from bnlab.infer.devices import start_jax

    start_jax()


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


def experiment_cli(
    args: list[str], cwd: Path, config_dir: Path, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m bnlab.ops.experiment ARGS`` in a fresh process in ``cwd``, with its Hydra
    configs from ``config_dir`` and ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "bnlab.ops.experiment", *args],
        cwd=cwd,
        env={**os.environ, "BNLAB_CONFIG_DIR": str(config_dir), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _has_gpu() -> bool:
    """Whether a CUDA build of jax sees a GPU here.

    This process is pinned to the CPU, so a fresh one asks (only where a CUDA plugin of jax
    is installed: on the CPU-only CI this costs nothing).
    """
    plugins = ("jax_cuda12_plugin", "jax_cuda13_plugin")
    if not any(importlib.util.find_spec(name) for name in plugins):
        return False
    code = "import jax; print(any(d.platform == 'gpu' for d in jax.devices()))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cuda"},
        timeout=300,
        check=False,
    )
    return proc.returncode == 0 and proc.stdout.strip().endswith("True")


def _has_spark() -> bool:
    """Whether PySpark is installed and a ``java`` is on the PATH."""
    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


def expected_seconds(item: pytest.Item) -> float:
    """The ``expected_s`` a test's ``slow`` marker gives (its time alone on 2 loaded cores,
    rounded), 0 without one."""
    mark = item.get_closest_marker("slow")
    return float(mark.kwargs.get("expected_s", 0)) if mark is not None else 0.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # longest first (a stable sort: the rest keep their order, a module's tests stay
    # together): pytest-xdist hands tests out in this order, so under `-n 2` the long ones
    # start at once instead of one of them holding a single worker at the end of the step
    items.sort(key=lambda item: -expected_seconds(item))
    # `gpu` tests run only where a CUDA build of jax sees a GPU (they start their own
    # processes with JAX_PLATFORMS=cuda); elsewhere they are deselected (not skipped), so
    # the CPU-only CI reports what it really ran
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_items and not _has_gpu():
        config.hook.pytest_deselected(items=gpu_items)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]
    # `spark` tests need PySpark (`uv sync --group spark`) and a JVM: `make test-spark`
    # installs the one and fails without the other; elsewhere they are deselected, not skipped
    spark_items = [item for item in items if item.get_closest_marker("spark")]
    if spark_items and not _has_spark():
        config.hook.pytest_deselected(items=spark_items)
        items[:] = [item for item in items if not item.get_closest_marker("spark")]
