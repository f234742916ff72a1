"""The frame explorer's views in headless Chromium (issue 16): frames opened large, deep links (#frame=ID) and
keys, word diffs against the reference or a baseline run, the judge's items marked in the caption text, and
grid mode; no console errors, and hostile model output stays text in every view."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from bench.load import load_run_data
from bench.report import build_report
from bench.report.data import assemble
from bench.report.render import render
from tests.report.cdp import keep_screenshot
from tests.report.xss_run import P1, P2, P3, make_xss_run

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = [json.loads(x) for x in (ROOT / "datasets" / "sample" / "manifest.jsonl").read_text().splitlines()]
IDS = [e["id"] for e in MANIFEST]
XSS5 = '<img src=x onerror="window.__xss=5">'
READY = "document.body && document.body.getAttribute('data-ready') === '1'"


def wait_for(browser, expression: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not browser.evaluate(f"!!({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def key(browser, name: str) -> None:
    """A real key press (CDP input), as a user's: the page sees it on document.body."""
    codes = {"Escape": 27, "Enter": 13, "ArrowRight": 39, "ArrowLeft": 37}
    params = {"key": name, "windowsVirtualKeyCode": codes[name] if name in codes else ord(name.upper())}
    if len(name) == 1:
        params["text"] = name
    browser.call("Input.dispatchKeyEvent", {"type": "keyDown", **params}, session=True)
    browser.call("Input.dispatchKeyEvent", {"type": "keyUp", **params}, session=True)


def select(browser, sel_id: str, value: str) -> None:
    browser.evaluate(f"(() => {{ const s = document.getElementById({sel_id!r}); s.value = {value!r};"
                     " s.dispatchEvent(new Event('input')); })()")


@pytest.fixture(scope="module")
def judged_report(tmp_path_factory, sim_runs):
    """Two copies of the sim run over the sample: run A's first frame has a caption with hallucinated words and an
    XSS payload, and a judge that names them (and a missed item); run B is the same run unchanged."""
    root = tmp_path_factory.mktemp("explorer")
    first = IDS[0]
    runs = []
    for name in ("A", "B"):
        run = shutil.copytree(sim_runs["sim"], root / "runs" / name)
        recs = [json.loads(x) for x in (run / "generations.jsonl").read_text().splitlines()]
        rec = next(r for r in recs if r["frame_id"] == first)
        if name == "A":
            rec["caption"]["description"] = f"A man rides a Red Bicycle past {XSS5} and a kite over the lawn."
            rec["caption"]["objects"] = ["bicycle", "kite", P1]
        (run / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        rows = [{"frame_id": r["frame_id"], "valid": True, "category": "valid",
                 "reference": {"kind": "dataset", "source": "sample"}, "overlap": None,
                 "judge": {"score": 2.0 if name == "A" and r["frame_id"] == first else 4.0, "scores": [3.0],
                           "rationale": "ok", "failure": None, "cached": False,
                           "hallucinated": {"description": ["red bicycle", XSS5], "objects": ["a kite", P1]}
                           if name == "A" and r["frame_id"] == first else {},
                           "missed": {"actions": ["door opening", P3]} if name == "A" and r["frame_id"] == first
                           else {}}}
                for r in recs]
        (run / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        runs.append(run)
    out = root / "report.html"
    info = build_report(runs, out)
    return out, info


def test_word_diff_is_a_longest_common_subsequence(judged_report, browser):
    out, _ = judged_report
    browser.open(out.as_uri(), ready=READY)
    diff = browser.evaluate("""(() => {
      const d = capbenchExplorer.wordDiff;
      const w = s => s.split(' ').filter(Boolean);
      return {
        changed: d(w('a red car on the road'), w('a blue car on a road')),
        same: d(w('A red car.'), w('a Red car')),
        empty: d([], w('new words')),
        gone: d(w('old words'), []),
        huge: d(new Array(600).fill('x'), new Array(600).fill('x')),
      };
    })()""")
    assert diff["changed"]["ins"] == [False, True, False, False, True, False]
    assert diff["changed"]["del"] == [[], ["red"], [], [], ["the"], [], []]
    assert diff["same"] == {"ins": [False, False, False], "del": [[], [], [], []]}  # case and end punctuation
    assert diff["empty"]["ins"] == [True, True] and diff["gone"]["del"] == [["old", "words"]]
    assert all(diff["huge"]["ins"]) and len(diff["huge"]["del"][600]) == 600  # too big: marked whole, no table
    assert browser.errors() == []


def test_diff_cells_and_judge_marks_are_built_by_dom(judged_report, browser, tmp_path):
    out, _ = judged_report
    browser.open(out.as_uri(), ready=READY)
    state = browser.evaluate("""(() => {
      const card = document.querySelector('#frames .frame');
      const field = n => Array.from(card.querySelectorAll('table.cmp tr')).find(tr => tr.firstChild.textContent === n);
      const row = field('description'), objects = field('objects'), actions = field('actions');
      const a = row.children[2], b = row.children[3];
      return {
        marks: Array.from(a.querySelectorAll('mark.hal')).map(m => m.textContent),
        ins: Array.from(a.querySelectorAll('ins')).map(m => m.textContent),
        del: a.querySelectorAll('del').length,
        bMarks: b.querySelectorAll('mark').length,
        objMarks: Array.from(objects.children[2].querySelectorAll('mark.hal')).map(m => m.textContent),
        objIns: Array.from(objects.children[2].querySelectorAll('ins')).map(m => m.textContent),
        missed: Array.from(actions.children[2].querySelectorAll('.missed .mi')).map(m => m.textContent),
        xss: typeof window.__xss === 'undefined' ? null : window.__xss,
        badimg: document.querySelectorAll('img[src="x"]').length,
        scripts: document.querySelectorAll('script').length,
        text: a.textContent,
      };
    })()""")
    assert state["xss"] is None and state["badimg"] == 0 and state["scripts"] == 3
    # found case-insensitively, shown as text ("Red " is an inserted word, "Bicycle" is in the reference too)
    assert "Red Bicycle" in "".join(state["marks"]) and XSS5 in state["marks"]
    assert XSS5 in state["text"]
    assert state["bMarks"] == 0  # run B's judge named nothing
    assert "kite" in state["objMarks"] and P1 in state["objMarks"]  # "a kite" found by its word
    assert P1 in state["objIns"]  # not in the reference's objects
    assert state["missed"] == ["door opening", P3]
    assert any("Bicycle" in x for x in state["ins"]) and state["del"] >= 1  # words vs the reference

    # against run B as the baseline: run B's own column is the base (no marks of a diff), run A's differs
    select(browser, "f-diff", "run:1")
    vs_b = browser.evaluate("""(() => {
      const card = document.querySelector('#frames .frame');
      const row = Array.from(card.querySelectorAll('table.cmp tr'))
        .find(tr => tr.firstChild.textContent === 'description');
      return {aIns: row.children[2].querySelectorAll('ins').length,
              bIns: row.children[3].querySelectorAll('ins, del').length,
              base: card.querySelectorAll('th .badge.base').length,
              otherCards: Array.from(document.querySelectorAll('#frames .frame')).slice(1)
                .map(c => c.querySelectorAll('ins, del').length).reduce((x, y) => x + y, 0)};
    })()""")
    assert vs_b["aIns"] >= 1 and vs_b["bIns"] == 0 and vs_b["base"] == 1
    assert vs_b["otherCards"] == 0  # the same captions in both runs: nothing marked
    select(browser, "f-diff", "")
    assert browser.evaluate("document.querySelectorAll('#frames ins, #frames del').length") == 0
    assert browser.errors() == []
    select(browser, "f-diff", "ref")
    keep_screenshot(browser.screenshot(tmp_path / "explorer-diff-judge.png", max_height=2500))


def test_deep_link_hashchange_and_keys(judged_report, browser):
    out, _ = judged_report
    target = IDS[24]  # on the second page of 20
    browser.open(out.as_uri() + "#frame=" + target, ready=READY)
    state = browser.evaluate("""(() => {
      const c = document.querySelector('#frames .frame.current'); const r = c.getBoundingClientRect();
      return {id: c.getAttribute('data-id'), page: document.querySelector('#pager span').textContent,
              top: r.top, inView: r.top < innerHeight && r.bottom > 0, hash: location.hash,
              marked: performance.getEntriesByName('capbench:frame-open').length};
    })()""")
    assert state["id"] == target and state["page"] == "page 2 of 2" and state["inView"] and state["marked"] == 1
    # at the top of the window, below the sticky nav
    wait_for(browser, "(t => t > 20 && t < 80)(document.querySelector('#frames .frame.current')"
                      ".getBoundingClientRect().top)")

    # another view sets the hash, unencoded: the explorer follows
    other = IDS[3]
    browser.evaluate(f"location.hash = 'frame=' + {other!r}")
    wait_for(browser, f"document.querySelector('#frames .frame.current')?.getAttribute('data-id') === {other!r}")
    assert browser.evaluate("document.querySelector('#pager span').textContent") == "page 1 of 2"

    key(browser, "j")
    assert browser.evaluate("document.querySelector('#frames .frame.current').getAttribute('data-id')") == IDS[4]
    assert browser.evaluate("decodeURIComponent(location.hash)") == "#frame=" + IDS[4]  # the URL follows
    key(browser, "ArrowRight")
    key(browser, "k")
    assert browser.evaluate("document.querySelector('#frames .frame.current').getAttribute('data-id')") == IDS[4]
    for _ in range(16):  # across the page boundary
        key(browser, "j")
    assert browser.evaluate("document.querySelector('#frames .frame.current').getAttribute('data-id')") == IDS[20]
    assert browser.evaluate("document.querySelector('#pager span').textContent") == "page 2 of 2"

    key(browser, "Enter")
    assert browser.evaluate("!document.getElementById('zoom').hidden")
    assert IDS[20] in browser.evaluate("document.getElementById('zoom-cap').textContent")
    key(browser, "j")  # next frame while enlarged
    assert IDS[21] in browser.evaluate("document.getElementById('zoom-cap').textContent")
    key(browser, "Escape")
    assert browser.evaluate("document.getElementById('zoom').hidden")
    key(browser, "o")
    assert browser.evaluate("!document.getElementById('zoom').hidden")
    key(browser, "Escape")

    # after a click on the pager, its button has the focus: j still moves (Enter would be the button's click)
    browser.evaluate("document.querySelector('#pager button').focus()")
    key(browser, "j")
    assert browser.evaluate("document.querySelector('#frames .frame.current').getAttribute('data-id')") == IDS[22]
    # keys typed into the search box are text, not navigation
    browser.evaluate("document.getElementById('f-q').focus()")
    key(browser, "j")
    assert browser.evaluate("document.querySelector('#frames .frame.current').getAttribute('data-id')") == IDS[22]

    browser.evaluate("location.hash = 'frame=no-such-frame'")
    wait_for(browser, "!document.getElementById('f-miss').hidden")
    assert "no-such-frame is not embedded" in browser.evaluate("document.getElementById('f-miss').textContent")
    assert browser.errors() == []


def test_frames_open_large_at_the_resolution_sent(judged_report, browser, tmp_path):
    out, info = judged_report
    browser.open(out.as_uri(), ready=READY)
    browser.evaluate("document.querySelector('#frames .frame img.thumb').click()")
    wait_for(browser, "document.getElementById('zoom-img').complete && "
                      "document.getElementById('zoom-img').naturalWidth > 0")
    got = browser.evaluate("""(() => { const i = document.getElementById('zoom-img');
      return {w: i.naturalWidth, h: i.naturalHeight, cap: document.getElementById('zoom-cap').textContent,
              shown: i.getBoundingClientRect().width, hash: decodeURIComponent(location.hash)}; })()""")
    with Image.open(ROOT / "datasets" / "sample" / MANIFEST[0]["image"]) as img:
        size = img.size  # 640 x 480: under the sample runs' max_side (1024), so sent as it is
    assert (got["w"], got["h"]) == size and got["shown"] == size[0]
    assert f"{size[0]} × {size[1]} px, as sent to the model" in got["cap"]
    assert got["hash"] == "#frame=" + IDS[0]
    keep_screenshot(browser.screenshot(tmp_path / "explorer-large.png", full_page=False))
    browser.evaluate("document.getElementById('zoom').click()")  # the backdrop closes it too
    assert browser.evaluate("document.getElementById('zoom').hidden")
    large = info["data"]["explorer"]["large"]
    assert large["sent"] == 27 and large["thumbs_only"] == 0 and "27 of the 27 frames" in large["text"]
    assert browser.errors() == []


def test_grid_mode_filters_and_opens_the_detail_card(judged_report, browser, tmp_path):
    out, info = judged_report
    browser.open(out.as_uri(), ready=READY)
    select(browser, "f-mode", "grid")
    grid = browser.evaluate("""(() => ({
      tiles: document.querySelectorAll('#frames .tile').length,
      cards: document.querySelectorAll('#frames .frame').length,
      first: Array.from(document.querySelectorAll('#frames .tile')[0].querySelectorAll('.trun'))
             .map(r => r.textContent),
      perRow: (() => { const t = Array.from(document.querySelectorAll('#frames .tile'));
                       const top = x => x.getBoundingClientRect().top;
                       return t.filter(x => top(x) === top(t[0])).length; })(),
    }))()""")
    assert grid["tiles"] == 27 and grid["cards"] == 0 and grid["perRow"] >= 6
    a, b = info["runs"]
    assert grid["first"] == [f"{a}ok2.0", f"{b}ok4.0"]  # label, validity, judge score per run
    keep_screenshot(browser.screenshot(tmp_path / "explorer-grid.png", full_page=False))

    select(browser, "f-q", IDS[5])  # filters apply in grid mode (search is debounced)
    wait_for(browser, "document.querySelectorAll('#frames .tile').length === 1")
    select(browser, "f-q", "")
    wait_for(browser, "document.querySelectorAll('#frames .tile').length === 27")

    browser.evaluate(f"document.querySelector('#frames .tile[data-id={json.dumps(IDS[22])}]').click()")
    state = browser.evaluate("""(() => ({mode: document.getElementById('f-mode').value,
      current: document.querySelector('#frames .frame.current')?.getAttribute('data-id'),
      hash: decodeURIComponent(location.hash)}))()""")
    assert state == {"mode": "detail", "current": IDS[22], "hash": "#frame=" + IDS[22]}
    assert browser.errors() == []


@pytest.mark.parametrize("view", ["grid", "large", "diff-vs-run"])
def test_hostile_output_stays_text_in_every_view(tmp_path, browser, view):
    runs = load_run_data([make_xss_run(tmp_path)])
    out = tmp_path / "xss.html"
    out.write_text(render(assemble(runs)), encoding="utf-8")
    browser.open(out.as_uri(), ready=READY)
    if view == "grid":
        select(browser, "f-mode", "grid")
    elif view == "large":
        browser.evaluate("document.querySelector('#frames img.thumb').click()")
    else:
        select(browser, "f-diff", "run:0")
    state = browser.evaluate("""(() => ({
      xss: typeof window.__xss === 'undefined' ? null : window.__xss,
      scripts: document.querySelectorAll('script').length,
      handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length,
      badimg: document.querySelectorAll('img[src="x"]').length,
      svgs: document.querySelectorAll('#frames svg, #zoom svg').length,
      marks: Array.from(document.querySelectorAll('#frames mark')).map(m => m.textContent),
      text: document.body.innerText}))()""")
    assert state["xss"] is None and state["scripts"] == 3 and state["handlers"] == 0 and state["badimg"] == 0
    assert state["svgs"] == 0
    if view != "grid":
        assert P1 in state["text"] and P2 in state["text"]
    if view == "diff-vs-run":
        assert P1 in state["marks"]  # the judge's item (under the hostile field name) marked, as text
    assert browser.errors() == []


def test_a_deep_link_to_a_frame_not_embedded_says_so_and_shows_the_first_page(judged_report, browser):
    out, _ = judged_report
    browser.open(out.as_uri() + "#frame=gone%2F1", ready=READY)
    state = browser.evaluate("""(() => ({cards: document.querySelectorAll('#frames .frame').length,
      current: document.querySelectorAll('#frames .current').length,
      miss: document.getElementById('f-miss').hidden ? null : document.getElementById('f-miss').textContent}))()""")
    assert state == {"cards": 20, "current": 0, "miss": "frame gone/1 is not embedded in this report."}
    assert browser.errors() == []


def test_without_references_the_diff_is_against_the_first_run(judged_report, browser, tmp_path):
    _, info = judged_report
    data = dict(info["data"], frames=[dict(f, ref=None) for f in info["data"]["frames"]])  # as frames1k: none
    out = tmp_path / "noref.html"
    out.write_text(render(data), encoding="utf-8")
    browser.open(out.as_uri(), ready=READY)
    state = browser.evaluate("""(() => { const s = document.getElementById('f-diff');
      const card = document.querySelector('#frames .frame');
      return {value: s.value, options: Array.from(s.options).map(o => o.value),
              base: Array.from(card.querySelectorAll('th')).filter(th => th.querySelector('.badge.base'))
                    .map(th => th.firstChild.textContent),
              marked: card.querySelectorAll('ins, del').length}; })()""")
    assert state["value"] == "run:0" and state["options"] == ["run:0", "run:1", ""]  # no "reference" to pick
    assert state["base"] == [info["runs"][0]] and state["marked"] > 0  # run B diffed against run A (edited)
    assert browser.errors() == []
