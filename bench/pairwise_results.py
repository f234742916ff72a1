"""A run's place in a pairwise ranking: `RUN/pairwise.json`, written by `python -m bench.score ... pairwise=true`
(or `ranking=OUT/ranking.json`), read by bench.load (load_runs columns), the console, the report and the gate.

bench.score.pairwise ranks several runs at once (OUT/ranking.json, OUT/battles.jsonl); each ranked run folder
then gets its own view of that ranking: its Bradley-Terry strength with its interval, its rank, its wins, ties
and losses, the position-consistency rate of the judge, and per opponent the strength difference (this run
minus the opponent) with its bootstrap interval and p-value. The whole ranking is kept in it too (without the
battles), so a report needs only the run folders. The latest ranking a run took part in replaces the earlier one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

FILE = "pairwise.json"
FORMAT = "capbench-run-pairwise/1"


def entries(summary: dict[str, Any], ranking_file: str | None) -> dict[str, dict[str, Any]]:
    """Ranked name -> that run's view of the ranking (bench.score.pairwise.run_pairwise's summary)."""
    r = summary["ranking"]
    order = [s["model"] for s in r["strengths"]]
    out = {}
    for name, info in summary["runs"].items():
        strength = next(s for s in r["strengths"] if s["model"] == name)
        wtl = {k: sum(v[k] for v in r["matrix"][name].values()) for k in ("win", "tie", "loss")}
        vs = {}
        for p in r["pairs"]:
            if name not in (p["a"], p["b"]):
                continue
            mine = p["a"] == name
            other = p["b"] if mine else p["a"]
            lo, hi = p["ci95"]
            path = summary["runs"][other]["path"]
            vs[other] = {"path": path, "run_id": Path(path).name, "win": p["win"] if mine else p["loss"],
                         "tie": p["tie"], "loss": p["loss"] if mine else p["win"],
                         "theta_diff": p["theta_diff"] if mine else -p["theta_diff"],
                         "ci95": [lo, hi] if mine else [-hi, -lo], "p_value": p["p_value"],
                         "significant": p["significant"]}
        out[name] = {"format": FORMAT, "ranking_file": ranking_file, "created": summary.get("created"),
                     "name": name, "path": info["path"], "mode": summary.get("mode"),
                     "judge": {k: summary["judge"].get(k) for k in ("label", "model_name", "backend", "rubric",
                                                                    "simulated")},
                     "frames": summary.get("frames"), "battles": summary.get("battles"),
                     "rank": order.index(name) + 1, "of": len(order), "theta": strength["theta"],
                     "ci95": strength["ci95"], **wtl,
                     "position_consistency": (summary.get("position_consistency") or {}).get("rate"),
                     "vs": vs, "ranking": {k: v for k, v in summary.items() if k != "out"}}
    return out


def attach(summary: dict[str, Any], ranking_file: str | Path | None, only: list[Path] | None = None) -> list[Path]:
    """Write RUN/pairwise.json for every ranked run whose folder exists (or only those in `only`)."""
    wanted = {p.resolve() for p in only} if only is not None else None
    written = []
    for entry in entries(summary, str(ranking_file) if ranking_file else None).values():
        folder = Path(entry["path"])
        if not folder.is_dir() or (wanted is not None and folder.resolve() not in wanted):
            continue
        text = json.dumps(entry, indent=1, ensure_ascii=False, allow_nan=False)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pairwise-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, folder / FILE)
        written.append(folder / FILE)
    return written


def read(run_dir: str | Path) -> dict[str, Any] | None:
    """RUN/pairwise.json, or None (never ranked, or a file this version cannot read)."""
    try:
        data = json.loads((Path(run_dir) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else math.nan


def columns(run_dir: str | Path) -> dict[str, Any]:
    """bench.load's run-level columns (NaN / None for a run that was never ranked)."""
    e = read(run_dir) or {}
    ci = e.get("ci95") or [None, None]
    judge = e.get("judge") or {}
    return {"pairwise_theta": _num(e.get("theta")), "pairwise_ci_low": _num(ci[0]), "pairwise_ci_high": _num(ci[1]),
            "pairwise_rank": _num(e.get("rank")), "pairwise_of": _num(e.get("of")), "pairwise_win": _num(e.get("win")),
            "pairwise_tie": _num(e.get("tie")), "pairwise_loss": _num(e.get("loss")),
            "pairwise_position_consistency": _num(e.get("position_consistency")),
            "pairwise_judge": judge.get("label"),
            "pairwise_judge_simulated": bool(judge.get("simulated")) if judge else None,
            "pairwise_ranking": e.get("ranking_file")}


def summary_line(e: dict[str, Any]) -> str:
    """One console line: rank, strength with interval, W/T/L, consistency, the judge."""
    lo, hi = e["ci95"]
    pc = e.get("position_consistency")
    sim = ", SIMULATED" if (e.get("judge") or {}).get("simulated") else ""
    return (f"pairwise: rank {e['rank']} of {e['of']}, Bradley-Terry strength {e['theta']:+.2f} (95% {lo:+.2f} – "
            f"{hi:+.2f}), W/T/L {e['win']}/{e['tie']}/{e['loss']}, position consistency "
            f"{'—' if pc is None else f'{pc:.0%}'}; judge {(e.get('judge') or {}).get('label')}{sim}; "
            f"{e.get('ranking_file') or 'ranking'}")
