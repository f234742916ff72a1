"""Animated WebP previews of a shot or a window, written once to a content-addressed cache (issue 14).

    preview = build_preview([(image_path, timestamp_s), ...])   # None when no image could be read
    uri = data_uri(preview.path)                                 # data:image/webp;base64,...

The settings are NeMo Curator's PreviewStage defaults (seed 002, "Captions and Preview": target_fps 1.0,
target_height 240, quality 50): one frame per second of the shot, 240 pixels high (width keeps the aspect), WebP
quality 50. Pillow writes the animation (libwebp), so no ffmpeg binary is needed. The frames shown are those a
1 fps clock picks (at each whole second from the first frame, the latest frame at or before it); a frame held
longer (sparse keyframes) is shown for as many seconds as it covers. A shot longer than MAX_FRAMES seconds is
sampled evenly to MAX_FRAMES frames and its preview records the lower rate (`fps`).

The cache key is the hash of the settings and of each frame's image *bytes* and display time, so the same frames
give the same file wherever they live, and a changed image gives a new one. Location: $CAPBENCH_CACHE_DIR/previews,
else ${XDG_CACHE_HOME:-~/.cache}/capbench/previews (as the judge cache, bench/score/cache.py). Files are written
to a temporary name and renamed, so two report builds never see half a file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

Image.MAX_IMAGE_PIXELS = 50_000_000  # the harness's decompression-bomb limit

# NeMo Curator PreviewStage defaults (seed 002: target_fps 1.0, target_height 240, quality 50)
FPS = 1.0
HEIGHT = 240
QUALITY = 50
# libwebp effort 0-6, Pillow's default. NeMo's compression_level 6 (method 6) measured here on frames1k at 427x240:
# 197 ms of CPU a frame against 10 ms at 4, for 5% fewer bytes (6.8 vs 7.2 KB a frame)
METHOD = 4
MAX_FRAMES = 30  # frames in one preview; a longer shot is sampled evenly (its fps is recorded)
PREVIEW_VERSION = "1"


@dataclass(frozen=True)
class Preview:
    key: str  # sha256 of the settings, frames and display times: the cache file's name
    path: Path
    frames: int  # frames in the animation
    fps: float  # frames per second of the shot's time shown (1.0 unless the shot was longer than MAX_FRAMES s)
    width: int
    height: int
    bytes: int
    cached: bool  # read from the cache, not encoded now


def cache_dir() -> Path:
    folder = os.environ.get("CAPBENCH_CACHE_DIR")
    if folder:
        return Path(folder).expanduser() / "previews"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "capbench" / "previews"


def schedule(times: list[float | None], fps: float = FPS, max_frames: int = MAX_FRAMES) -> tuple[list[tuple[int, int]],
                                                                                                  float]:
    """Which inputs to show and for how long: [(index, duration ms)], and the preview's rate in frames per second
    of shot time. times are in display order; None (unknown) counts as one frame period after the previous."""
    if not times:
        return [], fps
    step = 1.0 / fps
    known: list[float] = []
    for t in times:
        known.append(t if t is not None else (known[-1] + step if known else 0.0))
    span = max(0.0, known[-1] - known[0])
    ticks = int(span * fps + 1e-9) + 1
    if ticks > max_frames:  # a long shot: fewer, evenly spaced ticks, each shown for one period
        step = span / (max_frames - 1) if max_frames > 1 else span or step
        ticks = max_frames
    picks: list[int] = []
    j = 0
    for n in range(ticks):
        clock = known[0] + n * step + 1e-9
        while j + 1 < len(known) and known[j + 1] <= clock:
            j += 1
        picks.append(j)
    frame_ms = int(round(1000 / fps))
    out: list[tuple[int, int]] = []
    for idx in picks:  # a frame held over several ticks is one frame shown longer
        if out and out[-1][0] == idx:
            out[-1] = (idx, out[-1][1] + frame_ms)
        else:
            out.append((idx, frame_ms))
    return out, (1.0 / step if step else fps)


def _read(path: str | Path) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def _decode(data: bytes, height: int) -> Image.Image | None:
    try:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (height * 4, height))  # JPEG: decode at a smaller scale when it is still >= the target
        img = img.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        return None
    return img


def build_preview(frames: list[tuple[str | Path | None, float | None]], *, folder: Path | None = None,
                  fps: float = FPS, height: int = HEIGHT, quality: int = QUALITY) -> Preview | None:
    """The animated WebP of these frames ((image path, timestamp_s) in time order), from the cache or encoded
    now and cached. Frames whose image is missing or unreadable are left out; None when none is left."""
    readable = [(data, t) for data, t in ((_read(p) if p else None, t) for p, t in frames) if data]
    if not readable:
        return None
    plan, rate = schedule([t for _, t in readable], fps)
    shown = [(readable[i][0], ms) for i, ms in plan]
    settings = {"v": PREVIEW_VERSION, "height": height, "quality": quality, "method": METHOD}
    key = hashlib.sha256(json.dumps({**settings, "frames": [[hashlib.sha256(d).hexdigest(), ms] for d, ms in shown]},
                                    sort_keys=True).encode()).hexdigest()
    folder = folder or cache_dir()
    path = folder / key[:2] / f"{key}.webp"
    if path.is_file():
        try:
            with Image.open(path) as img:
                return Preview(key, path, getattr(img, "n_frames", 1), rate, img.width, img.height,
                               path.stat().st_size, cached=True)
        except (OSError, UnidentifiedImageError):
            pass  # a damaged cache file is made again
    images, durations = [], []
    size: tuple[int, int] | None = None
    for data, ms in shown:
        img = _decode(data, height)
        if img is None:
            continue
        if size is None:  # every frame of an animation has the first frame's size
            size = (max(1, round(img.width * height / img.height)), height)
        images.append(img.resize(size, Image.Resampling.LANCZOS))
        durations.append(ms)
    if not images or size is None:
        return None
    buf = io.BytesIO()
    images[0].save(buf, format="WEBP", save_all=True, append_images=images[1:], duration=durations, loop=0,
                   quality=quality, method=METHOD)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".webp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Preview(key, path, len(images), rate, size[0], size[1], len(buf.getvalue()), cached=False)


def data_uri(path: Path) -> str:
    return "data:image/webp;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
