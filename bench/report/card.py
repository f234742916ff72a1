"""The report's first section when the runs are a model-card experiment (bench.card): the card's table and its
four charts, each measured figure beside the published one with its source and date, and the differences in
method. The data comes from the experiment folder's card.json (written by bench.card.run), found two levels
above the runs (<experiment>/runs/<model>/); None when the runs are not a card experiment's.

Everything here is data; the template renders text with autoescape and card.js draws the figures from JSON.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from bench.card.published import CARD_DATE, CARD_SOURCE, CLAIMS, FIGURES, METRICS
from bench.report.figures import _fig, esc

CARD_FILE = "card.json"
MEASURED_COLOR, PUBLISHED_COLOR = "#1f77b4", "#b0b0b0"


def find_card(run_paths: list[Path]) -> tuple[Path, dict[str, Any]] | None:
    """The card.json of the experiment these runs belong to (<experiment>/runs/<model>/), if any."""
    for path in run_paths:
        if path.parent.name != "runs":
            continue
        candidate = path.parent.parent / CARD_FILE
        try:
            card = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(card, dict) and str(card.get("format", "")).startswith("capbench-card/"):
            return candidate, card
    return None


def card_section(runs: list[Any]) -> dict[str, Any] | None:
    """The card section's data for these runs (bench.load.RunData), or None when they are not a card's."""
    found = find_card([Path(r.path) for r in runs])
    if found is None:
        return None
    return section_data(*found)


def section_data(path: Path, card: dict[str, Any]) -> dict[str, Any]:
    rows = card.get("rows") or []
    return {
        "file": str(path), "experiment": card.get("experiment"), "dataset": card.get("dataset"),
        "frames": card.get("frames"), "simulated": bool(card.get("simulated")), "teacher": card.get("teacher"),
        "judge": card.get("judge") or {}, "rows": rows, "metrics": METRICS,
        "notes": card.get("method_notes") or [], "pairwise": card.get("pairwise") or {},
        "published": [f.as_dict() for f in FIGURES], "claims": list(CLAIMS),
        "source": CARD_SOURCE, "date": CARD_DATE,
        "figures": figures(rows, bool(card.get("simulated"))),
    }


# ---- the four charts ----------------------------------------------------------------------------
def _measured_bar(name: str, x: list[str], rows: list[dict[str, Any]], metric: str, simulated: bool,
                  scale: float = 1.0) -> go.Bar:
    ys, lo, hi = [], [], []
    for row in rows:
        m = row["cells"][metric]["measured"]
        v = None if m is None else m["value"] * scale
        ci = (m or {}).get("ci95")
        ys.append(v)
        lo.append(v - ci[0] * scale if v is not None and ci else 0)
        hi.append(ci[1] * scale - v if v is not None and ci else 0)
    return go.Bar(name=esc(name + (" (SIMULATED)" if simulated else "")), x=x, y=ys, marker={
        "color": MEASURED_COLOR, "pattern": {"shape": "/" if simulated else ""}},
        error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo, "visible": True},
        text=[_text(metric, v) for v in ys], textposition="outside")


def _text(metric: str, v: float | None) -> str | None:
    if v is None:
        return None
    return f"${v:,.0f}" if metric == "cost_per_million_usd" else f"{v:,.2f}"


def _published_bar(x: list[str], rows: list[dict[str, Any]], metric: str) -> go.Bar:
    ys = [(row["cells"][metric]["published"] or {}).get("value") for row in rows]
    return go.Bar(name=esc(f"published (card, {CARD_DATE})"), x=x, y=ys, marker={"color": PUBLISHED_COLOR},
                  text=[_text(metric, v) for v in ys], textposition="outside")


def _label(row: dict[str, Any]) -> str:
    return esc(row["name"]) + ("<br>(teacher)" if row["role"] == "teacher" else "")


def figures(rows: list[dict[str, Any]], simulated: bool) -> dict[str, Any]:
    """judge score, ROUGE/BLEU vs teacher, end-to-end latency, $ per 1M generations: measured beside published."""
    sim = " — SIMULATED" if simulated else ""
    out: dict[str, Any] = {}
    for key, metric, title, axis in (
            ("card_judge", "judge", "Judge score (higher is better)", "judge score"),
            ("card_latency", "e2el_s", "End-to-end latency per request (mean)", "seconds"),
            ("card_cost", "cost_per_million_usd", "$ per 1M generations", "US $")):
        shown = [r for r in rows if r["cells"][metric]["measured"] or r["cells"][metric]["published"]]
        if key == "card_judge":
            shown = [r for r in shown if r["role"] != "teacher" or r["cells"][metric]["measured"]]
        if not shown:
            out[key] = None
            continue
        x = [_label(r) for r in shown]
        fig = go.Figure([_measured_bar("measured", x, shown, metric, simulated), _published_bar(x, shown, metric)])
        out[key] = _fig(fig, title + sim, barmode="group", yaxis={"title": axis, "rangemode": "tozero"},
                        legend={"orientation": "h", "y": -0.18})
    overlap = ("rouge1", "rouge2", "rougeL", "bleu")
    names = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "bleu": "BLEU"}
    bars = []
    for row in rows:
        if row["role"] == "teacher" or not any(row["cells"][m]["measured"] for m in overlap):
            continue
        ys = [(row["cells"][m]["measured"] or {}).get("value") for m in overlap]
        bars.append(go.Bar(name=esc(row["label"] + (" (SIMULATED)" if row["simulated"] else "")),
                           x=[names[m] for m in overlap], y=ys,
                           marker={"pattern": {"shape": "/" if row["simulated"] else ""}},
                           text=[None if v is None else f"{v:.1f}" for v in ys], textposition="outside"))
    pub = [next((r["cells"][m]["published"]["value"] for r in rows if r["cells"][m]["published"]), None)
           for m in overlap]
    if any(v is not None for v in pub):
        bars.append(go.Bar(name=esc(f"published: ClipTagger-12B (card, {CARD_DATE})"), x=[names[m] for m in overlap],
                           y=pub, marker={"color": PUBLISHED_COLOR},
                           text=[None if v is None else f"{v:.1f}" for v in pub], textposition="outside"))
    out["card_overlap"] = _fig(go.Figure(bars), "ROUGE / BLEU vs the teacher's captions (%)" + sim, barmode="group",
                               yaxis={"title": "%", "range": [0, 105]}, legend={"orientation": "h", "y": -0.18}) \
        if bars else None
    return out


def render_card_only(card: dict[str, Any]) -> str:
    """A page with the card section alone (no run could be measured: every model skipped), same CSP as a report."""
    from bench.report.render import _clean, _env, plotly_js, script_json

    section = _clean(section_data(Path(card.get("folder") or ".") / CARD_FILE, card))
    d = {"title": f"capbench: the ClipTagger-12B card on {card.get('dataset')}"
                  + (" (SIMULATED)" if card.get("simulated") else ""), "card": section}
    page = {"card": section, "figures": {}, "frames": [], "labels": [], "fields": [], "explorer": {}}
    return _env().get_template("card_only.html.j2").render(d=d, page_data=script_json(page), plotly_js=plotly_js(),
                                                           nonce=secrets.token_urlsafe(16), csp=True)
