"""The frame explorer in headless Chromium: readable judge items, "no frames match", and words that wrap
at spaces (never mid-word) even with many runs side by side."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from bench.report import build_report

ROOT = Path(__file__).resolve().parents[2]
LONG = "x" * 70  # one token longer than any column: the only thing allowed to break anywhere

WORDS_BROKEN = """(() => {
  const broken = [];
  const card = document.querySelector('#frames .frame');
  card.querySelectorAll('table.cmp td, table.cmp th').forEach(cell => {
    if (cell.closest('.longtok') || cell.querySelector('.longtok')) return;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const re = /[^\\s-]+/g; let m;  // a break after a hyphen is a normal line break
      while ((m = re.exec(node.textContent))) {
        const r = document.createRange(); r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
        const lines = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  });
  return broken;
})()"""


def wait_for(browser, expression: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not browser.evaluate(f"!!({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def _runs(sim_run: Path, root: Path, n: int) -> list[Path]:
    out = []
    manifest = (ROOT / "datasets" / "sample" / "manifest.jsonl").read_text().splitlines()
    first = json.loads(manifest[0])["id"]  # the explorer's first card (dataset order)
    for i in range(n):
        run = shutil.copytree(sim_run, root / f"r{i}")
        recs = [json.loads(x) for x in (run / "generations.jsonl").read_text().splitlines()]
        if i == 0:
            rec = next(r for r in recs if r["frame_id"] == first)
            rec["caption"]["description"] = f"A token {LONG} in a sentence."
            (run / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        rows = [{"frame_id": r["frame_id"], "valid": True, "category": "valid",
                 "reference": {"kind": "dataset", "source": "sample"}, "overlap": None,
                 "judge": {"score": 3.0, "scores": [3.0], "rationale": "ok", "failure": None, "cached": False,
                           "hallucinated": {"objects": ["a <b>bicycle</b>", "a kite"]} if r["frame_id"] == first
                           else {}, "missed": {"actions": ["door opening"]} if r["frame_id"] == first else {}}}
                for r in recs]
        (run / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        out.append(run)
    return out


def test_explorer_items_filters_and_wrapping(sim_runs, browser, tmp_path):
    runs = _runs(sim_runs["sim"], tmp_path / "runs", 8)
    out = tmp_path / "many.html"
    build_report(runs, out)
    browser.open(out.as_uri(), ready="document.body && document.body.getAttribute('data-ready') === '1'")
    assert browser.errors() == []

    info = browser.evaluate("""(() => {
      const box = document.querySelector('#frames .frame .runinfo > div');
      return {text: box.textContent, bold: box.querySelectorAll('b').length,
              items: Array.from(box.querySelectorAll('li')).map(li => li.textContent)};
    })()""")
    assert "objects: a <b>bicycle</b>, a kite" in info["items"]  # escaped text, as a readable list
    assert "actions: door opening" in info["items"]
    assert "hallucinated:" in info["text"] and "missed:" in info["text"]
    assert '{"' not in info["text"] and '["' not in info["text"]  # no raw JSON
    assert info["bold"] == 1  # only the run label; the model's "<b>" stayed text

    assert browser.evaluate(WORDS_BROKEN) == []  # e.g. "descripti on" would be listed
    long_cell = browser.evaluate("""(() => {
      const el = document.querySelector('#frames .frame table.cmp .longtok');
      const td = el.closest('td');
      return {text: el.textContent, fits: td.scrollWidth <= td.clientWidth + 1};
    })()""")
    assert LONG in long_cell["text"] and long_cell["fits"]

    browser.evaluate("(() => { const s = document.getElementById('f-q'); s.value = 'no-such-frame-anywhere';"
                     " s.dispatchEvent(new Event('input')); })()")
    wait_for(browser, "document.getElementById('f-count').textContent.startsWith('0 of')")  # search is debounced
    state = browser.evaluate("""(() => ({frames: document.querySelectorAll('#frames .frame').length,
      text: document.getElementById('frames').textContent,
      count: document.getElementById('f-count').textContent}))()""")
    assert state == {"frames": 0, "text": "no frames match", "count": "0 of 27 frames"}
