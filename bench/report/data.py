"""Everything the report shows, assembled from run folders into plain data (no HTML here).

Model output (captions, raw text, validity reasons, judge rationales) goes
into `frames` as data only; the template renders it as text (see render.py).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from bench._version import __version__
from bench.config import DatasetConfig
from bench.frames import Frame, load_frames, resolve_dataset_dir
from bench.heap import gc_paused, release_freed
from bench.load import FIELDS, NO_CAPTION_SCORE, RunData, _get, is_run_dir, runs_frame
from bench.report.baseline import baseline_view
from bench.report.card import card_section
from bench.report.dataset_index import DatasetIndex
from bench.report.large import attach_large_images, sent_max_side
from bench.report.parquet import FramesParquet
from bench.report.sample import DEFAULT_MAX_FRAMES, describe, frame_flags, select_frames
from bench.report.stream import RunFrames, concat_columns, frame_table, iter_records
from bench.report.thumbs import thumbnail_uri
from bench.report.timeline import timeline_data
from bench.report.verdict import verdict_data
from bench.scorings import describe_judge, judge_comparison
from bench.stats import finite_float as _f  # None unless a finite number
from bench.stats import paired_test

RAW_TEXT_LIMIT = 4000  # characters of an unparsable answer shown in the explorer
RATIONALE_LIMIT = 2000
# the explorer's frames (captions, thumbnails) at most this many bytes: with plotly.js (3.6 MB), the figures (their
# size does not grow with frames) and the tables, the page stays under 25 MB whatever the runs hold
FRAMES_BYTES_BUDGET = 16_000_000
QUALITY_LABELS = {"judge": f"judge score (1-5; no caption = {NO_CAPTION_SCORE:g})", "rougeL": "ROUGE-L vs reference",
                  "schema_valid": "schema validity"}




# ---- references and thumbnails ----------------------------------------------------------------
_DATASET_KEYS = set(DatasetConfig.__dataclass_fields__)


def dataset_frames(run: RunData) -> dict[str, Frame]:
    """The run's dataset frames by id (in dataset order), found again through the harness's own loader, so
    manifest, folder and video datasets alike; {} when the dataset is not here or cannot be loaded (the
    explorer then shows "no image")."""
    out: dict[str, Frame] = {}
    for f in iter_dataset_frames(run):
        if f.error is None:
            out.setdefault(f.id, f)
    return out


_ID_FIELD = re.compile(r'"id"\s*:\s*"([^"\\]*)"')


def _manifest_only(section: dict[str, Any], ids: set[str] | None = None) -> dict[str, Frame]:
    """A manifest whose images are not here (e.g. not built yet) still gives references and content types.
    With ids, only lines that may hold one of them (an "id" field with that value anywhere) are parsed."""
    return {f.id: f for f in iter_manifest_only(section, ids)}


def iter_manifest_only(section: dict[str, Any], ids: set[str] | None = None) -> Iterator[Frame]:
    """_manifest_only's frames one at a time (a report built where the images are not: a million-frame manifest
    held as Frame objects with their references took 3.5 GB)."""
    if (section.get("kind") or "manifest") != "manifest":
        return
    path = resolve_dataset_dir(str(section["path"])) / str(section.get("manifest") or "manifest.jsonl")
    try:
        fh = path.open(encoding="utf-8", errors="replace")
    except OSError:
        return
    with fh:
        lines = fh if ids is None else (line for line in fh if ids.intersection(_ID_FIELD.findall(line)))
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("id") is not None and (ids is None or str(entry["id"]) in ids):
                ref = entry.get("reference")
                yield Frame(id=str(entry["id"]), image_path=None, reference=ref if isinstance(ref, dict) else None,
                            meta={"content_type": entry.get("content_type")})


def reference_captions(run: RunData, frames: dict[str, Frame], ids: set[str] | None = None
                       ) -> tuple[str, dict[str, Any]]:
    """The captions the run was scored against (of the frames `ids`, default all): a teacher run folder named by
    the scores (read line by line), else the dataset's."""
    source = None
    ref = _get(run.metrics, "scores.reference") or {}
    if not ref and run.scores:
        ref = next(iter(run.scores.values())).get("reference") or {}
    if isinstance(ref, dict):
        source = ref.get("source")
    if source and is_run_dir(Path(str(source))):
        caps = {r["frame_id"]: r.get("caption") for _, r in iter_records(Path(str(source)) / "generations.jsonl")
                if isinstance(r.get("caption"), dict) and (ids is None or r["frame_id"] in ids)}
        return f"{ref.get('kind') or 'run'}: {Path(str(source)).name}", caps
    caps = {fid: f.reference for fid, f in frames.items() if isinstance(f.reference, dict)
            and (ids is None or fid in ids)}
    return ("manifest reference" if caps else ""), caps


# ---- per-field difference ---------------------------------------------------------------------
_WORD = re.compile(r"[a-z0-9]+")


def _words(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, list):
        text = " ".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    else:
        text = value if isinstance(value, str) else json.dumps(value)
    return set(_WORD.findall(text.lower()))


def field_diff(candidate: dict[str, Any], reference: dict[str, Any]) -> dict[str, int]:
    """Per field: 0 same words, 1 close (Dice >= 0.5), 2 differs, 3 missing from the candidate."""
    out = {}
    for name in FIELDS:
        if name not in candidate:
            out[name] = 3
            continue
        a, b = _words(candidate.get(name)), _words(reference.get(name))
        dice = 1.0 if not a and not b else 2 * len(a & b) / (len(a) + len(b))
        out[name] = 0 if dice >= 0.999 else 1 if dice >= 0.5 else 2
    return out


# ---- significance ---------------------------------------------------------------------------
def quality_metric(frames_df: Any, not_comparable: frozenset[str] | set[str] = frozenset()) -> str:
    """judge if every run has judge scores, else ROUGE-L if every run has it, else schema validity; a metric in
    not_comparable (scored against different judges / references, see scoring_mismatches) is never used."""
    if frames_df.empty:
        return "schema_valid"
    for key, col in (("judge", "judge_score"), ("rougeL", "rougeL")):
        if key in not_comparable:
            continue
        if frames_df.groupby("run")[col].apply(lambda s: s.notna().any()).all():
            return key
    return "schema_valid"


def significance(frames_df: Any, labels: list[str], metric: str, *, resamples: int = 2000) -> dict[str, Any]:
    """Pairwise paired tests of row - column on shared frames; two-sided p."""
    col = {"judge": "judge_score", "rougeL": "rougeL", "schema_valid": "schema_valid"}[metric]
    values = {lab: frames_df[frames_df["run"] == lab].set_index("frame_id")[col].astype(float) for lab in labels}
    cells: list[list[dict[str, Any] | None]] = [[None] * len(labels) for _ in labels]
    for i, a in enumerate(labels):
        for j in range(i + 1, len(labels)):
            b = labels[j]
            joined = values[a].to_frame("a").join(values[b].to_frame("b"), how="inner").dropna()
            test = paired_test(joined["a"].to_numpy(), joined["b"].to_numpy(), replicates=resamples,
                               permutations=resamples)  # diff = mean(row - column), two-sided p
            cells[i][j] = {"diff": test["diff"], "p": test["p_value"], "n": test["n"], "ci95": test["ci95"]}
            # column - row is the same test mirrored (same p; diff and interval negated), not computed twice
            ci = test["ci95"]
            cells[j][i] = {"diff": None if test["diff"] is None else -test["diff"], "p": test["p_value"],
                           "n": test["n"], "ci95": None if ci is None else [-ci[1], -ci[0]]}
    return {"metric": metric, "label": QUALITY_LABELS[metric], "labels": labels, "cells": cells}


def scoring_mismatches(runs: list[RunData], labels: list[str]) -> dict[str, str]:
    """metric -> a note, for metrics whose runs were scored against different references (rougeL) or by
    different judges or rubrics (judge): such scores are not ranked against each other."""
    out = {}
    refs: dict[str, list[str]] = {}
    judges: dict[Any, list[str]] = {}
    for lab, run in zip(labels, runs, strict=True):
        ident = run.scoring or {}
        scores = run.metrics.get("scores") or {}
        if scores.get("overlap"):
            refs.setdefault(str(ident.get("reference_id") or "unknown"), []).append(lab)
        if scores.get("judge"):
            judges.setdefault(judge_comparison(ident.get("judge")), []).append(lab)
    if len(refs) > 1:
        groups = "; ".join(f"{ref}: {', '.join(labs)}" for ref, labs in refs.items())
        out["rougeL"] = (f"ROUGE/BLEU were scored against different references ({groups}): they are not ranked "
                         "against each other. Re-score the runs against one reference (bench.score reference=...).")
    if len(judges) > 1:
        names = {lab: describe_judge((r.scoring or {}).get("judge")) for lab, r in zip(labels, runs, strict=True)}
        groups = "; ".join(f"{names[labs[0]]}: {', '.join(labs)}" for labs in judges.values())
        out["judge"] = (f"Judge scores come from different judges or rubrics ({groups}): they are not ranked "
                        "against each other. Re-judge the runs with one judge (bench.score judge=...).")
    return out


# ---- the whole report -----------------------------------------------------------------------
def _frame_entry(run: RunData, rec: dict[str, Any], scores: dict[str, Any], ref: dict[str, Any] | None) -> dict:
    v = rec.get("validity") or {}
    t = rec.get("timing") or {}
    caption = rec.get("caption") if isinstance(rec.get("caption"), dict) else None
    s = scores.get(str(rec.get("frame_id"))) or {}
    judge = (run.scores.get(str(rec.get("frame_id"))) or {}).get("judge") or {}
    entry: dict[str, Any] = {
        "cat": v.get("category"), "reasons": [str(x) for x in (v.get("reasons") or [])][:20],
        "ff": [str(x) for x in (v.get("failed_fields") or [])], "e2el": _f(t.get("e2el_s")),
        "ttft": _f(t.get("ttft_s")), "judge": _f(s.get("judge_score")), "rl": _f(s.get("rougeL")),
    }
    if s.get("judge_no_caption"):
        entry["judge_nc"] = True  # scored NO_CAPTION_SCORE without a verdict
    if caption is not None:
        entry["cap"] = caption
        if ref:
            entry["diff"] = field_diff(caption, ref)
    else:
        text = rec.get("text")
        entry["raw"] = (text[:RAW_TEXT_LIMIT] + ("…" if len(text) > RAW_TEXT_LIMIT else "")) \
            if isinstance(text, str) else None
        err = rec.get("error") or {}
        if err:
            entry["error"] = str(err.get("message") or err.get("kind") or "")[:500]
    if judge.get("rationale"):
        entry["why"] = str(judge["rationale"])[:RATIONALE_LIMIT]
    if judge.get("failure"):
        entry["judge_failure"] = str(judge["failure"])[:300]
    for key in ("hallucinated", "missed"):
        if isinstance(judge.get(key), dict) and judge[key]:
            entry[key] = judge[key]
    return entry


def iter_dataset_frames(run: RunData) -> Iterator[Frame]:
    """The run's dataset frames, one at a time, as dataset_frames finds them (for DatasetIndex: a million-frame
    dataset is never a million Frame objects at once)."""
    section = run.config.get("dataset") if isinstance(run.config, dict) else None
    if not isinstance(section, dict) or not section.get("path"):
        return
    try:
        merged = OmegaConf.merge(OmegaConf.structured(DatasetConfig),
                                 {k: v for k, v in section.items() if k in _DATASET_KEYS})
        yield from load_frames(OmegaConf.to_object(merged))  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a moved, changed or unreadable dataset must not stop the report (frames
        # yielded before the failure win over their repeats here)
        yield from iter_manifest_only(section)


def embedded_dataset_frames(run: RunData, ids: set[str], index: DatasetIndex) -> dict[str, Frame]:
    """The dataset frames of these ids: a manifest is scanned for just their lines (references), with the image
    paths the harness's loader gave in the first pass; other datasets are loaded again."""
    section = run.config.get("dataset") if isinstance(run.config, dict) else None
    if isinstance(section, dict) and section.get("path") and len(index) and \
            (section.get("kind") or "manifest") == "manifest":
        found = _manifest_only(section, ids)
        paths = dict(zip(found, index.images(list(found)), strict=True))
        return {fid: dataclasses.replace(f, image_path=Path(paths[fid]) if paths[fid] else None)
                for fid, f in found.items()}
    return {fid: f for fid, f in dataset_frames(run).items() if fid in ids}


def _ds_key(run: RunData) -> str:
    return json.dumps(run.config.get("dataset") if isinstance(run.config, dict) else None, sort_keys=True,
                      default=str)


def frames_table(runs: list[RunData], labels: list[str], *, parquet: FramesParquet | None = None
                 ) -> tuple[Any, list[RunFrames], dict[str, DatasetIndex]]:
    """Every (run, frame) with the report's columns (bench.report.stream.REPORT_COLUMNS), plus `key` (the frame
    id, prefixed by the dataset when the runs span several), `_run` (run index), `_pos` (dataset position) and
    `_off` (the record's byte offset); read in one pass per run. Frames go to `parquet` on the way."""

    multi_ds = len({r.dataset for r in runs}) > 1
    sources, tables = [], []
    index: dict[str, DatasetIndex] = {}
    for i, (run, label) in enumerate(zip(runs, labels, strict=True)):
        key = _ds_key(run)
        if key not in index:  # the same dataset config is read once
            index[key] = DatasetIndex(iter_dataset_frames(run))
            release_freed()  # the loader's parsed lines (bench.heap)
        ds = index[key]
        source = RunFrames(run)
        table = frame_table(source, label, sink=parquet, images=ds)
        table["key"] = (run.dataset + "/" + table["frame_id"]) if multi_ds else table["frame_id"]
        table["_run"] = np.full(len(table), i, dtype=np.int16)
        table["_pos"] = ds.positions(table["frame_id"])
        sources.append(source)
        tables.append(table)
    if len(tables) == 1:
        return tables[0], sources, index
    parts = [{col: t[col] for col in t.columns} for t in tables]
    tables.clear()  # the parts hold the only references: each column is freed as it is joined
    return concat_columns(parts), sources, index


def _explorer_frames(runs: list[RunData], sources: list[RunFrames], index: dict[str, DatasetIndex], table: Any,
                     keys: list[str], why: dict[str, str], *, thumbnails: bool, thumb_size: int
                     ) -> tuple[list[dict], set[str]]:
    """The explorer's entries for the frames with these keys: a second read of just their records, score rows,
    references and thumbnails."""
    wanted = table[table["key"].isin(set(keys))]
    order: dict[str, dict[str, Any]] = {}
    ref_labels: set[str] = set()
    loaded: dict[str, dict[str, Frame]] = {}
    first = wanted.sort_values(["_run", "_pos"]).drop_duplicates("key")
    rank = {k: n for n, k in enumerate(first["key"].tolist())}
    wanted_ids = set(wanted["frame_id"].tolist())
    for i, (run, source) in enumerate(zip(runs, sources, strict=True)):
        mine = wanted[wanted["_run"] == i]
        if mine.empty:
            continue
        ds_key = _ds_key(run)
        fids = set(mine["frame_id"].tolist())
        if ds_key not in loaded:  # each dataset read once more, for the embedded frames only
            loaded[ds_key] = embedded_dataset_frames(run, wanted_ids, index[ds_key])
        ds_frames = loaded[ds_key]
        ref_label, refs = reference_captions(run, ds_frames, fids)
        if ref_label:
            ref_labels.add(ref_label)
        part, scores = source.entries(mine["_off"].tolist())
        keys_by_fid = dict(zip(mine["frame_id"].tolist(), mine["key"].tolist(), strict=True))
        cts = dict(zip(mine["frame_id"].tolist(), mine["content_type"].tolist(), strict=True))
        for rec in part.records:
            fid = str(rec.get("frame_id"))
            key = keys_by_fid[fid]
            frame = order.get(key)
            if frame is None:
                src = ds_frames.get(fid)
                thumb = None
                if thumbnails and src is not None and src.image_path is not None:
                    thumb = thumbnail_uri(str(src.image_path), thumb_size)
                frame = order[key] = {"id": key, "ct": cts[fid], "thumb": thumb, "ref": refs.get(fid),
                                      "runs": [None] * len(runs)}
                if thumb is not None:  # for bench.report.large, which removes it
                    frame["_img"] = str(src.image_path)
                if key in why:
                    frame["why"] = why[key]
            elif frame["ref"] is None and refs.get(fid):
                frame["ref"] = refs.get(fid)
            frame["runs"][i] = _frame_entry(part, rec, scores, frame["ref"])
    return sorted(order.values(), key=lambda f: rank[f["id"]]), ref_labels


@gc_paused()
def assemble(runs: list[RunData], *, thumbnails: bool = True, thumb_size: int = 160, title: str | None = None,
             max_embedded_frames: int = DEFAULT_MAX_FRAMES, sample_seed: int = 0,
             parquet_path: Path | None = None, baseline: int | None = None) -> dict[str, Any]:
    """The report's data. Runs may be loaded without their records (load_run_data(records=False)): records and
    score rows are streamed from the run folders (bench.report.stream). Beyond max_embedded_frames frames the
    explorer holds the failed and disputed frames and a stratified sample (bench.report.sample); every frame
    then goes to parquet_path, when given. baseline: the index of the run the others are diffed against
    (bench.report.baseline)."""
    labels = [r.label or r.model for r in runs]
    runs_df = runs_frame(runs, "run")
    sink = FramesParquet(parquet_path) if parquet_path is not None else None
    try:
        table, sources, index = frames_table(runs, labels, parquet=sink)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    parquet = sink.close().name if sink is not None else None
    if not runs_df.empty:  # a run folder without metrics.json: its frames as recorded
        counts = table.groupby("_run").size()
        runs_df["frames"] = [f if f == f else float(counts.get(i, 0)) for i, f in enumerate(runs_df["frames"])]
    frames_df = table
    mismatched = scoring_mismatches(runs, labels)
    metric = quality_metric(frames_df, set(mismatched))
    datasets = sorted({r.dataset for r in runs})
    multi_ds = len(datasets) > 1

    # frames in dataset order (the first run's first): an order of positions, not a sorted copy of the table
    flags = frame_flags(table, metric, order=np.lexsort((table["_pos"].to_numpy(), table["_run"].to_numpy())))
    release_freed()  # frame_flags' working arrays
    places = max_embedded_frames
    for _ in range(4):  # fewer places while the frames' data would not fit the page (many runs, long captions)
        selection = select_frames(flags, places, sample_seed, metric)
        frames, ref_labels = _explorer_frames(runs, sources, index, table, selection.keys, selection.why,
                                              thumbnails=thumbnails, thumb_size=thumb_size)
        size = sum(len(json.dumps(f, ensure_ascii=False, separators=(",", ":"), default=str)) for f in frames)
        if size <= FRAMES_BYTES_BUDGET or len(frames) <= 1:
            break
        places = max(1, int(len(frames) * FRAMES_BYTES_BUDGET / size * 0.95))
    del flags
    release_freed()  # the flags and the explorer's second read
    if places < max_embedded_frames:
        selection.info.update(size_limited=True, asked_max_frames=max_embedded_frames)
    large = attach_large_images(frames, sent_max_side([r.config for r in runs]), frames_bytes=size)
    explorer = {**selection.info, "parquet": parquet, "text": describe(selection.info, parquet), "large": large}
    notes: list[str] = list(mismatched.values()) + [n for r in runs for n in r.scoring_notes]
    if selection.info.get("sampled"):
        notes.append(explorer["text"])
    if any(r.simulated for r in runs):
        sims = ", ".join(lab for lab, r in zip(labels, runs, strict=True) if r.simulated)
        notes.append(f"SIMULATED runs ({sims}): the embedded simulator, not a model; their numbers test the harness.")
    judge_sims = [lab for lab, r in zip(labels, runs, strict=True)
                  if (r.metrics.get("scores") or {}).get("judge") and r.metrics["scores"]["judge"].get("simulated")]
    if judge_sims:
        notes.append(f"SIMULATED judge ({', '.join(judge_sims)}): the verdicts came from capbench's simulator, not "
                     "a model; their judge scores test the harness.")
    has = {c: (not frames_df.empty and c in frames_df and bool(frames_df[c].notna().any()))
           for c in ("judge_score", "rougeL")}
    if metric == "schema_valid":
        which = "Not every run has" if has["judge_score"] or has["rougeL"] else "No run has"
        notes.append(f"{which} judge or ROUGE scores: the quality axis and the significance matrix use schema "
                     "validity. Score the runs (bench.score) to compare caption quality.")
    elif metric == "rougeL":
        which = "Not every run has" if has["judge_score"] else "No run has"
        notes.append(f"{which} judge scores: the quality axis and the significance matrix use ROUGE-L.")
    for rec in runs_df.to_dict("records") if not runs_df.empty else []:
        if rec.get("saturated") is True:
            notes.append(f"Open-loop run {rec['run']} was SATURATED: it sent {_f(rec.get('achieved_rate')) or 0:.2f} "
                         f"req/s of the {_f(rec.get('target_rate')) or 0:.2f} req/s asked for (the server could not "
                         "keep up); its latency from the scheduled time includes the backlog.")
    for lab, run in zip(labels, runs, strict=True):  # runner=batch: no per-request latency (bench/batch/metrics.py)
        b = run.metrics.get("batch") if isinstance(run.metrics.get("batch"), dict) else None
        if b:
            t, od, bc = (b.get("turnaround_s") or {}).get("p50"), b.get("on_demand_cost_per_million_usd"), \
                b.get("cost_per_million_usd")
            notes.append(f"Batch run {lab} ({b.get('provider')} Batch API): TTFT and E2EL do not exist in batch mode "
                         "(a batch is answered as a whole), so its latency is left empty, not zero"
                         + (f"; turnaround p50 {t:.1f} s" if t is not None else "")
                         + (f"; batch ${bc:,.0f} vs on-demand ${od:,.0f} per 1M generations" if bc is not None
                            and od is not None else "") + ".")
    if multi_ds:
        notes.append(f"The runs cover several datasets ({', '.join(datasets)}): compare numbers within a dataset.")

    from bench.report.figures import build_figures  # plotly is imported only when a report is built
    from bench.report.pairwise import pairwise_section

    sig = significance(frames_df, labels, metric)
    return {
        "title": title or f"capbench: {', '.join(datasets)} — {len(runs)} run{'s' * (len(runs) != 1)}",
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "labels": labels,
        "datasets": datasets,
        "notes": notes,
        "quality": {"key": metric, "label": QUALITY_LABELS[metric]},
        "reference": ", ".join(sorted(ref_labels)) or "none",
        "leaderboard": _label_simulated_judges(leaderboard(runs_df)),
        "verdict": verdict_data(leaderboard(runs_df), sig, metric, frames_df, labels),
        "baseline": None if baseline is None else baseline_view(table, sources, labels, baseline, metric),
        "by_content": content_breakdown(frames_df, labels),
        "significance": sig,
        "figures": build_figures(runs, runs_df, frames_df, labels, metric, sig,
                                 {lab: src.field_means() for lab, src in zip(labels, sources, strict=True)}),
        "frames": frames,
        "explorer": explorer,
        "timeline": timeline_data(runs, labels, table, sources, [index[_ds_key(r)] for r in runs], frames),
        "fields": list(FIELDS),
        "card": card_section(runs),  # bench.report.card: the model card first, when the runs are a card's
        "pairwise": pairwise_section(runs, labels),
    }


def leaderboard(runs_df: Any) -> list[dict[str, Any]]:
    rows = []
    for rec in runs_df.to_dict("records"):
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()})
    return rows


def _label_simulated_judges(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        if row.get("judge_simulated") and row.get("judge_model"):
            row["judge_model"] = f"{row['judge_model']} (SIMULATED judge)"
    return rows


def content_breakdown(frames_df: Any, labels: list[str]) -> list[dict[str, Any]]:
    """One row per content type: per run frames, schema validity, p50 E2EL, judge and ROUGE-L means."""
    if frames_df.empty:
        return []
    out = []
    for ct, group in frames_df.groupby("content_type", sort=True):
        row: dict[str, Any] = {"content_type": ct, "runs": []}
        for lab in labels:
            g = group[group["run"] == lab]
            row["runs"].append({
                "frames": int(len(g)),
                "valid": _f(g["schema_valid"].mean()) if len(g) else None,
                "e2el_p50": _f(g["e2el_s"].median()) if len(g) else None,
                "judge": _f(g["judge_score"].mean()) if len(g) else None,
                "rougeL": _f(g["rougeL"].mean()) if len(g) else None,
            })
        out.append(row)
    return out

