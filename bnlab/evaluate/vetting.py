"""The vetting gate: every check a model must pass before it ships, with one verdict.

Thresholds are a flat mapping (``conf/vetting/*.yaml``; :data:`DEFAULT_THRESHOLDS` equals
``conf/vetting/default.yaml``). :func:`vet` turns whatever evidence it is given (an audit
table, calibration results per target, MCMC diagnostics, a coverage study) into a
:class:`Verdict`: a list of checks, each with its value, threshold and pass/fail. A check
runs only when its evidence is given; a verdict with no checks does not pass. A check whose
evidence cannot judge anything (an audit of a graph that implies no independence) is *not
applicable*: shown as such, it neither passes nor fails, and a verdict of such checks alone
does not pass.

The audit check counts *violations*: implied independencies rejected at ``audit_fdr``
(Benjamini-Hochberg) whose conditional mutual information exceeds ``min_effect`` nats, both
by the lower end of its interval and by a test of "CMI <= min_effect" at the same FDR
(``bnlab.evaluate.audit.counting_violations``). ``max_violations`` bounds
their number: a count when it is 1 or more, a share of the tested statements when below 1.
The defaults come from the simulation study in ``docs/vetting-study.md``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bnlab.errors import ArtifactError, ConfigError
from bnlab.evaluate.audit import DEFAULT_MIN_EFFECT, counting_violations

#: Threshold key -> (comparison the value must satisfy, what it bounds).
THRESHOLD_KEYS: dict[str, tuple[str, str]] = {
    "audit_fdr": ("", "FDR at which the implied independencies are tested"),
    "min_effect": ("", "CMI (nats) a violation's interval must lie above to count"),
    "max_violations": ("<=", "violations that count (a count, or a share when < 1)"),
    "max_ece": ("<=", "expected calibration error of each target"),
    "max_rhat": ("<=", "largest R-hat over the CPT entries"),
    "min_ess_bulk": (">=", "smallest bulk effective sample size"),
    "max_divergences": ("<=", "number of divergent transitions"),
    "min_coverage_90": (">=", "observed coverage of 90% intervals"),
    "max_coverage_90": ("<=", "observed coverage of 90% intervals"),
}

DEFAULT_THRESHOLDS: dict[str, float] = {
    "audit_fdr": 0.05,
    "min_effect": DEFAULT_MIN_EFFECT,
    "max_violations": 0,
    "max_ece": 0.05,
    "max_rhat": 1.01,
    "min_ess_bulk": 400,
    "max_divergences": 0,
    "min_coverage_90": 0.85,
    "max_coverage_90": 0.95,
}

#: Allowed range of each threshold: (low, high, whether each end is included).
THRESHOLD_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "audit_fdr": (0.0, 1.0, False, False),
    "min_effect": (0.0, math.inf, True, False),
    "max_violations": (0.0, math.inf, True, False),
    "max_ece": (0.0, 1.0, True, True),
    "max_rhat": (1.0, math.inf, True, False),
    "min_ess_bulk": (0.0, math.inf, True, False),
    "max_divergences": (0.0, math.inf, True, False),
    "min_coverage_90": (0.0, 1.0, True, True),
    "max_coverage_90": (0.0, 1.0, True, True),
}

#: Keys of ``conf/vetting/`` that are options, not thresholds: ``fail`` (``bnlab-experiment``
#: exits 2 on a failed verdict unless it is false).
OPTION_KEYS: dict[str, type] = {"fail": bool}

#: Keys that were thresholds once, with what replaced them.
RETIRED_KEYS: dict[str, str] = {
    "max_rejected_share": (
        "p-value rejections no longer fail the gate by themselves: set min_effect (nats of "
        "CMI a violation must exceed) and max_violations (a count, or a share when < 1)"
    ),
}

VERDICT_SCHEMA = 1
STATUS_PASSED, STATUS_FAILED, STATUS_NA = "passed", "failed", "not applicable"


@dataclass(frozen=True)
class Check:
    """One check of the gate: ``value`` compared with ``threshold``.

    ``applicable=False`` marks a check whose evidence judges nothing (``passed`` is then
    False, but the check does not fail the verdict either).
    """

    name: str
    value: float
    threshold: float
    comparison: str
    passed: bool
    detail: str = ""
    applicable: bool = True

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"`` or ``"not applicable"``."""
        if not self.applicable:
            return STATUS_NA
        return STATUS_PASSED if self.passed else STATUS_FAILED

    def line(self) -> str:
        """One console line: status, name, value, comparison, threshold, detail."""
        mark = {STATUS_PASSED: "ok  ", STATUS_FAILED: "FAIL", STATUS_NA: "n/a "}[self.status]
        value = "n/a" if math.isnan(self.value) else f"{self.value:.4g}"
        text = f"{mark} {self.name}: {value} (must be {self.comparison} {self.threshold:.4g})"
        return f"{text}; {self.detail}" if self.detail else text

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain JSON-ready data (NaN becomes ``None``)."""
        value = None if math.isnan(self.value) else self.value
        return {
            "name": self.name,
            "value": value,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "passed": self.passed,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`vet`: every check and whether all of them passed."""

    checks: tuple[Check, ...]
    thresholds: Mapping[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when at least one check applies and every applicable check passed."""
        applicable = [c for c in self.checks if c.applicable]
        return bool(applicable) and all(c.passed for c in applicable)

    @property
    def failed(self) -> tuple[Check, ...]:
        """The applicable checks that failed."""
        return tuple(c for c in self.checks if c.applicable and not c.passed)

    def failure_lines(self) -> list[str]:
        """Console lines naming each failed check with its value and threshold.

        Empty when the verdict passed; a verdict with no applicable check says so.
        """
        lines = [c.line() for c in self.failed]
        if not self.passed and not lines:
            lines.append("FAIL no applicable check: the gate had no evidence to judge")
        return lines

    def table(self) -> pd.DataFrame:
        """Return the checks as a DataFrame (name, value, threshold, comparison, passed, detail)."""
        return pd.DataFrame([c.to_dict() for c in self.checks])

    def to_json(self) -> str:
        """Serialise to JSON (stable key order, no timestamp, so reruns are byte-identical)."""
        payload = {
            "schema": VERDICT_SCHEMA,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
            "thresholds": {k: float(v) for k, v in self.thresholds.items()},
        }
        return json.dumps(payload, indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> Verdict:
        """Read a verdict written by :meth:`to_json`.

        Raises
        ------
        ArtifactError
            If the text is not a verdict of a known schema, or its recorded ``passed`` does
            not agree with its checks.
        """
        try:
            data = json.loads(text)
            if data.get("schema") != VERDICT_SCHEMA:
                raise ArtifactError(
                    f"verdict schema {data.get('schema')!r} is not supported (expected "
                    f"{VERDICT_SCHEMA}); re-run the evaluation with this bnlab version."
                )
            checks = tuple(
                Check(
                    name=str(c["name"]),
                    value=float("nan") if c["value"] is None else float(c["value"]),
                    threshold=float(c["threshold"]),
                    comparison=str(c["comparison"]),
                    passed=bool(c["passed"]),
                    detail=str(c.get("detail", "")),
                    applicable=c.get("status", STATUS_PASSED) != STATUS_NA,
                )
                for c in data["checks"]
            )
            verdict = cls(checks, {str(k): float(v) for k, v in data["thresholds"].items()})
        except ArtifactError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ArtifactError(f"not a bnlab verdict: {exc}") from exc
        if verdict.passed != bool(data["passed"]):
            raise ArtifactError(
                "the verdict says passed="
                f"{data['passed']} but its checks say {verdict.passed}; the file was edited."
            )
        return verdict

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` atomically (temporary file in the same folder, then rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.to_json())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Verdict:
        """Read a verdict file written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def __str__(self) -> str:
        lines = [f"verdict: {'PASSED' if self.passed else 'FAILED'}"]
        lines += [f"  {c.line()}" for c in self.checks]
        return "\n".join(lines)


def check_thresholds(thresholds: Mapping[str, Any]) -> dict[str, float]:
    """Validate a threshold mapping and fill unspecified keys from the defaults.

    Raises
    ------
    ConfigError
        An unknown or retired key (with the known ones listed), a value that is not a
        number, a value out of its range, or ``min_coverage_90 > max_coverage_90``. Option
        keys (:data:`OPTION_KEYS`, e.g. ``fail``) are checked for type and left out.
    """
    out = dict(DEFAULT_THRESHOLDS)
    for key, value in thresholds.items():
        if key in OPTION_KEYS:
            if not isinstance(value, OPTION_KEYS[key]):
                raise ConfigError(f"vetting option {key!r} must be true or false, got {value!r}.")
            continue
        if key in RETIRED_KEYS:
            raise ConfigError(
                f"vetting threshold {key!r} is retired: {RETIRED_KEYS[key]}. Fix conf/vetting/."
            )
        if key not in THRESHOLD_KEYS:
            raise ConfigError(
                f"unknown vetting threshold {key!r}; known keys are "
                f"{sorted([*THRESHOLD_KEYS, *OPTION_KEYS])}. Fix the name in conf/vetting/."
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"vetting threshold {key!r} must be a number, got {value!r}.")
        out[key] = float(value)
    for key, value in out.items():
        low, high, low_in, high_in = THRESHOLD_RANGES[key]
        inside = (value >= low if low_in else value > low) and (
            value <= high if high_in else value < high
        )
        if not inside:
            span = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
            raise ConfigError(
                f"vetting threshold {key}={value:g} is out of range: it must lie in {span} "
                f"({THRESHOLD_KEYS[key][1]}). Fix conf/vetting/ or the override."
            )
    if out["max_violations"] >= 1 and not float(out["max_violations"]).is_integer():
        raise ConfigError(
            f"max_violations={out['max_violations']:g} is neither a count (a whole number) "
            "nor a share (below 1). Fix conf/vetting/ or the override."
        )
    if out["min_coverage_90"] > out["max_coverage_90"]:
        raise ConfigError(
            f"min_coverage_90={out['min_coverage_90']:g} exceeds max_coverage_90="
            f"{out['max_coverage_90']:g}: no coverage could pass. Fix conf/vetting/."
        )
    return out


def load_thresholds(path: str | os.PathLike[str]) -> dict[str, float]:
    """Read thresholds from a YAML file (e.g. ``conf/vetting/strict.yaml``) and validate them."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read vetting thresholds from {path}: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: vetting thresholds must be a mapping of name: number.")
    return check_thresholds(data)


def _statement_text(row: pd.Series) -> str:
    if "statement" in row.index and isinstance(row["statement"], str):
        return row["statement"]
    given = row.get("given", ())
    given = ", ".join(given) if isinstance(given, (tuple, list)) else str(given or "")
    return f"{row.get('x', '?')} _||_ {row.get('y', '?')}" + (f" | {given}" if given else "")


def worst_violations(audit: pd.DataFrame, counted: np.ndarray, limit: int = 3) -> list[str]:
    """The ``limit`` counted violations with the largest effect, as short sentences."""
    rows = audit.loc[counted]
    if "cmi_lower" in rows.columns:
        rows = rows.sort_values("cmi_lower", ascending=False, kind="stable")
    out = []
    for _, row in rows.head(limit).iterrows():
        text = _statement_text(row)
        if {"cmi", "cmi_lower", "cmi_upper"} <= set(row.index):
            text += f" (CMI {row['cmi']:.3g} [{row['cmi_lower']:.3g}, {row['cmi_upper']:.3g}] nats"
            if "share" in row.index:
                text += f", {100 * float(row['share']):.2g}% of the entropy bound"
            text += ")"
        out.append(text)
    return out


def _audit_check(audit: pd.DataFrame, th: Mapping[str, float]) -> Check:
    """The ``independence_violations`` check of an audit table."""
    if "q" not in audit.columns:
        raise ConfigError("the audit table has no 'q' column; pass independence_audit output.")
    limit = th["max_violations"]
    if len(audit) == 0:
        return Check(
            "independence_violations",
            float("nan"),
            float(limit),
            "<=",
            False,
            "the graph implies no conditional independence (every pair is adjacent), so "
            "the audit has nothing to test",
            applicable=False,
        )
    counted = counting_violations(audit, th["audit_fdr"], th["min_effect"])
    n_counted = int(counted.sum())
    rejected = int(np.sum(audit["q"].to_numpy(dtype=np.float64) <= th["audit_fdr"]))
    value = float(n_counted) if limit >= 1 or limit == 0 else n_counted / len(audit)
    detail = (
        f"{n_counted} of {len(audit)} implied independencies violated by more than "
        f"{th['min_effect']:g} nats ({rejected} rejected at FDR {th['audit_fdr']:g})"
    )
    worst = worst_violations(audit, counted)
    if worst:
        detail += "; worst: " + "; ".join(worst)
    return _check("independence_violations", value, float(limit), "<=", detail)


def _check(name: str, value: float, threshold: float, comparison: str, detail: str) -> Check:
    if math.isnan(value):
        ok = False
    elif comparison == "<=":
        ok = value <= threshold
    else:
        ok = value >= threshold
    return Check(name, float(value), float(threshold), comparison, bool(ok), detail)


def _coverage_at(coverage: Mapping[Any, Any] | pd.DataFrame, level: float) -> float:
    if isinstance(coverage, pd.DataFrame):
        rows = coverage[np.isclose(coverage["level"].to_numpy(dtype=float), level)]
        if rows.empty:
            raise ConfigError(f"the coverage table has no row for level {level}.")
        return float(rows["coverage"].iloc[0])
    table = coverage.get("table") if "table" in coverage else None
    if isinstance(table, pd.DataFrame):
        return _coverage_at(table, level)
    for key, value in coverage.items():
        if isinstance(key, (int, float)) and np.isclose(float(key), level):
            return float(value)
    raise ConfigError(f"the coverage results have no entry for level {level}.")


def vet(
    *,
    audit: pd.DataFrame | None = None,
    calibration: Mapping[str, Mapping[str, Any]] | Mapping[str, Any] | None = None,
    diagnostics: Mapping[str, float] | Any | None = None,
    coverage: Mapping[Any, Any] | pd.DataFrame | None = None,
    thresholds: Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> Verdict:
    """Apply the vetting gate to the evidence given.

    Parameters
    ----------
    audit
        Output of :func:`~bnlab.evaluate.independence_audit`: a row counts as a violation
        when ``q <= audit_fdr``, ``cmi_lower > min_effect`` and "CMI <= min_effect" is
        rejected at ``audit_fdr`` (from ``statistic, dof, n``); their number (or share,
        when ``max_violations < 1``) is compared with ``max_violations``. An empty audit
        (a graph with no implied independence) gives a *not applicable* check.
    calibration
        Output of :func:`~bnlab.evaluate.calibration` for one target, or a mapping
        ``{target: that output}``; ``ece`` of each is checked.
    diagnostics
        MCMC diagnostics ``{"rhat_max", "ess_bulk_min", "divergences"}`` (see
        :func:`~bnlab.evaluate.mcmc_diagnostics`) or a ``bnlab.backends.diagnostics.Diagnostics``;
        omit (``None``) when the fit was conjugate.
    coverage
        Output of :func:`~bnlab.evaluate.coverage` (or ``{level: rate}``).
    thresholds
        A mapping, the path of a YAML file, or ``None`` for :data:`DEFAULT_THRESHOLDS`.

    Returns
    -------
    Verdict

    Raises
    ------
    ConfigError
        Unknown threshold keys, or evidence missing the values a check needs.
    """
    if thresholds is None:
        th = dict(DEFAULT_THRESHOLDS)
    elif isinstance(thresholds, (str, os.PathLike)):
        th = load_thresholds(thresholds)
    else:
        th = check_thresholds(thresholds)
    checks: list[Check] = []
    if audit is not None:
        checks.append(_audit_check(audit, th))
    if calibration is not None:
        per_target = (
            {str(calibration.get("target", "target")): calibration}
            if "ece" in calibration
            else calibration
        )
        for target, cal in per_target.items():
            if not isinstance(cal, Mapping) or "ece" not in cal:
                raise ConfigError(
                    f"calibration results for {target!r} have no 'ece'; pass the output of "
                    "bnlab.evaluate.calibration."
                )
            ece = float(cal["ece"])  # type: ignore[arg-type]
            checks.append(_check(f"ece[{target}]", ece, th["max_ece"], "<=", ""))
    if diagnostics is not None and hasattr(diagnostics, "max_rhat"):
        diag: Any = diagnostics
        diagnostics = {
            "rhat_max": diag.max_rhat,
            "ess_bulk_min": diag.min_ess_bulk,
            "divergences": diag.n_divergent,
        }
    if diagnostics is not None:
        for key, name, thr, cmp in (
            ("rhat_max", "rhat", "max_rhat", "<="),
            ("ess_bulk_min", "ess_bulk", "min_ess_bulk", ">="),
            ("divergences", "divergences", "max_divergences", "<="),
        ):
            if key not in diagnostics:
                raise ConfigError(
                    f"MCMC diagnostics lack {key!r}; give rhat_max, ess_bulk_min and "
                    "divergences (bnlab.evaluate.mcmc_diagnostics computes them)."
                )
            checks.append(_check(name, float(diagnostics[key]), th[thr], cmp, ""))
    if coverage is not None:
        rate = _coverage_at(coverage, 0.9)
        checks.append(_check("coverage_90_low", rate, th["min_coverage_90"], ">=", ""))
        checks.append(_check("coverage_90_high", rate, th["max_coverage_90"], "<=", ""))
    return Verdict(tuple(checks), th)


def mcmc_diagnostics(posterior: Any) -> dict[str, float] | None:
    """Return ``rhat_max``, ``ess_bulk_min`` and ``divergences`` of an MCMC posterior.

    Parameters
    ----------
    posterior
        A :class:`~bnlab.posterior.Posterior`; ``None`` is returned for a conjugate
        (Dirichlet) posterior, which has no sampler to diagnose.
    """
    import bnlab

    # resolve the lazy public name bnlab.fit before the bnlab.fit package is imported, which
    # would otherwise leave the package (not the function) under that name
    _ = bnlab.fit
    from bnlab.backends.diagnostics import diagnose

    if getattr(posterior, "kind", None) != "draws":
        return None
    diverging = None
    stats_ds = getattr(posterior, "sample_stats", None)
    if stats_ds is not None and "diverging" in stats_ds:
        diverging = np.asarray(stats_ds["diverging"], dtype=bool)
    d = diagnose(posterior.stored_draws, diverging)
    return {
        "rhat_max": d.max_rhat,
        "ess_bulk_min": d.min_ess_bulk,
        "divergences": float(d.n_divergent),
    }
