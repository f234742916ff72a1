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

import itertools
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from bench._version import __version__
from bench.config import JudgeConfig
from bench.frames import resolve_dataset_dir
from bench.heap import collect_young, gc_paused
from bench.load import NO_CAPTION_CATEGORIES, NO_CAPTION_SCORE, judge_score_all
from bench.score import panel, temporal
from bench.score.cache import JudgeCache
from bench.score.canonical import CANONICAL_VERSION, caption_json, field_text, schema_fields
from bench.score.judge import EncodeSettings, Judge, JudgeItem, _typed, rubric_id
from bench.score.lookup import FrameLookup, RecordReader
from bench.score.overlap import METRICS, corpus_bleu, score_pairs
from bench.score.references import (
    ReferenceSet,
    RunFolder,
    ScoreError,
    finish_run_reference,
    is_valid,
    load_run,
    resolve_references,
)
from bench.score.table import FrameTable
from bench.scorings import ScoringInUse, ScoringSelectError, iter_rows, scoring_lock, select, write_scoring
from bench.stats import BOOTSTRAP_REPLICATES, bootstrap_means, judge_agreement, rate, spearman
from bench.store import iter_records_located

__all__ = ["score_run", "ScoreError", "NothingScored", "score_after_run"]


FRAMES_PER_BATCH = 5_000  # overlap scoring holds one batch's records, text pairs and rows at a time


class NothingScored(ScoreError):
    """The scoring produced no score at all (e.g. every judge verdict failed): nothing was written."""


def score_run(run_dir: str | Path, *, reference: str | None = None, judge: JudgeConfig | DictConfig | None = None,
              workers: int | None = None, seed: int = 0, replicates: int = BOOTSTRAP_REPLICATES,
              judge_cache: str | Path | None = None, progress: Any = None,
              lock_wait_s: float = 600.0, on_lock_wait: Any = None, temporal: Any = None) -> dict[str, Any]:
    """Score a run folder and keep the scoring next to the earlier ones (bench.scorings); return its summary.

    progress: an object with start(total) and advance(answer) for the judge's requests (bench.score.progress).
    temporal: bench.config.TemporalConfig (or a mapping of its keys) for the temporal section; None = defaults.
    Raises NothingScored (writing nothing) when there was something to score and no score came out.

    Memory: the records stream past (bench.store.iter_records) and each frame leaves a few numbers
    (bench.score.table); references and frames are looked up by id through an offset index
    (bench.score.lookup); the rows go to a temporary file in the run folder, merged with the judge's verdicts
    on the way to scores/KEY.jsonl."""
    if not Path(run_dir).is_dir():
        load_run(run_dir)  # raises ScoreError naming the problem
    try:
        with scoring_lock(Path(run_dir), wait_s=lock_wait_s, on_wait=on_lock_wait):
            run = load_run(run_dir)
            refs = resolve_references(run, reference)
            fields = schema_fields(_plain(OmegaConf.select(run.config, "prompt")))
            with tempfile.TemporaryDirectory(prefix=".scoring-", dir=run.path) as tmp:
                rows_path = Path(tmp) / "rows.jsonl"
                table = _overlap_pass(run, refs, fields, workers, rows_path)
                members: list[tuple[dict[str, Any], dict[str, Any]]] = []  # a panel's per-judge scorings
                if panel.panel_judges(judge):
                    judge_block, verdicts, members = _panel(run, refs, table, fields, judge, judge_cache, progress,
                                                            seed, replicates)
                else:
                    judge_block, verdicts = (_judge(run, refs, table, fields, judge, judge_cache, progress)
                                             if judge is not None else _carry_over(run, refs))
                summary = _summarise(run, refs, table, verdicts, judge_block, seed, replicates)
                summary["temporal"] = _temporal(run, refs, temporal, seed, replicates)
                _check_something_scored(run, summary, judge is not None, len(table))
                for m_summary, m_verdicts in members:  # each judge's own scoring, side by side; the panel's last
                    write_scoring(run.path, {**m_summary, "temporal": summary["temporal"]},
                                  _rows_with_verdicts(rows_path, m_verdicts))
                return write_scoring(run.path, summary, _rows_with_verdicts(rows_path, verdicts))
    except ScoringInUse as exc:
        raise ScoreError(str(exc)) from exc


def _check_something_scored(run: RunFolder, summary: dict[str, Any], judged: bool, frames: int) -> None:
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
    if summary.get("overlap") is None and frames and not (summary.get("temporal") or {}).get("applicable"):
        why = "; ".join(summary["reference"].get("warnings") or []) or f"no frame has a reference " \
                                                                         f"({summary['reference']['id']})"
        raise NothingScored(f"{run.path}: nothing was scored: {why}")


# ------------------------------------------------------------------------------------------------ overlap
@gc_paused()  # parsing every record and caption (bench.heap); not around the judge's network calls
def _overlap_pass(run: RunFolder, refs: ReferenceSet, fields: tuple[str, ...], workers: int | None,
                  rows_path: Path) -> FrameTable:
    """One pass over the records, in batches of FRAMES_PER_BATCH: each batch's text pairs are scored together
    (in parallel), its rows written to rows_path, its numbers kept in the table; then the batch is dropped."""
    table = FrameTable(fields)
    described = refs.describe()
    differ: list[str] = []
    differ_count = 0
    records = run.iter_records()
    with rows_path.open("w", encoding="utf-8") as out:
        while True:
            batch = list(itertools.islice(records, FRAMES_PER_BATCH))
            if not batch:
                break
            rows: list[dict[str, Any]] = []
            pairs: list[tuple[str, str]] = []
            slots: list[tuple[int, str | None]] = []  # (row, field or None for the whole caption) per pair
            for rec in batch:
                fid = rec["frame_id"]
                valid = is_valid(rec)
                sha = (rec.get("image") or {}).get("sha256")
                row: dict[str, Any] = {"frame_id": fid, "content_type": rec.get("content_type"),
                                       "reference": described, "valid": valid,
                                       "category": (rec.get("validity") or {}).get("category"),
                                       "image_sha256": sha, "overlap": None, "judge": None}
                ref, why, teacher = refs.get(fid)
                if teacher is not None and sha and (teacher.get("image") or {}).get("sha256") not in (None, sha):
                    differ_count += 1
                    if not differ:
                        differ.append(fid)
                if ref is None:
                    row["missing_reference"] = why
                else:
                    # An invalid or failed output is scored as an empty caption: 0 on every metric.
                    cand = rec["caption"] if valid else {}
                    row["overlap"] = {"per_field": {}}
                    texts = [(field_text(cand.get(f)), field_text(ref.get(f))) for f in fields]
                    # canonical_text of each side, from the field texts just made
                    pairs.append(("\n".join(c for c, _ in texts if c), "\n".join(r for _, r in texts if r)))
                    slots.append((len(rows), None))
                    for f, (c, r) in zip(fields, texts, strict=True):
                        if c or r:
                            pairs.append((c, r))
                            slots.append((len(rows), f))
                        else:
                            row["overlap"]["per_field"][f] = None  # nothing on either side: no evidence either way
                rows.append(row)
            bleu: dict[int, tuple[int, ...]] = {}
            for (i, f), sc in zip(slots, score_pairs(pairs, workers=workers), strict=True):
                target = rows[i]["overlap"] if f is None else rows[i]["overlap"]["per_field"].setdefault(f, {})
                target.update({k: float(v) for k, v in sc.as_dict().items()})
                if f is None:
                    bleu[i] = sc.bleu_stats
            for i, row in enumerate(rows):
                if row["overlap"] is not None:  # per_field in schema order
                    pf = row["overlap"].pop("per_field")
                    row["overlap"]["per_field"] = {f: pf.get(f) for f in fields}
                table.add(row["frame_id"], row["content_type"], row["category"], row["valid"], row["overlap"],
                          bleu.get(i), row.get("missing_reference"))
                out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            table.flush()
            del batch, rows, pairs, slots, bleu  # gone before the collection, which would walk them otherwise
            collect_young()
    finish_run_reference(refs, run, len(table), differ, differ_count)
    return table


def _rows_with_verdicts(rows_path: Path, verdicts: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with rows_path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            row["judge"] = verdicts.get(row["frame_id"])
            yield row


# ------------------------------------------------------------------------------------------------ temporal
def _temporal(run: RunFolder, refs: ReferenceSet, settings: Any, seed: int, replicates: int) -> dict[str, Any]:
    """Reference-free temporal scores (bench.score.temporal) over the run's frames ordered in time."""
    meta = None
    if temporal.needs_frame_meta(run.iter_records()):  # older records: where each frame sits comes from the dataset
        try:
            meta = _FrameMeta(refs.lookup if refs.kind == "dataset" else FrameLookup(run.frames()))
        except ScoreError as exc:
            return {"applicable": False, "reason": f"records lack video/timestamp_s and the frames are unavailable: "
                                                   f"{exc}"}
    if settings is None:
        settings = OmegaConf.select(run.config, "temporal")
    records = RecordReader(run.path)  # captions read back one video at a time, by offset
    try:
        block = temporal.temporal_scores(_temporal_items(run, meta), settings, seed=seed, replicates=replicates,
                                         load_caption=lambda offset: records.at(offset)["caption"])
    except ValueError as exc:
        raise ScoreError(str(exc)) from exc
    finally:
        records.close()
    # the captions' source, said where the numbers are (a simulated model's stability is the simulator's)
    try:  # metrics.json says simulated also when a real model's endpoint turned out to be the simulator
        measured = json.loads((run.path / "metrics.json").read_text()).get("simulated")
    except (OSError, ValueError, AttributeError):
        measured = None
    block["model_simulated"] = bool(measured or run.meta.get("simulated")
                                    or OmegaConf.select(run.config, "model.simulated", default=False))
    return block


def _temporal_items(run: RunFolder, meta: Any) -> Iterator[temporal.TemporalItem]:
    """temporal.run_items' items with, in place of each caption, its record's offset (None: no valid caption)."""
    for offset, rec in iter_records_located(run.path):
        fid = str(rec.get("frame_id"))
        where = rec if "timestamp_s" in rec or "video" in rec else (meta or {}).get(fid) or {}
        captioned = is_valid(rec) and isinstance(rec.get("caption"), dict)
        yield temporal.TemporalItem(fid, where.get("video"), where.get("shot"), where.get("timestamp_s"),
                                    offset if captioned else None)


class _FrameMeta:
    """frame id -> the dataset frame's meta, looked up on demand (temporal.run_items calls .get)."""

    def __init__(self, lookup: FrameLookup) -> None:
        self.lookup = lookup

    def get(self, frame_id: str, default: Any = None) -> Any:
        meta = self.lookup.meta(frame_id)
        return default if meta is None else meta


# ------------------------------------------------------------------------------------------------ judge
JUDGE_ITEMS_PER_CALL = 20_000  # captions held for the judge at a time (read back from generations.jsonl)


def _judge(run: RunFolder, refs: ReferenceSet, table: FrameTable, fields: tuple[str, ...],
           judge: JudgeConfig | DictConfig, cache_path: str | Path | None, progress: Any
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    cfg = OmegaConf.merge(OmegaConf.structured(JudgeConfig), judge)
    warnings: list[str] = []
    frames: FrameLookup | None
    try:
        frames = refs.lookup if refs.kind == "dataset" else FrameLookup(run.frames())
    except ScoreError as exc:  # cached verdicts still count; only uncached frames fail
        frames = None
        warnings.append(f"frames unavailable, only cached verdicts can be used: {exc}")
    ds = run.dataset_cfg()
    manifest = str(resolve_dataset_dir(ds.path) / ds.manifest)
    verdicts: dict[str, Any] = {}

    def items() -> Iterator[JudgeItem]:  # the captions read back from the file, in frame-id order of each call
        for rec in run.iter_records():
            if not isinstance(rec.get("caption"), dict):
                continue  # nothing to judge: counted as not_judged
            fid = rec["frame_id"]
            ref = refs.get(fid)[0]
            yield JudgeItem(fid, frames.get(fid) if frames is not None else None,
                            (rec.get("image") or {}).get("sha256"), caption_json(rec["caption"], fields),
                            caption_json(ref, fields) if ref is not None else None)

    with JudgeCache(cache_path or cfg.cache) as cache:
        j = Judge(cfg, cache=cache, encode=EncodeSettings(ds.max_side, ds.jpeg_quality, ds.max_pixels),
                  log_dir=run.path, sim_references=manifest, progress=progress)
        stream = items()
        while chunk := list(itertools.islice(stream, JUDGE_ITEMS_PER_CALL)):
            verdicts.update(j.judge(sorted(chunk, key=lambda it: it.frame_id)))
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
            "price": OmegaConf.to_container(cfg.model.price), "cache": str(cache.path), "warnings": warnings}, verdicts


def _panel(run: RunFolder, refs: ReferenceSet, table: FrameTable, fields: tuple[str, ...],
           judge: JudgeConfig | DictConfig, cache_path: str | Path | None, progress: Any, seed: int, replicates: int
           ) -> tuple[dict[str, Any], dict[str, Any], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Each member judges the run as it would alone (bench.score.panel); the panel verdict combines them.
    Returns (panel judge block, panel verdicts by frame id, [(member scoring summary, member verdicts)])."""
    members, scorings = [], []
    configs = panel.member_configs(judge)
    panel.excluded_judges(run, [_typed(c) for c in configs], judge)  # a panel left with no judge stops here
    for cfg in configs:
        block, verdicts = _judge(run, refs, table, fields, cfg, cache_path, progress)
        m_summary = _summarise(run, refs, table, verdicts, block, seed, replicates)
        members.append((_typed(cfg), m_summary["judge"], verdicts))
        if int(m_summary["judge"]["n"] or 0) > int(m_summary["judge"]["no_caption"] or 0):
            scorings.append((m_summary, verdicts))  # a member with no verdict at all keeps its earlier scoring
    block, verdicts = panel.combine(run, table.ids, members, judge)
    return block, verdicts, scorings


def _carry_over(run: RunFolder, refs: ReferenceSet) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Scoring without judge=...: keep the verdicts of the latest judged scoring (captions never change),
    unless that judge was shown another reference than this scoring's. Returns (judge block, verdicts by id)."""
    try:
        legacy = json.loads((run.path / "metrics.json").read_text()).get("scores") or {}
    except (OSError, json.JSONDecodeError, AttributeError):
        legacy = {}
    try:
        chosen = select(run.path, legacy if isinstance(legacy, dict) else {}, with_rows=False)
        judged = [s for s in chosen.available if s.judge and (not s.judge.get("with_reference") or
                                                               s.reference.get("id") == refs.describe()["id"])]
        if judged:
            chosen = select(run.path, key=judged[-1].key, with_rows=False)
    except ScoringSelectError:
        return None, {}
    old = (chosen.summary or {}).get("judge")
    if not old:
        return None, {}
    verdicts = _old_verdicts(chosen.rows_path)  # streamed: only the rows that carry a verdict are kept
    if not verdicts:
        return None, {}
    keep = ("model", "label", "model_name", "backend", "endpoint", "simulated", "rubric_version", "rubric", "repeats",
            "with_reference", "cache", "price", "tokens", "cost_usd",  # tokens, cost_usd: what those verdicts cost
            "panel", "self_preference")
    return {**{k: old.get(k) for k in keep}, "requests_sent": 0, "cache_hits": 0,
            "sent": {"requests": 0, "tokens": {"input": 0, "output": 0}, "cost_usd": 0.0}, "carried_over": True,
            "warnings": ["judge verdicts carried over from the previous scoring (pass judge=NAME to re-judge)"]}, \
        verdicts


def _old_verdicts(path: Path | None) -> dict[str, Any]:
    """frame id -> judge verdict of a stored scoring's rows (as bench.scorings.read_rows reads them)."""
    return {str(rec["frame_id"]): rec["judge"] for rec in iter_rows(path) if rec.get("judge")}


# ------------------------------------------------------------------------------------------------ summary
def _summarise(run: RunFolder, refs: ReferenceSet, table: FrameTable, verdicts: dict[str, Any],
               judge_block: dict[str, Any] | None, seed: int, replicates: int) -> dict[str, Any]:
    missing_count, missing_ids = refs.missing_candidates()
    missing_ref = sum(table.missing_reference.values())
    reference = {**refs.describe(), "frames_with_reference": table.scored, "missing_reference": missing_ref,
                 "missing_candidate": missing_count,
                 "missing_reference_reasons": dict(table.missing_reference),
                 "missing_candidate_ids": missing_ids, "warnings": refs.warnings + run.warnings}
    partial_reasons = []
    if run.status not in ("complete", "unknown"):
        partial_reasons.append(f"the run is {run.status}")
    if missing_count:
        partial_reasons.append(f"{missing_count} reference frame(s) have no output in the run")
    if run.legacy:
        partial_reasons.append("older run folder: validity reconstructed")
    order = table.id_order()
    summary: dict[str, Any] = {
        "reference": reference, "partial": bool(partial_reasons), "partial_reasons": partial_reasons,
        "frames": len(table), "valid": table.valid_count(),
        "overlap": _overlap_summary(table, seed, replicates) if table.scored else None,
        "judge": None, "by_content_type": {},
        "scorer": {"capbench_version": __version__, "canonical_version": CANONICAL_VERSION,
                   "fields": list(table.fields), "rouge_score": _version("rouge-score"), "rouge_stemmer": "porter",
                   "sacrebleu": _version("sacrebleu"),
                   "bleu": "sacrebleu 13a, exp smoothing; per frame: sentence BLEU (effective order); corpus: "
                           "corpus BLEU", "bootstrap": {"replicates": replicates, "seed": seed},
                   "scored_at": datetime.now(UTC).isoformat()},
    }
    if judge_block is not None:
        summary["judge"] = {**judge_block, **_judge_summary(table, order, verdicts, seed, replicates)}
    summary["by_content_type"] = _by_content_type(table, order, verdicts, seed, replicates,
                                                  judged=judge_block is not None)
    return summary


def _overlap_summary(table: FrameTable, seed: int, replicates: int) -> dict[str, Any]:
    cis = table.overlap_stats(seed, replicates)
    k = len(METRICS)
    out: dict[str, Any] = {
        "all": {**dict(zip(METRICS, cis[:k], strict=True)), "corpus_bleu": corpus_bleu([table.bleu_all])},
        "valid_only": {**dict(zip(METRICS, cis[k:2 * k], strict=True)),
                       "corpus_bleu": corpus_bleu([table.bleu_valid]) if table.bleu_valid_n else None},
        "per_field": {f: dict(zip(METRICS, cis[(2 + i) * k:(3 + i) * k], strict=True))
                      for i, f in enumerate(table.fields)},
    }
    out["all"]["label"] = "every frame with a reference; invalid outputs score 0"
    out["valid_only"]["label"] = "schema-valid outputs only"
    return out


# A frame whose model gave no caption at all scores the rubric's minimum in the "all" view (NO_CAPTION_SCORE,
# defined in bench.load so that compare, the gate and the report use the same convention).
_NO_CAPTION = NO_CAPTION_CATEGORIES


def _judge_summary(table: FrameTable, order: list[int], verdicts: dict[str, Any], seed: int, replicates: int
                   ) -> dict[str, Any]:
    judged = [i for i in order if verdicts.get(table.ids[i]) is not None]
    scored = [i for i in judged if verdicts[table.ids[i]].get("score") is not None]
    failures = [i for i in judged if verdicts[table.ids[i]].get("score") is None]
    no_caption = [i for i in order if verdicts.get(table.ids[i]) is None and table.category(i) in _NO_CAPTION]
    nan = float("nan")
    score = [verdicts[table.ids[i]]["score"] for i in scored]
    table_ = np.array([[s, s if table.valid(i) else nan] for i, s in zip(scored, score, strict=True)]
                      + [[NO_CAPTION_SCORE, nan] for _ in no_caption] or np.empty((0, 2)), dtype=float)
    overall, valid = bootstrap_means(table_, replicates=replicates, seed=seed) if scored else [
        {"mean": None, "ci95": None, "n": 0, "method": None}] * 2
    with_rouge = [(s, table.rouge_l(i)) for i, s in zip(scored, score, strict=True) if table.rouge_l(i) is not None]
    valid = {**valid, "label": "schema-valid outputs only"}
    return {"mean": overall["mean"], "ci95": overall["ci95"], "n": overall["n"], "method": overall["method"],
            # "view", not "label": the judge block's "label" is the judge's name (scoring keys, judge= selection)
            "view": f"all: every judged frame, a frame with no caption scores {NO_CAPTION_SCORE:g}",
            "valid_only": valid, "failures": len(failures), "failure_rate": rate(len(failures), len(judged)),
            "failure_reasons": dict(Counter(str(verdicts[table.ids[i]]["failure"])[:80] for i in failures)),
            "not_judged": len(table) - len(judged), "no_caption_scored_as": NO_CAPTION_SCORE,
            "no_caption": len(no_caption),
            "agreement": judge_agreement([verdicts[table.ids[i]].get("scores") or [] for i in scored]),
            "corr_rougeL": spearman([s for s, _ in with_rouge], [r for _, r in with_rouge]),
            "corr_method": "spearman"}


def _by_content_type(table: FrameTable, order: list[int], verdicts: dict[str, Any], seed: int, replicates: int, *,
                     judged: bool) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    for i in order:
        groups.setdefault(table.content_type(i) or "unknown", []).append(i)
    out = {}
    nan = float("nan")
    for ct, members in sorted(groups.items()):
        # judge: the "all" view, as the headline (a frame with no caption scores NO_CAPTION_SCORE)
        rows = []
        for i in members:
            j = judge_score_all(verdicts.get(table.ids[i]), table.category(i)) if judged else None
            r = table.rouge_l(i)
            rows.append([nan if r is None else r, nan if j is None else j])
        rouge, judge_stat = bootstrap_means(np.array(rows, dtype=float), replicates=replicates, seed=seed)
        out[ct] = {"frames": len(members), "rougeL": rouge, "judge": judge_stat}
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
        frames = load_run(run_dir).frames()  # a manifest is read lazily: each any() is one streamed pass
        in_time = any(f.meta.get("video") is not None and f.meta.get("timestamp_s") is not None for f in frames)
        if not any(f.reference for f in frames) and not in_time:
            return None
    return score_run(run_dir, reference=reference, judge=judge, temporal=cfg.get("temporal"))
