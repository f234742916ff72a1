"""frames1k selection from shots (shot detection itself: bench.frames.shots).

Frames are chosen on a 0.1 s grid (ids stay short: ``name-t012.3``), away
from shot edges, preferring settled (low-motion) non-blank frames near the
middle of the shot.  :func:`select` fills a source's quota in tiers so that
any quota spreads over the whole video: one frame per shot first (shots in
van der Corput order, so a prefix covers the video evenly), then runs of
consecutive frames at a fixed rate in the longest shots (for temporal
metrics), then further frames per shot, at least ``min_gap_s`` apart, up to
``per_shot``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bench.frames.shots import GRID_S, Scan, Shot, ShotParams, detect_shots, scan_video, shot_keyframes

from ..spec import Pick

__all__ = ["units", "select", "capacity", "shots_selector"]


def _corput(n: int) -> list[int]:
    """0..n-1 in van der Corput (bit-reversed) order: every prefix spreads over the range."""
    if n <= 1:
        return list(range(n))
    bits = (n - 1).bit_length()
    keyed = sorted(range(n), key=lambda i: int(format(i, f"0{bits}b")[::-1], 2))
    return keyed


@dataclass(frozen=True)
class Unit:
    tier: int
    shot: str
    times: tuple[float, ...]
    run: dict | None = None


def _run_times(scan: Scan, shot: Shot, around: float, p: ShotParams) -> tuple[float, ...] | None:
    n, step = p.run_frames, 1.0 / p.run_fps
    length = (n - 1) * step
    lo, hi = (shot.settled_s or shot.start_s) + 0.3, min(shot.end_s, scan.end_s - p.skip_end_s) - 0.3 - length
    lo = max(lo, p.skip_start_s)
    if hi < lo:
        return None
    start = min(max(around - ((n - 1) // 2) * step, lo), hi)
    start = round(math.ceil(start / GRID_S - 1e-9) * GRID_S, 1)
    times = tuple(round(start + k * step, 3) for k in range(n))
    if times[-1] > hi + length + 1e-9:
        return None
    if any(scan.blank(scan.index_at(t), p) for t in times):
        return None
    return times


def units(scan: Scan, shots: list[Shot], p: ShotParams, name: str) -> list[Unit]:
    """All units a source can contribute, in the order they are taken."""
    keyframes = shot_keyframes(scan, shots, p)
    usable = [s for s in shots if s.index in keyframes]
    order = [usable[i] for i in _corput(len(usable))]
    out = [Unit(0, s.id, (keyframes[s.index][0],)) for s in order]
    if p.run_frames > 1:
        longest = sorted(usable, key=lambda s: (-s.duration_s, s.index))
        made = 0
        for s in longest:
            if made >= p.runs:
                break
            times = _run_times(scan, s, keyframes[s.index][0], p)
            if times:
                out.append(Unit(1, s.id, times, {"id": f"{name}-{s.id}", "fps": p.run_fps}))
                made += 1
    for r in range(1, p.per_shot):
        out += [Unit(1 + r, s.id, (keyframes[s.index][r],)) for s in order if len(keyframes[s.index]) > r]
    return out


def capacity(all_units: list[Unit]) -> int:
    seen: set[float] = set()
    for u in all_units:
        seen.update(u.times)
    return len(seen)


def select(all_units: list[Unit], quota: int, where: str = "video") -> list[Pick]:
    """Take units in order until exactly ``quota`` distinct frames; picks sorted by time."""
    chosen: dict[float, Pick] = {}
    for u in all_units:
        if len(chosen) >= quota:
            break
        new = [t for t in u.times if t not in chosen]
        if not new or len(chosen) + len(new) > quota:
            continue
        for k, t in enumerate(u.times):
            run = None if u.run is None else {**u.run, "index": k}
            if t not in chosen or run is not None:
                chosen[t] = Pick(t, u.shot, run)
    if len(chosen) < quota:
        raise ValueError(f"{where} yields only {len(chosen)} frames (of {capacity(all_units)} possible); "
                         f"the spec asks for {quota}: lower select.frames or loosen the selector")
    return [chosen[t] for t in sorted(chosen)]


def shots_selector(src, media: Path) -> list[Pick]:
    """The ``shots`` selector for ``select: {method: shots, frames: N, ...}`` in a spec."""
    p = ShotParams.from_config(src.select)
    scan = scan_video(media)
    shots = detect_shots(scan, p)
    return select(units(scan, shots, p, src.name), int(src.select["frames"]), f"source {src.name}")
