"""A run against a baseline run, frame by frame: what the report's baseline section shows
(`python -m bench.report RUN --baseline BASE`; what a reviewer opens when the gate fails).

For each run compared with the baseline, over the frames both recorded: frames that became invalid or valid (with
McNemar's exact test), the largest drops and gains of the report's quality measure with both captions, new
hallucinations (judge items the run has on a frame and the baseline did not have on it), and the quality,
latency and cost deltas with paired intervals and p-values (bench.gate.paired, the gate's own tests).

Plain data; captions and judge items are model output, rendered as text by the page (js/baseline.js).
Memory: the per-frame table is the report's (a few numbers per frame); records and score rows are read back by
offset for the frames shown only, and the judge rows in batches.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.gate.paired import mcnemar, paired_continuous
from bench.report.stream import RunFrames
from bench.report.verdict import quantile_interval

TOP = 8  # largest drops and gains shown, each
LISTED = 50  # frames listed per change (became invalid / valid, new hallucinations); the counts are of all
BATCH = 5000  # judge rows read at a time
RESAMPLES = 2000  # bootstrap and permutation draws of the paired tests
RAW_LIMIT = 1500
QUALITY_COLUMNS = {"judge": ("judge_score", "judge score (1-5)"), "rougeL": ("rougeL", "ROUGE-L"),
                   "schema_valid": (None, "schema validity")}


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def _delta(what: str, unit: str, base: Any, cand: Any, scale: float = 1.0) -> dict[str, Any]:
    """candidate - baseline over the frames where both have a value: paired permutation p and bootstrap interval."""
    a, b = np.asarray(base, dtype=float) * scale, np.asarray(cand, dtype=float) * scale
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    test = paired_continuous(a.tolist(), b.tolist(), resamples=RESAMPLES)
    return {"what": what, "unit": unit, "n": test["n"], "base": float(a.mean()) if a.size else None,
            "cand": float(b.mean()) if b.size else None, "diff": test["mean_diff"], "ci95": test["ci95"],
            "p": test["p_two_sided"], "test": test["test"]}


def _answer(source: RunFrames, offsets: list[int]) -> dict[str, dict[str, Any]]:
    """frame id -> the frame's caption (a dict) or, when there was none, its raw text / error, for display."""
    out = {}
    for rec in source.records_at(sorted(set(offsets))):
        caption = rec.get("caption") if isinstance(rec.get("caption"), dict) else None
        text = rec.get("text") if isinstance(rec.get("text"), str) else None
        err = (rec.get("error") or {}).get("message") or (rec.get("error") or {}).get("kind")
        out[str(rec.get("frame_id"))] = {"cap": caption,
                                         "raw": None if caption is not None or text is None else text[:RAW_LIMIT],
                                         "error": None if caption is not None or not err else str(err)[:300]}
    return out


def _items(judge: Any) -> dict[str, set[str]]:
    hall = (judge or {}).get("hallucinated") if isinstance(judge, dict) else None
    if not isinstance(hall, dict):
        return {}
    return {str(k): {str(x).strip().lower() for x in (v if isinstance(v, list) else [v])} for k, v in hall.items()}


def new_hallucinations(base_judge: Any, cand_judge: Any) -> dict[str, list[str]]:
    """Per field, the items the judge called hallucinated in the candidate's caption and not in the baseline's
    (compared case-insensitively); {} when none."""
    base = _items(base_judge)
    out = {}
    cand = (cand_judge or {}).get("hallucinated") if isinstance(cand_judge, dict) else None
    for field, items in (cand if isinstance(cand, dict) else {}).items():
        listed = items if isinstance(items, list) else [items]
        new = [str(x) for x in listed if str(x).strip().lower() not in base.get(str(field), set())]
        if new:
            out[str(field)] = new
    return out


def _hallucinations(base: RunFrames, cand: RunFrames, ids: list[str]) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    total = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        b_rows, c_rows = base.scores_for(chunk), cand.scores_for(chunk)
        for fid in chunk:
            new = new_hallucinations((b_rows.get(fid) or {}).get("judge"), (c_rows.get(fid) or {}).get("judge"))
            if new:
                total += 1
                if len(found) < LISTED:
                    found.append({"id": fid, "items": new})
    return found, total


def compare(base_table: Any, cand_table: Any, base: RunFrames, cand: RunFrames, metric: str) -> dict[str, Any]:
    """One run against the baseline (tables: the report's per-frame rows of each, bench.report.stream)."""
    cols = ["frame_id", "key", "category", "schema_valid", "judge_score", "rougeL", "e2el_s", "cost_usd", "_off"]
    j = base_table[cols].merge(cand_table[cols], on="key", suffixes=("_b", "_c"))
    out: dict[str, Any] = {"frames": int(len(j)), "only_base": int(len(base_table) - len(j)),
                           "only_cand": int(len(cand_table) - len(j))}
    bv, cv = j["schema_valid_b"].astype(bool), j["schema_valid_c"].astype(bool)
    test = mcnemar(bv.tolist(), cv.tolist())
    out["validity"] = {"base": float(bv.mean()) if len(j) else None, "cand": float(cv.mean()) if len(j) else None,
                       "lost": test["lost"], "gained": test["gained"], "p": test["p_two_sided"], "test": test["test"]}

    def listing(mask: Any) -> list[dict[str, Any]]:
        rows = j[mask].head(LISTED)
        return [{"id": k, "base": b, "cand": c} for k, b, c in
                zip(rows["key"], rows["category_b"], rows["category_c"], strict=True)]

    out["became_invalid"], out["became_valid"] = listing(bv & ~cv), listing(~bv & cv)

    col, label = QUALITY_COLUMNS[metric]
    deltas = []
    if col is not None:
        deltas.append(_delta(label, "", j[f"{col}_b"], j[f"{col}_c"]))
    deltas.append(_delta("E2EL, mean", "s", j["e2el_s_b"], j["e2el_s_c"]))
    deltas.append(_delta("$ per 1M generations (mean cost per request x 1M)", "$", j["cost_usd_b"], j["cost_usd_c"],
                         1e6))
    out["deltas"] = deltas
    p95 = {}
    for side, suffix in (("base", "_b"), ("cand", "_c")):
        vals = j[f"e2el_s{suffix}"].dropna().to_numpy(dtype=float)
        p95[side] = {"value": float(np.percentile(vals, 95)) if vals.size else None,
                     "ci95": quantile_interval(vals)}
    out["e2el_p95"] = p95

    out["quality"] = label
    out["drops"], out["gains"] = [], []
    if col is not None:
        d = (j[f"{col}_c"] - j[f"{col}_b"]).astype(float)
        scored = j.assign(_d=d).dropna(subset=["_d"])
        drops = scored[scored["_d"] < 0].sort_values("_d", kind="stable").head(TOP)
        gains = scored[scored["_d"] > 0].sort_values("_d", ascending=False, kind="stable").head(TOP)
        b_ans = _answer(base, drops["_off_b"].tolist() + gains["_off_b"].tolist())
        c_ans = _answer(cand, drops["_off_c"].tolist() + gains["_off_c"].tolist())
        for name, part in (("drops", drops), ("gains", gains)):
            out[name] = [{"id": r["key"], "base_score": _f(r[f"{col}_b"]), "cand_score": _f(r[f"{col}_c"]),
                          "diff": _f(r["_d"]), "base_cat": r["category_b"], "cand_cat": r["category_c"],
                          "base": b_ans.get(r["frame_id_b"]), "cand": c_ans.get(r["frame_id_c"])}
                         for r in part.to_dict("records")]
    judged = bool(j["judge_score_b"].notna().any() and j["judge_score_c"].notna().any())
    out["judged"] = judged
    out["hallucinations"], out["hallucinations_total"] = _hallucinations(base, cand, j["frame_id_c"].tolist()) \
        if judged else ([], 0)
    out["became_invalid_total"], out["became_valid_total"] = test["lost"], test["gained"]
    return out


def baseline_view(table: Any, sources: list[RunFrames], labels: list[str], base: int, metric: str
                  ) -> dict[str, Any]:
    """{"baseline": label, "runs": [compare(...) + {"run": label} for every other run]}."""
    base_table = table[table["_run"] == base]
    runs = []
    for i, lab in enumerate(labels):
        if i == base:
            continue
        cand_table = table[table["_run"] == i]
        runs.append({"run": lab, **compare(base_table, cand_table, sources[base], sources[i], metric)})
    return {"baseline": labels[base], "runs": runs}
