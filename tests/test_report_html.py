"""HTML building blocks and the sections' handling of absent or failing evidence."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd

from bnlab.evaluate import Check, Verdict
from bnlab.report import html as h
from bnlab.report import sections
from bnlab.report.monitoring import monitor_section


def test_escaping_of_names_and_values():
    frame = pd.DataFrame({"x": ["<script>alert(1)</script>"], "y": ['a"b&c']})
    out = h.table(frame)
    assert "<script>" not in out
    assert "&lt;script&gt;" in out and "a&quot;b&amp;c" in out
    page = h.page("<b>t</b>", "s", [h.Section("a", "<i>", h.paragraph("<x>"))])
    assert "<b>t</b>" not in page and "&lt;i&gt;" in page and "&lt;x&gt;" in page


def test_image_is_a_decodable_data_uri():
    png = b"\x89PNG\r\n\x1a\n" + b"rest"
    tag = h.image(png, "png", 'alt "q"')
    m = re.search(r'src="data:image/png;base64,([^"]+)"', tag)
    assert m is not None and base64.b64decode(m.group(1)) == png
    assert 'alt="alt &quot;q&quot;"' in tag


def test_number_formatting():
    assert h.fmt(0.123456) == "0.1235"
    assert h.fmt(1.5e-7) == "1.500e-07"
    assert h.fmt(float("nan")) == "–"
    assert h.fmt(True) == "yes" and h.fmt(("a", "b")) == "a, b"


def test_table_highlights_and_truncates():
    frame = pd.DataFrame({"a": np.arange(5)})
    out = h.table(frame, row_class=["bad", "", "", "", ""], max_rows=2)
    assert out.count("<tr") == 3  # header + 2 rows
    assert '<tr class="bad">' in out and "3 more rows not shown" in out


def _verdict(passed: bool) -> Verdict:
    return Verdict(
        (
            Check("rejected_independencies", 0.01, 0.05, "<=", True, "1 of 100 rejected"),
            Check("ece[X]", 0.2 if not passed else 0.01, 0.05, "<=", passed),
        ),
        {},
    )


def test_verdict_from_object_json_and_dict_agree():
    v = _verdict(False)
    a = sections.verdict_table(v)
    b = sections.verdict_table(v.to_json())
    import json

    c = sections.verdict_table(json.loads(v.to_json()))
    assert a[0] is b[0] is c[0] is False
    pd.testing.assert_frame_equal(a[1], b[1])
    pd.testing.assert_frame_equal(a[1], c[1])


def test_verdict_section_pass_and_fail():
    ok = sections.verdict_section(_verdict(True)).body
    bad = sections.verdict_section(_verdict(False)).body
    assert "badge pass" in ok and "FAILED" not in ok and "2 of 2 checks passed" in ok
    assert "badge fail" in bad and '<tr class="bad">' in bad and "1 of 2 checks passed" in bad
    # a verdict without checks passes nothing
    assert "badge fail" in sections.verdict_section({"passed": True, "checks": []}).body


def test_every_section_says_not_run_without_input():
    parts = [
        sections.verdict_section(None),
        sections.graph_section(None),
        sections.cpt_section(None, None, 0.9),
        sections.mcmc_section(None),
        sections.audit_section(None),
        sections.calibration_section(None, None, 0.9),
        sections.coverage_section(None),
        sections.ppc_section(None, 0.9),
        sections.queries_section(None),
        sections.explanations_section(None, 0.9),
        monitor_section(None),
        sections.provenance_section(None),
    ]
    assert tuple(p.id for p in parts) == sections.SECTION_IDS
    for p in parts:
        assert "Not run" in p.body


def test_audit_sorted_by_q_with_violations_highlighted():
    audit = pd.DataFrame(
        {
            "x": ["a", "b", "c"],
            "y": ["d", "e", "f"],
            "given": ["", "a", ""],
            "statistic": [1.0, 30.0, 2.0],
            "dof": [1, 1, 1],
            "p": [0.3, 1e-6, 0.2],
            "q": [0.3, 3e-6, 0.3],
            "cmi": [0.0, 0.1, 0.0],
            "rejected": [False, True, False],
        }
    )
    body = sections.audit_section(audit).body
    rows = re.findall(r"<tr( class=\"bad\")?><td>(\w)</td>", body)
    assert [r[1] for r in rows] == ["b", "a", "c"]  # q ascending (stable for ties)
    assert rows[0][0] and not rows[1][0] and not rows[2][0]
    assert "1 are refuted" in body


def test_calibration_metrics_with_and_without_intervals():
    cal = {"T": {"ece": {"mean": 0.03, "lower": 0.02, "upper": 0.05}, "brier": 0.1}}
    body = sections.calibration_section(cal, None, 0.9).body
    assert "<h3>T</h3>" in body and "0.03" in body and "0.05" in body and "brier" in body
    assert sections.metric_interval(0.2)[0] == 0.2
    assert np.isnan(sections.metric_interval(0.2)[1])


def test_coverage_frame_from_evaluate_table():
    table = pd.DataFrame({"level": [0.9, 0.5], "coverage": [0.88, 0.52], "se": [0.01, 0.02]})
    # the evaluate stage writes an empty table when there is no simulation study
    assert "Not run" in sections.coverage_section(table.iloc[:0]).body
    frame = sections.coverage_frame({"table": table})
    assert list(frame["nominal"]) == [0.5, 0.9]
    assert frame["lower"].iloc[1] == 0.88 - 1.96 * 0.01


def test_undefined_metrics_read_as_nan():
    # JSON null: e.g. the AUC of a target observed in one state only
    assert np.isnan(sections.metric_interval(None)[0])
    mean, lower, upper = sections.metric_interval({"mean": 0.5, "lower": None, "upper": 0.7})
    assert mean == 0.5 and np.isnan(lower) and upper == 0.7
