"""Scoring a saved run: overlap with a reference (ROUGE-1/2/L, BLEU) and an LLM judge, with intervals.

    from bench.score import score_run
    scores = score_run("runs/sample/sim/2025-...", reference="dataset", judge=judge_cfg)

or `python -m bench.score RUN_DIR [reference=dataset|RUN_DIR] [judge=NAME]`.
Nothing is sent to the scored model: scoring reads `generations.jsonl`.
Results land in the run folder: `scores.jsonl` (one line per frame) and the
`"scores"` object of `metrics.json` (see README, "Scores"). Re-scoring is
idempotent (same inputs, same numbers: fixed bootstrap seeds, cached judge
verdicts) and resumable (judge verdicts are cached as they arrive).

Definitions:
- canonical text: bench.score.canonical; per-field texts likewise.
- valid = the caption validates against the JSON Schema (validity ladder).
  "all" scores every frame of the run that has a reference, an invalid or
  failed output scoring 0 (as an empty caption); "valid_only" is labelled
  separately and leaves invalid outputs out.
- judge "all" view: frames the model gave no caption for (not JSON, refused,
  transport failure) score 1, the rubric's minimum; "valid_only" leaves them out.
  bench.load.judge_score_all is the one definition (compare, gate and report use it).
- judge cost: "tokens"/"cost_usd" are what the verdicts used cost (cached verdicts at
  the usage stored with them, so a re-scoring from the cache reports the same);
  "sent" is what this scoring sent and spent (requests, tokens, cost).
- a per-field score is null (left out of that field's mean) when both the
  reference and the candidate field are empty (e.g. no logos on either side).
- mean scores: 95% percentile-bootstrap interval over frames; rates: Wilson.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

import bench
from bench.config import JudgeConfig
from bench.dataset import resolve_dataset_dir
from bench.load import NO_CAPTION_CATEGORIES, NO_CAPTION_SCORE, judge_score_all
from bench.score.cache import JudgeCache
from bench.score.canonical import CANONICAL_VERSION, canonical_text, caption_json, field_text, schema_fields
from bench.score.judge import EncodeSettings, Judge, JudgeItem, rubric_id
from bench.score.overlap import METRICS, corpus_bleu, score_pairs
from bench.score.references import ReferenceSet, RunFolder, ScoreError, is_valid, load_run, resolve_references
from bench.stats import BOOTSTRAP_REPLICATES, bootstrap_means, judge_agreement, rate, spearman

__all__ = ["score_run", "ScoreError", "score_after_run"]

SCORES_FILE = "scores.jsonl"


def score_run(run_dir: str | Path, *, reference: str | None = None, judge: JudgeConfig | DictConfig | None = None,
              workers: int | None = None, seed: int = 0, replicates: int = BOOTSTRAP_REPLICATES,
              judge_cache: str | Path | None = None) -> dict[str, Any]:
    """Score a run folder; write scores.jsonl and metrics.json["scores"]; return that scores object."""
    run = load_run(run_dir)
    refs = resolve_references(run, reference)
    fields = schema_fields(_plain(OmegaConf.select(run.config, "prompt")))
    rows = _overlap_rows(run, refs, fields, workers)
    judge_block = _judge(run, refs, rows, fields, judge, judge_cache) if judge is not None else _carry_over(run, rows)
    summary = _summarise(run, refs, rows, fields, judge_block, seed, replicates)
    _write(run.path, rows, summary)
    return summary


# ------------------------------------------------------------------------------------------------ overlap
def _overlap_rows(run: RunFolder, refs: ReferenceSet, fields: tuple[str, ...], workers: int | None
                  ) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    pairs: list[tuple[str, str]] = []
    slots: list[tuple[int, str | None]] = []  # (row, field or None for the whole caption) per pair
    # Frame-id order, not completion order: two runs of the same frames then sum and resample identically.
    for rec in sorted(run.records, key=lambda r: str(r["frame_id"])):
        fid = rec["frame_id"]
        valid = is_valid(rec)
        row: dict[str, Any] = {"frame_id": fid, "content_type": rec.get("content_type"),
                               "reference": refs.describe(), "valid": valid,
                               "category": (rec.get("validity") or {}).get("category"),
                               "image_sha256": (rec.get("image") or {}).get("sha256"), "overlap": None, "judge": None}
        ref = refs.captions.get(fid)
        if ref is None:
            row["missing_reference"] = refs.unusable.get(fid, "frame not in the reference")
        else:
            # An invalid or failed output is scored as an empty caption: 0 on every metric.
            cand = rec["caption"] if valid else {}
            row["overlap"] = {"per_field": {}}
            pairs.append((canonical_text(cand, fields), canonical_text(ref, fields)))
            slots.append((len(rows), None))
            for f in fields:
                c, r = field_text(cand.get(f)), field_text(ref.get(f))
                if c or r:
                    pairs.append((c, r))
                    slots.append((len(rows), f))
                else:
                    row["overlap"]["per_field"][f] = None  # nothing on either side: no evidence either way
        rows.append(row)
    for (i, f), s in zip(slots, score_pairs(pairs, workers=workers), strict=True):
        target = rows[i]["overlap"] if f is None else rows[i]["overlap"]["per_field"].setdefault(f, {})
        target.update({k: float(v) for k, v in s.as_dict().items()})
        if f is None:
            rows[i]["_bleu_stats"] = s.bleu_stats
    for row in rows:  # per_field in schema order
        if row["overlap"] is not None:
            pf = row["overlap"].pop("per_field")
            row["overlap"]["per_field"] = {f: pf.get(f) for f in fields}
    return rows


# ------------------------------------------------------------------------------------------------ judge
def _judge(run: RunFolder, refs: ReferenceSet, rows: list[dict[str, Any]], fields: tuple[str, ...],
           judge: JudgeConfig | DictConfig, cache_path: str | Path | None) -> dict[str, Any]:
    cfg = OmegaConf.merge(OmegaConf.structured(JudgeConfig), judge)
    warnings: list[str] = []
    try:
        frames = {f.id: f for f in run.frames()}
    except ScoreError as exc:  # cached verdicts still count; only uncached frames fail
        frames = {}
        warnings.append(f"frames unavailable, only cached verdicts can be used: {exc}")
    ds = run.dataset_cfg()
    manifest = str(resolve_dataset_dir(ds.path) / ds.manifest)
    records = {r["frame_id"]: r for r in run.records}
    items = []
    for row in rows:
        rec = records[row["frame_id"]]
        if not isinstance(rec.get("caption"), dict):
            continue  # nothing to judge: counted as not_judged
        ref = refs.captions.get(row["frame_id"])
        items.append(JudgeItem(row["frame_id"], frames.get(row["frame_id"]), row["image_sha256"],
                               caption_json(rec["caption"], fields),
                               caption_json(ref, fields) if ref is not None else None))
    with JudgeCache(cache_path or cfg.cache) as cache:
        j = Judge(cfg, cache=cache, encode=EncodeSettings(ds.max_side, ds.jpeg_quality, ds.max_pixels),
                  log_dir=run.path, sim_references=manifest)
        verdicts = j.judge(items)
    for row in rows:
        row["judge"] = verdicts.get(row["frame_id"])
    if j.stats.image_mismatches:
        warnings.append(f"{j.stats.image_mismatches} frame(s) re-encode to other bytes than the run sent (the image "
                        "file changed, or another Pillow version); the judge saw the current file")
    return {"model": j.cfg.label, "model_name": j.cfg.model.name, "backend": j.cfg.model.backend,
            "simulated": bool(j.cfg.model.simulated), "rubric_version": j.cfg.rubric.version,
            "rubric": rubric_id(j.cfg), "repeats": j.cfg.repeats, "with_reference": j.cfg.with_reference,
            "requests_sent": j.stats.requests_sent, "cache_hits": j.stats.cache_hits,
            # what the verdicts used cost (cached ones at their stored usage): stable across re-scorings
            "tokens": {"input": j.stats.verdict_input_tokens, "output": j.stats.verdict_output_tokens},
            "cost_usd": j.stats.verdict_cost_usd,
            # what this scoring sent and spent (0 when every verdict came from the cache)
            "sent": {"requests": j.stats.requests_sent,
                     "tokens": {"input": j.stats.input_tokens, "output": j.stats.output_tokens},
                     "cost_usd": j.stats.cost_usd},
            "price": OmegaConf.to_container(cfg.model.price), "cache": str(cache.path), "warnings": warnings}


def _carry_over(run: RunFolder, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Scoring without judge=...: keep the verdicts of the last judged scoring (captions never change)."""
    old_rows = {r.get("frame_id"): r for r in _read_jsonl(run.path / SCORES_FILE)}
    try:
        old = json.loads((run.path / "metrics.json").read_text()).get("scores", {}).get("judge")
    except (OSError, json.JSONDecodeError, AttributeError):
        old = None
    if not old or not any((r or {}).get("judge") for r in old_rows.values()):
        return None
    for row in rows:
        row["judge"] = (old_rows.get(row["frame_id"]) or {}).get("judge")
    keep = ("model", "model_name", "backend", "simulated", "rubric_version", "rubric", "repeats", "with_reference",
            "cache", "price", "tokens", "cost_usd")  # tokens, cost_usd: what the carried-over verdicts cost
    return {**{k: old.get(k) for k in keep}, "requests_sent": 0, "cache_hits": 0,
            "sent": {"requests": 0, "tokens": {"input": 0, "output": 0}, "cost_usd": 0.0}, "carried_over": True,
            "warnings": ["judge verdicts carried over from the previous scoring (pass judge=NAME to re-judge)"]}


# ------------------------------------------------------------------------------------------------ summary
def _summarise(run: RunFolder, refs: ReferenceSet, rows: list[dict[str, Any]], fields: tuple[str, ...],
               judge_block: dict[str, Any] | None, seed: int, replicates: int) -> dict[str, Any]:
    scored = [r for r in rows if r["overlap"] is not None]
    cand_ids = {r["frame_id"] for r in rows}
    missing_candidate = sorted(set(refs.captions) - cand_ids)
    missing_ref = [r for r in rows if r["overlap"] is None]
    reference = {**refs.describe(), "frames_with_reference": len(scored), "missing_reference": len(missing_ref),
                 "missing_candidate": len(missing_candidate),
                 "missing_reference_reasons": dict(Counter(r["missing_reference"] for r in missing_ref)),
                 "missing_candidate_ids": missing_candidate[:50], "warnings": refs.warnings + run.warnings}
    partial_reasons = []
    if run.status not in ("complete", "unknown"):
        partial_reasons.append(f"the run is {run.status}")
    if missing_candidate:
        partial_reasons.append(f"{len(missing_candidate)} reference frame(s) have no output in the run")
    if run.legacy:
        partial_reasons.append("older run folder: validity reconstructed")
    summary: dict[str, Any] = {
        "reference": reference, "partial": bool(partial_reasons), "partial_reasons": partial_reasons,
        "frames": len(rows), "valid": sum(1 for r in rows if r["valid"]),
        "overlap": _overlap_summary(scored, fields, seed, replicates) if scored else None,
        "judge": None, "by_content_type": {},
        "scorer": {"capbench_version": bench.__version__, "canonical_version": CANONICAL_VERSION,
                   "fields": list(fields), "rouge_score": _version("rouge-score"), "rouge_stemmer": "porter",
                   "sacrebleu": _version("sacrebleu"),
                   "bleu": "sacrebleu 13a, exp smoothing; per frame: sentence BLEU (effective order); corpus: "
                           "corpus BLEU", "bootstrap": {"replicates": replicates, "seed": seed},
                   "scored_at": datetime.now(UTC).isoformat()},
    }
    if judge_block is not None:
        summary["judge"] = {**judge_block, **_judge_summary(rows, seed, replicates)}
    summary["by_content_type"] = _by_content_type(rows, seed, replicates, judged=judge_block is not None)
    return summary


def _overlap_summary(scored: list[dict[str, Any]], fields: tuple[str, ...], seed: int, replicates: int
                     ) -> dict[str, Any]:
    nan = float("nan")
    cols: list[list[float]] = []
    for r in scored:
        o = r["overlap"]
        row = [o[m] for m in METRICS] + [o[m] if r["valid"] else nan for m in METRICS]
        for f in fields:
            pf = o["per_field"].get(f)
            row += [pf[m] if pf else nan for m in METRICS]
        cols.append(row)
    cis = bootstrap_means(np.array(cols, dtype=float), replicates=replicates, seed=seed)
    k = len(METRICS)
    valid_stats = [r["_bleu_stats"] for r in scored if r["valid"]]
    out: dict[str, Any] = {
        "all": {**dict(zip(METRICS, cis[:k], strict=True)),
                "corpus_bleu": corpus_bleu([r["_bleu_stats"] for r in scored])},
        "valid_only": {**dict(zip(METRICS, cis[k:2 * k], strict=True)), "corpus_bleu": corpus_bleu(valid_stats)},
        "per_field": {f: dict(zip(METRICS, cis[(2 + i) * k:(3 + i) * k], strict=True)) for i, f in enumerate(fields)},
    }
    out["all"]["label"] = "every frame with a reference; invalid outputs score 0"
    out["valid_only"]["label"] = "schema-valid outputs only"
    return out


# A frame whose model gave no caption at all scores the rubric's minimum in the "all" view (NO_CAPTION_SCORE,
# defined in bench.load so that compare, the gate and the report use the same convention).
_NO_CAPTION = NO_CAPTION_CATEGORIES


def _judge_summary(rows: list[dict[str, Any]], seed: int, replicates: int) -> dict[str, Any]:
    judged = [r for r in rows if r["judge"] is not None]
    scored = [r for r in judged if r["judge"].get("score") is not None]
    failures = [r for r in judged if r["judge"].get("score") is None]
    no_caption = [r for r in rows if r["judge"] is None and r.get("category") in _NO_CAPTION]
    nan = float("nan")
    table = np.array([[r["judge"]["score"], r["judge"]["score"] if r["valid"] else nan] for r in scored]
                     + [[NO_CAPTION_SCORE, nan] for r in no_caption] or np.empty((0, 2)), dtype=float)
    overall, valid = bootstrap_means(table, replicates=replicates, seed=seed) if scored else [
        {"mean": None, "ci95": None, "n": 0, "method": None}] * 2
    with_rouge = [r for r in scored if r["overlap"] is not None]
    valid = {**valid, "label": "schema-valid outputs only"}
    return {"mean": overall["mean"], "ci95": overall["ci95"], "n": overall["n"], "method": overall["method"],
            "label": f"all: every judged frame, a frame with no caption scores {NO_CAPTION_SCORE:g}",
            "valid_only": valid, "failures": len(failures), "failure_rate": rate(len(failures), len(judged)),
            "failure_reasons": dict(Counter(str(r["judge"]["failure"])[:80] for r in failures)),
            "not_judged": len(rows) - len(judged), "no_caption_scored_as": NO_CAPTION_SCORE,
            "no_caption": len(no_caption),
            "agreement": judge_agreement([r["judge"].get("scores") or [] for r in scored]),
            "corr_rougeL": spearman([r["judge"]["score"] for r in with_rouge],
                                    [r["overlap"]["rougeL"] for r in with_rouge]),
            "corr_method": "spearman"}


def _by_content_type(rows: list[dict[str, Any]], seed: int, replicates: int, *, judged: bool) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r.get("content_type") or "unknown", []).append(r)
    out = {}
    nan = float("nan")
    for ct, rs in sorted(groups.items()):
        # judge: the "all" view, as the headline (a frame with no caption scores NO_CAPTION_SCORE)
        judge_all = [judge_score_all(r["judge"], r.get("category")) if judged else None for r in rs]
        table = [[r["overlap"]["rougeL"] if r["overlap"] else nan, nan if j is None else j]
                 for r, j in zip(rs, judge_all, strict=True)]
        rouge, judged = bootstrap_means(np.array(table, dtype=float), replicates=replicates, seed=seed)
        out[ct] = {"frames": len(rs), "rougeL": rouge, "judge": judged}
    return out


# ------------------------------------------------------------------------------------------------ files
def _write(run_dir: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    lines = []
    for r in rows:
        clean = {k: v for k, v in r.items() if not k.startswith("_")}
        lines.append(json.dumps(clean, ensure_ascii=False, separators=(",", ":")))
    _atomic_write(run_dir / SCORES_FILE, "".join(line + "\n" for line in lines))
    metrics_path = run_dir / "metrics.json"
    try:
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    except json.JSONDecodeError:
        metrics = {}
    metrics["scores"] = summary
    _atomic_write(metrics_path, json.dumps(metrics, indent=2, default=str))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=False) if isinstance(node, DictConfig) else node


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def score_after_run(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any] | None:
    """For bench.app after a run: score when `judge=` or `reference=` is set, or the dataset has references.

    Returns the scores object, or None when there is nothing to score against.
    """
    judge = cfg.get("judge")
    reference = cfg.get("reference")
    if judge is None and reference is None:
        run = load_run(run_dir)
        if not any(f.reference for f in run.frames()):
            return None
    return score_run(run_dir, reference=reference, judge=judge)
