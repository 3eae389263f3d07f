"""``bnlab-experiment``: the Hydra app that runs one experiment, or a sweep of them.

One run = prepare the data -> structure -> fit -> evaluate -> report files -> (export when
asked and vetted), all in-process through the same functions as the DVC stages
(:mod:`bnlab.stages`), tracked in MLflow. ``-m`` sweeps run jobs in parallel (joblib
launcher); every job's configuration is composed and validated before the first starts.

Examples
--------
::

    bnlab-experiment dataset=asia prior.ess=10
    bnlab-experiment -m dataset=asia,alarm prior.ess=1,10 backend=conjugate,numpyro
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bnlab.errors import BNError, ConfigError
from bnlab.ops.config import ExperimentConfig, as_dict, validate
from bnlab.stages import common

#: Hydra command-line flags that take a value (skipped when collecting overrides).
_FLAGS_WITH_VALUE = {
    "--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
    "--config-dir", "-cd", "--info", "-i", "--shell-completion", "-sc", "--experimental-rerun",
}  # fmt: skip
#: Flags after which Hydra does no work, so nothing needs validating.
_NO_WORK = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--version"}


def config_dir() -> Path:
    """The ``conf/`` folder: ``$BNLAB_CONFIG_DIR``, else ``./conf``, else the source tree's.

    Raises
    ------
    ConfigError
        No configuration folder is found.
    """
    env = os.environ.get("BNLAB_CONFIG_DIR")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / "conf", Path(__file__).resolve().parents[2] / "conf"]
    for folder in candidates:
        if (folder / "config.yaml").is_file():
            return folder.resolve()
    raise ConfigError(
        f"no Hydra configuration found (looked for config.yaml in {[str(c) for c in candidates]}); "
        "run from the project folder or set BNLAB_CONFIG_DIR."
    )


def _overrides(argv: Sequence[str]) -> tuple[list[str], bool]:
    """Overrides (without Hydra's own ``hydra...`` ones) and whether ``-m`` was given."""
    out: list[str] = []
    multirun = False
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("-m", "--multirun"):
            multirun = True
        elif arg in _FLAGS_WITH_VALUE:
            skip = True
        elif arg.startswith("-"):
            continue
        elif not arg.lstrip("+~").startswith("hydra"):
            out.append(arg)
    return out, multirun


def user_searchpath(argv: Sequence[str]) -> list[str]:
    """User config folders (``--config-dir``/``-cd``, ``hydra.searchpath=[...]``) as one override.

    Hydra adds both to its search path; composing for validation must see them too, or a
    ``dataset=my_data`` kept in the user's folder is "not found" before Hydra starts.
    """
    entries: list[str] = []
    args = list(argv)
    for i, arg in enumerate(args):
        value = None
        if arg in ("--config-dir", "-cd") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--config-dir="):
            value = arg.split("=", 1)[1]
        if value is not None:
            entries.append("file://" + str(Path(value).resolve()))
        elif arg.lstrip("+").startswith("hydra.searchpath="):
            text = arg.split("=", 1)[1].strip()
            items = text[1:-1].split(",") if text.startswith("[") else [text]
            entries += [e.strip().strip("'\"") for e in items if e.strip()]
    return [f"hydra.searchpath=[{','.join(entries)}]"] if entries else []


def job_overrides(overrides: Sequence[str], multirun: bool) -> list[list[str]]:
    """The override list of every job: one for a run, the sweep's product for ``-m``.

    Raises
    ------
    ConfigError
        Overrides that do not parse.
    """
    if not multirun:
        return [list(overrides)]
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
        return BasicSweeper.split_arguments(parsed, None)[0]
    except HydraException as err:
        raise ConfigError(f"invalid sweep overrides: {' '.join(str(err).split())}") from None


def compose(conf: Path, overrides: Sequence[str]) -> Any:
    """Compose ``conf/config.yaml`` with ``overrides`` (Hydra's compose API).

    Raises
    ------
    ConfigError
        An unknown group option, a bad override, or a composition error.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(str(conf), version_base="1.3"):
            return hydra_compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as err:
        text = " ".join(str(err).split())
        hint = unknown_key_hint(conf, text)
        if hint:
            raise ConfigError(f"{hint} (overrides {list(overrides)})") from None
        raise ConfigError(
            f"cannot compose the configuration from {conf} with {list(overrides)}: {text}"
        ) from None


_UNKNOWN_KEY = re.compile(r"Could not override '([^']+)'|Key '([^']+)' (?:is not in|not in)")


def unknown_key_hint(conf: Path, hydra_message: str) -> str | None:
    """For Hydra's "Could not override 'a.b'" error: the valid keys at ``a`` and the closest.

    Hydra's own advice (``+a.b=...``, which appends a key) is wrong for bnlab's configs: their
    schema is closed, so a new key fails later anyway. ``None`` for any other error.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import DictConfig

    found = _UNKNOWN_KEY.search(hydra_message)
    if found is None:
        return None
    key = (found.group(1) or found.group(2)).lstrip("+~")
    with initialize_config_dir(str(conf), version_base="1.3"):
        node: Any = hydra_compose(config_name="config")
    parts = key.split(".")
    depth = 0
    for part in parts[:-1]:
        if not isinstance(node, DictConfig) or part not in node:
            break
        node, depth = node[part], depth + 1
    if not isinstance(node, DictConfig):
        return None
    known = sorted(str(k) for k in node.keys())
    prefix = ".".join(parts[:depth])
    parts = [*parts[:depth], parts[depth]]
    close = difflib.get_close_matches(parts[-1], known, n=1)
    suggestion = f" Did you mean {'.'.join([*parts[:-1], close[0]])!r}?" if close else ""
    where = f"{prefix!r}" if prefix else "the top level"
    return (
        f"unknown config key {key!r}.{suggestion} The keys of {where} are {known}; "
        "`bnlab-experiment --cfg job` prints the whole configuration."
    )


def check_jobs(conf: Path, argv: Sequence[str], root: Path) -> int:
    """Compose and validate every job that ``argv`` asks for; return how many there are.

    Raises
    ------
    ConfigError
        The first job whose configuration is invalid (its overrides are named).
    """
    overrides, multirun = _overrides(argv)
    jobs = job_overrides(overrides, multirun)
    search = user_searchpath(argv)
    schedulers: dict[str, float] = {}
    for job in jobs:
        try:
            exp = validate(compose(conf, [*job, *search]), root=root)
        except ConfigError as err:
            where = f" (job with {job})" if multirun else ""
            raise ConfigError(f"{err}{where}") from None
        if exp.compute.name == "dask" and exp.compute.scheduler_address:
            schedulers[exp.compute.scheduler_address] = exp.compute.timeout_s
    for address, timeout in schedulers.items():
        check_scheduler(address, timeout)
    return len(jobs)


def check_scheduler(address: str, timeout: float) -> None:
    """Connect to the Dask scheduler at ``address`` once, before any job starts.

    Raises
    ------
    ConfigError
        It does not answer within ``timeout`` seconds (no job is started), or the Dask
        extra is not installed.
    """
    from bnlab.counts.dask import connect

    connect(address, timeout).close()


def _hydra_context() -> tuple[Path | None, str, str]:
    """Output folder, job number and override string of the running Hydra job, if any."""
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
    except (ImportError, ValueError):
        return None, "0", ""
    from omegaconf import OmegaConf

    # hydra.job.num is MISSING outside a sweep
    node: Any = hc
    job_num = str(OmegaConf.select(node, "job.num", default=0, throw_on_missing=False) or 0)
    return Path(hc.runtime.output_dir), job_num, " ".join(hc.overrides.task)


def _write_outputs(out: Path, exp: ExperimentConfig, results: Mapping[str, Any]) -> None:
    import yaml

    from bnlab.io import write_network, write_structure
    from bnlab.report.paths import FILES
    from bnlab.stages.evaluate import write_evaluation
    from bnlab.stages.report import write_page

    p = FILES.under(out)
    common.write_text(p.config, yaml.safe_dump(as_dict(exp), sort_keys=False))
    write_structure(results["structure"], p.structure)
    results["posterior"].save(p.posterior)
    write_network(results["posterior"].mean(), p.network)
    write_evaluation(
        results["evaluation"],
        metrics=p.metrics,
        verdict=p.verdict,
        calibration=p.calibration_curve,
        audit=p.audit,
        coverage=p.coverage_curve,
        ppc=p.ppc,
        queries=p.queries,
        explanations=p.explanations,
    )
    write_page(out, out / "report.html", interval=exp.evaluate.interval)


def json_loads(text: str) -> dict[str, Any]:
    """Parse a JSON object."""
    import json

    doc = json.loads(text)
    return doc if isinstance(doc, dict) else {}


def _log_mcmc_steps(tracker: Any, post: Any) -> None:
    """Per-draw sampler statistics (mean over chains) as step metrics."""
    stats = getattr(post, "sample_stats", None)
    if stats is None:
        return
    for name, da in stats.data_vars.items():
        if da.ndim < 2 or da.dtype.kind not in "biuf":
            continue
        per_draw = da.astype(float).mean(dim=[d for d in da.dims if d != da.dims[1]])
        tracker.log_series(f"mcmc.{name}", per_draw.values[:5000])


def execute(exp: ExperimentConfig, root: Path, out: Path, tracker: Any = None) -> dict[str, Any]:
    """Run the steps of one experiment and write its files under ``out``.

    Returns the step results (``prepared``, ``structure``, ``posterior``, ``evaluation``)
    and ``timings`` in seconds per step.
    """
    from bnlab.stages.common import partitioned, train_location
    from bnlab.stages.evaluate import evaluate_model
    from bnlab.stages.fit import fit_posterior
    from bnlab.stages.learn import learn, open_source
    from bnlab.stages.prepare import data_hash, prepare

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    prepared = prepare(exp.dataset, exp.evaluate, root)
    lap("prepare")
    if tracker is not None:
        tracker.set_tags({"bnlab.data_hash": data_hash(prepared.train)})
    if partitioned(exp.compute):
        # count in place (compute.train_data, else the prepared rows written as Parquet where
        # the workers can read them): streamed here, or one task per file on Dask
        train = ""
        if exp.compute.train_data is None:
            from bnlab.io.parquet import write_parquet

            train = str(write_parquet(prepared.train, out / "data" / "train.parquet"))
        location = train_location(exp.compute, train, root)
        with open_source(exp.compute, location) as source:
            structure = learn(exp.structure, exp.dataset, source, root, seed=exp.seed)
        lap("learn")
        post = fit_posterior(structure, location, exp.prior, exp.backend, exp.seed, exp.compute)
    else:
        structure = learn(exp.structure, exp.dataset, prepared.train, root, seed=exp.seed)
        lap("learn")
        post = fit_posterior(structure, prepared.train, exp.prior, exp.backend, exp.seed)
    if prepared.schema is not None:  # the model keeps its bins: it takes raw numbers
        post.attrs["schema"] = prepared.schema.to_dict()
    lap("fit")
    evaluation = evaluate_model(exp, structure, post, prepared.test, prepared.truth)
    lap("evaluate")
    results = {
        "prepared": prepared,
        "structure": structure,
        "posterior": post,
        "evaluation": evaluation,
        "timings": timings,
    }
    out.mkdir(parents=True, exist_ok=True)
    if prepared.schema is not None:
        from bnlab.io.files import atomic_write

        atomic_write(out / "schema.json", prepared.schema.to_json().encode())
    _write_outputs(out, exp, results)
    lap("write")
    if exp.export.enabled:
        _export(exp, out, results, root)
        lap("export")
    return results


def _export(exp: ExperimentConfig, out: Path, results: Mapping[str, Any], root: Path) -> None:
    """Register the model in the MLflow registry when (and only when) it passed the gate."""
    ev = results["evaluation"]
    if not ev.verdict.passed:
        names = ", ".join(c.name for c in ev.verdict.failed) or "no applicable check"
        print(
            f"bnlab: not exported: the model failed the vetting gate ({names}; "
            f"{out / 'verdict.json'})",
            file=sys.stderr,
        )
        return
    from bnlab.ops.registry import register
    from bnlab.ops.tracking import git_tags, store_uri
    from bnlab.stages.prepare import data_hash

    target = exp.export.target or (exp.evaluate.targets[0] if exp.evaluate.targets else None)
    uri = store_uri(exp.export.tracking_uri or exp.tracking.uri, root)
    reg = register(
        results["posterior"],
        exp.export.registry_name,
        json_loads(ev.verdict.to_json()),
        tracking_uri=uri,
        experiment=exp.tracking.experiment,
        tags={
            "data_hash": data_hash(results["prepared"].train),
            "git_commit": git_tags(root)["bnlab.git_commit"],
            "experiment": exp.name,
        },
        targets=[target] if target else None,
        config=as_dict(exp),
        report=str(out / "report.html"),
    )
    if exp.export.alias != "challenger":
        from mlflow import MlflowClient

        MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
            reg.name, exp.export.alias, reg.version
        )
    print(f"bnlab: registered {reg.name} version {reg.version} (alias {exp.export.alias})")


def run_experiment(
    cfg: Any,
    out_dir: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Run one experiment from a composed configuration; return its summary.

    Parameters
    ----------
    cfg
        The composed configuration (Hydra ``DictConfig`` or a mapping).
    out_dir
        Where the run's files go (default: the Hydra job's output folder, else
        ``experiments/<name>/runs/<time>``).
    root
        Project folder that relative paths and the default MLflow store are relative to
        (default: the current folder).

    Returns
    -------
    dict
        ``job``, ``status``, ``overrides``, ``passed``, ``failed_checks`` (console lines),
        ``fail_on_verdict`` (``vetting.fail``), ``loglik``, ``seconds``, ``output``,
        ``run_id`` and ``metrics``; also written to ``summary.json`` in the output folder.

    Raises
    ------
    ConfigError
        An invalid configuration (before anything is written).
    """
    from bnlab import __version__
    from bnlab.ops.tracking import PARENT_ENV, SUMMARY_FILE, flatten, tracked_run

    base = Path(root) if root is not None else Path.cwd()
    exp = validate(cfg, root=base)
    hydra_out, job, overrides = _hydra_context()
    if out_dir is not None:
        out = Path(out_dir)
    elif hydra_out is not None:
        out = hydra_out
    else:
        out = base / "experiments" / exp.name / "runs" / time.strftime("%Y-%m-%d_%H-%M-%S")
    start = time.perf_counter()
    summary: dict[str, Any] = {"job": job, "overrides": overrides, "output": str(out)}
    tags = {
        "bnlab.version": __version__,
        "bnlab.experiment": exp.name,
        "bnlab.output": str(out),
    }
    run_name = f"{exp.name} {overrides}".strip()
    try:
        with tracked_run(exp.tracking, base, run_name, tags, os.environ.get(PARENT_ENV)) as tr:
            summary["run_id"] = tr.run_id if tr is not None else None
            if tr is not None:
                tr.log_params(flatten(as_dict(exp)))
            results = execute(exp, base, out, tr)
            ev = results["evaluation"]
            if tr is not None:
                tr.log_metrics(ev.metrics)
                tr.log_metrics({f"time.{k}_s": v for k, v in results["timings"].items()})
                _log_mcmc_steps(tr, results["posterior"])
                tr.log_artifacts(out)
    except Exception as err:
        summary.update(status="FAILED", error=" ".join(str(err).split())[:500])
        summary["seconds"] = round(time.perf_counter() - start, 2)
        out.mkdir(parents=True, exist_ok=True)
        common.write_json(out / SUMMARY_FILE, summary)
        raise
    summary.update(
        status="FINISHED",
        passed=bool(ev.verdict.passed),
        failed_checks=ev.verdict.failure_lines(),
        fail_on_verdict=bool(exp.vetting.fail),
        loglik=round(ev.metrics.get("heldout.loglik_per_row", float("nan")), 4),
        seconds=round(time.perf_counter() - start, 2),
        metrics=ev.metrics,
    )
    common.write_json(out / SUMMARY_FILE, summary)
    return summary


def _task(cfg: Any) -> dict[str, Any] | None:
    """The Hydra task: one job. In a sweep a failed job is reported, not raised.

    A single run whose verdict failed exits 2 (after printing each failed check) unless
    ``vetting.fail`` is false; a sweep goes on and lists such jobs at the end.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        summary = run_experiment(cfg)
    except BNError as err:
        if multirun:
            return None
        raise SystemExit(common.report_error(err)) from None
    except Exception:
        if multirun:  # the summary table and the parent run record the failure
            import traceback

            traceback.print_exc()
            return None
        raise
    code = report_run(summary, multirun)
    if code:
        raise SystemExit(code)
    return summary


def report_run(summary: Mapping[str, Any], multirun: bool = False) -> int:
    """Print a finished run's outcome and each failed check; return the exit code it calls for.

    2 when the verdict failed, ``vetting.fail`` is true and this is a single run (a sweep
    goes on; :class:`bnlab.ops.tracking.SweepCallback` lists such jobs at its end), else 0.
    """
    print(f"bnlab: run finished: passed={summary['passed']}; outputs in {summary['output']}")
    if summary["passed"]:
        return 0
    print(f"bnlab: vetting verdict FAILED ({Path(summary['output']) / 'verdict.json'}):")
    for line in summary.get("failed_checks") or []:
        print(f"  {line}")
    sys.stdout.flush()
    if multirun or not summary.get("fail_on_verdict", True):
        return 0
    print(
        "bnlab: exit code 2: the model failed the vetting gate (set vetting.fail=false to "
        "report without failing)",
        file=sys.stderr,
        flush=True,
    )
    return 2


def main(argv: Sequence[str] | None = None) -> None:
    """Console script ``bnlab-experiment``: validate every job, then hand over to Hydra."""
    common.use_compile_cache()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        conf = config_dir()
        if not _NO_WORK.intersection(args):
            check_jobs(conf, args, Path.cwd())
    except BNError as err:
        raise SystemExit(common.report_error(err)) from None
    import hydra

    from bnlab.ops.config import register_schema
    from bnlab.ops.tracking import SweepCallback

    register_schema()
    app: Callable[[], Any] = hydra.main(
        config_path=str(conf), config_name="config", version_base="1.3"
    )(_task)
    saved = sys.argv
    sys.argv = [saved[0], *args]
    try:
        app()
    finally:
        sys.argv = saved
    if SweepCallback.last_failures:
        raise SystemExit(1)
    if SweepCallback.last_failed_verdicts:
        raise SystemExit(2)


if __name__ == "__main__":
    main()
