"""What a batch run measures beside the usual metrics: turnaround per batch (submitted, in progress,
ended), frames per hour, result-file problems, and the cost at batch prices beside the on-demand cost of
the same tokens. Per-request TTFT/E2EL/TPOT do not exist in batch mode (a batch answers as a whole):
the metrics say so instead of showing zeros."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.batch.journal import Journal
from bench.batch.prices import BatchPrice, batch_price
from bench.cost import cost_per_million
from bench.stats import describe

LATENCY_NOTE = ("not measured in batch mode: the provider answers a batch as a whole, so per-request TTFT, "
                "E2EL and TPOT do not exist; see batch.turnaround_s")


def price_of(model: dict[str, Any], runner: dict[str, Any]) -> BatchPrice:
    """The batch price a run used, from its config alone (so the gate can recompute it from config.yaml)."""
    from bench.batch import PROVIDERS
    from bench.batch.anthropic_batch import DISCOUNT_SOURCE as ANTHROPIC
    from bench.batch.gemini_batch import DISCOUNT_SOURCE as GEMINI
    from bench.batch.openai_batch import DISCOUNT_SOURCE as OPENAI

    price = dict(model.get("price") or {})
    settings = runner.get("batch") or {}
    provider = PROVIDERS.get(model.get("backend", ""), "")
    source = settings.get("discount_source") or {"openai": OPENAI, "anthropic": ANTHROPIC, "gemini": GEMINI}.get(
        provider, "")
    fields = {k: price.get(k) for k in ("input_per_million", "output_per_million", "source", "date")}
    fields.update(catalog_provider=price.get("catalog_provider") or "", catalog_model=price.get("catalog_model") or "")
    return batch_price(SimpleNamespace(**fields), float(settings.get("discount", 0.5)), source)


def headline(metrics: dict[str, Any], model: dict[str, Any], runner: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a batch run: cost at batch prices beside the on-demand cost of the same
    tokens; no request rate, TTFT or E2EL (they do not exist in batch mode). Pure: config and metrics in."""
    batch = price_of(model, runner)
    price = model.get("price") or {}
    cost = metrics["cost"]
    mean_in, mean_out = cost["mean_input_tokens"], cost["mean_output_tokens"]
    od_in, od_out = price.get("input_per_million"), price.get("output_per_million")
    on_demand_cpm = cost_per_million(mean_in, mean_out or 0.0, od_in, od_out) \
        if mean_in is not None and od_in is not None and od_out is not None else None
    batch_cpm = cost_per_million(mean_in, mean_out or 0.0, batch.input_per_million, batch.output_per_million) \
        if mean_in is not None and batch.input_per_million is not None and batch.output_per_million is not None \
        else None
    cost.update({"basis": "tokens" if batch_cpm is not None else cost["basis"], "cost_per_million_usd": batch_cpm,
                 "price": {"input_per_million": batch.input_per_million, "output_per_million": batch.output_per_million,
                           "source": batch.source, "kind": "batch"},
                 "on_demand_price": {k: price.get(k) for k in ("input_per_million", "output_per_million", "source",
                                                               "date")},
                 "on_demand_cost_per_million_usd": on_demand_cpm})
    metrics["cost_per_million_usd"] = batch_cpm
    for key in ("ttft_p50_s", "e2el_p50_s", "e2el_p95_s"):
        metrics[key] = None
    metrics["latency"]["not_applicable"] = LATENCY_NOTE
    metrics["throughput"].update({"mode": "batch", "requests_per_s": None, "output_tokens_per_s": None,
                                  "note": "batch mode: see batch.frames_per_hour"})
    metrics["requests_per_s"] = metrics["output_tokens_per_s"] = None
    return metrics


def amend(metrics: dict[str, Any], run_dir: Path, records: list[dict[str, Any]], *, model: dict[str, Any],
          runner: dict[str, Any]) -> dict[str, Any]:
    metrics = headline(metrics, model, runner)
    from bench.batch import PROVIDERS

    provider = PROVIDERS.get(model.get("backend", ""), "")
    journal = Journal(run_dir)
    batches = []
    problems: Counter[str] = Counter()
    for e in journal.entries.values():
        if e.batch_id is None:
            continue
        seen = {s.get("phase"): s for s in e.statuses}
        last = e.statuses[-1] if e.statuses else {}
        in_progress = (seen.get("in_progress") or {}).get("in_progress_at") or (seen.get("in_progress") or {}).get("t")
        done = seen.get("ended") or seen.get("failed") or {}
        # Turnaround on our clock (submitted -> the poll that saw it end: at most poll_interval_s late);
        # the provider's own timestamps (OpenAI's are whole seconds) are kept beside it.
        ended = done.get("t")
        for k, v in ((e.fetched or {}).get("problems") or {}).items():
            problems[k] += v
        batches.append({"batch_id": e.batch_id, "label": e.label, "requests": e.requests, "bytes": e.bytes,
                        "submitted_at": e.submitted_at, "in_progress_at": in_progress, "ended_at": ended,
                        "turnaround_s": ended - e.submitted_at if ended and e.submitted_at else None,
                        "provider_created_at": done.get("created_at"), "provider_ended_at": done.get("ended_at"),
                        "provider_status": last.get("provider_status"), "counts": last.get("counts"),
                        "fetched": e.fetched is not None})
    starts = [b["submitted_at"] for b in batches if b["submitted_at"]]
    ends = [b["ended_at"] for b in batches if b["ended_at"]]
    ok = [r for r in records if r.get("status") == "ok" and r.get("batch")]
    span = (max(ends) - min(starts)) if starts and ends else None
    batch_cpm = metrics["cost"]["cost_per_million_usd"]
    on_demand_cpm = metrics["cost"]["on_demand_cost_per_million_usd"]
    metrics["batch"] = {
        "provider": provider,
        "batches": batches,
        "submitted": len(batches),
        "open": sum(1 for b in batches if not b["fetched"]),
        "turnaround_s": describe([b["turnaround_s"] for b in batches if b["turnaround_s"] is not None]),
        "frames_per_hour": len(ok) / span * 3600 if span and span > 0 else None,
        "span_s": span,
        "result_problems": dict(problems),
        "failed_by_reason": dict(Counter((r.get("error") or {}).get("kind") for r in records
                                         if r.get("status") == "failed")),
        "latency": LATENCY_NOTE,
        "cost_per_million_usd": batch_cpm,
        "on_demand_cost_per_million_usd": on_demand_cpm,
        "savings": 1 - batch_cpm / on_demand_cpm if batch_cpm is not None and on_demand_cpm else None,
    }
    return metrics
