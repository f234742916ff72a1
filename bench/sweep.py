"""A Hydra sweep (`python -m bench -m ...`): what each job varied, and the one table that ends the sweep.

A job is named by the overrides that differ between the sweep's jobs (`model=sim_noisy runner.concurrency=8`),
never by its number alone; the same names label the sweep's runs in `bench.load_runs` and the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class SweepJob:
    number: int
    overrides: list[str]  # the job's Hydra overrides, as given (key=value)
    code: int  # the job's exit code
    run_dir: Path | None  # None: the job stopped before it had a run folder (e.g. a bad config)


def varied(override_lists: list[list[str]], *, all_if_none: bool = True) -> list[list[str]]:
    """Each list cut down to the overrides whose key takes more than one value over all the lists
    (a key missing from a list counts as a value); when none varies, all of them (or none)."""
    values: dict[str, set[str | None]] = {}
    parsed = [dict(o.split("=", 1) if "=" in o else (o, "") for o in lst) for lst in override_lists]
    for p in parsed:
        for key in p:
            values.setdefault(key, set())
    for key, seen in values.items():
        for p in parsed:
            seen.add(p.get(key))
    keys = {k for k, seen in values.items() if len(seen) > 1}
    if not keys:
        return [list(lst) if all_if_none else [] for lst in override_lists]
    return [[o for o in lst if o.split("=", 1)[0] in keys] for lst in override_lists]


def sweep_label(model: str, overrides: list[str]) -> str:
    """`sim · runner.concurrency=8`: the model, then what else the job varied (model= is already said)."""
    rest = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in ("model", "model.label")]
    return " · ".join([model, " ".join(rest)]) if rest else model


def _metrics(run_dir: Path | None) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "metrics.json").read_text()) if run_dir else {}
    except (OSError, json.JSONDecodeError):
        return {}


def _status(run_dir: Path | None) -> str:
    try:
        return json.loads((run_dir / "run.json").read_text()).get("status", "?") if run_dir else "no run"
    except (OSError, json.JSONDecodeError):
        return "?"


def _pct(x: Any) -> str:
    return f"{x:.1%}" if isinstance(x, int | float) else "—"


def _num(x: Any, fmt: str) -> str:
    return format(x, fmt) if isinstance(x, int | float) else "—"


def print_sweep_table(console: Console, jobs: list[SweepJob], sweep_dir: Path) -> None:
    names = varied([j.overrides for j in jobs])
    table = Table(title=f"sweep: {sweep_dir}  ({len(jobs)} jobs)", title_justify="left", header_style="bold")
    for column in ("job", "exit", "status", "frames ok/all", "schema valid", "E2EL p95", "req/s", "$ / 1M gen",
                   "ROUGE-L", "run folder"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("exit", "frames ok/all", "req/s") else
                         "left")
    for job, name in zip(jobs, names, strict=True):
        m = _metrics(job.run_dir)
        model = (m.get("run") or {}).get("model")
        label = sweep_label(model, name) if model else " ".join(name)
        if m.get("simulated"):
            label += " (SIMULATED)"
        rouge = (((m.get("scores") or {}).get("overlap") or {}).get("all") or {}).get("rougeL") or {}
        table.add_row(label, str(job.code), _status(job.run_dir),
                      f"{m.get('completed', '—')}/{m.get('frames', '—')}" if m else "—",
                      _pct(m.get("schema_valid_rate")), _num(m.get("e2el_p95_s"), ".3f") + (" s" if m else ""),
                      _num(m.get("requests_per_s"), ".2f"), _num(m.get("cost_per_million_usd"), ",.0f"),
                      _num(rouge.get("mean"), ".1f"), str(job.run_dir) if job.run_dir else "—")
    console.print(table)


def failed_jobs_line(jobs: list[SweepJob]) -> str:
    """`sweep: 1 of 3 jobs failed: model=gpt-4.1 (exit 2)`"""
    names = varied([j.overrides for j in jobs])
    failed = [(" ".join(n) or f"job {j.number}", j.code) for j, n in zip(jobs, names, strict=True) if j.code]
    return (f"sweep: {len(failed)} of {len(jobs)} jobs failed: "
            + ", ".join(f"{name} (job {j}, exit {code})" for (name, code), j in
                        zip(failed, [j.number for j in jobs if j.code], strict=True)))
