"""The report's timeline view: per video, frames along time, where each model's fields change, true cuts against
each model's caption boundaries, the stability scores, and animated WebP previews (issue 14, "Looking at time").

Data only (no HTML): `timeline_data(...)` is called once by bench.report.data.assemble and its result is the
page's `timeline` key, drawn by templates/js/timeline.js with textContent (model output stays text).

What counts as a change is bench.score.temporal's own definition (`changed_fields`: exact fields differ after
normalising; text fields and objects change when their word/name-set Jaccard falls below the scoring's
`change_below`), and a run's boundaries are the pairs where at least its scoring's k boundary fields change, so
the view draws what the temporal scores counted. Frames are ordered as the scores order them: by timestamp within
a video, a second frame at the same instant left out (the first by frame id kept).

Bounded at scale: at most MAX_FRAMES frames over all videos (MAX_FRAMES_PER_VIDEO per video) go into the page,
videos whose frames the explorer embeds first (so a click opens a frame that is there), then in dataset order;
previews stop at MAX_PREVIEWS or when their data URIs would pass what the page has left (preview_budget). What is
left out is said in `note`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.load import RunData
from bench.report.dataset_index import DatasetIndex
from bench.report.previews import Preview, build_preview, data_uri
from bench.score.references import is_valid
from bench.score.temporal import BOUNDARY_FIELDS, changed_fields

LANE_FIELDS = ("content_type", "specific_style", "production_quality", "environment", "objects")
MAX_FRAMES = 2000  # frames over all videos in the page at 2 runs (fewer with more runs: a value per run and lane)
MAX_FRAMES_PER_VIDEO = 300
# the page stays under 25 MB (issue 12): the explorer's frames take at most 16 MB (bench.report.data), plotly.js
# 3.6 MB, the timeline's values at most TIMELINE_BYTES; previews get what is left of PAGE_BYTES after those and
# OTHER_BYTES (figures, tables), between PREVIEW_MIN_BYTES and PREVIEW_MAX_BYTES
TIMELINE_BYTES = 1_500_000
PAGE_BYTES = 24_000_000
PLOTLY_BYTES = 3_700_000
OTHER_BYTES = 1_500_000
PREVIEW_MIN_BYTES = 0  # a page already full gets no previews (the note says so), never more than 25 MB
PREVIEW_MAX_BYTES = 8_000_000
MAX_PREVIEWS = 400
VALUE_LIMIT = 160  # characters of a field value kept (the explorer has the whole caption)
OBJECTS_LIMIT = 12


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = value if isinstance(value, str) else str(value)
    return s[:VALUE_LIMIT] + ("…" if len(s) > VALUE_LIMIT else "")


def _settings(run: RunData) -> tuple[tuple[str, ...], int, float, dict[str, Any] | None]:
    """(boundary fields, k, change_below, the scoring's temporal section) the run was scored with (defaults when it
    was not scored for time)."""
    t = (run.metrics.get("scores") or {}).get("temporal") if isinstance(run.metrics, dict) else None
    s = (t or {}).get("settings") or {}
    cfg = run.config.get("temporal") if isinstance(run.config, dict) else None
    cfg = cfg if isinstance(cfg, dict) else {}
    fields = tuple(f for f in (s.get("boundary_fields") or cfg.get("boundary_fields") or BOUNDARY_FIELDS)
                   if f in BOUNDARY_FIELDS) or BOUNDARY_FIELDS
    k = int(s.get("k") or cfg.get("k") or 3)
    change_below = float(s.get("change_below") if s.get("change_below") is not None
                         else cfg.get("change_below") if cfg.get("change_below") is not None else 0.5)
    return fields, k, change_below, (t if isinstance(t, dict) and t.get("applicable") else None)


def _scores(t: dict[str, Any] | None) -> dict[str, Any] | None:
    if not t:
        return None
    b = t.get("boundaries") or {}
    fs = t.get("field_stability") or {}
    return {"stability": t.get("stability"), "objects": (t.get("object_persistence") or {}).get("value"),
            "flicker": (t.get("flicker") or {}).get("rate"), "f1": b.get("f1"), "precision": b.get("precision"),
            "recall": b.get("recall"), "k": b.get("k"), "best_k": b.get("best_k"), "best_f1": b.get("best_f1"),
            "chance_f1": b.get("chance_f1"), "auc": b.get("auc"),
            "holds": {f: (fs.get(f) or {}).get("value") for f in fs}}


def _videos(table: Any) -> list[dict[str, Any]]:
    """Each video's frames in time order: [{"video", "frames": [(key, frame_id, t, shot)], "pos"}]."""
    timed = table[table["video"].notna() & table["timestamp_s"].notna()]
    if timed.empty:
        return []
    timed = timed.sort_values(["_run", "_pos"], kind="stable").drop_duplicates("key")
    out: dict[str, dict[str, Any]] = {}
    for key, fid, video, t, shot, pos in zip(timed["key"], timed["frame_id"], timed["video"], timed["timestamp_s"],
                                             timed["shot"], timed["_pos"], strict=True):
        prefix = key[: len(key) - len(fid)]  # the dataset's name when the runs span several
        v = out.setdefault(prefix + str(video), {"video": prefix + str(video), "frames": [], "pos": int(pos)})
        v["frames"].append((key, fid, float(t), None if shot is None or shot != shot or shot == "" else str(shot)))
        v["pos"] = min(v["pos"], int(pos))
    videos = []
    for v in out.values():
        seq: list[tuple[str, str, float, str | None]] = []
        for fr in sorted(v["frames"], key=lambda f: (f[2], f[0])):
            if seq and seq[-1][2] == fr[2]:
                continue  # a second frame at the same instant: left out, as the temporal scores do
            seq.append(fr)
        if len(seq) >= 2:
            videos.append({**v, "frames": seq})
    return videos


def _groups(frames: list[tuple[str, str, float, str | None]]) -> list[tuple[int, int, str | None]]:
    """Runs of consecutive frames of one shot: (first index, last index, shot); frames with no shot id (keyframes
    of a video sampled without shot detection) make one run until a known shot starts."""
    out: list[tuple[int, int, str | None]] = []
    for i, (_, _, _, shot) in enumerate(frames):
        if out and out[-1][2] == shot:
            out[-1] = (out[-1][0], i, shot)
        else:
            out.append((i, i, shot))
    return out


def timeline_data(runs: list[RunData], labels: list[str], table: Any, sources: list[Any],
                  images: list[DatasetIndex], explorer_frames: list[dict[str, Any]], *,
                  max_frames: int = MAX_FRAMES, preview_bytes: int | None = None,
                  previews: bool = True) -> dict[str, Any]:
    """The timeline's data. table: bench.report.data.frames_table's (video, shot, timestamp_s, key, _run, _pos,
    _off per run and frame); sources: each run's RunFrames; images: each run's DatasetIndex (image paths);
    explorer_frames: the explorer's entries (their ids say which frames a click can open)."""
    videos = _videos(table)
    if not videos:
        return {"applicable": False}
    embedded = {f["id"] for f in explorer_frames}
    videos.sort(key=lambda v: (-sum(fr[0] in embedded for fr in v["frames"]), v["pos"]))
    total_videos, total_frames = len(videos), sum(len(v["frames"]) for v in videos)
    chosen, used = [], 0
    max_frames = max(1, max_frames * 2 // max(2, len(runs)))  # each frame has values per run: fewer with more runs
    for rank, v in enumerate(videos):
        frames = v["frames"][:MAX_FRAMES_PER_VIDEO]
        if used + len(frames) > max_frames and chosen:
            continue
        chosen.append({**v, "frames": frames, "cut_short": len(v["frames"]) - len(frames), "rank": rank})
        used += len(frames)

    # each run's records of the chosen frames, read by offset (the explorer reads its frames the same way)
    keys = {fr[0] for v in chosen for fr in v["frames"]}
    rows = table[table["key"].isin(keys)]
    records: list[dict[str, dict[str, Any]]] = []
    for i, source in enumerate(sources):
        mine = rows[rows["_run"] == i]
        key_of = dict(zip(mine["frame_id"], mine["key"], strict=True))
        recs = source.records_at(mine["_off"].tolist()) if len(mine) else []
        records.append({key_of[str(r.get("frame_id"))]: r for r in recs if str(r.get("frame_id")) in key_of})
    settings = [_settings(r) for r in runs]

    out_videos = []
    for v in chosen:
        frames = v["frames"]
        run_lanes = []
        for i in range(len(runs)):
            fields, k, change_below, _ = settings[i]
            caps = []
            for key, *_ in frames:
                rec = records[i].get(key)
                caps.append(rec.get("caption") if rec is not None and is_valid(rec) else None)
            values: dict[str, list[Any]] = {}
            for f in LANE_FIELDS:
                if f == "objects":
                    values[f] = [None if c is None else [_text(o) for o in (c.get("objects") or [])
                                                         if o is not None][:OBJECTS_LIMIT]
                                 if isinstance(c.get("objects"), list) else [] for c in caps]
                else:
                    values[f] = [None if c is None else _text(c.get(f)) for c in caps]
            # per adjacent pair: bit b set when BOUNDARY_FIELDS[b] changes; -1 when either frame has no caption
            masks = []
            for a, b in zip(caps, caps[1:], strict=False):
                changed = changed_fields(a, b, BOUNDARY_FIELDS, change_below)
                masks.append(-1 if changed is None else sum(1 << BOUNDARY_FIELDS.index(f) for f in changed))
            present = [key in records[i] for key, *_ in frames]
            run_lanes.append({"values": values, "changes": masks, "present": present,
                              "fields_mask": sum(1 << BOUNDARY_FIELDS.index(f) for f in fields), "k": k})
        out_videos.append({
            "video": v["video"], "cut_short": v["cut_short"],
            "frames": [{"id": key, "t": t, "shot": shot, "emb": key in embedded} for key, _, t, shot in frames],
            "cuts": [j for j in range(len(frames) - 1) if frames[j][3] is not None and frames[j + 1][3] is not None
                     and frames[j][3] != frames[j + 1][3]],
            "runs": run_lanes, "previews": []})

    # long values: videos in the order of preference while their data fits TIMELINE_BYTES (the first always)
    sizes = [len(json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=str)) for v in out_videos]
    keep, total = set(), 0
    for n in sorted(range(len(chosen)), key=lambda n: chosen[n]["rank"]):
        if not keep or total + sizes[n] <= TIMELINE_BYTES:
            keep.add(n)
            total += sizes[n]
    order = sorted(keep, key=lambda n: chosen[n]["pos"])  # shown in dataset order
    chosen, out_videos = [chosen[n] for n in order], [out_videos[n] for n in order]

    if preview_bytes is None:
        preview_bytes = preview_budget(explorer_frames, total)
    stats = _add_previews(chosen, out_videos, records, runs, images, preview_bytes) if previews else \
        {"made": 0, "wanted": 0, "left_out": 0, "bytes": 0, "seconds": 0.0, "cached": 0}
    shown_frames = sum(len(v["frames"]) for v in chosen)
    note = (f"{len(chosen)} of {total_videos} videos with frames ordered in time, {shown_frames} of {total_frames} "
            "frames")
    if len(chosen) < total_videos or shown_frames < total_frames:
        note += (f" (at most {max_frames:,} frames and {TIMELINE_BYTES / 1e6:.1f} MB of values in the page, "
                 f"{MAX_FRAMES_PER_VIDEO} per video; videos whose frames the explorer embeds first; every frame is in "
                 "the Parquet file)")
    if stats["wanted"]:
        note += f"; previews: {stats['made']} of {stats['wanted']} embedded"
        if stats["left_out"]:
            note += (f", {stats['left_out']} left out to keep the page small (previews stop at "
                     f"{preview_bytes / 1e6:.1f} MB or {MAX_PREVIEWS})")
    if stats.get("unreadable"):
        note += f"; {stats['unreadable']} shots or windows without a readable image have no preview"
    return {"applicable": True, "lane_fields": list(LANE_FIELDS), "boundary_fields": list(BOUNDARY_FIELDS),
            "scores": [_scores(s[3]) for s in settings], "videos": out_videos, "note": note + ".",
            "previews": stats, "simulated": [bool(r.simulated) for r in runs]}


def preview_budget(explorer_frames: list[dict[str, Any]], timeline_bytes: int) -> int:
    """Bytes of preview data URIs the page can still take: PAGE_BYTES less plotly.js, the explorer's frames, the
    timeline's values and OTHER_BYTES, kept within [PREVIEW_MIN_BYTES, PREVIEW_MAX_BYTES]."""
    explorer = sum(len(json.dumps(f, ensure_ascii=False, separators=(",", ":"), default=str)) for f in explorer_frames)
    left = PAGE_BYTES - PLOTLY_BYTES - OTHER_BYTES - explorer - timeline_bytes
    return max(PREVIEW_MIN_BYTES, min(PREVIEW_MAX_BYTES, left))


def _windows(v: dict[str, Any], records: list[dict[str, dict[str, Any]]]) -> list[tuple[str, list[str]]] | None:
    """The windows of a video when its records caption windows (a `frame_ids` list): (window id, frame ids)."""
    seen: dict[tuple[str, ...], str] = {}
    for key, fid, *_ in v["frames"]:
        for recs in records:
            ids = (recs.get(key) or {}).get("frame_ids")
            if isinstance(ids, list) and ids and tuple(map(str, ids)) not in seen:
                seen[tuple(map(str, ids))] = fid
    return [(wid, list(ids)) for ids, wid in seen.items()] or None


class _ImagePaths:
    """frame id -> image path from the runs' dataset indexes (the first that has one), looked up as needed."""

    def __init__(self, indexes: list[DatasetIndex]) -> None:
        self.indexes = indexes
        self.known: dict[str, str | None] = {}

    def get(self, frame_id: str) -> str | None:
        if frame_id not in self.known:
            self.known[frame_id] = next((p for p in (ix.image(frame_id) for ix in self.indexes) if p), None)
        return self.known[frame_id]


def _add_previews(chosen: list[dict[str, Any]], out_videos: list[dict[str, Any]],
                  records: list[dict[str, dict[str, Any]]], runs: list[RunData],
                  images: list[DatasetIndex], budget: int) -> dict[str, Any]:
    """Previews per shot (per window when the records carry `frame_ids`), in page order, within the budget."""
    paths = _ImagePaths(images)
    made = wanted = left_out = unreadable = size = cached = 0
    t0 = time.perf_counter()
    for v, out in zip(chosen, out_videos, strict=True):
        frames = v["frames"]
        times = {fid: t for _, fid, t, _ in frames}
        index_of = {fid: n for n, (_, fid, _, _) in enumerate(frames)}
        windows = _windows(v, records)
        if windows:
            items = [(f"window {wid}", [index_of.get(f) for f in ids], [(paths.get(f), times.get(f)) for f in ids])
                     for wid, ids in windows]
        else:
            items = [(f"shot {shot}" if shot is not None else f"{frames[a][2]:g}–{frames[b][2]:g} s",
                      list(range(a, b + 1)), [(paths.get(frames[n][1]), frames[n][2]) for n in range(a, b + 1)])
                     for a, b, shot in _groups(frames)]
        for label, idx, members in items:
            if not any(p for p, _ in members):
                continue  # no image here (dataset not built, or moved): nothing to preview
            wanted += 1
            known = [n for n in idx if n is not None]
            entry: dict[str, Any] = {"label": label, "first": min(known) if known else None,
                                     "last": max(known) if known else None, "uri": None}
            pv: Preview | None = None
            if made < MAX_PREVIEWS and size < budget:
                pv = build_preview(members)
                if pv is None:
                    unreadable += 1  # every image of it missing or unreadable
                    entry["why"] = "no readable image"
                elif size + pv.bytes * 4 // 3 + 30 <= budget:
                    entry.update(uri=data_uri(Path(pv.path)), frames=pv.frames, fps=round(pv.fps, 3),
                                 w=pv.width, h=pv.height)
                    size += len(entry["uri"])
                    made += 1
                    cached += pv.cached
            if entry["uri"] is None and "why" not in entry:
                left_out += 1
                entry["why"] = "left out: the report's preview budget is spent"
            out["previews"].append(entry)
    return {"made": made, "wanted": wanted, "left_out": left_out, "unreadable": unreadable, "bytes": size,
            "seconds": round(time.perf_counter() - t0, 3), "cached": cached}
