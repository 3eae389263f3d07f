"""Evidence rows split over several devices give the one-device answers.

JAX's CPU device count is fixed when its backend starts, so each case runs in a fresh
Python process with the environment it needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = Path(__file__).resolve().parent / "data" / "networks"

SPLIT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import bnlab
    from bnlab.infer import Engine
    from bnlab.infer.run import jitted

    net = bnlab.read_network(sys.argv[1])
    eng = Engine(net, execution="program")  # the compiled program, not the host tier
    rows = bnlab.sample(net, n=37, seed=1).astype(object)
    rng = np.random.default_rng(0)
    rows = rows.mask(rng.random(rows.shape) < 0.85)  # ~5 observed variables per row
    # references: NumPy on the host (segmented execution), for sums and for MPE
    ref = Engine(net, execution="segmented")
    got, want = eng.marginals(rows), ref.marginals(rows)
    worst = max(float(np.max(np.abs(got[v] - want[v]))) for v in net.variables)
    worst_lp = float(np.max(np.abs(eng.log_prob(rows) - ref.log_prob(rows))))
    a, b = eng.mpe(rows), ref.mpe(rows)
    mpe_same = bool(a.drop(columns="log_prob").equals(b.drop(columns="log_prob")))
    mpe_same &= bool(np.allclose(a["log_prob"], b["log_prob"], rtol=0, atol=1e-10))
    alpha = {v: 200.0 * net.cpt(v) + 0.5 for v in net.variables}
    post = bnlab.Posterior(net.structure, alpha=alpha)
    peng = Engine(post, draws=6, seed=3, execution="program")
    pref = Engine(post, draws=6, seed=3, execution="segmented")
    pg, pw = peng.marginals(rows), pref.marginals(rows)
    worst_post = max(float(np.max(np.abs(pg[v] - pw[v]))) for v in net.variables)
    # the kernel itself: rows sharded over both devices, one result per row
    fn = jitted(eng.plan, "marginals", False, True, 2)
    _, flat = eng._liks(rows.iloc[:16], None)
    z, _ = fn(eng._flat_cpts(None, False), flat)
    print(json.dumps({
        "devices": len(jax.devices()),
        "worst": worst, "worst_lp": worst_lp, "mpe_same": mpe_same,
        "worst_post": worst_post, "post_shape": list(pg[net.variables[0]].shape),
        "kernel_devices": len(z.sharding.device_set),
    }))
    """
)


def run_python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("BNLAB_CPU_DEVICES", "XLA_FLAGS")}
    full.pop("JAX_NUM_CPU_DEVICES", None)
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=ROOT,
        timeout=600,
        check=False,
    )


def test_rows_split_over_two_cpu_devices_match_one_device() -> None:
    proc = run_python(SPLIT_SCRIPT, str(NETWORKS / "alarm.bif.gz"), BNLAB_CPU_DEVICES="2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2
    assert out["kernel_devices"] == 2
    assert out["worst"] < 1e-12
    assert out["worst_lp"] < 1e-10
    assert out["mpe_same"]
    assert out["worst_post"] < 1e-12
    assert out["post_shape"][:2] == [6, 37]


DEVICES_SCRIPT = (
    "from bnlab.infer.devices import row_devices; import jax; row_devices(); "
    "print(len(jax.devices()))"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BNLAB_CPU_DEVICES": "3"}, 3),
        ({"BNLAB_CPU_DEVICES": "1"}, 1),
        ({"BNLAB_CPU_DEVICES": "3", "JAX_NUM_CPU_DEVICES": "2"}, 2),  # the user's choice wins
        ({"BNLAB_CPU_DEVICES": "3", "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}, 4),
    ],
)
def test_cpu_device_count(env: dict[str, str], expected: int) -> None:
    proc = run_python(DEVICES_SCRIPT, **env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.strip().splitlines()[-1]) == expected


def test_jax_already_running_keeps_its_devices() -> None:
    code = (
        "import jax, jax.numpy as jnp; jnp.ones(2).block_until_ready()\n"
        "import bnlab\nfrom bnlab.infer import Engine\n"
        "eng = Engine(bnlab.load_example('asia'), execution='program')\n"
        "m = eng.marginals([{'smoke': 'yes'}] * 20)\n"
        "print(len(jax.devices()), m['lung'].shape)"
    )
    proc = run_python(code, BNLAB_CPU_DEVICES="2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "1 (20, 2)"


def test_bad_device_setting_is_a_bnlab_error() -> None:
    # checked when the engine first starts JAX (a host-tier answer never does)
    code = (
        "import bnlab\nfrom bnlab.errors import BNError\n"
        "eng = bnlab.Engine(bnlab.load_example('asia'), execution='program')\n"
        "try:\n    eng.marginals([{'smoke': 'yes'}])\nexcept BNError as e:\n    print('BNError', e)"
    )
    proc = run_python(code, BNLAB_CPU_DEVICES="two")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "BNError BNLAB_CPU_DEVICES must be a whole number" in proc.stdout
