"""deploy/ agrees with the server: ports, probe and metrics paths, and the command line."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bnlab.cli import serve as serve_cli
from bnlab.cli.commands import build_parser
from bnlab.ops import serve

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "a continuation line runs off the end of the Dockerfile"
    return out


def exec_form(text: str) -> list[str]:
    """The JSON array of an exec-form ENTRYPOINT/CMD/HEALTHCHECK CMD (shell form refused)."""
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
    return value


def parse_serve(argv: list[str]) -> Any:
    """Parse ``bnlab serve ...`` with the real parser; the program must be ``bnlab``."""
    assert argv[0] == "bnlab", argv
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve" and args.func is serve_cli.run
    return args


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / "k8s" / "deployment.yaml").read_text())
    assert doc["apiVersion"] == "apps/v1" and doc["kind"] == "Deployment"
    return doc


@pytest.fixture(scope="module")
def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def named_port(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's target port resolved against the container's ports."""
    if isinstance(port, int):
        return port
    by_name = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port in by_name, f"no container port named {port!r}"
    return int(by_name[port])


def test_server_defaults_are_loopback_and_the_shared_port() -> None:
    args = build_parser().parse_args(["serve", "some/model"])
    assert args.host == serve.HOST == "127.0.0.1"
    assert args.port == serve.PORT
    assert args.drift_verdict is None


def test_container_command_parses_with_the_cli(
    container: dict[str, Any], deployment: dict[str, Any]
) -> None:
    args = parse_serve([*container["command"], *container["args"]])
    assert args.model.startswith("models:/")
    assert args.host == "0.0.0.0"  # reachable from the Service (the CLI default is loopback)
    assert args.port == serve.PORT
    assert container["ports"] == [{"name": "http", "containerPort": serve.PORT, "protocol": "TCP"}]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env.get("MLFLOW_TRACKING_URI"), "models:/ URIs need the registry's address"
    # the drift verdict lies on the mounted ConfigMap volume
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    verdict_mount = next(
        m for m in mounts.values() if args.drift_verdict.startswith(m["mountPath"] + "/")
    )
    assert verdict_mount["readOnly"] is True
    assert volumes[verdict_mount["name"]]["configMap"]["optional"] is True
    assert Path(args.drift_verdict).name in (DEPLOY / "README.md").read_text()
    # every mount has a volume, and the root filesystem is read-only
    assert set(mounts) <= set(volumes)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_probes_and_scrape_annotations_match_the_server(
    container: dict[str, Any], deployment: dict[str, Any]
) -> None:
    ready = container["readinessProbe"]["httpGet"]
    live = container["livenessProbe"]["httpGet"]
    assert ready["path"] == serve.READY_PATH
    assert live["path"] == serve.HEALTH_PATH
    assert named_port(container, ready["port"]) == serve.PORT
    assert named_port(container, live["port"]) == serve.PORT
    notes = deployment["spec"]["template"]["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert notes["prometheus.io/port"] == str(serve.PORT)
    assert notes["prometheus.io/path"] == serve.METRICS_PATH


def cpu(q: str) -> float:
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def memory(q: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    m = re.fullmatch(r"([0-9.]+)([KMG]i?)?", q)
    assert m, q
    return float(m.group(1)) * units.get(m.group(2) or "", 1)


def test_resources_are_requested_and_limited(container: dict[str, Any]) -> None:
    res = container["resources"]
    for key in ("cpu", "memory"):
        assert key in res["requests"] and key in res["limits"]
    assert 0 < cpu(str(res["requests"]["cpu"])) <= cpu(str(res["limits"]["cpu"]))
    assert 0 < memory(str(res["requests"]["memory"])) <= memory(str(res["limits"]["memory"]))


def test_service_targets_the_container_port(
    container: dict[str, Any], deployment: dict[str, Any]
) -> None:
    svc = yaml.safe_load((DEPLOY / "k8s" / "service.yaml").read_text())
    assert svc["kind"] == "Service"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    (port,) = svc["spec"]["ports"]
    assert named_port(container, port["targetPort"]) == serve.PORT


def test_dockerfile_installs_from_the_lock_and_runs_the_cli(container: dict[str, Any]) -> None:
    steps = dockerfile_instructions(DEPLOY / "Dockerfile")
    entry = exec_form(next(a for i, a in reversed(steps) if i == "ENTRYPOINT"))
    cmd = exec_form(next(a for i, a in reversed(steps) if i == "CMD"))
    args = parse_serve([*entry, *cmd])
    assert args.port == serve.PORT and args.host == "0.0.0.0"
    assert entry == container["command"]
    exposed = [a for i, a in steps if i == "EXPOSE"]
    assert exposed == [str(serve.PORT)]
    health = next(a for i, a in steps if i == "HEALTHCHECK")
    probe = exec_form(health.split(" CMD ", 1)[1])
    assert f"127.0.0.1:{serve.PORT}{serve.HEALTH_PATH}" in " ".join(probe)

    # uv installs exactly what uv.lock pins, with the extra that holds the server's packages
    syncs = [shlex.split(a) for i, a in steps if i == "RUN" and a.startswith("uv sync")]
    assert syncs and all("--locked" in s and "--no-dev" in s for s in syncs)
    extras = {s[s.index("--extra") + 1] for s in syncs}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = " ".join(d for e in extras for d in project["optional-dependencies"][e])
    for package in ("mlflow", "prometheus-client", "uvicorn"):
        assert package in installed, package
    copied = " ".join(a for i, a in steps if i == "COPY")
    assert "uv.lock" in copied and "pyproject.toml" in copied
    # the base image's Python is the project's
    python = (ROOT / ".python-version").read_text().strip()
    bases = [a.split()[0] for i, a in steps if i == "FROM" and "uv" not in a.split()[0]]
    assert bases and all(b.startswith(f"python:{python}") for b in bases)
    # the build context keeps what the COPY lines need
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for needed in ("pyproject.toml", "uv.lock", "README.md", ".python-version", "bnlab/"):
        assert f"!{needed}" in ignore


def test_shutdown_and_probes_fit_the_grace_period(
    container: dict[str, Any], deployment: dict[str, Any]
) -> None:
    from bnlab.ops.serving.settings import from_args

    settings = from_args(parse_serve([*container["command"], *container["args"]]))
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert settings.grace_seconds < grace  # drained and exited before Kubernetes kills it
    ready = container["readinessProbe"]
    # readiness notices draining before the drain ends: one failed probe takes the pod out
    noticed = ready["periodSeconds"] * ready["failureThreshold"] + ready["timeoutSeconds"]
    assert noticed <= settings.drain_seconds
    res = container["resources"]
    assert cpu(str(res["requests"]["cpu"])) == cpu(str(res["limits"]["cpu"])) >= 2
