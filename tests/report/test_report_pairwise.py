"""The report's pairwise section in Chromium: a real simulator ranking draws its ranked chart and win/tie/loss
heatmap without console errors, the significant-only filter works, and hostile run names, judge labels and
warnings in a ranking stay inert text."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

from bench import pairwise_results
from bench.load import load_run_data
from bench.report import build_report
from bench.report.data import assemble
from bench.report.render import render
from bench.score.__main__ import compose_judge
from bench.score.pairwise import run_pairwise
from bench.score.ranking import Battle, rank
from tests.report.cdp import keep_screenshot
from tests.report.test_report_xss import CHECK_INERT
from tests.report.xss_run import EVIL_LABEL, P1, P2, P3, P4, make_xss_run

READY = "document.body && document.body.getAttribute('data-ready') === '1'"
SECTION = """(() => {
  const svgs = n => document.querySelectorAll(`[data-fig="${n}"] svg`).length;
  const rows = () => [...document.querySelectorAll('table.pw-pairs tbody tr')].filter(r => r.style.display !== 'none');
  const before = rows().length;
  const box = document.getElementById('pw-sig'); box.checked = true; box.dispatchEvent(new Event('change'));
  const after = rows().length;
  box.checked = false; box.dispatchEvent(new Event('change'));
  const h = document.getElementById('pairwise');
  return {ranked: svgs('pairwise_ranked'), matrix: svgs('pairwise_matrix'), before, after,
          nav: !!document.querySelector('nav a[href="#pairwise"]'),
          text: document.querySelector('main').innerText,
          top: h.getBoundingClientRect().top + window.scrollY,
          bottom: document.querySelector('table.pw-pairs').getBoundingClientRect().bottom + window.scrollY + 40};
})()"""


def _section_shot(browser, top: float, bottom: float, path: Path) -> Path:
    data = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                   "clip": {"x": 0, "y": max(0, top - 10), "width": 1400,
                                                            "height": bottom - top + 20, "scale": 1}},
                        session=True)["data"]
    path.write_bytes(base64.b64decode(data))
    return path


def test_pairwise_section_of_a_simulator_ranking_in_chromium(sim_runs, browser, tmp_path):
    runs = [Path(shutil.copytree(p, tmp_path / name)) for name, p in sim_runs.items()]  # the shared runs untouched
    for r in runs:
        (r / pairwise_results.FILE).unlink(missing_ok=True)
    summary = run_pairwise(runs, judge=compose_judge("sim_v2", []), out=tmp_path / "ranking", replicates=300)
    pairwise_results.attach(summary, tmp_path / "ranking" / "ranking.json")
    out = tmp_path / "report.html"
    build_report(runs, out)
    browser.open(out.as_uri(), ready=READY)
    state = browser.evaluate(SECTION)
    assert browser.errors() == []
    assert state["ranked"] >= 1 and state["matrix"] >= 1 and state["nav"]
    assert "Position consistency: 100%" in state["text"] or "Position consistency: 9" in state["text"]
    assert "SIMULATED judge (sim-judge-v2)" in state["text"]
    significant = sum(p["significant"] for p in summary["ranking"]["pairs"])
    assert state["before"] == 3 and state["after"] == significant and 0 < significant < 3  # the twin pair is a tie
    keep_screenshot(_section_shot(browser, state["top"], state["bottom"], tmp_path / "report-pairwise-section.png"))


def test_hostile_names_in_a_ranking_stay_inert(tmp_path, browser):
    a, b = make_xss_run(tmp_path / "a"), make_xss_run(tmp_path / "b")
    battles = [Battle(f"f{i}", P1, P2, "a") for i in range(6)] + [Battle(f"f{i}", P1, P3, "tie") for i in range(6)]
    summary = {"format": "capbench-pairwise/1", "created": "2026-11-30T00:00:00+00:00",
               "runs": {P1: {"path": str(a), "model": P1, "simulated": False},
                        P2: {"path": str(b), "model": P2, "simulated": False},
                        P3: {"path": str(tmp_path / "gone"), "model": P3, "simulated": False}},
               "mode": "all pairs", "baselines": [], "frames": 6, "battles": 12, "battles_failed": 0,
               "position_consistency": {"rate": 0.5, "consistent": 6, "judged": 12, "note": ""},
               "judge": {"label": EVIL_LABEL, "model_name": P4, "backend": "x", "rubric": P1, "simulated": False},
               "ranking": rank(battles, [P1, P2, P3], replicates=50), "warnings": [f"warned {P2}"]}
    assert len(pairwise_results.attach(summary, tmp_path / "r" / "ranking.json")) == 2
    data = assemble(load_run_data([a, b]), thumbnails=False)
    assert data["pairwise"] and any(m["label"] == f"{P3} (not in this report)" for m in data["pairwise"]["models"])
    for csp in (True, False):
        out = tmp_path / f"pw-xss-{csp}.html"
        out.write_text(render(data, csp=csp), encoding="utf-8")
        html = out.read_text()
        for payload in (P1, P2, P3, P4, EVIL_LABEL):
            assert payload not in html
        browser.open(out.as_uri(), ready=READY)
        state = browser.evaluate(CHECK_INERT)
        assert state["xss"] is None and state["handlers"] == 0 and state["badimg"] == 0 and state["scripts"] == 3
        assert f"warned {P2}" in state["text"] and f"{P3} (not in this report)" in state["text"]
        assert browser.errors() == []
