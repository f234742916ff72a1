"""The timeline view in headless Chromium: two simulator runs over a small dataset of frames ordered in time (two
videos, two shots each), one of them with hostile HTML planted in its captions."""

from __future__ import annotations

import base64
import io
import json
import shutil

import pytest
from PIL import Image

from bench.load import load_run_data
from bench.report import build_report
from bench.report.data import assemble
from bench.report.render import render
from tests.report.cdp import Browser, chromium_path, keep_screenshot
from tests.report.timeruns import time_runs
from tests.report.xss_run import P1, P2, P3, P4

READY = "document.body && document.body.getAttribute('data-ready') === '1'"
HOSTILE_FRAME = "clipA-t002.5"


def _plant(run_dir, frame_id):
    """The run's caption of frame_id, rewritten with HTML payloads in every field the timeline shows."""
    path = run_dir / "generations.jsonl"
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec["frame_id"] == frame_id:
            assert rec["validity"]["schema_valid"], "the planted frame must count as a valid caption"
            rec["caption"].update(content_type=P2, specific_style=P1, production_quality=P3, environment=P4,
                                  objects=[P2, P4])
        out.append(json.dumps(rec))
    path.write_text("\n".join(out) + "\n")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("timeline")
    made = time_runs(base)
    hostile = base / "runs" / "sim_hostile"
    shutil.copytree(made["sim_noisy"], hostile)
    _plant(hostile, HOSTILE_FRAME)
    return {"sim": made["sim"], "hostile": hostile}


@pytest.fixture
def browser1280():
    if chromium_path() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); browser tests skipped")
    with Browser(width=1280, height=1000) as b:
        yield b


STATE = """(() => ({
  nav: !!document.querySelector('nav a[href="#timeline"]'),
  videos: Array.from(document.querySelectorAll('#tl-video option')).map(o => o.textContent),
  picker: getComputedStyle(document.getElementById('tl-pick')).display,
  columns: document.querySelector('#tl-view .tl-grid').style.gridTemplateColumns,
  thumbs: document.querySelectorAll('#tl-view img.tl-thumb').length,
  previews: Array.from(document.querySelectorAll('#tl-view img.tl-preview')).map(i => [i.src, i.naturalWidth]),
  cuts: document.querySelectorAll('#tl-view .tl-cell.cut').length,
  boundaries: document.querySelectorAll('#tl-view .tl-b.hit, #tl-view .tl-b.fp').length,
  lanes: Array.from(document.querySelectorAll('#tl-view .tl-sec')).map(e => e.textContent),
  values: Array.from(document.querySelectorAll('#tl-view .tl-val')).map(e => e.textContent),
  xss: typeof window.__xss === 'undefined' ? null : window.__xss,
  handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length,
  badimg: document.querySelectorAll('img[src="x"]').length,
  svgs: document.querySelectorAll('#tl-view svg').length,
  scripts: document.querySelectorAll('script').length,
}))()"""


def test_timeline_previews_click_and_escaping_in_chromium(runs, browser1280, tmp_path):
    out = tmp_path / "timeline.html"
    info = build_report([runs["sim"], runs["hostile"]], out)
    assert info["data"]["timeline"]["applicable"]
    b = browser1280
    b.open(out.as_uri(), ready=READY)
    assert b.errors() == []
    s = b.evaluate(STATE)
    assert s["nav"] and s["picker"] != "none"
    assert s["videos"] == ["clipA.mp4 (8 frames, 1 cuts)", "clipB.mp4 (6 frames, 1 cuts)"]
    assert s["columns"].count("64px") == 1 and "repeat(8, 64px)" in s["columns"]
    assert s["thumbs"] == 8  # the explorer's thumbnails, one per frame
    # the true cut (a0 -> a1 at frame 4) is drawn down the column: frames, time, shot and boundary rows
    assert s["cuts"] >= 3 + 2
    assert s["lanes"][0].startswith("boundaries") and s["lanes"][1:] == [
        "content_type", "specific_style", "production_quality", "environment", "objects"]

    # previews: one per shot, decoded by the browser, and animated WebP (more than one frame) at 240 px high
    assert len(s["previews"]) == 2 and all(w > 0 for _, w in s["previews"])
    for src, _ in s["previews"]:
        assert src.startswith("data:image/webp;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as img:
            assert img.format == "WEBP" and img.n_frames > 1 and img.is_animated and img.height == 240

    # model output in the timeline is text, never markup: the payloads show literally and nothing ran
    assert P2 in s["values"] and P1 in s["values"] and P4 in s["values"]
    assert any(P2 in v and P4 in v for v in s["values"])  # the objects lane: "P2, P4"
    assert s["xss"] is None and s["handlers"] == 0 and s["badimg"] == 0 and s["svgs"] == 0 and s["scripts"] == 3

    # click the hostile frame in a lane: the explorer shows it (search box and #frame= deep link)
    b.evaluate("(() => { document.getElementById('timeline').scrollIntoView(); })()")
    time_shot = keep_screenshot(b.screenshot(tmp_path / "timeline-1280.png", full_page=False))
    with Image.open(time_shot) as img:
        assert img.width == 1280
    clicked = b.evaluate(f"""(() => {{
      const hit = Array.from(document.querySelectorAll('#tl-view .tl-hit'))
        .find(h => h.title.startsWith('{HOSTILE_FRAME} '));
      hit.click();
      const cur = document.querySelector('#frames .frame.current');
      return {{hash: decodeURIComponent(location.hash), id: cur && cur.querySelector('.fid').textContent,
               top: cur && cur.getBoundingClientRect().top, vh: innerHeight}};
    }})()""")
    # the explorer opened it: its card is the current one, scrolled into view, and the URL links to it
    assert clicked["hash"] == f"#frame={HOSTILE_FRAME}" and clicked["id"] == HOSTILE_FRAME
    assert -5 <= clicked["top"] < clicked["vh"] - 100  # scrolled to it (as far as the page's end allows)
    keep_screenshot(b.screenshot(tmp_path / "timeline-clicked-1280.png", full_page=False))

    # the picker redraws the other video
    b.evaluate("(() => { const s = document.getElementById('tl-video'); s.value = '1';"
               " s.dispatchEvent(new Event('input')); })()")
    assert "repeat(6, 64px)" in b.evaluate("document.querySelector('#tl-view .tl-grid').style.gridTemplateColumns")
    assert b.evaluate("document.querySelectorAll('#tl-view img.tl-preview').length") == 2
    assert b.errors() == []


def test_timeline_escaping_alone_keeps_payloads_inert(runs, browser1280, tmp_path):
    """Without the Content-Security-Policy (escaping is the only wall), the planted captions still do not run."""
    out = tmp_path / "no-csp.html"
    out.write_text(render(assemble(load_run_data([runs["sim"], runs["hostile"]], records=False)), csp=False))
    html = out.read_text()
    for payload in (P1, P2, P3, P4):
        assert payload not in html
    browser1280.open(out.as_uri(), ready=READY)
    s = browser1280.evaluate(STATE)
    assert s["xss"] is None and s["handlers"] == 0 and s["badimg"] == 0 and P2 in s["values"]
    assert browser1280.errors() == []
