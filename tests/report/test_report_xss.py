"""Model output is untrusted: captions, raw text, reasons, rationales, labels and field names render inert."""

from __future__ import annotations

import pytest

from bench.load import load_run_data
from bench.report.data import assemble
from bench.report.render import render, script_json
from tests.report.cdp import keep_screenshot
from tests.report.xss_run import P1, P2, P3, PAYLOADS, make_xss_run

CHECK_INERT = """(() => ({
  xss: typeof window.__xss === 'undefined' ? null : window.__xss,
  scripts: document.querySelectorAll('script').length,
  handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length,
  badimg: document.querySelectorAll('img[src="x"]').length,
  svgs_in_frames: document.querySelectorAll('#frames svg').length,
  text: document.body.innerText,
}))()"""


def test_script_json_cannot_close_its_element():
    text = str(script_json({"a": P3, "b": "&<>\u2028"}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text


def test_html_has_no_live_payload(tmp_path):
    runs = load_run_data([make_xss_run(tmp_path)])
    html = render(assemble(runs))
    for payload in PAYLOADS:
        assert payload not in html  # neither as markup nor inside the JSON block
    assert html.count("<script") == 3  # the data block, plotly.js, the page's own script


@pytest.mark.parametrize("csp", [True, False], ids=["with-csp", "escaping-alone"])
def test_hostile_captions_do_not_run_in_chromium(tmp_path, browser, csp):
    runs = load_run_data([make_xss_run(tmp_path)])
    out = tmp_path / "xss.html"
    out.write_text(render(assemble(runs), csp=csp), encoding="utf-8")
    browser.open(out.as_uri(), ready="document.body && document.body.getAttribute('data-ready') === '1'")
    state = browser.evaluate(CHECK_INERT)
    assert state["xss"] is None, f"an injected script ran: window.__xss={state['xss']}"
    assert state["scripts"] == 3 and state["handlers"] == 0 and state["badimg"] == 0
    assert state["svgs_in_frames"] == 0
    # shown as text, literally
    assert P1 in state["text"] and P2 in state["text"] and "Sure! </script>" in state["text"]
    assert browser.errors() == []
    keep_screenshot(browser.screenshot(tmp_path / f"xss-{'csp' if csp else 'no-csp'}.png"))


def test_the_check_would_catch_a_live_payload(tmp_path, browser):
    """Control: the same checks see a payload that is not escaped."""
    out = tmp_path / "live.html"
    out.write_text(f"<!DOCTYPE html><html><body data-ready=1><div>{P2}</div></body></html>")
    browser.open(out.as_uri())
    assert browser.evaluate("window.__xss") == 2


def test_sampled_explorer_note_and_strata_stay_inert(tmp_path):
    """Over the threshold the page also shows content types in the sampling note's strata table: escaped too."""
    runs = load_run_data([make_xss_run(tmp_path)], records=False)
    data = assemble(runs, max_embedded_frames=1)
    assert data["explorer"]["sampled"] and len(data["frames"]) == 1
    html = render(data)
    assert 'id="sampling"' in html
    for payload in PAYLOADS:
        assert payload not in html
    assert html.count("<script") == 3
