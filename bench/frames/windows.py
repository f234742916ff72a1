"""Frames grouped into the units a window mode captions (README, "Window captioning").

One home for grouping: `plan_units(frames, mode)` turns a dataset's frames into `Unit`s, the runner's unit
of work when `mode.kind` is not `frame` (bench.window_runner):

- window / grid: N consecutive frames of one video (`mode.frames`), or the frames of consecutive
  `mode.window_s`-second spans; ids `VIDEO-w0000`. A window never spans two videos; one that spans a shot
  cut is sent, flagged `crosses_cut`.
- sliding: each pair of adjacent frames of a video, in time order; ids `VIDEO-s0001` (the pair ending at
  the video's frame 1, ...), chained per video by the runner.
- summary: one unit per video (`VIDEO-summary`), its text made from an earlier run's captions
  (`summary_inputs`).

Bad input never crashes here and never vanishes: frames out of time order are sorted, a repeated timestamp
keeps its first frame, and each such fix is a note in the unit's record; a video without `timestamp_s` is
windowed by order (and `mode.window_s` on it is a `DatasetError` naming the video); a one-frame video is a
window of one, and in sliding mode a unit with `skip` (recorded as a bad input with the reason).
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.frames.base import DatasetError, Frame

KINDS = ("frame", "window", "grid", "sliding", "summary")
_NOT_ID = re.compile(r"[^A-Za-z0-9._:/-]+")


@dataclass(frozen=True)
class Unit:
    """What one request captions: a window of frames, a pair (sliding), or a video's captions (summary)."""

    id: str
    kind: str  # window | grid | sliding | summary
    video: str
    index: int  # position in the video's chain (sliding: the order links are sent in)
    frames: tuple[Frame, ...]
    t_start: float | None = None  # the first frame's timestamp_s
    t_end: float | None = None  # the end of the span the unit covers (next unit's start, or last frame + step)
    crosses_cut: bool = False
    shots: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what was fixed in the input (sorted, deduplicated, by order)
    skip: str | None = None  # why the unit is not sent (recorded as a bad input with this reason)
    text: str | None = None  # summary: the captions, one per line

    @property
    def frame_ids(self) -> list[str]:
        return [f.id for f in self.frames]

    @property
    def video_s(self) -> float | None:
        """Seconds of video the unit covers (what cost per hour of video divides by)."""
        if self.t_start is None or self.t_end is None:
            return None
        return max(0.0, self.t_end - self.t_start)

    def record_fields(self) -> dict[str, Any]:
        """What every record of this unit carries (bench.window_runner adds the request's own)."""
        out: dict[str, Any] = {"unit": self.kind, "video": self.video, "frame_ids": self.frame_ids,
                               "frames": len(self.frames), "crosses_cut": self.crosses_cut,
                               "shots": list(self.shots), "window_s": self.video_s, "t_start": self.t_start,
                               "t_end": self.t_end, "chain_index": self.index}
        if self.t_start is not None:
            out["timestamp_s"] = self.t_start  # orders units in time, as frames are
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass
class _Video:
    name: str
    frames: list[Frame] = field(default_factory=list)


def video_key(video: str) -> str:
    """An id-safe prefix for a video's units: its path without the extension (`clips/match.mp4` -> `clips/match`)."""
    stem = os.path.splitext(video)[0] if "." in os.path.basename(video) else video
    return _NOT_ID.sub("_", stem).strip("_/") or "video"


def _by_video(frames: Iterable[Frame]) -> list[_Video]:
    videos: dict[str, _Video] = {}
    for f in frames:
        name = f.meta.get("video")
        if name is None:  # a still: its own one-frame "video", named after the frame
            name = f.id
        videos.setdefault(str(name), _Video(str(name))).frames.append(f)
    return list(videos.values())


def _ordered(video: _Video, need_time: bool) -> tuple[list[Frame], list[str], bool]:
    """The video's frames in time order, deduplicated, with notes; and whether times are known."""
    frames, notes = video.frames, []
    times = [f.meta.get("timestamp_s") for f in frames]
    if any(t is None for t in times):
        if need_time:
            missing = [f.id for f in frames if f.meta.get("timestamp_s") is None][:3]
            raise DatasetError(f"video {video.name!r}: mode.window_s needs timestamp_s on every frame, and "
                               f"{', '.join(missing)} have none; use mode.frames=N (windows by order) or add "
                               "timestamp_s to the manifest")
        if len(frames) > 1:
            notes.append("no timestamp_s: windows by manifest order")
        return list(frames), notes, False
    if any(b < a for a, b in zip(times, times[1:], strict=False)):
        notes.append("frames were out of time order: sorted by timestamp_s")
    frames = sorted(frames, key=lambda f: float(f.meta["timestamp_s"]))  # stable: a repeat keeps the first listed
    kept: list[Frame] = []
    for f in frames:
        if kept and float(f.meta["timestamp_s"]) == float(kept[-1].meta["timestamp_s"]):
            notes.append(f"duplicate timestamp_s {float(f.meta['timestamp_s']):g}: frame {f.id} left out "
                         f"(same time as {kept[-1].id})")
            continue
        kept.append(f)
    return kept, notes, True


def _step(frames: list[Frame]) -> float | None:
    """The video's usual gap between frames (median): what the last frame of a video is taken to cover."""
    gaps = [float(b.meta["timestamp_s"]) - float(a.meta["timestamp_s"]) for a, b in zip(frames, frames[1:],
                                                                                         strict=False)]
    return statistics.median(gaps) if gaps else None


def _groups(frames: list[Frame], mode: Any, timed: bool) -> list[list[Frame]]:
    if mode.window_s:
        t0 = float(frames[0].meta["timestamp_s"])
        spans: dict[int, list[Frame]] = {}
        for f in frames:
            spans.setdefault(int((float(f.meta["timestamp_s"]) - t0) // float(mode.window_s)), []).append(f)
        return [spans[k] for k in sorted(spans)]
    n = int(mode.frames)
    return [frames[i:i + n] for i in range(0, len(frames), n)]


def _span(group: list[Frame], following: Frame | None, step: float | None, timed: bool
          ) -> tuple[float | None, float | None]:
    if not timed:
        return None, None
    start = float(group[0].meta["timestamp_s"])
    if following is not None:
        return start, float(following.meta["timestamp_s"])
    return start, float(group[-1].meta["timestamp_s"]) + (step or 0.0)


def _shots(group: Iterable[Frame]) -> tuple[str, ...]:
    seen: list[str] = []
    for f in group:
        shot = f.meta.get("shot")
        if shot is not None and str(shot) not in seen:
            seen.append(str(shot))
    return tuple(seen)


def plan_units(frames: Iterable[Frame], mode: Any) -> list[Unit]:
    """The units `mode` (a ModeConfig) sends, per video in the dataset's order. Raises DatasetError for a
    setting the data cannot meet (window_s without timestamps)."""
    kind = mode.kind
    if kind not in KINDS or kind == "frame":
        raise ValueError(f"plan_units: mode.kind={kind!r} is not a window mode")
    units: list[Unit] = []
    for video in _by_video(frames):
        ordered, notes, timed = _ordered(video, need_time=bool(mode.window_s) and kind in ("window", "grid"))
        key, step = video_key(video.name), (_step(ordered) if timed else None)
        if kind in ("window", "grid"):
            groups = _groups(ordered, mode, timed)
            for i, group in enumerate(groups):
                following = groups[i + 1][0] if i + 1 < len(groups) else None
                t_start, t_end = _span(group, following, step, timed)
                shots = _shots(group)
                extra = ["the video has one frame: a window of one"] if len(ordered) == 1 else []
                units.append(Unit(f"{key}-w{i:04d}", kind, video.name, i, tuple(group), t_start, t_end,
                                  crosses_cut=len(shots) > 1, shots=shots, notes=tuple(notes + extra)))
        elif kind == "sliding":
            if len(ordered) < 2:
                units.append(Unit(f"{key}-s0000", kind, video.name, 0, tuple(ordered),
                                  *_span(ordered, None, step, timed), notes=tuple(notes),
                                  skip=f"video {video.name!r} has one frame: sliding mode needs two adjacent "
                                       "frames to compare"))
                continue
            for i in range(1, len(ordered)):
                pair = ordered[i - 1:i + 1]
                t_start, t_end = _span(pair[:1], pair[1], step, timed)
                shots = _shots(pair)
                units.append(Unit(f"{key}-s{i:04d}", kind, video.name, i, tuple(pair), t_start, t_end,
                                  crosses_cut=len(shots) > 1, shots=shots, notes=tuple(notes)))
        else:  # summary: the frames only locate the video; its text comes from summary_inputs
            t_start, t_end = _span(ordered, None, step, timed)
            units.append(Unit(f"{key}-summary", kind, video.name, 0, tuple(ordered), t_start, t_end,
                              shots=_shots(ordered), notes=tuple(notes)))
    return units


def summary_inputs(units: list[Unit], from_run: str | Path) -> list[Unit]:
    """Each summary unit with the earlier run's captions of its video as text (time order), or a `skip`
    reason when that run has none. Raises DatasetError when from_run is not a frame or sliding run."""
    run = Path(from_run).expanduser()
    gens = run / "generations.jsonl"
    if not gens.is_file():
        raise DatasetError(f"mode.from_run={str(from_run)!r}: no generations.jsonl there; give the folder of a "
                           "finished frame or sliding run (runs/<dataset>/<model>/<time>)")
    source_kind = _run_mode(run)
    if source_kind not in ("frame", "sliding"):
        raise DatasetError(f"mode.from_run={str(from_run)!r} is a mode={source_kind} run: summaries are made "
                           "from a frame run or a sliding run")
    by_video: dict[str, list[tuple[float, str, str]]] = {}
    with gens.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a torn line: bench.store sets those aside
            if not isinstance(r, dict) or r.get("status") != "ok" or not isinstance(r.get("caption"), dict):
                continue
            if not (r.get("validity") or {}).get("schema_valid"):
                continue  # only captions in their schema: garbage in would be summarised as fact
            video = r.get("video")
            if video is None:
                continue
            # a sliding link's caption describes its second frame: it is placed at that frame's time
            t = r.get("t_end") if r.get("unit") == "sliding" and r.get("t_end") is not None else r.get("timestamp_s")
            order = float(t) if isinstance(t, int | float) else float(r.get("chain_index") or 0)
            text = json.dumps(r["caption"], ensure_ascii=False, sort_keys=True)
            by_video.setdefault(str(video), []).append((order, str(r["frame_id"]), text))
    out = []
    for unit in units:
        rows = sorted(by_video.get(unit.video, []))
        if not rows:
            out.append(_replace(unit, skip=f"{str(from_run)!r} has no valid captions of video {unit.video!r}: "
                                          "run mode=frame (or mode=sliding) on it first"))
            continue
        text = "\n".join(f"t={t:g}s: {caption}" for t, _, caption in rows)
        out.append(_replace(unit, text=text, notes=unit.notes + (f"{len(rows)} captions from {source_kind} run "
                                                                  f"{run.name}",)))
    return out


def _replace(unit: Unit, **changes: Any) -> Unit:
    from dataclasses import replace

    return replace(unit, **changes)


def _run_mode(run: Path) -> str:
    """mode.kind of a run folder's config.yaml (runs made before modes existed are frame runs)."""
    import yaml

    try:
        cfg = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return "frame"
    mode = cfg.get("mode") if isinstance(cfg, dict) else None
    return str((mode or {}).get("kind") or "frame") if isinstance(mode, dict) else "frame"
