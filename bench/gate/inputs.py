"""What the gate compares: a run folder, or a baseline JSON written from one.

A baseline file (`python -m bench.gate RUN --write-baseline FILE`) is small
enough to commit: the run's identity, its headline numbers, and per frame only
the values the paired tests need (validity rungs, judge score, overlap
scores), as columns. Both sides go through `from_run`, so a baseline file and
the run folder it came from gate identically. The judge score per frame is the
scorer's "all" view (bench.load.judge_score_all: a frame with no caption scores
1), so the gate's n and mean are the ones in metrics.json.

Scores are compared only like with like: `scoring` records what the side's
scores were scored against (reference id; judge model, endpoint kind, rubric;
bench.scorings), and `check_comparable` refuses (exit 2) a run and a baseline
scored against different references, judges or rubrics.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.gate.baseline_schema import baseline_problem
from bench.load import (
    OVERLAP,
    RunData,
    RunLoadError,
    flat_score_row,
    iter_run_records,
    iter_score_rows,
    load_run,
    score_summary,
)
from bench.metrics import is_bad_input
from bench.scorings import comparison_problems
from bench.stats import as_float

FORMAT = "capbench-baseline/1"
RUNGS = ("json_strict", "json_lenient", "schema_valid", "rules_ok")
SCORES = ("judge",) + OVERLAP


class GateInputError(Exception):
    """Input the gate cannot use (exit 2)."""


@dataclass
class GateSide:
    source: str
    model: str = ""
    dataset: str = ""
    prompt: str = ""
    simulated: bool = False
    fingerprint: str | None = None
    frames: int = 0
    validity: dict[str, dict[str, int]] = field(default_factory=dict)  # rung -> {"k", "n"}
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)  # judge/rougeL/... -> {"mean", "sd", "n"}
    e2el_p95_s: float | None = None
    cost_per_million_usd: float | None = None
    per_frame: dict[str, list[Any]] = field(default_factory=dict)  # columns: frame_id, rungs, scores
    scoring: dict[str, Any] | None = None  # what the scores were scored against: {"key", "reference_id", "judge"}

    def frame_values(self, column: str) -> dict[str, Any]:
        ids = self.per_frame.get("frame_id") or []
        values = self.per_frame.get(column) or []
        return {fid: v for fid, v in zip(ids, values, strict=False) if v is not None}

    def to_json(self, *, with_frames: bool = True) -> dict[str, Any]:
        data = {"format": FORMAT, "written": datetime.now(UTC).isoformat(timespec="seconds"), **asdict(self)}
        if not with_frames:
            data["per_frame"] = {}
        return data


def _clean(x: Any) -> float | None:
    value = as_float(x)
    return None if value is None or math.isnan(value) else value


def from_run(run: RunData) -> GateSide:
    """A run's side of the gate, in one streamed pass over its records and one over its scoring's rows (a run
    loaded with records=False): per frame, the id, four validity flags and five scores are kept."""
    m = run.metrics
    ladder = (m.get("validity") or {}).get("ladder") or {}
    side = GateSide(source=str(run.path), model=run.model, dataset=run.dataset,
                    prompt=str((m.get("run") or {}).get("prompt") or ""), simulated=run.simulated,
                    fingerprint=run.meta.get("fingerprint"), frames=0,
                    e2el_p95_s=_clean(m.get("e2el_p95_s")), cost_per_million_usd=_clean(m.get("cost_per_million_usd")),
                    scoring=run.scoring)
    ids: list[str] = []
    cols: dict[str, list[Any]] = {"frame_id": ids, **{rung: [] for rung in RUNGS}}
    sent = dict.fromkeys(RUNGS, 0)
    n_sent = 0
    categories: dict[str, Any] = {}  # only for score rows that lack their category (older scorings)
    for r in iter_run_records(run):
        ids.append(str(r["frame_id"]))
        v = r.get("validity") or {}
        bad = is_bad_input(r)
        n_sent += not bad  # validity is the model's: over the frames it was sent, not bad inputs
        for rung in RUNGS:
            flag = bool(v.get(rung))
            cols[rung].append(None if bad else int(flag))
            sent[rung] += flag and not bad
        categories[ids[-1]] = v.get("category")
    side.frames = int(m.get("frames") or len(ids))
    for rung in RUNGS:
        if ids:
            side.validity[rung] = {"k": sent[rung], "n": n_sent}
        elif rung in ladder:
            side.validity[rung] = {"k": int(ladder[rung]["k"]), "n": int(ladder[rung]["n"])}
    fs = _frame_score_values(run, categories)
    del categories
    summary = score_summary(run)
    for name in SCORES:
        key = "judge_score" if name == "judge" else name
        values = [_clean((fs.get(fid) or {}).get(key)) for fid in ids]
        present = [v for v in values if v is not None]
        if present:
            cols[name] = values
            mean = sum(present) / len(present)
            sd = math.sqrt(sum((v - mean) ** 2 for v in present) / (len(present) - 1)) if len(present) > 1 else 0.0
            side.scores[name] = {"mean": mean, "sd": sd, "n": len(present)}
        else:
            headline = _clean(summary.get("judge_mean" if name == "judge" else name))
            if headline is not None:  # summary only (no per-frame scores): unpaired tests need sd; unknown
                side.scores[name] = {"mean": headline, "sd": None, "n": int(_clean(summary.get("judge_n")) or 0)}
    side.per_frame = cols
    return side


def _frame_score_values(run: RunData, categories: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """frame_id -> the gated scores of bench.load.frame_scores (judge "all" view and overlap), from the scoring's
    rows streamed one at a time (bench.load.iter_score_rows), keeping the few numbers the gate tests."""
    judged = bool((m := run.metrics.get("scores")) and isinstance(m, dict) and m.get("judge")) or \
        any(row.get("judge") for _, row in iter_score_rows(run))
    keep = ("judge_score",) + OVERLAP
    out = {}
    for fid, row in iter_score_rows(run):
        flat = flat_score_row(row, judged, categories.get(str(fid)))
        out[str(fid)] = {k: flat[k] for k in keep}
    return out


def from_json(path: Path) -> GateSide:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GateInputError(f"{path}: not a readable baseline JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise GateInputError(f"{path}: not a capbench baseline (expected \"format\": \"{FORMAT}\"); "
                             "write one with `python -m bench.gate RUN_DIR --write-baseline FILE`")
    problem = baseline_problem(data)
    if problem:
        raise GateInputError(f"{path}: malformed baseline: {problem}. Fix the file or write it again with "
                             "`python -m bench.gate RUN_DIR --write-baseline FILE`")
    known = GateSide.__dataclass_fields__
    return GateSide(**{k: v for k, v in data.items() if k in known})


def load_side(path: str | Path, *, scoring: str | None = None) -> GateSide:
    """A run folder (with its latest scoring, or scoring=KEY) or a baseline JSON file, as it is: the gate
    itself loads with bench.gate.verify.load_checked_side, which also checks metrics.json against the records."""
    p = Path(path)
    if p.is_file():
        return from_json(p)
    try:
        return from_run(load_run(p, scoring=scoring, records=False))
    except RunLoadError as exc:
        raise GateInputError(str(exc)) from exc


def check_comparable(run: GateSide, base: GateSide) -> list[str]:
    """Raise GateInputError naming the mismatch when the two sides' scores were scored against different
    references, judges or rubrics; return notes to print (a SIMULATED judge, a baseline that does not say)."""
    overlap = any(m in run.scores and m in base.scores for m in OVERLAP)
    judged = "judge" in run.scores and "judge" in base.scores
    notes = []
    for name, side in (("run", run), ("baseline", base)):
        if ((side.scoring or {}).get("judge") or {}).get("simulated") and "judge" in side.scores:
            notes.append(f"the {name}'s judge scores are SIMULATED (capbench's simulator, not a model)")
    if (overlap or judged) and (run.scoring is None or base.scoring is None):
        which = "run" if run.scoring is None else "baseline"
        notes.append(f"the {which} does not say what its scores were scored against (written by an older "
                     "capbench): reference and judge not checked")
        return notes
    problems = comparison_problems(run.scoring, base.scoring, overlap=overlap, judged=judged)
    if problems:
        raise GateInputError("scores not comparable: " + "; ".join(problems) + ". Re-score one side to match "
                             "(python -m bench.score RUN_DIR reference=... judge=...), or pick the matching scoring "
                             "with --scoring KEY (see RUN_DIR/scores/index.json)")
    return notes


def write_baseline(side: GateSide, path: str | Path, *, with_frames: bool = True) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = side.to_json(with_frames=with_frames)
    frames = data.pop("per_frame")
    text = json.dumps(data, indent=1, allow_nan=False)
    # One line per column keeps a committed baseline short and its diffs readable.
    columns = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in frames.items())
    text = text[:-2] + ',\n "per_frame": {\n' + columns + ("\n" if columns else "") + " }\n}\n"
    path.write_text(text, encoding="utf-8")
    return path
