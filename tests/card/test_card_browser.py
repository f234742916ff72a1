"""The card section in a real browser: its charts drawn under the report's CSP, no console errors."""

from __future__ import annotations

import os

import pytest

from bench.card.table import card_rows, method_notes
from bench.report.card import render_card_only
from tests.report.cdp import chromium_path


@pytest.fixture
def browser():
    if chromium_path() is None:
        if os.environ.get("CAPBENCH_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (CAPBENCH_REQUIRE_BROWSER is set) but not installed")
        pytest.skip("chromium is not installed; browser tests skipped")
    from tests.report.cdp import Browser

    with Browser(width=1280) as b:
        yield b


def test_card_only_page_draws_the_published_charts(tmp_path, browser):
    """Every model skipped: the page still shows the card's published figures as charts, and the reasons."""
    members = [{"name": n, "role": r, "model_config": n, "label": n, "simulated": False, "status": "skipped",
                "reason": f"{n}: needs an API key </b>", "run_dir": None, "notes": []}
               for n, r in (("gemini-2.5-pro", "teacher"), ("cliptagger", "model"), ("gpt-4.1", "model"),
                            ("claude-sonnet-4", "model"))]
    card = {"format": "capbench-card/1", "experiment": "cliptagger_card", "folder": str(tmp_path), "dataset": "sample",
            "frames": 2, "simulated": False, "teacher": "gemini-2.5-pro",
            "judge": {"label": "gemini-2.5-pro", "rubric": "r@1", "skipped": "no key"}, "members": members,
            "pairwise": {"status": "skipped", "reason": "no key"}, "runner": {"mode": "closed", "concurrency": 8},
            "config": {}}
    card["rows"] = card_rows(card)
    card["method_notes"] = method_notes(card)
    page = tmp_path / "card.html"
    page.write_text(render_card_only(card))
    browser.open(page.as_uri(), ready="document.body && document.body.getAttribute('data-ready') === '1'")
    assert browser.errors() == []
    drawn = browser.evaluate("Array.from(document.querySelectorAll('[data-card-fig]'))"
                             ".map(d => [d.getAttribute('data-card-fig'), !!d.querySelector('.main-svg')])")
    assert dict(drawn) == {"card_judge": True, "card_overlap": True, "card_latency": True, "card_cost": True}
    reasons = browser.evaluate("Array.from(document.querySelectorAll('[data-reason]')).map(e => e.textContent)")
    assert "gpt-4.1: needs an API key </b>" in reasons  # shown as text
