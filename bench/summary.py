"""The summary table printed at the end of a run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.score.temporal import summary_lines


def _pct(rate: dict[str, Any]) -> str:
    if rate.get("rate") is None:
        return "-"
    lo, hi = rate["ci95"]
    return f"{rate['rate']:.1%}  [{lo:.1%}, {hi:.1%}]  ({rate['k']}/{rate['n']})"


def _s(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.3f} {unit}"


def summary_console() -> Console:
    """stdout at the terminal's width; piped or captured, wide enough that no path or label is wrapped
    (a wrapped run folder path cannot be copied; rich would otherwise assume 80 columns)."""

    return Console(width=None if sys.stdout.isatty() else 240)


def message_console(*, stderr: bool = True) -> Console:
    """For one-line messages ("new run: PATH ... SIMULATED model", errors naming a key or a file): at a
    terminal, wrapped to its width; piped or captured, never wrapped (soft wrap), so a path or a label
    stays whole on its line and can be copied or grepped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, soft_wrap=not stream.isatty(), highlight=False)


def print_summary(console: Console, m: dict[str, Any], *, label: str, run_dir: Path, status: str) -> None:
    title = f"capbench: {label} on {m['run']['dataset']}"
    if m["simulated"]:
        title += "  (SIMULATED model: not a real model's numbers)"
    table = Table(title=title, show_header=True, header_style="bold", title_justify="left")
    table.add_column("measure")
    table.add_column("value", overflow="fold")
    ladder = m["validity"]["ladder"]
    lat, thr, cost = m["latency"], m["throughput"], m["cost"]
    rows = [
        ("frames", _frames(m)),
        *([("mode", f"{m['run']['mode']} (prompt {m['run'].get('prompt')}); a frame is one unit: a window, "
                    "pair or video")] if m.get("run", {}).get("mode", "frame") != "frame" else []),
        *_bad_input_rows(m),
        ("JSON, strict", _pct(ladder["json_strict"])),
        ("JSON, lenient", _pct(ladder["json_lenient"])),
        ("schema valid", _pct(ladder["schema_valid"])),
        ("obeys prompt rules", _pct(ladder["rules_ok"])),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(m["validity"]["categories"].items())) or "-"),
        ("errors", ", ".join(f"{k} {v}" for k, v in sorted(m["errors"].items())) or "none"),
        ("retried attempts", str(m["retried_attempts"])),
        ("TTFT p50 / p90", f"{_s(lat['ttft_s']['p50'])} / {_s(lat['ttft_s']['p90'])}"),
        ("E2EL p50 / p95 / p99", f"{_s(lat['e2el_s']['p50'])} / {_s(lat['e2el_s']['p95'])} / "
                                 f"{_s(lat['e2el_s']['p99'])}"),
        ("TPOT p50 (visible tokens)", _s(lat["tpot_s"]["p50"])),
        ("felt E2EL p50 / p95",  # from the frame's first send: retries and backoff included
         f"{_s(lat.get('e2el_user_s', {}).get('p50'))} / {_s(lat.get('e2el_user_s', {}).get('p95'))}"
         " (retries incl.)"
         + (f"  ({m['non_streamed_answers']} answers not streamed: their TTFT = whole body)"
            if m.get("non_streamed_answers") else "")),
        ("queue p50", _s(lat["queue_s"]["p50"])),
        ("throughput", f"{_s(thr['requests_per_s'], 'req/s')}, {_s(thr['output_tokens_per_s'], 'tok/s')} "
                       f"over {thr['wall_duration_s']:.2f} s"),
    ]
    if m.get("batch"):  # a batch has no per-request clock: say so instead of dashes (bench/batch/metrics.py)
        rows = [r for r in rows if not r[0].startswith(("TTFT", "E2EL", "TPOT", "felt", "queue", "throughput"))]
        rows += _batch_rows(m["batch"])
    if m["validity"].get("valid_but_length"):
        rows.append(("valid at the token limit", f"{m['validity']['valid_but_length']} (finish reason "
                                                             "\"length\"; counted valid, raise max_tokens)"))
    if thr.get("target_rate"):
        sat = "  SATURATED" if thr["saturated"] else ""
        rows.append(("send rate: achieved / scheduled / target",
                     f"{_s(thr['achieved_rate'], 'req/s')} / {_s(thr.get('scheduled_rate'), 'req/s')} / "
                     f"{thr['target_rate']:.3f} req/s{sat}"))
        # Open loop: latency from the scheduled send time, which a slow server cannot hide.
        rows.append(("from schedule: TTFT p50 / E2EL p50 / p95",
                     f"{_s(lat['ttft_from_scheduled_s']['p50'])} / {_s(lat['e2el_from_scheduled_s']['p50'])} / "
                     f"{_s(lat['e2el_from_scheduled_s']['p95'])}"))
    rows += _client_rows(m.get("client"))
    mean_in, mean_out = cost["mean_input_tokens"], cost["mean_output_tokens"]
    rows.append(("mean tokens in / out", "-" if mean_in is None else f"{mean_in:.1f} / {mean_out:.1f}"))
    if cost["cost_per_million_usd"] is not None:
        src = cost.get("price", {}).get("source") if cost["basis"] == "tokens" else cost.get("gpu", {}).get("source")
        basis = "; ".join(x for x in (cost["basis"], src) if x)
        rows.append(("$ per 1M generations", f"${cost['cost_per_million_usd']:,.0f} ({basis})"))
    if cost.get("cost_per_hour_of_video_usd") is not None:  # window modes
        rows.append(("$ per hour of video", f"${cost['cost_per_hour_of_video_usd']:,.4f} "
                     f"({cost['mean_video_s_per_request']:.1f} s of video per request)"))
    if cost.get("usage_missing"):
        rows.append(("usage not reported", f"{cost['usage_missing']} answers: left out of token means and cost"))
    rows += _reasoning_rows(m)
    rows += _score_rows(m.get("scores"))
    rows += _replica_rows(m)
    rows.append(("run folder", f"{run_dir}  [{status}]"))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def _batch_rows(b: dict[str, Any]) -> list[tuple[str, str]]:
    t = b.get("turnaround_s") or {}
    fph = b.get("frames_per_hour")
    rows = [("latency (TTFT / E2EL / TPOT)", b["latency"]),
            ("batches", f"{b['submitted']} submitted to {b['provider']}, {b['open']} still open"),
            ("turnaround p50 / max", f"{_s(t.get('p50'))} / {_s(t.get('max'))}"),
            ("frames per hour", "-" if fph is None else f"{fph:,.0f}")]
    if b.get("cost_per_million_usd") is not None and b.get("on_demand_cost_per_million_usd") is not None:
        rows.append(("batch vs on-demand $ per 1M", f"${b['cost_per_million_usd']:,.0f} vs "
                                                    f"${b['on_demand_cost_per_million_usd']:,.0f} (same tokens)"))
    if b.get("result_problems"):
        rows.append(("result file problems", ", ".join(f"{k} {v}" for k, v in sorted(b["result_problems"].items()))
                     + " (counted, never recorded; batches.jsonl)"))
    return rows


def _client_rows(client: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The client's own distortion (bench.loopmon): a CLIENT-LIMITED run's latencies may be the client's."""
    if not client or not client.get("lag_samples"):
        return []
    lag = client["lag_ms"]
    share = client.get("loop_cpu_share")
    per_req = client.get("cpu_ms_per_request")
    loop = f" ({client['event_loop']})" if client.get("event_loop") else ""
    text = (f"lag p50 / p99 / max {lag['p50']:.1f} / {lag['p99']:.1f} / {lag['max']:.1f} ms; event loop{loop} "
            + ("-" if share is None else f"{share:.0%}") + " of a core"
            + ("" if per_req is None else f"; client CPU {per_req:.1f} ms/request"))
    if client.get("client_limited"):
        text += "  CLIENT-LIMITED: " + "; ".join(client.get("reasons") or [])
    return [("client (this session)", text)]


def _frames(m: dict[str, Any]) -> str:
    bad = (m.get("bad_inputs") or {}).get("count", 0)
    bad_text = f", {bad} bad inputs (not sent)" if bad else ""
    return f"{m['frames']} ({m['completed']} answered, {m['failed']} failed{bad_text}, {m['pending']} not run)"


BAD_INPUTS_SHOWN = 10


def _bad_input_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """Frames whose image or manifest line could not be used, by name: the rates above leave them out."""
    bad = m.get("bad_inputs") or {}
    if not bad.get("count"):
        return []
    lines = [f"{escape(str(b['frame_id']))}: {escape(str(b.get('reason') or '?'))}"
             for b in bad["frames"][:BAD_INPUTS_SHOWN]]
    more = bad["count"] - len(lines)
    if more:
        lines.append(f"... and {more} more (metrics.json \"bad_inputs\", generations.jsonl)")
    all_frames = (m["validity"].get("ladder_all_frames") or {}).get("schema_valid")
    rows = [(f"bad inputs ({bad['count']}, not sent)", "\n".join(lines))]
    if all_frames:
        rows.append(("schema valid, all frames", _pct(all_frames) + "  (bad inputs counted as failures)"))
    return rows


def _replica_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """Several replicas: each one's answers, failed attempts and E2EL, and those taken out of rotation."""
    by = m.get("by_endpoint") or {}
    out = {o["endpoint"]: o["reason"] for o in m.get("replicas_out_of_rotation") or []}
    lines = []
    for url, e in by.items():
        failed = ", ".join(f"{k} {v}" for k, v in sorted(e["failed_attempts"].items()))
        line = (f"{escape(url)}: {e['completed']} answered, {e['attempts']} attempts"
                + (f" ({failed} failed)" if failed else "") + f", E2EL p50 {_s(e['e2el_s']['p50'])}")
        if url in out:
            line += f"  OUT OF ROTATION: {escape(out[url].splitlines()[0])}"
        lines.append(line)
    return [(f"replicas ({len(by)})", "\n".join(lines))] if lines else []


def _reasoning_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """Reasoning tokens (inside the output tokens above, priced as output) and thinking time, when any."""
    r = m.get("reasoning") or {}
    thinking = (m.get("latency") or {}).get("thinking_s") or {}
    if not r.get("mean_reasoning_tokens") and not thinking.get("n") and not r.get("uncounted_answers"):
        return []
    rows = []
    if r.get("mean_reasoning_tokens") is not None:
        share = f" ({r['share_of_output']:.0%} of output)" if r.get("share_of_output") is not None else ""
        visible = r.get("mean_visible_output_tokens")
        rows.append(("reasoning tokens / visible out", f"{r['mean_reasoning_tokens']:.1f}{share} / "
                                                       + ("-" if visible is None else f"{visible:.1f}")))
    if r.get("cost_per_million_usd") is not None:
        rows.append(("of which reasoning", f"${r['cost_per_million_usd']:,.0f} per 1M generations (priced as output)"))
    if r.get("uncounted_answers"):
        rows.append(("reasoning not counted", f"{r['uncounted_answers']} answers showed reasoning the server did "
                                              "not count apart (inside output tokens)"))
    rows.append(("thinking time p50 (TTFT includes it)", _s(thinking.get("p50")) if thinking.get("n")
                 else "not shown by the stream (inside TTFT)"))
    return rows


def _mean(stat: dict[str, Any] | None, fmt: str = "{:.1f}") -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    lo, hi = stat.get("ci95") or (None, None)
    ci = f"  [{fmt.format(lo)}, {fmt.format(hi)}]" if lo is not None else ""
    return f"{fmt.format(stat['mean'])}{ci}"


def _score_rows(scores: dict[str, Any] | None) -> list[tuple[str, str]]:
    """ROUGE/BLEU against the reference and the judge score, when the run was scored (bench.score)."""
    if not scores:
        return []
    rows = []
    ref = scores.get("reference") or {}
    overlap = (scores.get("overlap") or {}).get("all")
    if overlap:
        means = " / ".join(f"{overlap[k]['mean']:.1f}" for k in ("rouge1", "rouge2", "rougeL"))
        rows.append((f"ROUGE-1/2/L, BLEU vs {ref.get('kind', 'reference')}",
                     f"{means}, {overlap['bleu']['mean']:.1f}  ({ref.get('frames_with_reference', '?')} frames)"))
        rows.append(("ROUGE-L 95% interval", _mean(overlap["rougeL"]).split("  ", 1)[-1]))
    judge = scores.get("judge")
    if judge and judge.get("mean") is not None:
        sim = " (SIMULATED judge)" if judge.get("simulated") else ""  # also when a real judge's endpoint was the sim
        rows.append((f"judge {judge.get('model', '')}{sim}", f"{_mean(judge, '{:.2f}')} of 5, n={judge.get('n')}"))
        sent = judge.get("sent") or {}
        cost = judge.get("cost_usd")
        if cost is not None:  # the judge's own bill, apart from the model's
            rows.append(("judge cost", f"${cost:,.4f} for the verdicts used; {sent.get('requests', 0)} requests "
                                       "sent now (the rest from the cache)"))
    rows += summary_lines(scores.get("temporal"))  # frames ordered in time: stability and boundary F1
    return rows
