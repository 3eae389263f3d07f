"""On a CUDA GPU, the engine's device path gives the CPU answers (``gpu``).

Each side runs in a fresh Python process, pinned by ``JAX_PLATFORMS``: the GPU side on
``cuda`` (every local GPU shares the rows), the reference on ``cpu`` with two CPU devices
(the CPU's own multi-device path). Both run ALARM in float64 on the same evidence rows and
the same posterior draws: all marginals, ``log P(e)``, marginals over 6 posterior draws,
and the row-sharded kernel called directly over every local device (``jax.shard_map`` when
there are two or more). The GPU side must report that it ran on the GPU, so a silent fall
back to the CPU fails the test.

``tests/conftest.py`` deselects this module where no CUDA build of jax sees a GPU (the
CPU-only CI); it is not skipped there, it is not collected.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_infer_devices import run_python

pytestmark = pytest.mark.gpu

ALARM = Path(__file__).resolve().parent / "data" / "networks" / "alarm.bif.gz"

ANSWERS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import bnlab
    from bnlab.infer import Engine
    from bnlab.infer.run import jitted

    net = bnlab.read_network(sys.argv[1])
    rows = bnlab.sample(net, n=64, seed=1).astype(object)
    rng = np.random.default_rng(0)
    rows = rows.mask(rng.random(rows.shape) < 0.85)  # ~5 observed variables per row
    eng = Engine(net)
    marg = eng.marginals(rows)
    alpha = {v: 200.0 * net.cpt(v) + 0.5 for v in net.variables}
    post = bnlab.Posterior(net.structure, alpha=alpha)
    post_marg = Engine(post, draws=6, seed=3).marginals(rows)
    # the kernel itself, rows split over every local device (8 rows each)
    n_dev = len(jax.local_devices())
    fn = jitted(eng.plan, "marginals", False, True, n_dev)
    _, flat = eng._liks(rows.iloc[: 8 * n_dev], None)
    z, _ = fn(eng._flat_cpts(None, False), flat)
    print(json.dumps({
        "backend": jax.default_backend(),
        "devices": n_dev,
        "kernel_devices": len(z.sharding.device_set),
        "kernel": np.asarray(z).tolist(),
        "marginals": {v: np.asarray(marg[v]).tolist() for v in net.variables},
        "log_prob": np.asarray(eng.log_prob(rows)).tolist(),
        "post_marginals": {v: np.asarray(post_marg[v]).tolist() for v in net.variables},
    }))
    """
)


def engine_answers(platform: str, **env: str) -> dict[str, Any]:
    """The engine's answers on ALARM from a fresh process with ``JAX_PLATFORMS=platform``."""
    env = {"JAX_PLATFORMS": platform, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", **env}
    proc = run_python(ANSWERS_SCRIPT, str(ALARM), **env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def largest_difference(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
    """Largest absolute difference between two answers' arrays (or dicts of arrays)."""
    x, y = a[key], b[key]
    if isinstance(x, dict):
        return max(float(np.max(np.abs(np.subtract(x[v], y[v])))) for v in x)
    return float(np.max(np.abs(np.subtract(x, y))))


def test_gpu_answers_equal_the_cpu_answers() -> None:
    gpu = engine_answers("cuda")
    cpu = engine_answers("cpu", BNLAB_CPU_DEVICES="2")
    assert gpu["backend"] == "gpu", gpu["backend"]  # not a silent fall back to the CPU
    assert gpu["kernel_devices"] == gpu["devices"] >= 1
    assert cpu["backend"] == "cpu" and cpu["kernel_devices"] == cpu["devices"] == 2
    assert set(gpu["marginals"]) == set(cpu["marginals"])
    assert largest_difference(gpu, cpu, "marginals") < 1e-10
    assert largest_difference(gpu, cpu, "log_prob") < 1e-9
    assert largest_difference(gpu, cpu, "post_marginals") < 1e-10
    # the directly sharded kernel, on the rows both sides ran (8 per device)
    m = min(len(gpu["kernel"]), len(cpu["kernel"]))
    assert np.max(np.abs(np.subtract(gpu["kernel"][:m], cpu["kernel"][:m]))) < 1e-10
    # the comparison can fail: one posterior draw's answers are not the network's
    draw0 = {"marginals": {v: p[0] for v, p in cpu["post_marginals"].items()}}
    assert largest_difference(gpu, draw0, "marginals") > 1e-4
