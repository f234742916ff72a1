"""``dataset=video dataset.path=FILE_OR_DIR``: keyframes from each video, cached on disk.

Frames are taken at ``dataset.fps`` (``dataset.sampling=fps``, the default) or
one per shot at scene changes (``dataset.sampling=scenes``: the shot detector
of :mod:`bench.frames.shots`, novelty threshold
``dataset.scene_threshold``), at most ``dataset.max_frames_per_video`` per
video (spread evenly over it), decoded sequentially with PyAV (any container
and codec it reads).  Ids are ``<video stem>-t<seconds>`` (``clip-t012.5``),
with the video's relative path instead of its stem when two videos share a
stem (``a/clip-t012.5``); the same video and settings give the same ids.

The frames are written once as JPEGs to
``<dataset.cache_dir>/<video sha256[:16]>-<settings hash>/`` with an
``index.json`` written last, and reused on later runs.  A video that cannot be
read (empty, not a video, unsupported codec, no video stream) becomes one
failed frame naming it and the run goes on; if no video gives a frame the
dataset is unusable (``DatasetError``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bench.config import DatasetConfig
from bench.frames.base import PROJECT_ROOT, DatasetError, Frame, frame_id, resolve_dataset_dir
from bench.frames.decode import DecodeError, encode_jpeg, frames_at, resize_long_side, sha256_file
from bench.frames.folder import _BAD, list_files, normalise_extensions

CACHE_VERSION = 2  # 2: fps sampling records shot ids
STORE_MAX_SIDE = 1920  # cached frames keep up to this; dataset.max_side is applied when sending


def _settings(cfg: DatasetConfig) -> dict:
    s = {"v": CACHE_VERSION, "sampling": cfg.sampling, "max": cfg.max_frames_per_video, "side": STORE_MAX_SIDE}
    if cfg.sampling == "fps":
        s["fps"] = float(cfg.fps)
    s["threshold"] = float(cfg.scene_threshold)  # both samplings detect shots
    return s


def _evenly(items: list, cap: int) -> list:
    if cap <= 0 or len(items) <= cap:
        return items
    return [items[(i * len(items)) // cap] for i in range(cap)]


def plan_times(path: Path, cfg: DatasetConfig) -> list[tuple[float, str | None]]:
    """(timestamp, shot id) of the frames to take from one video. Raises DecodeError."""
    from bench.frames.shots import ShotParams, detect_shots, scan_video, shot_keyframes

    if cfg.sampling == "scenes":
        scan = scan_video(path)
        p = ShotParams(threshold=float(cfg.scene_threshold), per_shot=1)
        shots = detect_shots(scan, p)
        keys = shot_keyframes(scan, shots, p)
        picks = [(keys[s.index][0], s.id) for s in shots if s.index in keys]
        if not picks:  # e.g. a video that never settles and is very short: take its middle
            picks = [(round(scan.end_s / 2, 1), "s000")]
        return _evenly(picks, cfg.max_frames_per_video)
    # One decode gives both the length and the shots: each sampled frame carries the id of the shot it falls
    # in (pixel shot detection), the true cuts temporal scores compare caption boundaries against.
    scan = scan_video(path)
    shots = detect_shots(scan, ShotParams(threshold=float(cfg.scene_threshold)))
    last = float(scan.times[-1]) if len(scan.times) else None
    step = 1.0 / float(cfg.fps)
    n = int(last / step + 1e-9) + 1 if last is not None else 0
    times = [round(k * step, 3) for k in range(n)]
    return [(t, _shot_at(shots, t)) for t in _evenly(times, cfg.max_frames_per_video)]


def _shot_at(shots: list, t: float) -> str | None:
    """The id of the shot whose [start_s, end_s) holds t (the last shot also holds its end)."""
    for shot in shots:
        if shot.start_s <= t < shot.end_s:
            return shot.id
    return shots[-1].id if shots and t >= shots[-1].start_s else None


def _cache_root(cfg: DatasetConfig) -> Path:
    p = Path(os.path.expanduser(cfg.cache_dir))
    return p if p.is_absolute() else PROJECT_ROOT / p


def extract(path: Path, cfg: DatasetConfig) -> tuple[Path, list[dict]]:
    """Extract (or reuse) one video's frames; returns the cache folder and its index rows."""
    settings = _settings(cfg)
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    folder = _cache_root(cfg) / f"{sha256_file(path)[:16]}-{key}"
    index = folder / "index.json"
    if index.is_file():
        try:
            rows = json.loads(index.read_text())["frames"]
            if all((folder / r["file"]).is_file() for r in rows):
                return folder, rows
        except (ValueError, KeyError, TypeError):
            pass  # damaged index: extract again
    plan = plan_times(path, cfg)
    got = frames_at(path, [t for t, _ in plan])
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for t, shot in plan:
        name = f"t{t:09.3f}.jpg"
        data = encode_jpeg(resize_long_side(got[t].image, STORE_MAX_SIDE), 95)
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)
        rows.append({"t": t, "shot": shot, "file": name})
    tmp = folder / ".index.json.tmp"
    tmp.write_text(json.dumps({"video": str(path), "settings": settings, "frames": rows}, indent=1))
    os.replace(tmp, index)
    return folder, rows


def _videos(root: Path, cfg: DatasetConfig) -> tuple[Path, list[Path]]:
    if root.is_file():
        return root.parent, [root]
    if root.is_dir():
        return root, list_files(root, normalise_extensions(cfg.video_extensions))
    raise DatasetError(f"dataset {cfg.name!r}: {root} does not exist "
                       "(dataset.path should name a video file or a folder of videos)")


def load_videos(cfg: DatasetConfig) -> list[Frame]:
    if cfg.sampling not in ("fps", "scenes"):
        raise DatasetError(f"dataset.sampling={cfg.sampling!r}: use fps or scenes")
    if cfg.sampling == "fps" and not cfg.fps > 0:
        raise DatasetError(f"dataset.fps={cfg.fps}: must be positive")
    base, videos = _videos(resolve_dataset_dir(cfg.path), cfg)
    if not videos:
        raise DatasetError(f"dataset {cfg.name!r}: no videos ({', '.join(normalise_extensions(cfg.video_extensions))}) "
                           f"under {base}")
    stems = [v.stem for v in videos]
    frames: list[Frame] = []
    errors = []
    for v in videos:
        rel = v.relative_to(base).as_posix()
        prefix = _BAD.sub("_", v.stem if stems.count(v.stem) == 1 else rel.rsplit(".", 1)[0])
        try:
            if v.stat().st_size == 0:
                raise DecodeError(f"{rel} is empty (0 bytes)")
            folder, rows = extract(v, cfg)
        except (DecodeError, OSError, ValueError) as exc:
            msg = str(exc).replace(str(v), rel)
            errors.append(msg)
            frames.append(Frame(id=prefix, image_path=None, meta={"video": rel},
                                error=f"video {rel}: cannot extract frames: {msg}"))
            continue
        for r in rows:
            frames.append(Frame(id=frame_id(prefix, r["t"]), image_path=folder / r["file"],
                                meta={"video": rel, "timestamp_s": r["t"], "shot": r["shot"]}))
        if cfg.limit is not None and len(frames) >= cfg.limit:
            break
    if frames and all(f.error for f in frames):
        raise DatasetError(f"dataset {cfg.name!r}: no usable video under {base}: " + "; ".join(errors))
    return frames[: cfg.limit] if cfg.limit is not None else frames
