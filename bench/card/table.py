"""The card's table: per model, each measured figure beside the published one, and the differences in method.

Read by the console (print_card, at the end of the experiment) and the report (bench.report.card) from
card.json, which holds the rows this module built from the members' run folders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.card.published import CARD_DATE, CARD_SOURCE, CLAIMS, METRICS, published
from bench.stats import finite_float as _num  # None unless a finite number

OVERLAP = ("rouge1", "rouge2", "rougeL", "bleu")




def _same_path(a: str | None, b: str | None) -> bool:
    return bool(a and b) and Path(str(a)).resolve() == Path(str(b)).resolve()


def measured_figures(run_dir: str, teacher_dir: str | None) -> dict[str, dict[str, Any] | None]:
    """metric -> {"value", "ci95", "n", ...} from the run's metrics.json (None where not measured). ROUGE/BLEU
    count only when scored against the teacher's run folder."""
    try:
        m = json.loads((Path(run_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return dict.fromkeys(METRICS)
    s = m.get("scores") or {}
    out: dict[str, dict[str, Any] | None] = dict.fromkeys(METRICS)
    j = s.get("judge") or {}
    if _num(j.get("mean")) is not None:
        out["judge"] = {"value": _num(j["mean"]), "ci95": j.get("ci95"), "n": j.get("n"),
                        "judge": j.get("label") or j.get("model"), "simulated": bool(j.get("simulated"))}
    ref = s.get("reference") or {}
    if ref.get("kind") == "run" and _same_path(ref.get("source"), teacher_dir):
        overlap = (s.get("overlap") or {}).get("all") or {}
        for metric in OVERLAP:
            v = overlap.get(metric) or {}
            if _num(v.get("mean")) is not None:
                out[metric] = {"value": _num(v["mean"]), "ci95": v.get("ci95"), "n": v.get("n")}
        if out["bleu"] is not None:
            out["bleu"]["corpus_bleu"] = _num(overlap.get("corpus_bleu"))
    e2el = (m.get("latency") or {}).get("e2el_s") or {}
    if _num(e2el.get("mean")) is not None:
        out["e2el_s"] = {"value": _num(e2el["mean"]), "p50": _num(e2el.get("p50")), "p95": _num(e2el.get("p95")),
                         "n": e2el.get("n")}
    cost = m.get("cost") or {}
    if _num(m.get("cost_per_million_usd")) is not None:
        price = cost.get("price") or {}
        out["cost_per_million_usd"] = {
            "value": _num(m["cost_per_million_usd"]), "basis": cost.get("basis"),
            "mean_input_tokens": _num(cost.get("mean_input_tokens")),
            "mean_output_tokens": _num(cost.get("mean_output_tokens")),
            "price": {k: price.get(k) for k in ("input_per_million", "output_per_million", "source", "date")},
            "requests_per_s": _num(m.get("requests_per_s"))}
    out["_run"] = {"frames": m.get("frames"), "completed": m.get("completed"), "failed": m.get("failed"),
                   "schema_valid_rate": _num(m.get("schema_valid_rate")), "simulated": bool(m.get("simulated"))}
    return out


def card_rows(card: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per member (teacher first): status, and per metric the measured and the published figure."""
    teacher_dir = next((m["run_dir"] for m in card["members"] if m["role"] == "teacher"
                        and m["status"] == "measured"), None)
    rows = []
    for m in card["members"]:
        got = measured_figures(m["run_dir"], teacher_dir) if m["status"] == "measured" and m["run_dir"] else {}
        cells = {}
        for metric in METRICS:
            pub = published(metric, m["name"], teacher=m["role"] == "teacher")
            cells[metric] = {"measured": got.get(metric), "published": pub.as_dict() if pub else None}
        rows.append({"name": m["name"], "label": m["label"] or m["name"], "role": m["role"], "status": m["status"],
                     "reason": m["reason"], "simulated": m["simulated"], "stands_for": m.get("stands_for"),
                     "model_config": m["model_config"], "run_dir": m["run_dir"], "run": got.get("_run"),
                     "notes": m.get("notes") or [], "cells": cells})
    return rows


def method_notes(card: dict[str, Any]) -> list[dict[str, str]]:
    """How this measurement differs from the card's, named (topic, text)."""
    teacher = card["teacher"]
    judge = card["judge"]
    runner = card.get("runner") or {}
    notes = []
    if card["simulated"]:
        notes.append({"topic": "SIMULATED", "text": "Every model ran on a simulated stand-in (capbench's embedded "
                      "simulator, labelled '<model> (sim)' and SIMULATED, the model it stands for in card.json)"
                      + (" and the judge is simulated" if judge.get("simulated") else "") + ". Its captions are "
                      "derived from the frames, never from a model: these numbers test the pipeline, not the "
                      "models, and say nothing about the published figures beside them."})
    notes.append({"topic": "teacher", "text": f"The card does not name its teacher (\"a frontier vision-language "
                  f"model\"); this experiment uses {teacher} (experiment.teacher). ROUGE/BLEU here are against "
                  f"{teacher}'s captions of the same frames, the card's against its teacher's annotations."})
    notes.append({"topic": "evaluation frames", "text": f"The card's evaluation frames are not published (its "
                  f"training set: one million frames of Grass's video catalog); here: {card['dataset']}, "
                  f"{card['frames']} frames."})
    jtext = ("The card's judge prompt, scale and settings are not published (scores such as 3.53 suggest a 1-5 "
             "scale); here: ")
    if judge.get("skipped"):
        jtext += f"no judge ran ({judge['skipped']})."
    else:
        jtext += f"judge {judge['label']}, rubric {judge['rubric']}, single-answer on a 1-5 scale, as the card did."
    if "gemini" in teacher and "gemini" in str(judge.get("label") or "") and not judge.get("skipped"):
        jtext += f" A Gemini judge grading a Gemini teacher ({teacher}) may favour it (self-preference)."
    notes.append({"topic": "judge", "text": jtext})
    notes.append({"topic": "GPT-4.1 price", "text": "The card's $5,100 per 1M generations for GPT-4.1 is the "
                  "fine-tuned GPT-4.1 price ($3 / $12 per 1M tokens at 700 in + 250 out); at the list price ($2 / "
                  "$8) it is $3,400 (MISSION.md). Ours is the list price from the offline price database "
                  "(bench/prices.py) times the tokens the server reported."})
    notes.append({"topic": "cost basis", "text": "The card prices every model at an assumed 700 input + 250 output "
                  "tokens per frame, ClipTagger at its hosted API price ($0.30 / $0.50). Ours: API models at the "
                  "tokens the server reported (image tokens included); the vLLM models by GPU time "
                  "(model.gpu.hourly_usd, its source in the run) at the throughput the run measured; a simulated "
                  "stand-in at its model's price and the simulator's token counts."})
    notes.append({"topic": "latency", "text": "The card's ~6.5 s (ClipTagger) and ~13.5 s (teacher) end-to-end "
                  "give no hardware, load or concurrency. Ours: mean end-to-end latency (send to last chunk) per "
                  f"request, {runner.get('mode', '?')} loop at runner.concurrency={runner.get('concurrency', '?')}, "
                  "from this machine."})
    notes.append({"topic": "ROUGE/BLEU", "text": "The card does not say over which text or tokenization; ours: "
                  "the mean over frames of ROUGE-1/2/L F1 (rouge-score) and sentence BLEU (sacrebleu) of the "
                  "canonical caption text (bench.score.canonical) against the teacher's, an invalid caption "
                  "scoring 0; corpus BLEU is given beside it."})
    for claim in CLAIMS:
        notes.append({"topic": "FP8 vs BF16", "text": f"The card states \"{claim['claim']}\" ({claim['source']}, "
                      f"{claim['date']}) without the BF16 figure: compare our cliptagger and cliptagger_bf16 "
                      "rows."})
    return notes


def _cell(metric: str, cell: dict[str, Any]) -> str:
    m, p = cell.get("measured"), cell.get("published")
    digits = 2 if metric in ("judge", "e2el_s") else 0 if metric == "cost_per_million_usd" else 1
    money = metric == "cost_per_million_usd"

    def f(x: float | None) -> str:
        if x is None:
            return "—"
        return f"${x:,.{digits}f}" if money else f"{x:,.{digits}f}"

    text = f(m["value"]) if m else "—"
    if p:
        text += f" (card {'~' if p.get('approx') else ''}{f(p['value'])})"
    return text


def print_card(console: Console, card: dict[str, Any]) -> None:
    """The card's table: measured (published in brackets), one row per model; skipped ones with the reason."""
    sim = "  SIMULATED stand-ins: not the models' numbers" if card["simulated"] else ""
    table = Table(title=f"ClipTagger-12B card, reproduced: {card['experiment']} on {card['dataset']} "
                        f"({card['frames']} frames){sim}", title_justify="left", header_style="bold")
    table.add_column("model", no_wrap=True)
    table.add_column("status")
    short = {"judge": "judge", "rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "bleu": "BLEU",
             "e2el_s": "E2EL s", "cost_per_million_usd": "$ / 1M gen."}
    for metric in METRICS:
        table.add_column(short[metric], justify="right", no_wrap=True)
    for row in card["rows"]:
        name = row["label"] + (" SIMULATED" if row["simulated"] else "") + (" [teacher]" if row["role"] == "teacher"
                                                                              else "")
        status = row["status"] if row["status"] == "measured" else f"{row['status']}: {row['reason']}"
        table.add_row(escape(name), escape(status), *(_cell(m, row["cells"][m]) for m in METRICS))
    console.print(table)
    judge = card["judge"]
    console.print(f"measured (card's figure in brackets: {CARD_SOURCE}, {CARD_DATE}); judge "
                  f"{judge['label'] or '—'}{' (SIMULATED)' if judge.get('simulated') else ''}"
                  + (f", skipped: {judge['skipped']}" if judge.get("skipped") else ""), highlight=False)
    pw = card.get("pairwise") or {}
    if pw.get("status") == "measured":
        order = ", ".join(f"{s['model']} {s['theta']:+.2f}" for s in pw["strengths"])
        console.print(f"pairwise ranking (Bradley-Terry log-strength, judge {pw['judge']}"
                      f"{' SIMULATED' if pw.get('judge_simulated') else ''}): {order}", highlight=False)
    else:
        console.print(f"pairwise ranking: {pw.get('status', 'skipped')}: {pw.get('reason', '')}", highlight=False)
