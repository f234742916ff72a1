"""A report of three simulator runs, opened in headless Chromium: no console errors, leaderboard and plots drawn."""

from __future__ import annotations

from PIL import Image, ImageStat

from bench.report import build_report
from tests.report.cdp import keep_screenshot

PAGE_STATE = """(() => ({
  rows: document.querySelectorAll('#lb tbody tr').length,
  runs: Array.from(document.querySelectorAll('#lb tbody tr td:first-child b')).map(b => b.textContent),
  plots: Array.from(document.querySelectorAll('[data-fig]')).map(d => [d.getAttribute('data-fig'),
         d.querySelectorAll('.main-svg').length, d.querySelectorAll('.trace, .hm, .heatmaplayer image').length]),
  frames: document.querySelectorAll('#frames .frame').length,
  thumbs: document.querySelectorAll('#frames img.thumb').length,
  count: document.getElementById('f-count').textContent,
  downloads: Array.from(document.querySelectorAll('a[download]')).map(a => a.getAttribute('href')),
  external: Array.from(document.querySelectorAll('[src],[href]:not(a[download])'))
            .map(e => e.getAttribute('src') || e.getAttribute('href'))
            .filter(u => !u.startsWith('data:') && !u.startsWith('#')),
}))()"""


def test_three_sim_runs_render_in_chromium(sim_runs, browser, tmp_path):
    out = tmp_path / "report.html"
    info = build_report(list(sim_runs.values()), out)
    html = out.read_text()
    assert html.count("<script") == 3 and "<script src" not in html and "<link" not in html  # plotly.js inline, once
    assert html.count("Plotly.newPlot") == 1 and html.count("plotly.js v") == 1
    browser.open(out.as_uri(), ready="document.body && document.body.getAttribute('data-ready') === '1'")
    state = browser.evaluate(PAGE_STATE)
    assert browser.errors() == []
    assert state["rows"] == 3 and sorted(state["runs"]) == sorted(info["runs"])
    drawn = {name: (svgs, traces) for name, svgs, traces in state["plots"]}
    for name in ("cost_quality", "latency_cdf", "ladder", "categories", "field_failures", "significance", "content"):
        assert drawn[name][0] >= 1, f"plot {name} was not drawn: {drawn}"
    assert state["frames"] == 20 and state["thumbs"] == 20  # first page of the explorer, real thumbnails
    assert state["count"] == "27 of 27 frames"
    assert state["external"] == []  # nothing loads from outside the file
    assert state["downloads"] == ["report.frames.parquet"] and info["parquet"].is_file()  # a link, never fetched

    # the explorer filters: only frames where some run is not valid (sim_noisy's failures)
    browser.evaluate("(() => { const s = document.getElementById('f-v'); s.value = 'anyinvalid';"
                     " s.dispatchEvent(new Event('input')); })()")
    shown = browser.evaluate("document.querySelectorAll('#frames .frame').length")
    assert 0 < shown < 27
    browser.evaluate("(() => { const s = document.getElementById('f-v'); s.value = '';"
                     " s.dispatchEvent(new Event('input')); })()")

    shot = keep_screenshot(browser.screenshot(tmp_path / "report-3-sim-runs.png", max_height=5000))
    img = Image.open(shot)
    assert img.width >= 1200 and img.height >= 3000
    # not blank: the page has ink (tables, plots), in colour (plot traces)
    stat = ImageStat.Stat(img.convert("RGB"))
    assert max(stat.stddev) > 20
    top = img.crop((0, 0, img.width, 900)).convert("L")
    assert ImageStat.Stat(top).stddev[0] > 10  # header and leaderboard are there



def test_the_browser_leaves_the_home_folder_untouched(browser):
    """Chromium's crash reporter writes ~/.config/chromium even with --user-data-dir; the harness gives
    it a home inside its temporary profile (a second browser is started here, after the snapshot)."""
    from pathlib import Path

    from tests.report.cdp import Browser

    def snapshot() -> dict[str, int]:
        roots = [Path.home() / ".config" / "chromium", Path.home() / ".cache" / "chromium"]
        return {str(p): p.stat().st_mtime_ns for root in roots if root.exists() for p in root.rglob("*")}

    before = snapshot()
    with Browser() as fresh:
        assert fresh.call("Runtime.evaluate", {"expression": "1 + 1"}, session=True)["result"]["value"] == 2
    assert snapshot() == before
