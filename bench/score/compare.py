"""Paired comparison of two scored runs on the same frames (FP8 vs BF16, student vs teacher, A vs B).

    python -m bench.score.compare RUN_A RUN_B [metric=rougeL,judge] [valid_only=true] [json=true]

Both runs must have been scored (`python -m bench.score RUN`) against the
same reference (overlap metrics) or by the same judge and rubric (judge
score). Frames are paired by id; frames scored in only one run are counted
and left out. Per metric: mean of A, mean of B, difference A - B with a 95%
paired-bootstrap interval, and the two-sided p-value of a sign-flip
permutation test (bench.stats.paired_test). "all" view by default, as in the
run's headline: invalid outputs score 0 on overlap, and a frame the model gave
no caption for scores NO_CAPTION_SCORE (1) from the judge (bench.load.judge_score_all);
valid_only=true pairs only frames valid in both runs (labelled "valid only").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.load import judge_score_all
from bench.score.references import ScoreError
from bench.stats import paired_test

OVERLAP_METRICS = ("rouge1", "rouge2", "rougeL", "bleu")
METRICS = (*OVERLAP_METRICS, "judge")
ALPHA = 0.05


def _load(run_dir: str | Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    path = Path(run_dir)
    scores_path = path / "scores.jsonl"
    if not scores_path.is_file():
        raise ScoreError(f"{path} has no scores.jsonl: score it first (python -m bench.score {path})")
    rows = {}
    for line in scores_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["frame_id"]] = row
    try:
        summary = json.loads((path / "metrics.json").read_text()).get("scores") or {}
    except (OSError, json.JSONDecodeError):
        summary = {}
    return rows, summary


VIEW_LABELS = {"all": "all: invalid = 0, no caption judged 1",
               "valid_only": "valid only: frames schema-valid in both runs"}


def _value(row: dict[str, Any], metric: str, judged: bool) -> float | None:
    if metric == "judge":
        return judge_score_all(row.get("judge"), row.get("category")) if judged else None
    return (row.get("overlap") or {}).get(metric)


def compare_runs(run_a: str | Path, run_b: str | Path, *, metrics: list[str] | None = None, valid_only: bool = False,
                 permutations: int = 10_000, seed: int = 0) -> dict[str, Any]:
    rows_a, sum_a = _load(run_a)
    rows_b, sum_b = _load(run_b)
    wanted = list(metrics or METRICS)
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise ScoreError(f"unknown metric(s) {', '.join(unknown)}: choose from {', '.join(METRICS)}")
    notes: list[str] = []
    ref_a, ref_b = (sum_a.get("reference") or {}), (sum_b.get("reference") or {})
    if any(m in OVERLAP_METRICS for m in wanted) and (ref_a.get("kind"), ref_a.get("source")) != (
            ref_b.get("kind"), ref_b.get("source")):
        raise ScoreError(f"the runs were scored against different references ({ref_a.get('kind')} "
                         f"{ref_a.get('source')} vs {ref_b.get('kind')} {ref_b.get('source')}): re-score one with "
                         "reference=... so both use the same, or compare metric=judge")
    judge_a, judge_b = sum_a.get("judge") or {}, sum_b.get("judge") or {}
    if "judge" in wanted and (judge_a.get("model"), judge_a.get("rubric")) != (judge_b.get("model"),
                                                                               judge_b.get("rubric")):
        if metrics and "judge" in metrics:
            raise ScoreError(f"the runs were judged differently ({judge_a.get('model')} {judge_a.get('rubric')} vs "
                             f"{judge_b.get('model')} {judge_b.get('rubric')}): judge both with the same judge=")
        wanted.remove("judge")
        notes.append("judge left out: the runs were not judged by the same judge and rubric")
    shared = [f for f in rows_a if f in rows_b]
    if not shared:
        raise ScoreError(f"{run_a} and {run_b} share no scored frame: not the same frames")
    if valid_only:
        shared = [f for f in shared if rows_a[f].get("valid") and rows_b[f].get("valid")]
    view = "valid_only" if valid_only else "all"
    result: dict[str, Any] = {"a": str(run_a), "b": str(run_b), "view": view, "view_label": VIEW_LABELS[view],
                              "frames_shared": len(shared), "only_in_a": len(set(rows_a) - set(rows_b)),
                              "only_in_b": len(set(rows_b) - set(rows_a)), "alpha": ALPHA, "notes": notes,
                              "reference": {"kind": ref_a.get("kind"), "source": ref_a.get("source")},
                              "metrics": {}}
    for m in wanted:
        pairs = [(_value(rows_a[f], m, bool(judge_a)), _value(rows_b[f], m, bool(judge_b))) for f in shared]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
        if not pairs:
            continue
        test = paired_test([p[0] for p in pairs], [p[1] for p in pairs], permutations=permutations, seed=seed)
        test["significant"] = test["p_value"] is not None and test["p_value"] < ALPHA
        result["metrics"][m] = test
    return result


def format_comparison(c: dict[str, Any]) -> str:
    lines = [f"A = {c['a']}", f"B = {c['b']}",
             f"paired frames: {c['frames_shared']} ({c.get('view_label', c['view'])}); only in A: {c['only_in_a']}, "
             f"only in B: {c['only_in_b']}; reference: {c['reference']['kind']} {c['reference']['source']}",
             f"{'metric':<8} {'mean A':>8} {'mean B':>8} {'A - B':>8} {'95% CI':>20} {'p':>8}  verdict"]
    for m, t in c["metrics"].items():
        lo, hi = t["ci95"]
        verdict = ("A > B" if t["diff"] > 0 else "A < B") if t["significant"] else "no significant difference"
        lines.append(f"{m:<8} {t['mean_a']:>8.3f} {t['mean_b']:>8.3f} {t['diff']:>+8.3f} "
                     f"{f'[{lo:+.3f}, {hi:+.3f}]':>20} {t['p_value']:>8.4f}  {verdict} (n={t['n']})")
    lines += [f"note: {n}" for n in c["notes"]]
    lines.append("CI: paired bootstrap over frames; p: two-sided sign-flip permutation test; significant if p < 0.05")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    runs = [a for a in argv if "=" not in a]
    opts = dict(a.split("=", 1) for a in argv if "=" in a)
    if len(runs) != 2 or any(k not in ("metric", "valid_only", "json", "permutations", "seed") for k in opts):
        print("usage: python -m bench.score.compare RUN_A RUN_B [metric=rougeL,judge] [valid_only=true] "
              "[permutations=10000] [seed=0] [json=true]", file=sys.stderr)
        return 2
    try:
        result = compare_runs(runs[0], runs[1], metrics=opts["metric"].split(",") if "metric" in opts else None,
                              valid_only=opts.get("valid_only", "false").lower() == "true",
                              permutations=int(opts.get("permutations", 10_000)), seed=int(opts.get("seed", 0)))
    except (ScoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if opts.get("json", "false").lower() == "true" else format_comparison(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
