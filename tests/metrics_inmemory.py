"""The in-memory metrics computation as it was before the streaming pass (bench.metrics at 14ab980),
kept verbatim as the oracle the streaming MetricsPass must reproduce exactly (tests/test_metrics_stream.py)."""
# ruff: noqa
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bench.cost import cost_per_million, self_hosted_cost_per_million
from bench.replica_metrics import by_endpoint
from bench.stats import describe, rate

LADDER = ("json_strict", "json_lenient", "schema_valid", "rules_ok")


# Listed by id in metrics.json (all are counted); the rest are in generations.jsonl.
BAD_INPUTS_LISTED = 1000


def is_bad_input(record: dict[str, Any]) -> bool:
    """A frame that was never sent: its image or manifest line could not be used (not the model's fault)."""
    return (record.get("validity") or {}).get("category") == "bad_input" \
        or (record.get("error") or {}).get("kind") == "bad_input"


def sent_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The frames the model was asked about: what its rates are over."""
    return [r for r in records if not is_bad_input(r)]


def compute_metrics(records: list[dict[str, Any]], *, frames_total: int, model: dict[str, Any],
                    runner: dict[str, Any], simulated: bool) -> dict[str, Any]:
    n = len(records)
    bad = [r for r in records if is_bad_input(r)]
    sent = sent_records(records)
    ok = [r for r in sent if r["status"] == "ok"]
    failed = [r for r in sent if r["status"] != "ok"]

    # The model's rates are over the frames it was sent; the all-frames view counts bad inputs as failures.
    ladder = {rung: rate(sum(1 for r in sent if r["validity"].get(rung)), len(sent)) for rung in LADDER}
    ladder_all = {rung: rate(sum(1 for r in records if r["validity"].get(rung)), n) for rung in LADDER}
    categories = Counter(r["validity"]["category"] for r in records)
    # Complete captions that ended at the token limit: counted at their rungs, flagged here.
    finish_length = Counter(r["validity"]["category"] for r in sent if r["validity"].get("finish_length"))
    field_failures: dict[str, int] = Counter()
    for r in sent:
        for f in set(r["validity"].get("failed_fields", [])):
            field_failures[f] += 1
    errors = Counter(r["error"]["kind"] for r in failed if r.get("error"))
    retried_attempts = sum(max(0, r.get("n_attempts", 0) - 1) for r in records)

    latency = {key: describe([r["timing"][key] for r in ok if r["timing"].get(key) is not None])
               for key in ("ttft_s", "e2el_s", "tpot_s", "queue_s", "ttft_user_s", "e2el_user_s",
                           "ttft_from_scheduled_s", "e2el_from_scheduled_s")}

    # Reading, resizing and encoding the image, before the request is due (client-side work).
    latency["prep_s"] = describe([r["prep_s"] for r in records if r.get("prep_s") is not None])
    duration = _wall_duration(records)
    out_tokens = sum((r.get("usage") or {}).get("output_tokens") or 0 for r in ok)
    requests_per_s = len(ok) / duration if duration > 0 else None
    throughput = {
        "wall_duration_s": duration,
        "requests_per_s": requests_per_s,
        "output_tokens_per_s": out_tokens / duration if duration > 0 else None,
        "mode": runner.get("mode"),
        "concurrency": runner.get("concurrency"),
        **_rate_check(records, runner),
    }

    cost = _cost(records, model, requests_per_s)
    reasoning = _reasoning(records, cost)
    thinking = [r["timing"].get("thinking_s") for r in ok]
    latency["thinking_s"] = describe([t for t in thinking if t is not None])
    metrics: dict[str, Any] = {
        "simulated": simulated,
        "frames": frames_total,
        "recorded": n,
        "pending": frames_total - n,
        "sent": len(sent),
        "completed": len(ok),
        "failed": len(failed),  # frames sent that got no answer (bad inputs are counted apart)
        "bad_inputs": {"count": len(bad), "listed": min(len(bad), BAD_INPUTS_LISTED),
                       "frames": [{"frame_id": r["frame_id"], "reason": (r.get("error") or {}).get("message")}
                                  for r in bad[:BAD_INPUTS_LISTED]]},
        "complete": n == frames_total,
        "schema_valid_rate": ladder["schema_valid"]["rate"],
        "json_parse_rate": ladder["json_strict"]["rate"],
        "json_lenient_rate": ladder["json_lenient"]["rate"],
        "rules_ok_rate": ladder["rules_ok"]["rate"],
        "ttft_p50_s": latency["ttft_s"]["p50"],
        "e2el_p50_s": latency["e2el_s"]["p50"],
        "e2el_p95_s": latency["e2el_s"]["p95"],
        "requests_per_s": throughput["requests_per_s"],
        "output_tokens_per_s": throughput["output_tokens_per_s"],
        "mean_input_tokens": cost["mean_input_tokens"],
        "mean_output_tokens": cost["mean_output_tokens"],
        "cost_per_million_usd": cost["cost_per_million_usd"],
        "schema_valid_rate_all_frames": ladder_all["schema_valid"]["rate"],
        "mean_reasoning_tokens": reasoning["mean_reasoning_tokens"],
        "reasoning": reasoning,
        "validity": {"ladder": ladder, "over": "frames sent (bad inputs excluded)", "ladder_all_frames": ladder_all,
                     "categories": dict(categories), "field_failures": dict(field_failures),
                     "valid_but_length": finish_length["valid"], "finish_length": dict(finish_length)},
        "errors": dict(errors),
        "retried_attempts": retried_attempts,
        # Answers that came as one JSON body: their TTFT is when the whole body arrived.
        "non_streamed_answers": sum(1 for r in ok if r.get("streamed") is False),
        "latency": latency,
        "throughput": throughput,
        "cost": cost,
        "by_content_type": _by_content_type(sent),
        "by_endpoint": by_endpoint(records, duration),  # replicas only (bench/replica_metrics.py), else None
    }
    return metrics


def _wall_duration(records: list[dict[str, Any]]) -> float:
    spans: dict[Any, list[float]] = defaultdict(lambda: [float("inf"), float("-inf")])
    for r in records:
        start = r.get("t_scheduled")
        end = r.get("t_last_token") or (r["attempts"][-1]["t_sent"] + r["attempts"][-1]["duration_s"]
                                        if r.get("attempts") else start)
        if start is None or end is None:
            continue
        span = spans[r.get("session", 1)]
        span[0] = min(span[0], start)
        span[1] = max(span[1], end)
    return sum(max(0.0, hi - lo) for lo, hi in spans.values() if hi >= lo)


def _rate_check(records: list[dict[str, Any]], runner: dict[str, Any]) -> dict[str, Any]:
    """Open loop: the rate actually achieved next to the target; a saturated run says so."""
    if runner.get("mode") != "open" or not runner.get("rate"):
        return {}
    target = float(runner["rate"])
    sends = _by_session(records, lambda r: r["attempts"][0]["t_sent"] if r.get("attempts") else None)
    scheduled = _by_session(records, lambda r: r.get("t_scheduled"))
    # Per session, then pooled: a resumed run must not count the time it was stopped.
    achieved = _pooled_rate(sends)
    # Poisson arrivals over a short run wander from the target; judge the client against the
    # schedule it was actually given.
    scheduled_rate = _pooled_rate(scheduled)
    # Saturated: the client fell short of the target rate, or requests waited longer and longer
    # to be sent (the queue built up): the last fifth lagged its schedule well beyond the first.
    lags = [r["timing"]["queue_s"] for r in sorted(records, key=lambda r: r["t_scheduled"]) if r.get("timing")]
    fifth = max(1, len(lags) // 5)
    growth = (describe(lags[-fifth:])["p50"] - describe(lags[:fifth])["p50"]) if len(lags) >= 10 else 0.0
    behind = achieved is not None and scheduled_rate is not None and achieved < 0.95 * scheduled_rate
    saturated = bool(behind or growth > max(5.0 / target, 0.25))
    return {"target_rate": target, "scheduled_rate": scheduled_rate, "achieved_rate": achieved,
            "scheduled_count": sum(len(t) for t in scheduled),
            "queue_growth_s": growth, "saturated": saturated}


def _by_session(records: list[dict[str, Any]], time_of: Any) -> list[list[float]]:
    """Each session's event times, sorted."""
    sessions: dict[Any, list[float]] = defaultdict(list)
    for r in records:
        t = time_of(r)
        if t is not None:
            sessions[r.get("session", 1)].append(t)
    return [sorted(ts) for ts in sessions.values()]


def _pooled_rate(sessions: list[list[float]]) -> float | None:
    """Events per second: intervals over time spanned, summed over sessions (None with no interval)."""
    events = sum(len(ts) - 1 for ts in sessions if len(ts) > 1)
    span = sum(ts[-1] - ts[0] for ts in sessions if len(ts) > 1)
    return events / span if events and span > 0 else None


def _cost(records: list[dict[str, Any]], model: dict[str, Any], requests_per_s: float | None) -> dict[str, Any]:
    # Frames that reached the server: their tokens (all attempts) as the server reported them.
    spent = [r["usage_all_attempts"] for r in records if r.get("usage_all_attempts") and r.get("status") == "ok"]
    # Answers whose usage the server did not report (in or out): left out of the means, counted here.
    missing = sum(1 for r in records if r.get("status") == "ok" and not r.get("usage_all_attempts"))
    mean_in = sum(u["input_tokens"] for u in spent) / len(spent) if spent else None
    mean_out = sum(u["output_tokens"] for u in spent) / len(spent) if spent else None
    price = model.get("price") or {}
    gpu = model.get("gpu") or {}
    out: dict[str, Any] = {"mean_input_tokens": mean_in, "mean_output_tokens": mean_out, "usage_missing": missing,
                           "price": price, "basis": None, "cost_per_million_usd": None,
                           "frames_priced": len(spent),
                           "total_usd": sum(r.get("cost_usd") or 0.0 for r in records)}
    if model.get("hosting") == "self-hosted" and gpu.get("hourly_usd") and requests_per_s:
        out["basis"] = "gpu_time"
        out["gpu"] = gpu
        out["cost_per_million_usd"] = self_hosted_cost_per_million(gpu["hourly_usd"], gpu.get("count", 1),
                                                                   requests_per_s)
    elif mean_in is not None and price.get("input_per_million") is not None \
            and price.get("output_per_million") is not None:
        out["basis"] = "tokens"
        out["cost_per_million_usd"] = cost_per_million(mean_in, mean_out or 0.0, price["input_per_million"],
                                                       price["output_per_million"])
    return out


def _reasoning(records: list[dict[str, Any]], cost: dict[str, Any]) -> dict[str, Any]:
    """Reasoning tokens apart from the visible answer: part of the output tokens, priced as output."""
    spent = [r["usage_all_attempts"] for r in records if r.get("usage_all_attempts") and r.get("status") == "ok"]
    mean = sum(u.get("reasoning_tokens") or 0 for u in spent) / len(spent) if spent else None
    # Answers whose server showed reasoning but did not count it (the split is unknown).
    uncounted = sum(1 for r in records if r.get("status") == "ok" and r.get("t_first_any") is not None
                    and (r.get("usage") or {}).get("reasoning_tokens") is None)
    visible = [(r.get("usage") or {}).get("visible_output_tokens") for r in records if r.get("status") == "ok"]
    visible = [v for v in visible if v is not None]
    price_out = (cost.get("price") or {}).get("output_per_million")
    mean_out = cost.get("mean_output_tokens")
    return {
        "mean_reasoning_tokens": mean,
        "mean_visible_output_tokens": sum(visible) / len(visible) if visible else None,
        "share_of_output": mean / mean_out if mean is not None and mean_out else None,
        # $ per 1M generations spent on reasoning (already inside cost_per_million_usd on a token basis).
        "cost_per_million_usd": mean * price_out if mean is not None and price_out is not None
        and cost.get("basis") == "tokens" else None,
        "uncounted_answers": uncounted,
    }


def _by_content_type(records: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r.get("content_type") or "unknown"].append(r)
    return {ct: {"frames": len(rs),
                 "schema_valid": rate(sum(1 for r in rs if r["validity"].get("schema_valid")), len(rs)),
                 "e2el_p50_s": describe([r["timing"]["e2el_s"] for r in rs if r.get("timing")])["p50"]}
            for ct, rs in sorted(groups.items())}
