"""What a batch run measures beside the usual metrics: turnaround per batch (submitted, in progress,
ended), frames per hour, result-file problems, and the cost at batch prices beside the on-demand cost of
the same tokens. Per-request TTFT/E2EL/TPOT do not exist in batch mode (a batch answers as a whole):
the metrics say so instead of showing zeros."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench.batch.journal import Journal
from bench.batch.prices import BatchPrice
from bench.cost import cost_per_million
from bench.stats import describe

LATENCY_NOTE = ("not measured in batch mode: the provider answers a batch as a whole, so per-request TTFT, "
                "E2EL and TPOT do not exist; see batch.turnaround_s")


def amend(metrics: dict[str, Any], run_dir: Path, records: list[dict[str, Any]], *, provider: str,
          batch: BatchPrice, on_demand: dict[str, Any]) -> dict[str, Any]:
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
        ended = done.get("ended_at") or done.get("t")
        for k, v in ((e.fetched or {}).get("problems") or {}).items():
            problems[k] += v
        batches.append({"batch_id": e.batch_id, "label": e.label, "requests": e.requests, "bytes": e.bytes,
                        "submitted_at": e.submitted_at, "in_progress_at": in_progress, "ended_at": ended,
                        "turnaround_s": ended - e.submitted_at if ended and e.submitted_at else None,
                        "provider_status": last.get("provider_status"), "counts": last.get("counts"),
                        "fetched": e.fetched is not None})
    starts = [b["submitted_at"] for b in batches if b["submitted_at"]]
    ends = [b["ended_at"] for b in batches if b["ended_at"]]
    ok = [r for r in records if r.get("status") == "ok" and r.get("batch")]
    span = (max(ends) - min(starts)) if starts and ends else None
    cost = metrics["cost"]
    mean_in, mean_out = cost["mean_input_tokens"], cost["mean_output_tokens"]
    od_in, od_out = on_demand.get("input_per_million"), on_demand.get("output_per_million")
    on_demand_cpm = cost_per_million(mean_in, mean_out or 0.0, od_in, od_out) \
        if mean_in is not None and od_in is not None and od_out is not None else None
    batch_cpm = cost_per_million(mean_in, mean_out or 0.0, batch.input_per_million, batch.output_per_million) \
        if mean_in is not None and batch.input_per_million is not None and batch.output_per_million is not None \
        else None
    # Frames retried on demand (retry_on_demand) were billed at list price: the total is the sum of records.
    cost.update({"basis": "tokens" if batch_cpm is not None else cost["basis"], "cost_per_million_usd": batch_cpm,
                 "price": {"input_per_million": batch.input_per_million, "output_per_million": batch.output_per_million,
                           "source": batch.source, "kind": "batch"},
                 "on_demand_price": on_demand, "on_demand_cost_per_million_usd": on_demand_cpm})
    metrics["cost_per_million_usd"] = batch_cpm
    for key in ("ttft_p50_s", "e2el_p50_s", "e2el_p95_s"):
        metrics[key] = None
    metrics["latency"]["not_applicable"] = LATENCY_NOTE
    metrics["throughput"].update({"mode": "batch", "requests_per_s": None, "output_tokens_per_s": None,
                                  "note": "batch mode: see batch.frames_per_hour"})
    metrics["requests_per_s"] = metrics["output_tokens_per_s"] = None
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
