"""Scoring a saved run: overlap with a reference (ROUGE-1/2/L, BLEU) and an LLM judge, with intervals.

    from bench.score import score_run
    scores = score_run("runs/sample/sim/2025-...", reference="dataset", judge=judge_cfg)

or `python -m bench.score RUN_DIR [reference=dataset|RUN_DIR] [judge=NAME]`.
Nothing is sent to the scored model: scoring reads `generations.jsonl`.
Every scoring is kept in the run folder, keyed by its reference and judge
(bench.scorings: `scores/KEY.json` + `scores/KEY.jsonl`, an index; the latest
is copied to `metrics.json["scores"]` and `scores.jsonl`; see README, "Scores").
A re-scoring against the same things replaces only that scoring, and only when
it produced scores: a judge that stops (bad key, no network) or gets no verdict
at all writes nothing. One scorer per run folder at a time (the second waits).
Re-scoring is idempotent (same inputs, same numbers: fixed bootstrap seeds,
cached judge verdicts) and resumable (judge verdicts are cached as they arrive).

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
- temporal (summary["temporal"]): reference-free scores over frames ordered in time, bench.score.temporal;
  a run with no reference but frames in time is scored for them alone.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from bench._version import __version__
from bench.config import JudgeConfig
from bench.frames import resolve_dataset_dir
from bench.load import NO_CAPTION_CATEGORIES, NO_CAPTION_SCORE, judge_score_all
from bench.score import panel, temporal
from bench.score.cache import JudgeCache
from bench.score.canonical import CANONICAL_VERSION, canonical_text, caption_json, field_text, schema_fields
from bench.score.judge import EncodeSettings, Judge, JudgeItem, _typed, rubric_id
from bench.score.overlap import METRICS, corpus_bleu, score_pairs
from bench.score.references import ReferenceSet, RunFolder, ScoreError, is_valid, load_run, resolve_references
from bench.scorings import ScoringInUse, ScoringSelectError, scoring_lock, select, write_scoring
from bench.stats import BOOTSTRAP_REPLICATES, bootstrap_means, judge_agreement, rate, spearman

__all__ = ["score_run", "ScoreError", "NothingScored", "score_after_run"]


FRAMES_PER_BATCH = 20_000  # overlap scoring holds one batch's text pairs and scores at a time


class NothingScored(ScoreError):
    """The scoring produced no score at all (e.g. every judge verdict failed): nothing was written."""


def score_run(run_dir: str | Path, *, reference: str | None = None, judge: JudgeConfig | DictConfig | None = None,
              workers: int | None = None, seed: int = 0, replicates: int = BOOTSTRAP_REPLICATES,
              judge_cache: str | Path | None = None, progress: Any = None,
              lock_wait_s: float = 600.0, on_lock_wait: Any = None, temporal: Any = None) -> dict[str, Any]:
    """Score a run folder and keep the scoring next to the earlier ones (bench.scorings); return its summary.

    progress: an object with start(total) and advance(answer) for the judge's requests (bench.score.progress).
    temporal: bench.config.TemporalConfig (or a mapping of its keys) for the temporal section; None = defaults.
    Raises NothingScored (writing nothing) when there was something to score and no score came out."""
    if not Path(run_dir).is_dir():
        load_run(run_dir)  # raises ScoreError naming the problem
    try:
        with scoring_lock(Path(run_dir), wait_s=lock_wait_s, on_wait=on_lock_wait):
            run = load_run(run_dir)
            refs = resolve_references(run, reference)
            fields = schema_fields(_plain(OmegaConf.select(run.config, "prompt")))
            rows = _overlap_rows(run, refs, fields, workers)
            members: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []  # a panel's per-judge scorings
            if panel.panel_judges(judge):
                judge_block, members = _panel(run, refs, rows, fields, judge, judge_cache, progress, seed, replicates)
            else:
                judge_block = (_judge(run, refs, rows, fields, judge, judge_cache, progress) if judge is not None
                               else _carry_over(run, refs, rows))
            summary = _summarise(run, refs, rows, fields, judge_block, seed, replicates)
            summary["temporal"] = _temporal(run, temporal, seed, replicates)
            _check_something_scored(run, summary, judge is not None)
            for m_summary, m_rows in members:  # each judge's own scoring, side by side; the panel's is the latest
                write_scoring(run.path, {**m_summary, "temporal": summary["temporal"]}, _stored(m_rows))
            return write_scoring(run.path, summary, _stored(rows))
    except ScoringInUse as exc:
        raise ScoreError(str(exc)) from exc


def _stored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def _check_something_scored(run: RunFolder, summary: dict[str, Any], judged: bool) -> None:
    """A scoring with no score replaces nothing: the judge failed on every frame, or nothing had a reference."""
    judge = summary.get("judge") or {}
    if judged:
        verdicts = int(judge.get("n") or 0) - int(judge.get("no_caption") or 0)
        if verdicts <= 0 and (judge.get("failures") or 0) > 0:
            reasons = "; ".join(f"{n}x {why}" for why, n in list((judge.get("failure_reasons") or {}).items())[:3])
            raise NothingScored(f"{run.path}: the judge {judge.get('model')!r} returned no verdict "
                                f"({judge.get('failures')} failures: {reasons}); nothing was written, earlier "
                                "scores are kept")
        return
    if summary.get("overlap") is None and run.records and not (summary.get("temporal") or {}).get("applicable"):
        why = "; ".join(summary["reference"].get("warnings") or []) or f"no frame has a reference " \
                                                                         f"({summary['reference']['id']})"
        raise NothingScored(f"{run.path}: nothing was scored: {why}")


# ------------------------------------------------------------------------------------------------ overlap
def _overlap_rows(run: RunFolder, refs: ReferenceSet, fields: tuple[str, ...], workers: int | None
                  ) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    # Frame-id order, not completion order: two runs of the same frames then sum and resample identically.
    ordered = sorted(run.records, key=lambda r: str(r["frame_id"]))
    # In batches of frames: the text pairs and their scores of one batch at a time, not of the whole run.
    for start in range(0, len(ordered), FRAMES_PER_BATCH):
        pairs: list[tuple[str, str]] = []
        slots: list[tuple[int, str | None]] = []  # (row, field or None for the whole caption) per pair
        for rec in ordered[start:start + FRAMES_PER_BATCH]:
            fid = rec["frame_id"]
            valid = is_valid(rec)
            row: dict[str, Any] = {"frame_id": fid, "content_type": rec.get("content_type"),
                                   "reference": refs.describe(), "valid": valid,
                                   "category": (rec.get("validity") or {}).get("category"),
                                   "image_sha256": (rec.get("image") or {}).get("sha256"), "overlap": None,
                                   "judge": None}
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


# ------------------------------------------------------------------------------------------------ temporal
def _temporal(run: RunFolder, settings: Any, seed: int, replicates: int) -> dict[str, Any]:
    """Reference-free temporal scores (bench.score.temporal) over the run's frames ordered in time."""
    meta = None
    if temporal.needs_frame_meta(run.records):  # older records: where each frame sits comes from the dataset
        try:
            meta = {f.id: f.meta for f in run.frames()}
        except ScoreError as exc:
            return {"applicable": False, "reason": f"records lack video/timestamp_s and the frames are unavailable: "
                                                   f"{exc}"}
    if settings is None:
        settings = OmegaConf.select(run.config, "temporal")
    try:
        block = temporal.temporal_scores(temporal.run_items(run.records, meta), settings, seed=seed,
                                         replicates=replicates)
    except ValueError as exc:
        raise ScoreError(str(exc)) from exc
    # the captions' source, said where the numbers are (a simulated model's stability is the simulator's)
    try:  # metrics.json says simulated also when a real model's endpoint turned out to be the simulator
        measured = json.loads((run.path / "metrics.json").read_text()).get("simulated")
    except (OSError, ValueError, AttributeError):
        measured = None
    block["model_simulated"] = bool(measured or run.meta.get("simulated")
                                    or OmegaConf.select(run.config, "model.simulated", default=False))
    return block


# ------------------------------------------------------------------------------------------------ judge
def _judge(run: RunFolder, refs: ReferenceSet, rows: list[dict[str, Any]], fields: tuple[str, ...],
           judge: JudgeConfig | DictConfig, cache_path: str | Path | None, progress: Any) -> dict[str, Any]:
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
                  log_dir=run.path, sim_references=manifest, progress=progress)
        verdicts = j.judge(items)
    for row in rows:
        row["judge"] = verdicts.get(row["frame_id"])
    if j.stats.image_mismatches:
        warnings.append(f"{j.stats.image_mismatches} frame(s) re-encode to other bytes than the run sent (the image "
                        "file changed, or another Pillow version); the judge saw the current file")
    simulated = bool(j.cfg.model.simulated) or j.stats.simulated_verdicts > 0
    if simulated and not j.cfg.model.simulated:
        warnings.append(f"SIMULATED: {j.stats.simulated_verdicts} verdict(s) came from capbench's simulator "
                        f"(x-capbench-simulated) at {j.endpoint}, not from {j.cfg.model.name}")
    selfpref = panel.self_preference(run, [j.cfg])  # a judge of the model's own family: said, for one judge too
    warnings += [s["message"] for s in selfpref]
    return {"model": j.cfg.label, "label": j.cfg.label, "model_name": j.cfg.model.name, "backend": j.cfg.model.backend,
            "self_preference": selfpref,
            "endpoint": j.endpoint, "simulated": simulated, "rubric_version": j.cfg.rubric.version,
            "rubric": rubric_id(j.cfg), "repeats": j.cfg.repeats,
            "with_reference": j.cfg.with_reference or j.cfg.rubric.reference_by_default,
            "requests_sent": j.stats.requests_sent, "cache_hits": j.stats.cache_hits,
            "deduplicated": j.stats.deduplicated,
            # what the verdicts used cost (cached ones at their stored usage): stable across re-scorings
            "tokens": {"input": j.stats.verdict_input_tokens, "output": j.stats.verdict_output_tokens},
            "cost_usd": j.stats.verdict_cost_usd,
            # what this scoring sent and spent (0 when every verdict came from the cache)
            "sent": {"requests": j.stats.requests_sent,
                     "tokens": {"input": j.stats.input_tokens, "output": j.stats.output_tokens},
                     "cost_usd": j.stats.cost_usd},
            "price": OmegaConf.to_container(cfg.model.price), "cache": str(cache.path), "warnings": warnings}


def _panel(run: RunFolder, refs: ReferenceSet, rows: list[dict[str, Any]], fields: tuple[str, ...],
           judge: JudgeConfig | DictConfig, cache_path: str | Path | None, progress: Any, seed: int, replicates: int
           ) -> tuple[dict[str, Any], list[tuple[dict[str, Any], list[dict[str, Any]]]]]:
    """Each member judges the run as it would alone (bench.score.panel); the panel verdict combines them."""
    members, scorings = [], []
    configs = panel.member_configs(judge)
    panel.excluded_judges(run, [_typed(c) for c in configs], judge)  # a panel left with no judge stops here
    for cfg in configs:
        m_rows = [{**r, "judge": None} for r in rows]
        block = _judge(run, refs, m_rows, fields, cfg, cache_path, progress)
        m_summary = _summarise(run, refs, m_rows, fields, block, seed, replicates)
        members.append((_typed(cfg), m_summary["judge"], m_rows))
        if int(m_summary["judge"]["n"] or 0) > int(m_summary["judge"]["no_caption"] or 0):
            scorings.append((m_summary, m_rows))  # a member with no verdict at all keeps its earlier scoring
    return panel.combine(run, rows, members, judge), scorings


def _carry_over(run: RunFolder, refs: ReferenceSet, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Scoring without judge=...: keep the verdicts of the latest judged scoring (captions never change),
    unless that judge was shown another reference than this scoring's."""
    try:
        legacy = json.loads((run.path / "metrics.json").read_text()).get("scores") or {}
    except (OSError, json.JSONDecodeError, AttributeError):
        legacy = {}
    try:
        chosen = select(run.path, legacy if isinstance(legacy, dict) else {})
        judged = [s for s in chosen.available if s.judge and (not s.judge.get("with_reference") or
                                                               s.reference.get("id") == refs.describe()["id"])]
        if judged:
            chosen = select(run.path, key=judged[-1].key)
    except ScoringSelectError:
        return None
    old_rows, old = chosen.rows, (chosen.summary or {}).get("judge")
    if not old or not any((r or {}).get("judge") for r in old_rows.values()):
        return None
    for row in rows:
        row["judge"] = (old_rows.get(row["frame_id"]) or {}).get("judge")
    keep = ("model", "label", "model_name", "backend", "endpoint", "simulated", "rubric_version", "rubric", "repeats",
            "with_reference", "cache", "price", "tokens", "cost_usd",  # tokens, cost_usd: what those verdicts cost
            "panel", "self_preference")
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
        "scorer": {"capbench_version": __version__, "canonical_version": CANONICAL_VERSION,
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
            # "view", not "label": the judge block's "label" is the judge's name (scoring keys, judge= selection)
            "view": f"all: every judged frame, a frame with no caption scores {NO_CAPTION_SCORE:g}",
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


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=False) if isinstance(node, DictConfig) else node


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def score_after_run(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any] | None:
    """For bench.app after a run: score when `judge=` or `reference=` is set, or the dataset has references
    or frames ordered in time (temporal scores).

    Returns the scores object, or None when there is nothing to score against.
    """
    judge = cfg.get("judge")
    reference = cfg.get("reference")
    if judge is None and reference is None:
        run = load_run(run_dir)
        frames = run.frames()
        in_time = any(f.meta.get("video") is not None and f.meta.get("timestamp_s") is not None for f in frames)
        if not any(f.reference for f in frames) and not in_time:
            return None
    return score_run(run_dir, reference=reference, judge=judge, temporal=cfg.get("temporal"))
