"""Decode, resize and write dataset frames deterministically.

Video frames are decoded **sequentially** with PyAV from the start of the
stream; we never seek.  Seeking returned corrupt green frames for some clips
(``cockatoo.mp4``) and container frame counts are unreliable (``tree.avi``
decodes to 68 of a nominal 444 frames), see ``shared/datasets/frame-sources.md``.

Timestamps are in seconds **relative to the first decoded frame** of the video
stream (so a container whose first pts is 0.5 s still starts at 0.0).  The frame
picked for a requested time ``t`` is the frame on screen at ``t``: the last
frame whose time is ``<= t`` (or the first frame, if ``t`` is before it).

Images are written as baseline JPEG with fixed settings (quality, 4:2:0
subsampling, no optimisation pass, no EXIF/ICC/DPI metadata), so the same input
pixels give byte-identical files for a given Pillow/libjpeg build.  The RGB
conversion goes through libswscale via PyAV; pixel-exact output is therefore
pinned to the PyAV/FFmpeg build too (the build records both versions).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, ImageStat

__all__ = [
    "DecodeError",
    "DecodedFrame",
    "iter_video_frames",
    "frames_at",
    "video_info",
    "load_still",
    "resize_long_side",
    "encode_jpeg",
    "write_bytes_if_changed",
    "sha256_bytes",
    "sha256_file",
    "frame_stats",
    "looks_blank",
    "tool_versions",
]

# Two timestamps closer than this are treated as equal (float noise in pts*tb).
_EPS = 1e-6


class DecodeError(RuntimeError):
    """A video could not be opened or decoded, or a timestamp is out of range."""


@dataclass(frozen=True)
class DecodedFrame:
    index: int  # 0-based index in decode (presentation) order
    time_s: float  # seconds from the first decoded frame
    image: Image.Image  # RGB


def _rgb_image(frame) -> Image.Image:
    """YUV (or any) -> RGB through libswscale with bit-exact, accurately rounded paths."""
    from av.video.reformatter import Interpolation

    flags = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT
    img = frame.reformat(format="rgb24", interpolation=flags).to_image()
    return img if img.mode == "RGB" else img.convert("RGB")


def _frame_time(frame, index: int, rate: float | None) -> float | None:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    if rate:
        return index / rate
    return None


def iter_video_frames(path: str | os.PathLike, *, stream_index: int = 0,
                      to_rgb: bool = True) -> Iterator[DecodedFrame]:
    """Yield every frame of a video stream in order, decoding sequentially.

    ``time_s`` is relative to the first decoded frame.  With ``to_rgb=False``
    the ``image`` field is the raw ``av.VideoFrame`` (cheaper when a caller,
    e.g. a shot detector, only needs a few of them as images).
    """
    import av  # imported lazily: only the decode path needs it

    path = Path(path)
    try:
        container = av.open(str(path))
    except Exception as exc:  # av raises several error types
        raise DecodeError(f"cannot open video {path}: {exc}") from exc
    with container:
        videos = container.streams.video
        if len(videos) <= stream_index:
            raise DecodeError(f"{path}: no video stream #{stream_index}")
        stream = videos[stream_index]
        stream.thread_type = "SLICE"
        try:
            from av.codec.context import Flags

            # unaligned: crop to the visible picture exactly (a Theora clip otherwise
            # decodes 218 px wide instead of 214); bitexact: no CPU-dependent shortcuts.
            stream.codec_context.flags |= Flags.unaligned | Flags.bitexact
        except (ImportError, AttributeError):  # pragma: no cover - older PyAV
            pass
        rate = float(stream.average_rate) if stream.average_rate else None
        t0: float | None = None
        last_t: float | None = None
        index = 0
        try:
            for frame in container.decode(stream):
                t = _frame_time(frame, index, rate)
                if t is None:
                    t = last_t + (1 / rate if rate else 0.0) if last_t is not None else 0.0
                if t0 is None:
                    t0 = t
                rel = t - t0
                if last_t is not None and rel < last_t:  # non-monotonic pts: keep order
                    rel = last_t
                last_t = rel
                image = _rgb_image(frame) if to_rgb else frame
                yield DecodedFrame(index=index, time_s=rel, image=image)
                index += 1
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{path}: decode failed after {index} frames: {exc}") from exc
        if index == 0:
            raise DecodeError(f"{path}: no frames decoded")


def video_info(path: str | os.PathLike) -> dict:
    """Frame count, duration (last frame time) and size by decoding everything."""
    n = 0
    last = None
    size = None
    for f in iter_video_frames(path, to_rgb=False):
        n += 1
        last = f.time_s
        size = (f.image.width, f.image.height)
    return {"frames": n, "last_frame_s": last, "size": size}


def frames_at(path: str | os.PathLike, timestamps: Sequence[float], *,
              stream_index: int = 0, tolerance_s: float = 0.5) -> dict[float, DecodedFrame]:
    """Return the frame on screen at each requested timestamp (seconds).

    One sequential pass; only the needed frames are converted to RGB.  A
    timestamp later than the last frame by more than ``tolerance_s`` is an
    error (it names the video and the last decoded time).
    """
    wanted = sorted(set(float(t) for t in timestamps))
    if not wanted:
        return {}
    if wanted[0] < 0:
        raise DecodeError(f"{path}: negative timestamp {wanted[0]}")
    out: dict[float, DecodedFrame] = {}
    prev = None  # previous raw DecodedFrame (av frame inside)
    i = 0

    def take(fr) -> DecodedFrame:
        return DecodedFrame(index=fr.index, time_s=fr.time_s, image=_rgb_image(fr.image))

    for fr in iter_video_frames(path, stream_index=stream_index, to_rgb=False):
        while i < len(wanted) and fr.time_s > wanted[i] + _EPS:
            # fr starts after wanted[i]: the previous frame was on screen then.
            out[wanted[i]] = take(prev if prev is not None else fr)
            i += 1
        if i >= len(wanted):
            break
        prev = fr
    else:
        # stream ended: remaining timestamps take the last frame if close enough
        while i < len(wanted):
            if prev is None or wanted[i] - prev.time_s > tolerance_s:
                last = "none" if prev is None else f"{prev.time_s:.3f}s"
                raise DecodeError(
                    f"{path}: timestamp {wanted[i]}s is past the end of the video "
                    f"(last decoded frame at {last})")
            out[wanted[i]] = take(prev)
            i += 1
    return out


def load_still(path: str | os.PathLike, *, rotate: int = 0,
               exif_transpose: bool = True) -> Image.Image:
    """Load a still image as RGB, applying EXIF orientation and an extra rotation.

    ``rotate`` is clockwise degrees (0/90/180/270), as kphotoalbum's ``angle=``
    stores it in its index.xml (not in EXIF).
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            img = ImageOps.exif_transpose(im) if exif_transpose else im.copy()
    except Exception as exc:
        raise DecodeError(f"cannot read image {path}: {exc}") from exc
    if rotate % 360:
        if rotate % 90:
            raise ValueError(f"rotate must be a multiple of 90, got {rotate}")
        img = img.rotate(-rotate, expand=True)  # PIL rotates counter-clockwise
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        img = bg
    elif img.mode != "RGB":
        img = img.convert("RGB")
    return img


def resize_long_side(img: Image.Image, max_side: int) -> Image.Image:
    """Downscale (never upscale) so that max(width, height) <= max_side (Lanczos)."""
    w, h = img.size
    long_side = max(w, h)
    if long_side <= max_side:
        return img
    scale = max_side / long_side
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if w >= h:
        new = (max_side, new[1])
    else:
        new = (new[0], max_side)
    return img.resize(new, Image.Resampling.LANCZOS, reducing_gap=None)


def encode_jpeg(img: Image.Image, quality: int = 85) -> bytes:
    """Encode RGB pixels as a deterministic baseline JPEG (no metadata)."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    # Drop anything that could carry metadata into the file.
    clean = Image.frombytes("RGB", img.size, img.tobytes())
    buf = io.BytesIO()
    clean.save(buf, format="JPEG", quality=int(quality), subsampling=2,
               optimize=False, progressive=False)
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_bytes_if_changed(path: str | os.PathLike, data: bytes) -> bool:
    """Atomically write ``data`` unless the file already holds exactly it.

    Returns True when the file was (re)written.
    """
    path = Path(path)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def frame_stats(img: Image.Image) -> dict:
    """Mean and standard deviation of luma (0-255): cheap blank/black checks."""
    stat = ImageStat.Stat(img.convert("L"))
    return {"mean": round(stat.mean[0], 2), "std": round(stat.stddev[0], 2)}


def looks_blank(img: Image.Image, *, min_std: float = 8.0, min_mean: float = 12.0) -> bool:
    """True for near-black or near-uniform frames (fades, blank slates)."""
    s = frame_stats(img)
    return s["mean"] < min_mean or s["std"] < min_std


def tool_versions() -> dict:
    """Versions that pin pixel-exact output (recorded with each build)."""
    import PIL

    try:
        import av

        av_version = av.__version__
        libs = {name: ".".join(str(x) for x in av.library_versions.get(name, ()))
                for name in ("libavcodec", "libswscale")}
    except Exception:  # pragma: no cover - av missing
        av_version, libs = None, {"libavcodec": None, "libswscale": None}
    return {"pillow": PIL.__version__, "av": av_version, **libs}
