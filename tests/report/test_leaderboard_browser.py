"""The leaderboard in headless Chromium: the verdict and best values, fitting a 1280 px laptop (compact by default
when the table would not fit, the run column sticky when it scrolls) and at 1920 px, and Plotly's PNG download
working under the report's CSP."""

from __future__ import annotations

import os
import time

import pytest
from PIL import Image

from bench.report import build_report
from tests.report.cdp import Browser, chromium_path, keep_screenshot

READY = "document.body && document.body.getAttribute('data-ready') === '1'"
GEOMETRY = """(() => {
  const box = document.getElementById('lb-scroll'), t = document.getElementById('lb');
  const head = Array.from(t.tHead.rows[0].cells);
  const cost = head.find(c => c.textContent.includes('$ / 1M')).getBoundingClientRect();
  const first = t.tBodies[0].rows[0].cells[0], fr = first.getBoundingClientRect(), br = box.getBoundingClientRect();
  const hit = document.elementFromPoint(fr.left + 4, fr.top + fr.height / 2);
  return {compact: t.classList.contains('compact'), overflow: box.scrollWidth > box.clientWidth + 1,
          boxLeft: br.left, boxRight: br.right, costLeft: cost.left, costRight: cost.right, firstLeft: fr.left,
          firstOnTop: first.contains(hit), vw: innerWidth};
})()"""

needs_chromium = pytest.mark.skipif(chromium_path() is None and not os.environ.get("CAPBENCH_REQUIRE_BROWSER"),
                                    reason="chromium is not installed")


@pytest.fixture(scope="module")
def report(sim_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("lb") / "report.html"
    info = build_report(list(sim_runs.values()), out)
    return out, info


def test_verdict_and_best_values_are_in_the_page(report):
    out, info = report
    html = out.read_text()
    sentences = info["data"]["verdict"]["sentences"]
    assert [s["decision"] for s in sentences] == ["simulated", "quality", "validity", "latency", "cost"]
    assert 'id="verdict"' in html and html.count("<li data-decision=") == 5
    leaderboard = html.split('id="lb"')[1].split("</table>")[0]
    assert "Every run here is SIMULATED" in html and leaderboard.count('class="badge sim">SIMULATED') == 3  # badged
    best = info["data"]["verdict"]["best"]
    # sim_noisy fails some frames: the best validity is another run's, and that cell is shaded
    assert "sim_noisy" not in best["schema_valid_rate"]
    assert html.count('data-best="1"') == sum(len(v) for v in best.values())


@needs_chromium
def test_fits_1280_compact_and_sticky_then_1920(report, tmp_path):
    out, _ = report
    with Browser(width=1280, height=900) as b:
        b.open(out.as_uri(), ready=READY)
        g = b.evaluate(GEOMETRY)
        assert g["compact"] and not g["overflow"]  # the full table would not fit: compact, and now it does
        assert g["costRight"] <= g["boxRight"] + 1 and g["firstOnTop"]  # run name and cost both in view
        b.evaluate("document.getElementById('leaderboard').scrollIntoView()")
        keep_screenshot(b.screenshot(tmp_path / "leaderboard-1280-compact.png", full_page=False))
        # the full table scrolls sideways, and the run column stays where it was, on top of what scrolls under it
        b.evaluate("document.getElementById('lb-compact').click()")
        b.evaluate("(() => { const s = document.getElementById('lb-scroll'); s.scrollLeft = s.scrollWidth; })()")
        time.sleep(0.2)
        g = b.evaluate(GEOMETRY)
        assert not g["compact"] and g["overflow"]
        assert abs(g["firstLeft"] - g["boxLeft"]) <= 1 and g["firstOnTop"]
        assert g["costLeft"] >= g["boxLeft"] and g["costRight"] <= g["boxRight"] + 1  # scrolled into view
        keep_screenshot(b.screenshot(tmp_path / "leaderboard-1280-full-scrolled.png", full_page=False))
        assert b.errors() == []
    with Browser(width=1920, height=900) as b:
        b.open(out.as_uri(), ready=READY)
        g = b.evaluate(GEOMETRY)
        assert not g["overflow"] and g["costRight"] <= g["vw"] and g["firstOnTop"]
        assert b.errors() == []


@needs_chromium
def test_plotly_png_download_works_under_the_csp(report, tmp_path):
    out, _ = report
    html = out.read_text()
    assert "img-src data: blob:;" in html and "script-src 'nonce-" in html and "unsafe-eval" not in html
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with Browser(width=1280, height=900) as b:
        b.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        b.open(out.as_uri(), ready=READY)
        titles = b.evaluate("Array.from(document.querySelectorAll('[data-fig=cost_quality] .modebar-btn'))"
                            ".map(x => x.getAttribute('data-title'))")
        assert "Download plot as a PNG" in titles and "Share chart..." not in titles  # nothing uploads anywhere
        b.evaluate("document.querySelector('[data-fig=cost_quality] .modebar-btn"
                   "[data-title=\"Download plot as a PNG\"]').click()")
        deadline = time.monotonic() + 30
        while not list(downloads.glob("*.png")) and time.monotonic() < deadline:
            time.sleep(0.2)
        files = list(downloads.glob("*.png"))
        assert [f.name for f in files] == ["cost-vs-quality.png"], "the modebar's PNG download produced no file"
        with Image.open(files[0]) as img:
            assert img.format == "PNG" and img.width >= 400
        assert b.errors() == []
