"""The report rendered in headless Chromium: no broken image, no console error, all sections.

Chromium is Debian's ``chromium`` package (``make browser`` / ``apt-get install chromium``).
The page is opened as a file with networking disabled. A copy of it gets a probe script
(the report itself has no script) that records script errors, failed resource loads and each
image's decoded size into the DOM, which ``--dump-dom`` returns. A screenshot of the unmodified
page is kept under ``reports/test-report/`` (a CI artifact, git-ignored).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fixtures import asia_results

from bnlab.report import SECTION_IDS, build_report
from bnlab.report import html as h

ARTIFACTS = Path(__file__).resolve().parents[1] / "reports" / "test-report"

PROBE_HEAD = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var t = e.target || {};
  window.__errors.push(t.tagName ? "failed to load " + t.tagName + " " +
    String(t.src || t.href).slice(0, 60) : String(e.message));
}, true);
["error", "warn"].forEach(function (level) {
  var orig = console[level];
  console[level] = function () {
    window.__errors.push(level + ": " + Array.prototype.join.call(arguments, " "));
    orig.apply(console, arguments);
  };
});
</script>"""

PROBE_TAIL = """<pre id="bnlab-probe"></pre><script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return {alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight};
  });
  var ids = Array.prototype.map.call(document.querySelectorAll("section"), function (s) {
    return {id: s.id, height: s.getBoundingClientRect().height};
  });
  document.getElementById("bnlab-probe").textContent =
    JSON.stringify({errors: window.__errors, images: imgs, sections: ids});
});
</script>"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail(
            "headless Chromium is needed to check the report: install Debian's `chromium` "
            "package (`apt-get install -y chromium`, or `make browser`)."
        )
    return exe


def _run(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report_file() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = build_report(**asia_results())
    path = ARTIFACTS / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _probe(exe: str, page: str, tmp_path: Path) -> tuple[dict, str]:
    """Open ``page`` with the probe added; return what the probe saw and Chromium's log."""
    import html

    probed = page.replace("<head>", "<head>" + PROBE_HEAD, 1).replace(
        "</body>", PROBE_TAIL + "</body>", 1
    )
    probe_file = tmp_path / "probe.html"
    probe_file.write_text(probed, encoding="utf-8")
    res = _run(
        exe,
        tmp_path / "profile",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe_file.as_uri(),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r'<pre id="bnlab-probe">(.*?)</pre>', res.stdout, re.S)
    assert m is not None and m.group(1), "the probe did not run:\n" + res.stderr[-2000:]
    return json.loads(html.unescape(m.group(1))), res.stderr


def _broken(images: list[dict]) -> list[str]:
    return [i["alt"] for i in images if not (i["complete"] and i["w"] > 0 and i["h"] > 0)]


def test_report_renders_in_chromium(report_file, tmp_path):
    exe = _chromium()
    page = report_file.read_text(encoding="utf-8")
    probe, log = _probe(exe, page, tmp_path)
    assert probe["errors"] == []
    # the page's own console output, as Chromium logs it (the report has no script at all)
    assert [line for line in log.splitlines() if ":CONSOLE" in line] == []
    images = probe["images"]
    assert len(images) == page.count("<img") >= 10
    assert _broken(images) == []
    shown = {s["id"]: s["height"] for s in probe["sections"]}
    assert list(shown) == list(SECTION_IDS)
    assert {"coverage", "ppc", "queries", "explanations"} <= set(shown)
    assert all(h > 40 for h in shown.values())
    alts = [i["alt"] for i in images]
    assert alts.count("evidence contributions") == len(asia_results()["explanations"]) > 0
    assert {"coverage curve", "posterior predictive check of state frequencies"} <= set(alts)


OK_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'


def test_probe_catches_broken_images_and_errors(tmp_path):
    exe = _chromium()
    page = (
        "<!DOCTYPE html><html><head></head><body>"
        '<img src="data:image/png;base64,AAAA" alt="corrupt">'
        '<img src="missing.png" alt="absent">'
        + h.image(OK_SVG, "svg", "ok")
        + "<script>console.error('boom')</script></body></html>"
    )
    probe, _ = _probe(exe, page, tmp_path)
    assert _broken(probe["images"]) == ["corrupt", "absent"]
    assert "error: boom" in probe["errors"]
    assert any("failed to load IMG" in e for e in probe["errors"])


def test_screenshot_is_saved(report_file, tmp_path):
    exe = _chromium()
    shot = ARTIFACTS / "screenshot.png"
    shot.unlink(missing_ok=True)
    res = _run(
        exe,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        "--hide-scrollbars",
        report_file.as_uri(),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400)


@pytest.mark.slow(expected_s=180)
def test_default_experiment_report_renders(tmp_path):
    """The default experiment (alarm, conjugate posterior) run end to end, its report opened."""
    from bnlab.ops.experiment import compose, run_experiment

    exe = _chromium()
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "run"
    run_experiment(compose(root / "conf", ["export=none", "tracking.enabled=false"]), out, root)
    report = out / "report.html"
    page = report.read_text(encoding="utf-8")
    probe, log = _probe(exe, page, tmp_path)
    assert probe["errors"] == []
    assert [line for line in log.splitlines() if ":CONSOLE" in line] == []
    assert len(probe["images"]) == page.count("<img") >= 10
    assert _broken(probe["images"]) == []
    shown = {s["id"]: s["height"] for s in probe["sections"]}
    assert list(shown) == list(SECTION_IDS)
    for sid in SECTION_IDS:
        body = page.split(f'<section id="{sid}">')[1].split("</section>")[0]
        # a conjugate fit has no MCMC diagnostics, and no drift check has run yet
        assert ("Not run" in body) == (sid in ("mcmc", "monitor")), sid
    assert len(page.encode()) < 5_000_000  # the size bound for alarm
    shot = ARTIFACTS / "default-experiment.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    res = _run(exe, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1280,2400",
               "--hide-scrollbars", report.as_uri())  # fmt: skip
    assert res.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG")
