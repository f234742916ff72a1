"""Headline measurements from a run's records (pure: records in, dict out).

Definitions (MISSION.md, "Yardsticks"):
- TTFT = first non-empty content chunk - send; E2EL = last chunk - send;
  TPOT = (E2EL - TTFT) / (visible output tokens - 1); queue = first send - scheduled.
  TTFT/E2EL/TPOT are the answering attempt's; ttft_user_s / e2el_user_s ("felt")
  run from the frame's first send, failed attempts and backoff included.
  A reasoning model thinks before its first visible token: TTFT includes the thinking, and
  thinking_s = first visible - first token of any kind, where the stream shows the reasoning.
  Percentiles: numpy's default (linear interpolation between order statistics).
- Request throughput = completed / wall duration; output-token throughput =
  sum of output tokens / wall duration. Wall duration is summed over the
  run's sessions (a resumed run does not count the time it was stopped).
- Validity rates are over the frames *sent* (transport failures count against
  them; bad inputs, frames whose image or manifest line could not be used, are
  counted and listed apart), each with a 95% Wilson interval. The all-frames
  view is kept as `validity.ladder_all_frames`.
- Cost per 1M generations from mean server-reported tokens per frame,
  retried attempts included.
"""

from __future__ import annotations

import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from bench.cost import cost_per_million, self_hosted_cost_per_million
from bench.replica_metrics import EndpointStats
from bench.stats import describe, rate

LADDER = ("json_strict", "json_lenient", "schema_valid", "rules_ok")


# Listed by id in metrics.json (all are counted); the rest are in generations.jsonl.
BAD_INPUTS_LISTED = 1000


def is_bad_input(record: dict[str, Any]) -> bool:
    """A frame that was never sent: its image or manifest line could not be used (not the model's fault)."""
    return (record.get("validity") or {}).get("category") == "bad_input" \
        or (record.get("error") or {}).get("kind") == "bad_input"


def sent_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The frames the model was asked about: what its rates are over."""
    return [r for r in records if not is_bad_input(r)]


LATENCY_KEYS = ("ttft_s", "e2el_s", "tpot_s", "queue_s", "ttft_user_s", "e2el_user_s",
                "ttft_from_scheduled_s", "e2el_from_scheduled_s")


class FloatColumn:
    """A growing column of floats, held in blocks of 64k values (512 KB): the last in memory, the full ones
    in an anonymous temporary file (unlinked at once: nothing is left behind, even after a kill).

    Why: exact percentiles need every value, 8 bytes a frame and column; the nine latency columns of a
    1M-frame run are 72 MB, and growing them as arrays (reallocated ever larger, side by side) left the
    heap fragmented at twice that. On disk they cost no memory until a column is read (np.asarray), one
    column at a time."""

    BLOCK = 65_536

    def __init__(self) -> None:
        self._spilled = 0  # full blocks in the file
        self._file: Any = None
        self._last: array[float] = array("d")

    def append(self, value: float) -> None:
        self._last.append(value)
        if len(self._last) >= self.BLOCK:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="capbench-metrics-")
            self._last.tofile(self._file)
            self._spilled += 1
            self._last = array("d")

    def __len__(self) -> int:
        return self._spilled * self.BLOCK + len(self._last)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        parts = [np.frombuffer(self._last, dtype=float)]
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            parts.insert(0, np.fromfile(self._file, dtype=float, count=self._spilled * self.BLOCK))
            self._file.seek(0, 2)  # appends go on at the end
        out = np.concatenate(parts)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __iter__(self) -> Any:
        return iter(np.asarray(self).tolist())


class MetricsPass:
    """The measurements in one pass over the records, keeping only what they need: counters, and
    per-frame numbers in compact columns (8 bytes a value, FloatColumn) for exact percentiles. 1M frames take
    about 100 MB here, not the GBs of the records. Feed records in file order with `add`, then
    `result`: identical to computing over the list (same values, same order, same sums)."""

    def __init__(self, *, model: dict[str, Any], runner: dict[str, Any]) -> None:
        self.model, self.runner = model, runner
        self.open_loop = runner.get("mode") == "open" and bool(runner.get("rate"))
        self.n = self.sent = self.ok = self.failed = 0
        self.bad_count = 0
        self.bad_listed: list[dict[str, Any]] = []
        self.ladder_sent = Counter[str]()
        self.ladder_all = Counter[str]()
        self.categories = Counter[str]()
        self.finish_length = Counter[str]()
        self.field_failures = Counter[str]()
        self.errors = Counter[str]()
        self.retried_attempts = 0
        self.latency = {key: FloatColumn() for key in (*LATENCY_KEYS, "prep_s", "thinking_s")}
        self.spans: dict[Any, list[float]] = {}  # session -> [first start, last end]
        self.out_tokens = 0
        self.non_streamed = 0
        # open loop: per session, first-send and scheduled times; (scheduled, queue) for the lag trend
        self.sends: dict[Any, FloatColumn] = {}
        self.scheduled: dict[Any, FloatColumn] = {}
        self.lag_sched, self.lag_queue = FloatColumn(), FloatColumn()
        # cost and reasoning
        self.spent_n = self.spent_in = self.spent_out = self.spent_reasoning = 0
        self.usage_missing = 0
        self.total_usd = 0.0
        self.video_n, self.video_s = 0, 0.0  # window modes: units sent and the seconds of video they cover
        self.uncounted = 0
        self.visible_n = self.visible_sum = 0
        self.by_ct: dict[str, list[Any]] = {}  # content type -> [frames, schema valid, e2el values]
        self.simulated_answers = False
        self.endpoints = EndpointStats()  # replicas only (bench/replica_metrics.py)

    def add(self, r: dict[str, Any]) -> None:
        self.n += 1
        self.endpoints.add(r)
        validity = r["validity"]
        bad = is_bad_input(r)
        ok = not bad and r["status"] == "ok"
        self.categories[validity["category"]] += 1
        for rung in LADDER:
            if validity.get(rung):
                self.ladder_all[rung] += 1
        self.retried_attempts += max(0, r.get("n_attempts", 0) - 1)
        if r.get("prep_s") is not None:
            self.latency["prep_s"].append(r["prep_s"])
        self.total_usd += r.get("cost_usd") or 0.0
        self.simulated_answers = self.simulated_answers or bool(r.get("served_by_simulator"))
        self._span(r)
        if self.open_loop:
            self._schedule(r)
        if bad:
            self.bad_count += 1
            if len(self.bad_listed) < BAD_INPUTS_LISTED:
                self.bad_listed.append({"frame_id": r["frame_id"], "reason": (r.get("error") or {}).get("message")})
            return
        self.sent += 1
        if isinstance(r.get("window_s"), int | float):
            self.video_n += 1
            self.video_s += r["window_s"]
        for rung in LADDER:
            if validity.get(rung):
                self.ladder_sent[rung] += 1
        if validity.get("finish_length"):
            self.finish_length[validity["category"]] += 1
        for f in set(validity.get("failed_fields", [])):
            self.field_failures[f] += 1
        group = self.by_ct.setdefault(r.get("content_type") or "unknown", [0, 0, FloatColumn()])
        group[0] += 1
        group[1] += bool(validity.get("schema_valid"))
        if r.get("timing"):
            group[2].append(r["timing"]["e2el_s"])
        if not ok:
            self.failed += 1
            if r.get("error"):
                self.errors[r["error"]["kind"]] += 1
            return
        self.ok += 1
        timing = r["timing"]
        for key in LATENCY_KEYS:
            if timing.get(key) is not None:
                self.latency[key].append(timing[key])
        if timing.get("thinking_s") is not None:
            self.latency["thinking_s"].append(timing["thinking_s"])
        usage = r.get("usage") or {}
        self.out_tokens += usage.get("output_tokens") or 0
        self.non_streamed += r.get("streamed") is False
        spent = r.get("usage_all_attempts")
        if spent:
            self.spent_n += 1
            self.spent_in += spent["input_tokens"]
            self.spent_out += spent["output_tokens"]
            self.spent_reasoning += spent.get("reasoning_tokens") or 0
        else:
            self.usage_missing += 1
        if r.get("t_first_any") is not None and usage.get("reasoning_tokens") is None:
            self.uncounted += 1
        if usage.get("visible_output_tokens") is not None:
            self.visible_n += 1
            self.visible_sum += usage["visible_output_tokens"]

    def _span(self, r: dict[str, Any]) -> None:
        start = r.get("t_scheduled")
        end = r.get("t_last_token") or (r["attempts"][-1]["t_sent"] + r["attempts"][-1]["duration_s"]
                                        if r.get("attempts") else start)
        if start is None or end is None:
            return
        span = self.spans.setdefault(r.get("session", 1), [float("inf"), float("-inf")])
        span[0] = min(span[0], start)
        span[1] = max(span[1], end)

    def _schedule(self, r: dict[str, Any]) -> None:
        session = r.get("session", 1)
        if r.get("attempts"):
            self.sends.setdefault(session, FloatColumn()).append(r["attempts"][0]["t_sent"])
        if r.get("t_scheduled") is not None:
            self.scheduled.setdefault(session, FloatColumn()).append(r["t_scheduled"])
        if r.get("timing"):
            self.lag_sched.append(r["t_scheduled"])
            self.lag_queue.append(r["timing"]["queue_s"])

    def wall_duration(self) -> float:
        return sum(max(0.0, hi - lo) for lo, hi in self.spans.values() if hi >= lo)

    def result(self, *, frames_total: int, simulated: bool) -> dict[str, Any]:
        n, sent, ok = self.n, self.sent, self.ok
        ladder = {rung: rate(self.ladder_sent[rung], sent) for rung in LADDER}
        ladder_all = {rung: rate(self.ladder_all[rung], n) for rung in LADDER}
        latency = {key: describe(self.latency[key]) for key in LATENCY_KEYS}
        latency["prep_s"] = describe(self.latency["prep_s"])
        duration = self.wall_duration()
        requests_per_s = ok / duration if duration > 0 else None
        throughput = {
            "wall_duration_s": duration,
            "requests_per_s": requests_per_s,
            "output_tokens_per_s": self.out_tokens / duration if duration > 0 else None,
            "mode": self.runner.get("mode"),
            "concurrency": self.runner.get("concurrency"),
            **self._rate_check(),
        }
        cost = self._cost(requests_per_s)
        reasoning = self._reasoning(cost)
        latency["thinking_s"] = describe(self.latency["thinking_s"])
        return {
            "simulated": simulated,
            "frames": frames_total,
            "recorded": n,
            "pending": frames_total - n,
            "sent": sent,
            "completed": ok,
            "failed": self.failed,  # frames sent that got no answer (bad inputs are counted apart)
            "bad_inputs": {"count": self.bad_count, "listed": len(self.bad_listed), "frames": self.bad_listed},
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
            "validity": {"ladder": ladder, "over": "frames sent (bad inputs excluded)",
                         "ladder_all_frames": ladder_all, "categories": dict(self.categories),
                         "field_failures": dict(self.field_failures),
                         "valid_but_length": self.finish_length["valid"], "finish_length": dict(self.finish_length)},
            "errors": dict(self.errors),
            "retried_attempts": self.retried_attempts,
            # Answers that came as one JSON body: their TTFT is when the whole body arrived.
            "non_streamed_answers": self.non_streamed,
            "latency": latency,
            "throughput": throughput,
            "cost": cost,
            "by_content_type": {ct: {"frames": frames, "schema_valid": rate(valid, frames),
                                     "e2el_p50_s": describe(e2el)["p50"]}
                                for ct, (frames, valid, e2el) in sorted(self.by_ct.items())},
            "by_endpoint": self.endpoints.result(duration),  # replicas only, else None
        }

    def _rate_check(self) -> dict[str, Any]:
        """Open loop: the rate actually achieved next to the target; a saturated run says so."""
        if not self.open_loop:
            return {}
        target = float(self.runner["rate"])
        # Per session, then pooled: a resumed run must not count the time it was stopped.
        achieved = _pooled_rate([sorted(ts) for ts in self.sends.values()])
        # Poisson arrivals over a short run wander from the target; judge the client against the
        # schedule it was actually given.
        scheduled_rate = _pooled_rate([sorted(ts) for ts in self.scheduled.values()])
        # Saturated: the client fell short of the target rate, or requests waited longer and longer
        # to be sent (the queue built up): the last fifth lagged its schedule well beyond the first.
        order = np.argsort(np.asarray(self.lag_sched), kind="stable")
        lags = np.asarray(self.lag_queue)[order].tolist()
        fifth = max(1, len(lags) // 5)
        growth = (describe(lags[-fifth:])["p50"] - describe(lags[:fifth])["p50"]) if len(lags) >= 10 else 0.0
        behind = achieved is not None and scheduled_rate is not None and achieved < 0.95 * scheduled_rate
        saturated = bool(behind or growth > max(5.0 / target, 0.25))
        return {"target_rate": target, "scheduled_rate": scheduled_rate, "achieved_rate": achieved,
                "scheduled_count": sum(len(t) for t in self.scheduled.values()),
                "queue_growth_s": growth, "saturated": saturated}

    def _cost(self, requests_per_s: float | None) -> dict[str, Any]:
        # Frames that reached the server: their tokens (all attempts) as the server reported them.
        mean_in = self.spent_in / self.spent_n if self.spent_n else None
        mean_out = self.spent_out / self.spent_n if self.spent_n else None
        model = self.model
        price = model.get("price") or {}
        gpu = model.get("gpu") or {}
        # Answers whose usage the server did not report (in or out): left out of the means, counted.
        out: dict[str, Any] = {"mean_input_tokens": mean_in, "mean_output_tokens": mean_out,
                               "usage_missing": self.usage_missing, "price": price, "basis": None,
                               "cost_per_million_usd": None, "frames_priced": self.spent_n,
                               "total_usd": self.total_usd}
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
        if self.video_n and self.video_s > 0:
            # Window modes: $ per hour of video = $ per generation x generations per hour of video
            # (3600 / the mean seconds of video one request covers).
            mean_video_s = self.video_s / self.video_n
            out["video_hours_sent"] = self.video_s / 3600
            out["mean_video_s_per_request"] = mean_video_s
            out["cost_per_hour_of_video_usd"] = (out["cost_per_million_usd"] / 1e6 * 3600 / mean_video_s
                                                 if out["cost_per_million_usd"] is not None else None)
        return out

    def _reasoning(self, cost: dict[str, Any]) -> dict[str, Any]:
        """Reasoning tokens apart from the visible answer: part of the output tokens, priced as output."""
        mean = self.spent_reasoning / self.spent_n if self.spent_n else None
        price_out = (cost.get("price") or {}).get("output_per_million")
        mean_out = cost.get("mean_output_tokens")
        return {
            "mean_reasoning_tokens": mean,
            "mean_visible_output_tokens": self.visible_sum / self.visible_n if self.visible_n else None,
            "share_of_output": mean / mean_out if mean is not None and mean_out else None,
            # $ per 1M generations spent on reasoning (already inside cost_per_million_usd on a token basis).
            "cost_per_million_usd": mean * price_out if mean is not None and price_out is not None
            and cost.get("basis") == "tokens" else None,
            # Answers whose server showed reasoning but did not count it (the split is unknown).
            "uncounted_answers": self.uncounted,
        }


def compute_metrics(records: Iterable[dict[str, Any]], *, frames_total: int, model: dict[str, Any],
                    runner: dict[str, Any], simulated: bool) -> dict[str, Any]:
    """The measurements over records (a list, or a stream such as bench.store.iter_records)."""
    acc = MetricsPass(model=model, runner=runner)
    for r in records:
        acc.add(r)
    return acc.result(frames_total=frames_total, simulated=simulated)


def _pooled_rate(sessions: list[list[float]]) -> float | None:
    """Events per second: intervals over time spanned, summed over sessions (None with no interval)."""
    events = sum(len(ts) - 1 for ts in sessions if len(ts) > 1)
    span = sum(ts[-1] - ts[0] for ts in sessions if len(ts) > 1)
    return events / span if events and span > 0 else None
