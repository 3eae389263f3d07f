"""Loud verdicts: ``bnlab-experiment`` prints each failed check and exits 2 on a failed gate.

Fast tests drive :func:`bnlab.ops.experiment.report_run` and the sweep summary directly; the
slow one runs the console script as a process (fail, ``vetting.fail=false``; the passing
run is the tracked single run of ``test_pipeline_mlflow.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bnlab.ops.experiment import report_run
from bnlab.ops.tracking import SUMMARY_FILE, SweepCallback

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SMALL = ["dataset=asia", "dataset.rows=800", "evaluate.draws=40", "tracking.enabled=false"]
FAILED = ["FAIL ece[lung]: 0.0123 (must be <= 1e-05)"]


def _summary(passed: bool, fail: bool = True, job: str = "0") -> dict:
    return {"job": job, "status": "FINISHED", "overrides": "vetting.max_ece=1e-05",
            "passed": passed, "failed_checks": [] if passed else FAILED,
            "fail_on_verdict": fail, "output": "/runs/x"}  # fmt: skip


def test_report_run_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_run(_summary(True)) == 0
    assert "passed=True" in capsys.readouterr().out
    assert report_run(_summary(False)) == 2
    out, err = capsys.readouterr()
    assert "vetting verdict FAILED (/runs/x/verdict.json)" in out and FAILED[0] in out
    assert "exit code 2" in err and "vetting.fail=false" in err
    assert report_run(_summary(False, fail=False)) == 0  # vetting.fail=false: report only
    assert FAILED[0] in capsys.readouterr().out
    assert report_run(_summary(False), multirun=True) == 0  # a sweep goes on
    assert FAILED[0] in capsys.readouterr().out


def test_sweep_end_lists_jobs_that_failed_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for job, summary in (("0", _summary(True, job="0")), ("1", _summary(False, job="1"))):
        (tmp_path / job).mkdir()
        (tmp_path / job / SUMMARY_FILE).write_text(json.dumps(summary))
    config = SimpleNamespace(hydra=SimpleNamespace(sweep=SimpleNamespace(dir=str(tmp_path))))
    callback = SweepCallback()
    callback.on_multirun_end(config)
    out = capsys.readouterr().out
    assert "1 job(s) failed the vetting gate:" in out
    assert "job 1 (vetting.max_ece=1e-05): /runs/x" in out and f"    {FAILED[0]}" in out
    assert SweepCallback.last_failed_verdicts == 1 and SweepCallback.last_failures == 0
    # vetting.fail=false in that job: listed, but not an exit code
    (tmp_path / "1" / SUMMARY_FILE).write_text(json.dumps(_summary(False, fail=False, job="1")))
    callback.on_multirun_end(config)
    assert SweepCallback.last_failed_verdicts == 0
    SweepCallback.last_failed_verdicts = 0


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BNLAB_CONFIG_DIR": str(CONF), "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "bnlab.ops.experiment", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow(expected_s=150)
def test_console_exit_codes_on_pass_and_fail(tmp_path: Path) -> None:
    # about a minute per run on 2 shared cores (imports, JAX compile); nothing faster runs the
    # real console script, Hydra included, to a failed gate
    failing = _run([*SMALL, "vetting.max_ece=0.00001", "hydra.run.dir=fail"], tmp_path)
    assert failing.returncode == 2, failing.stdout + failing.stderr
    assert "bnlab: vetting verdict FAILED" in failing.stdout
    assert "FAIL ece[lung]: " in failing.stdout and "(must be <= 1e-05)" in failing.stdout
    assert "Traceback" not in failing.stderr and "vetting.fail=false" in failing.stderr
    verdict = json.loads((tmp_path / "fail" / "verdict.json").read_text())
    assert not verdict["passed"]

    reported = _run(
        [*SMALL, "vetting.max_ece=0.00001", "vetting.fail=false", "hydra.run.dir=soft"], tmp_path
    )
    assert reported.returncode == 0, reported.stdout + reported.stderr
    assert "FAIL ece[lung]: " in reported.stdout
    # the passing gate through the console script (exit 0, passed=True, no FAIL line):
    # tests/test_pipeline_mlflow.py::test_single_run_console_script_tracks_into_the_embedded_store
