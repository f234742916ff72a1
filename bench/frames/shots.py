"""Shot detection and keyframe selection on tiny grey thumbnails (no extra dependency).

Every decoded frame (sequential decode, no seeking) is shrunk by libswscale
to a 32x24 grey thumbnail (area averaging, bit-exact flags).  Two numbers per
frame drive everything, both mean absolute differences in grey levels (0-255):

- *motion*: against the previous frame;
- *novelty*: against a **running reference**, the thumbnail of the current
  shot's first settled frame.

A new shot starts when novelty exceeds ``threshold`` and the current shot is
at least ``min_shot_s`` long.  Hard cuts jump past the threshold at once; a
dissolve or a fade drifts away from the reference and crosses it part-way, so
it is caught too (a plain frame-to-frame detector misses it).  Right after a
cut the reference follows the picture until motion settles (``settle``
frames below ``settle_motion``), so one dissolve is one cut, not several.
A slow pan that ends far from where it started also becomes a new "shot":
shots here are visually distinct segments.  Screen recordings produce many
false cuts on UI changes, hence the caps per shot and per video.

Keyframes (:func:`shot_keyframes`) are chosen on a 0.1 s grid away from shot edges, preferring
settled (low-motion) non-blank frames near the middle of the shot. Used by ``dataset=video``
(``sampling=scenes``) and by the frames1k builder (bench.datasets.selectors.shots).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.frames.decode import DecodeError, iter_video_frames

__all__ = ["Scan", "Shot", "ShotParams", "scan_video", "detect_shots", "shot_keyframes"]

THUMB = (32, 24)
GRID_S = 0.1


@dataclass(frozen=True)
class ShotParams:
    threshold: float = 22.0  # novelty (mean abs grey diff vs the reference) that starts a new shot
    min_shot_s: float = 0.8
    settle_motion: float = 6.0  # change over ~0.3 s under which the picture has settled
    settle: int = 3  # consecutive settled frames before the reference is fixed again
    max_follow_s: float = 1.5  # stop following after this long even if the picture never settles
    per_shot: int = 3  # at most this many frames per shot (runs aside)
    min_gap_s: float = 1.0  # between frames of one shot
    run_frames: int = 0  # frames per run of consecutive frames (0 = no runs)
    run_fps: float = 2.0
    runs: int = 1  # runs per video, in its longest shots
    blank_mean: float = 14.0  # thumbnail luma mean below this: black
    blank_std: float = 4.0  # thumbnail luma std below this: uniform (fade, blank slate)
    skip_start_s: float = 0.0  # ignore titles/fade-in at the start
    skip_end_s: float = 0.0

    @classmethod
    def from_config(cls, cfg: dict) -> ShotParams:
        cfg = dict(cfg)
        run = cfg.pop("run", None) or {}
        for k in ("method", "frames"):
            cfg.pop(k, None)
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"unknown shot selector option(s): {sorted(unknown)}")
        if run:
            cfg.update(run_frames=int(run.get("frames", 0)), run_fps=float(run.get("fps", 2.0)),
                       runs=int(run.get("shots", 1)))
        return cls(**cfg)


@dataclass
class Scan:
    """Per-frame thumbnails and statistics of one video."""

    path: Path
    times: np.ndarray  # seconds from the first decoded frame
    thumbs: np.ndarray  # (n, 24, 32) float32 grey
    motion: np.ndarray  # mean |thumb_i - thumb_{i-1}|, 0 for the first frame
    mean: np.ndarray
    std: np.ndarray
    end_s: float  # time the last frame leaves the screen

    @property
    def n(self) -> int:
        return len(self.times)

    def index_at(self, t: float) -> int:
        """The frame on screen at time t (the last frame starting at or before t)."""
        return max(0, int(np.searchsorted(self.times, t + 1e-6, side="right")) - 1)

    def blank(self, i: int, p: ShotParams) -> bool:
        return bool(self.mean[i] < p.blank_mean or self.std[i] < p.blank_std)

    def instability(self, i: int) -> float:
        """Change around frame i: the larger of the motion into and out of it (and its neighbours')."""
        lo, hi = max(1, i - 1), min(self.n - 1, i + 2)
        return float(self.motion[lo:hi + 1].max()) if hi >= lo else 0.0


@dataclass
class Shot:
    index: int
    start_i: int
    end_i: int  # exclusive
    start_s: float
    end_s: float
    settled_s: float | None = None  # first settled frame; None: a transition, no keyframes

    @property
    def id(self) -> str:
        return f"s{self.index:03d}"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _thumb(frame) -> np.ndarray:
    from av.video.reformatter import Interpolation

    flags = Interpolation.AREA | Interpolation.ACCURATE_RND | Interpolation.BITEXACT
    g = frame.reformat(width=THUMB[0], height=THUMB[1], format="gray", interpolation=flags)
    return g.to_ndarray().astype(np.float32)[: THUMB[1], : THUMB[0]]


def scan_video(path: str | os.PathLike) -> Scan:
    """Decode every frame once and keep a 32x24 grey thumbnail of each. Raises DecodeError."""
    times, thumbs = [], []
    for f in iter_video_frames(path, to_rgb=False):
        times.append(f.time_s)
        thumbs.append(_thumb(f.image))
    if not thumbs:
        raise DecodeError(f"{path}: no frames decoded")
    th = np.stack(thumbs)
    motion = np.zeros(len(th), dtype=np.float32)
    if len(th) > 1:
        motion[1:] = np.abs(th[1:] - th[:-1]).mean(axis=(1, 2))
    t = np.asarray(times, dtype=np.float64)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.04
    return Scan(Path(path), t, th, motion, th.mean(axis=(1, 2)), th.std(axis=(1, 2)), float(t[-1] + step))


def detect_shots(scan: Scan, p: ShotParams = ShotParams()) -> list[Shot]:
    """Cut the video into shots with the running-reference novelty measure.

    After a cut (and at the start, which may fade in) the reference follows
    the picture until it has *settled*: ``settle`` consecutive frames that
    differ from the frame ~0.3 s before by less than ``settle_motion``.  The
    window catches slow dissolves whose frame-to-frame change is tiny.  A
    shot that never settles (a fade, the middle of a dissolve) gets no
    keyframes.
    """
    step = float(np.median(np.diff(scan.times))) if scan.n > 1 else 0.04
    w = max(1, int(round(0.3 / max(step, 1e-3))))
    starts, settled_at = [0], [None]
    ref = scan.thumbs[0]
    following, settled = True, 0
    for i in range(scan.n):
        g = scan.thumbs[i]
        if following:
            ref = g
            drift = float(np.abs(g - scan.thumbs[max(0, i - w)]).mean()) if i else 0.0
            settled = settled + 1 if drift < p.settle_motion else 0
            if settled >= p.settle:
                following = False
                settled_at[-1] = i
            elif scan.times[i] - scan.times[starts[-1]] > p.max_follow_s:
                following = False  # keeps moving (camera motion): take it as it is from here
                settled_at[-1] = i
            continue
        novelty = float(np.abs(g - ref).mean())
        if novelty > p.threshold and scan.times[i] - scan.times[starts[-1]] >= p.min_shot_s:
            starts.append(i)
            settled_at.append(None)
            ref, following, settled = g, True, 0
    bounds = starts + [scan.n]
    shots = []
    for k in range(len(starts)):
        a, b = bounds[k], bounds[k + 1]
        end_s = float(scan.times[b]) if b < scan.n else scan.end_s
        shot = Shot(k, a, b, float(scan.times[a]), end_s)
        shot.settled_s = None if settled_at[k] is None else float(scan.times[settled_at[k]])
        shots.append(shot)
    return shots


def _grid(a: float, b: float) -> list[float]:
    """Grid times (0.1 s) in [a, b)."""
    lo, hi = math.ceil(a / GRID_S - 1e-9), math.ceil(b / GRID_S - 1e-9)
    return [round(k * GRID_S, 1) for k in range(lo, hi)]


def _candidates(scan: Scan, shot: Shot, p: ShotParams) -> list[float]:
    if shot.settled_s is None:
        return []  # cut again before it settled: a fade or the middle of a dissolve
    a = max(shot.settled_s, p.skip_start_s)
    b = min(shot.end_s, scan.end_s - p.skip_end_s)
    edge = min(0.3, max(0.0, (b - a) * 0.2))
    return [t for t in _grid(a + edge, b - edge) if not scan.blank(scan.index_at(t), p)]


def _best(scan: Scan, cands: list[float], target: float, span: float, taken: list[float],
          min_gap: float) -> float | None:
    best, best_score = None, math.inf
    for t in cands:
        if any(abs(t - u) < min_gap - 1e-9 for u in taken):
            continue
        score = scan.instability(scan.index_at(t)) + 4.0 * abs(t - target) / max(span, GRID_S)
        if score < best_score - 1e-9:
            best, best_score = t, score
    return best


def shot_keyframes(scan: Scan, shots: list[Shot], p: ShotParams) -> dict[int, list[float]]:
    """Per shot, its frames in order of preference: the settled middle frame, then spread extras."""
    out: dict[int, list[float]] = {}
    for shot in shots:
        cands = _candidates(scan, shot, p)
        if not cands:
            continue  # all black/blank (fades, slates) or too short
        span = shot.duration_s
        picks: list[float] = []
        for frac in (0.5, 0.2, 0.8, 0.35, 0.65, 0.1, 0.9)[: max(1, p.per_shot)]:
            t = _best(scan, cands, shot.start_s + frac * span, span, picks, p.min_gap_s if picks else 0.0)
            if t is not None and len(picks) < p.per_shot:
                picks.append(t)
        out[shot.index] = picks
    return out
