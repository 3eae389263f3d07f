"""Hydra launcher configs for sweeps on a cluster compose, and name the plugins' classes."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[1] / "conf"

# Field names of the plugins' launcher schemas, copied from hydra-submitit-launcher 1.2.0
# (hydra_plugins/hydra_submitit_launcher/config.py, SlurmQueueConf) and hydra-ray-launcher
# 1.2.2 (hydra_plugins/hydra_ray_launcher/_config.py, RayLauncherConf), so that a mistyped
# key fails here even where the plugins are not installed.
LAUNCHERS: dict[str, tuple[str, str, set[str]]] = {
    "slurm": (
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
        "hydra_plugins.hydra_submitit_launcher.config:SlurmQueueConf",
        {
            "_target_", "submitit_folder", "timeout_min", "cpus_per_task", "gpus_per_node",
            "tasks_per_node", "mem_gb", "nodes", "name", "partition", "qos", "comment",
            "constraint", "exclude", "gres", "cpus_per_gpu", "gpus_per_task", "mem_per_gpu",
            "mem_per_cpu", "account", "signal_delay_s", "max_num_timeout",
            "additional_parameters", "array_parallelism", "setup",
        },
    ),
    "ray": (
        "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",
        "hydra_plugins.hydra_ray_launcher._config:RayLauncherConf",
        {"_target_", "ray"},
    ),
}  # fmt: skip


def launcher_config(name: str | None) -> Any:
    overrides = [] if name is None else [f"hydra/launcher={name}"]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    return cfg.hydra.launcher


def test_default_launcher_stays_joblib() -> None:
    target = launcher_config(None)._target_
    assert target == "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


@pytest.mark.parametrize("name", sorted(LAUNCHERS))
def test_cluster_launcher_composes(name: str) -> None:
    target, schema, fields = LAUNCHERS[name]
    raw = OmegaConf.load(CONF / "hydra" / "launcher" / f"{name}.yaml")
    assert raw["_target_"] == target
    assert set(raw.keys()) - {"defaults"} <= fields
    launcher = launcher_config(name)
    assert launcher._target_ == target


def test_submitit_plugin_accepts_the_config() -> None:
    """The SLURM launcher's schema (a dev dependency) merges our config without an error."""
    target, schema, _ = LAUNCHERS["slurm"]
    raw = OmegaConf.load(CONF / "hydra" / "launcher" / "slurm.yaml")
    module, _, cls = schema.partition(":")
    plugin = importlib.import_module(module)
    ours = {k: v for k, v in OmegaConf.to_container(raw).items() if k != "defaults"}  # type: ignore[union-attr]
    merged = OmegaConf.merge(OmegaConf.structured(getattr(plugin, cls)), ours)
    assert merged._target_ == target
    assert launcher_config("slurm").timeout_min == raw.timeout_min  # ours wins over the plugin's
    launcher_module, _, launcher_cls = target.rpartition(".")
    assert hasattr(importlib.import_module(launcher_module), launcher_cls)


def test_ray_launcher_is_checked_against_its_pinned_schema() -> None:
    """hydra-ray-launcher is not installed here (it forces ray[default] and cloudpickle<3), so
    its schema's field names are pinned above; this asserts the pin is what stands in."""
    with pytest.raises(ImportError):
        importlib.import_module(LAUNCHERS["ray"][1].partition(":")[0])
    raw = OmegaConf.load(CONF / "hydra" / "launcher" / "ray.yaml")
    assert set(raw.keys()) <= LAUNCHERS["ray"][2]


def test_ray_launcher_reaches_an_existing_cluster() -> None:
    launcher = launcher_config("ray")
    assert OmegaConf.to_container(launcher.ray.init, resolve=False) == {
        "address": "${oc.env:RAY_ADDRESS,auto}"
    }


def test_docs_give_the_sweep_commands() -> None:
    text = (CONF.parent / "docs" / "scale-out.md").read_text()
    assert "bnlab-experiment -m hydra/launcher=slurm" in text
    assert "bnlab-experiment -m hydra/launcher=ray" in text
