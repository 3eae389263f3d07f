"""MLflow tracking at the edge: runs, flattened params, metrics, tags, artifacts, sweeps.

The default store is embedded: ``sqlite:///<project>/mlflow.db`` with artifacts in
``<project>/mlartifacts``, so nothing needs a server; ``tracking.uri`` points it at one.
A Hydra sweep is one parent run (opened by :class:`SweepCallback` before the jobs start,
after the store and experiment exist, so parallel jobs never race to create tables) with one
child run per job. A run whose work raises is marked ``FAILED`` with the error as a tag.

MLflow is imported only inside these functions (its import costs seconds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bnlab.ops.config import TrackingConfig

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

#: Environment variable that carries the sweep's parent run id to the job processes.
PARENT_ENV = "BNLAB_MLFLOW_PARENT_RUN_ID"
#: File each job writes in its output folder; the sweep summary reads them back.
SUMMARY_FILE = "summary.json"
_MAX_BATCH = 1000  # MLflow's limit on metrics per log_batch call


def store_uri(uri: str | None, root: str | os.PathLike[str]) -> str:
    """The tracking URI: ``uri`` when set, else the embedded SQLite file under ``root``."""
    if uri:
        return uri
    return f"sqlite:///{(Path(root) / 'mlflow.db').resolve()}"


def portable_uri(uri: str, root: str | os.PathLike[str]) -> str:
    """``uri``, with a SQLite file inside ``root`` written relative to ``root``.

    For records kept in git: ``sqlite:///mlflow.db`` rather than one machine's absolute path.
    """
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return uri
    try:
        inside = Path(uri[len(prefix) :]).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return uri
    return prefix + inside.as_posix()


def _artifact_root(uri: str, root: str | os.PathLike[str]) -> str | None:
    if uri.startswith("sqlite:"):
        return (Path(root).resolve() / "mlartifacts").as_uri()
    return None


def ensure_experiment(uri: str, name: str, root: str | os.PathLike[str] = ".") -> str:
    """Create the store (tables) and the experiment if needed; return the experiment id."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=_artifact_root(uri, root)))
    except Exception:  # another process created it first
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mapping -> ``{"a.b.c": "value"}`` with values as strings (MLflow params)."""
    out: dict[str, str] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, prefix=f"{name}."))
        elif isinstance(value, (list, tuple, Mapping)):
            out[name] = json.dumps(value, default=str)[:6000]
        else:
            out[name] = str(value)
    return out


def git_tags(root: str | os.PathLike[str]) -> dict[str, str]:
    """``git commit`` and ``dirty`` flag of the project, or ``unknown`` outside a git repo."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "mlflow.source.git.commit": commit or "unknown",
        "bnlab.git_commit": commit or "unknown",
        "bnlab.git_dirty": "unknown" if status is None else str(bool(status)).lower(),
    }


class RunTracker:
    """One open MLflow run: thin helpers over ``MlflowClient`` calls for that run."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters (already flat), in batches."""
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Log scalar metrics at one step (non-finite values are skipped)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [
            Metric(k, float(v), now, step)
            for k, v in metrics.items()
            if v is not None and float(v) == float(v) and abs(float(v)) != float("inf")
        ]
        for i in range(0, len(items), _MAX_BATCH):
            self.client.log_batch(self.run_id, metrics=items[i : i + _MAX_BATCH])

    def log_series(self, name: str, values: Any) -> None:
        """Log a metric per step (e.g. an MCMC diagnostic per draw)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(name, float(v), now, i) for i, v in enumerate(values) if v == v]
        for i in range(0, len(items), _MAX_BATCH):
            self.client.log_batch(self.run_id, metrics=items[i : i + _MAX_BATCH])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags on the run."""
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifacts(self, folder: str | os.PathLike[str]) -> None:
        """Upload every file under ``folder`` as the run's artifacts."""
        self.client.log_artifacts(self.run_id, str(folder))


@contextmanager
def tracked_run(
    cfg: TrackingConfig,
    root: str | os.PathLike[str],
    run_name: str,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
) -> Iterator[RunTracker | None]:
    """Open an MLflow run for the block; ``None`` when tracking is disabled.

    The run ends ``FINISHED`` when the block succeeds and ``FAILED`` (with tags ``error`` and
    ``error_type``) when it raises; the exception propagates.
    """
    if not cfg.enabled:
        yield None
        return
    from mlflow import MlflowClient

    uri = store_uri(cfg.uri, root)
    experiment_id = ensure_experiment(uri, cfg.experiment, root)
    client = MlflowClient(tracking_uri=uri)
    all_tags = {**git_tags(root), **(tags or {})}
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    run = client.create_run(experiment_id, run_name=run_name, tags=all_tags)
    tracker = RunTracker(client, run.info.run_id)
    try:
        yield tracker
    except BaseException as err:
        message = " ".join(str(err).split())[:5000] or type(err).__name__
        tracker.set_tags({"error": message, "error_type": type(err).__name__})
        client.set_terminated(run.info.run_id, status="FAILED")
        raise
    client.set_terminated(run.info.run_id, status="FINISHED")


def summary_table(rows: Sequence[Mapping[str, Any]], columns: list[str]) -> str:
    """A plain-text table of sweep jobs (one row per job)."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def read_summaries(sweep_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The job summaries written under a sweep folder, in job order."""
    rows = []
    for path in Path(sweep_dir).glob(f"*/{SUMMARY_FILE}"):
        try:
            rows.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            rows.append({"job": path.parent.name, "status": "UNREADABLE"})
    return sorted(rows, key=lambda r: int(r.get("job", 0)) if str(r.get("job", 0)).isdigit() else 0)


def _hydra_callback_base() -> type:
    from hydra.experimental.callback import Callback

    return Callback


class SweepCallback(_hydra_callback_base()):  # type: ignore[misc]
    """Hydra callback: a parent MLflow run around a multirun, and a summary table at the end."""

    #: Failed jobs of the last sweep in this process (read by ``bnlab-experiment``'s exit code).
    last_failures: int = 0
    #: Finished jobs whose verdict failed with ``vetting.fail`` true (exit code 2).
    last_failed_verdicts: int = 0

    def __init__(self) -> None:
        self.parent_run_id: str | None = None
        self.uri: str | None = None
        self.started = 0.0

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        """Create the store, the experiment and the parent run before any job starts."""
        from bnlab.ops.config import validate

        self.started = time.perf_counter()
        SweepCallback.last_failures = 0
        SweepCallback.last_failed_verdicts = 0
        root = Path.cwd()
        cfg = validate(config, root=root)
        if not cfg.tracking.enabled:
            return
        from mlflow import MlflowClient

        self.uri = store_uri(cfg.tracking.uri, root)
        experiment_id = ensure_experiment(self.uri, cfg.tracking.experiment, root)
        client = MlflowClient(tracking_uri=self.uri)
        sweep_dir = str(config.hydra.sweep.dir)
        tags = {**git_tags(root), "bnlab.sweep_dir": sweep_dir, "bnlab.kind": "sweep"}
        run = client.create_run(experiment_id, run_name=f"sweep {cfg.name}", tags=tags)
        self.parent_run_id = run.info.run_id
        os.environ[PARENT_ENV] = self.parent_run_id

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        """Print the jobs' summary table and close the parent run."""
        rows = read_summaries(str(config.hydra.sweep.dir))
        failed = [r for r in rows if r.get("status") != "FINISHED"]
        SweepCallback.last_failures = len(failed)
        columns = ["job", "status", "overrides", "passed", "loglik", "seconds", "output"]
        print(f"\nbnlab sweep: {len(rows)} job(s), {len(failed)} failed")
        print(summary_table(rows, columns), flush=True)
        vetoed = [r for r in rows if r.get("status") == "FINISHED" and r.get("passed") is False]
        SweepCallback.last_failed_verdicts = sum(
            bool(r.get("fail_on_verdict", True)) for r in vetoed
        )
        if vetoed:
            print(f"bnlab sweep: {len(vetoed)} job(s) failed the vetting gate:")
            for r in vetoed:
                where = r.get("overrides") or "no overrides"
                print(f"  job {r.get('job')} ({where}): {r.get('output')}")
                for line in r.get("failed_checks") or ["(no failed check recorded)"]:
                    print(f"    {line}")
            sys.stdout.flush()
        os.environ.pop(PARENT_ENV, None)
        if self.parent_run_id is None or self.uri is None:
            return
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.uri)
        tracker = RunTracker(client, self.parent_run_id)
        tracker.log_metrics(
            {
                "sweep.jobs": len(rows),
                "sweep.failed": len(failed),
                "sweep.seconds": time.perf_counter() - self.started,
            }
        )
        status = "FAILED" if failed else "FINISHED"
        if failed:
            tracker.set_tags({"error": f"{len(failed)} of {len(rows)} job(s) failed"})
        client.set_terminated(self.parent_run_id, status=status)
