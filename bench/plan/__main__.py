"""python -m bench.plan: what N frames cost and how long they take, per model.

    python -m bench.plan --frames 1000000                       # every catalog model, assumed 700 + 250 tokens
    python -m bench.plan runs/frames1k/*/* --frames 1e9 --gpus 8  # what those runs measured
    python -m bench.plan --frames 1e6 --models cliptagger,gpt-4.1 --rps-per-gpu 3 --rpm 10000
    python -m bench.plan --seed-figures                          # the seeds' figures, recomputed
    python -m bench.plan ... --chart plan.html                   # the chart (plotly HTML)

Exit codes: 0 done, 2 unusable arguments or run folders.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.plan.costs import Plan, human_duration, plan
from bench.plan.figure import cost_figure
from bench.plan.inputs import (
    ASSUMED_INPUT_TOKENS,
    ASSUMED_OUTPUT_TOKENS,
    TOKENS_SOURCE,
    PlanInputError,
    from_catalog,
    from_run,
)
from bench.plan.seeds import seed_figures


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.0f}" if value >= 100 else f"${value:,.2f}"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _run_dirs(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        matches = sorted(glob.glob(p)) or [p]
        for m in matches:
            path = Path(m)
            found = [path] if (path / "metrics.json").is_file() else sorted(
                q.parent for q in path.rglob("metrics.json") if (q.parent / "run.json").is_file())
            if not found:
                raise PlanInputError(f"{m}: no run folder there (a run folder holds metrics.json)")
            out += found
    return out


def _table(plans: list[Plan], args: argparse.Namespace) -> Table:
    table = Table(title=f"{args.frames:,.0f} frames", title_justify="left")
    cols = ["model", "tokens in / out", "$ on demand", "$ Batch API", "$ self-hosted", "GPU-hours",
            f"wall time, {args.gpus} GPU(s)"]
    if args.rpm or args.tpm:
        cols.append("wall time at rate limit")
    cols.append("break-even, frames/month")
    for c in cols:
        table.add_column(c, overflow="fold")
    for p in plans:
        m = p.inputs
        tokens = "-" if m.input_tokens is None else f"{m.input_tokens:,.0f} / {m.output_tokens or 0:,.0f}"
        row = [escape(m.model) + (" [yellow](SIMULATED)[/yellow]" if m.simulated else ""), tokens,
               _usd(p.on_demand_usd), _usd(p.batch_usd), _usd(p.self_hosted_usd),
               _count(p.gpu_hours), human_duration(p.wall_s_gpus)]
        if args.rpm or args.tpm:
            row.append(human_duration(p.wall_s_rate_limit))
        row.append(f"{_count(p.breakeven_frames_per_month)} vs 1 GPU of {escape(p.breakeven_against or '')}"
                   if p.breakeven_frames_per_month else "-")
        table.add_row(*row)
    return table


def _sources(plans: list[Plan]) -> list[str]:
    lines = []
    for p in plans:
        m = p.inputs
        bits = [f"tokens {m.tokens_source}"] if m.input_tokens is not None else []
        if m.price_in is not None and m.hosting != "self-hosted":
            bits.append(f"${m.price_in:g} / ${m.price_out:g} per 1M tokens ({m.price_source or 'no source given'})")
        if p.batch_usd is not None and m.batch_discount:
            d = m.batch_discount
            bits.append(f"batch {d.fraction:.0%} off: {d.source}, {d.date}")
        elif p.on_demand_usd is not None:
            bits.append("no Batch API discount known for this endpoint")
        if m.gpu_hourly_usd and m.hosting != "api":
            bits.append(f"GPU ${m.gpu_hourly_usd:g}/h ({m.gpu_source or 'no source given'})")
        if m.requests_per_s_per_gpu:
            bits.append(f"{m.requests_per_s_per_gpu:.3g} req/s per GPU ({m.throughput_source})")
        if m.startup_s:
            bits.append(f"start-up {m.startup_s:.0f} s per server (measured)")
        if p.missing:
            bits.append("missing: " + ", ".join(p.missing))
        lines.append(f"{m.model}: " + "; ".join(bits))
    return lines


def _seed_table(console: Console) -> int:
    table = Table(title="The seeds' cost figures, recomputed by bench.plan", title_justify="left", show_lines=True)
    for c in ("the seed says", "source", "bench.plan computes", "from", "matches", "what it implies"):
        table.add_column(c, overflow="fold")
    figures = seed_figures()
    for f in figures:
        table.add_row(escape(f.claim), escape(f.source), f"${f.computed_usd:,.2f}", escape(f.basis),
                      "yes" if f.matches else "[red]NO[/red]", escape(f.implies or "follows from the card's numbers"))
    console.print(table)
    return 0 if all(f.matches for f in figures) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="run folders (or folders holding them) to plan from what they "
                                                "measured; none: the model catalog at assumed token counts")
    parser.add_argument("--frames", type=float, default=1e6, help="how many frames (default 1,000,000)")
    parser.add_argument("--models", default="", help="catalog models to plan for, comma-separated (default: all)")
    parser.add_argument("--input-tokens", type=float, default=ASSUMED_INPUT_TOKENS,
                        help="catalog mode: input tokens per frame (default 700, seed 001)")
    parser.add_argument("--output-tokens", type=float, default=ASSUMED_OUTPUT_TOKENS,
                        help="catalog mode: output tokens per frame (default 250, seed 001)")
    parser.add_argument("--rps-per-gpu", type=float, default=None,
                        help="catalog mode: a self-hosted model's requests/s per GPU (until a run measures it)")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs for the self-hosted wall time (default 1)")
    parser.add_argument("--rpm", type=float, default=None, help="API rate limit, requests per minute")
    parser.add_argument("--tpm", type=float, default=None, help="API rate limit, tokens per minute")
    parser.add_argument("--against", default="", help="break-even against this self-hosted model "
                                                      "(default: the first one with a throughput)")
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    parser.add_argument("--chart", type=Path, default=None, help="write the cost chart to this HTML file")
    parser.add_argument("--seed-figures", action="store_true", help="recompute the seeds' cost figures")
    args = parser.parse_args(argv)
    console = Console(width=max(160, Console().width))
    err = Console(stderr=True, soft_wrap=True)  # messages whole: names and paths never wrapped
    if args.seed_figures:
        return _seed_table(console)
    if args.frames < 0 or args.gpus < 1:
        err.print("[red]error:[/red] --frames must be 0 or more and --gpus at least 1")
        return 2
    try:
        if args.runs:
            models = [from_run(d) for d in _run_dirs(args.runs)]
        else:
            names = [n.strip() for n in args.models.split(",") if n.strip()] or None
            tokens_source = TOKENS_SOURCE if (args.input_tokens, args.output_tokens) == (
                ASSUMED_INPUT_TOKENS, ASSUMED_OUTPUT_TOKENS) else "assumed (--input-tokens/--output-tokens)"
            models = from_catalog(input_tokens=args.input_tokens, output_tokens=args.output_tokens,
                                  tokens_source=tokens_source, rps_per_gpu=args.rps_per_gpu, names=names)
    except PlanInputError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    hosts = [m for m in models if m.hosting != "api" and m.requests_per_s_per_gpu and m.gpu_hourly_usd]
    dedicated = next((m for m in hosts if m.model == args.against), None) if args.against else \
        (hosts[0] if hosts else None)
    plans = [plan(m, args.frames, gpus=args.gpus, rpm=args.rpm, tpm=args.tpm,
                  dedicated=dedicated if m.hosting != "self-hosted" else None) for m in models]
    if args.json:
        for p in plans:
            print(json.dumps({**asdict(p), "batch_discount": asdict(p.inputs.batch_discount)
                              if p.inputs.batch_discount else None}, default=str))
    else:
        console.print(_table(plans, args))
        for line in _sources(plans):
            console.print(escape(line), highlight=False)
        if any(m.simulated for m in models):
            console.print("[yellow]SIMULATED[/yellow] rows come from the simulator: they test the harness, "
                          "not a model.")
    if args.chart:
        cost_figure(models).write_html(args.chart, include_plotlyjs=True)
        err.print(f"chart: {args.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
