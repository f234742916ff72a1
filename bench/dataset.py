"""Frames: read a dataset manifest and turn each frame into the bytes sent.

A dataset is a folder with `manifest.jsonl` (one JSON object a line: `id`,
`image` relative to the folder, optional `reference` caption, `content_type`,
`video`, `shot`, `timestamp_s`, `source` provenance) and the images. Problems
with one frame (bad manifest line, path escaping the folder, missing, empty,
corrupt or oversized image) become a `Frame` with `error` set: the runner
records it as a failed frame and goes on.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bench.backends.base import ImageInput
from bench.config import DatasetConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_ID_OK = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")


def standin_id(lineno: int) -> str:
    """The id of a manifest line that has no usable id of its own. '#' never occurs in a valid id
    (_ID_OK), so a stand-in can neither collide with a real frame nor take a real frame's id."""
    return f"#line{lineno}"


def display_name(name: str | Path) -> str:
    """A path as text that can be printed and written as UTF-8, losslessly: a byte that is not
    UTF-8 (held as a surrogate escape by Python) is shown as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")
# Image.MAX_IMAGE_PIXELS and the warnings filters are process-wide; encode_frame runs in worker threads.
_OPEN_LOCK = threading.Lock()


class DatasetError(Exception):
    """The dataset as a whole cannot be used (missing folder or manifest)."""


class FrameError(Exception):
    """One frame cannot be used; the message says why."""


@dataclass(frozen=True)
class Frame:
    id: str
    image_path: Path | None
    reference: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # content_type, video, shot, timestamp_s, source
    error: str | None = None  # set when the manifest line itself is unusable


def resolve_dataset_dir(path: str) -> Path:
    """Relative dataset paths are tried from the working directory, then the project root."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    return (PROJECT_ROOT / p).resolve()


def load_frames(cfg: DatasetConfig) -> list[Frame]:
    if cfg.limit is not None and cfg.limit < 1:
        raise DatasetError(f"dataset {cfg.name!r}: limit must be >= 1 (got {cfg.limit}); leave it unset for all frames")
    if cfg.kind != "manifest":  # folder | video: bench/sources/
        from bench.sources import load_source_frames

        return load_source_frames(cfg)
    root = resolve_dataset_dir(cfg.path)
    manifest = root / cfg.manifest
    hint = f" {cfg.build_hint}" if cfg.build_hint else ""
    if not root.is_dir():
        raise DatasetError(f"dataset {cfg.name!r}: folder {root} does not exist.{hint}")
    if not manifest.is_file():
        raise DatasetError(f"dataset {cfg.name!r}: no manifest at {manifest}.{hint}")
    frames: list[Frame] = []
    seen: set[str] = set()
    with manifest.open("rb") as fh:  # bytes, decoded per line: one bad line must not stop the rest
        for lineno, raw in enumerate(fh, start=1):
            if cfg.limit is not None and len(frames) >= cfg.limit:
                break
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")  # a BOM may only start the file
            except UnicodeDecodeError as exc:
                preview = raw.rstrip(b"\r\n")[:120].decode("utf-8", "backslashreplace")
                frames.append(Frame(id=standin_id(lineno), image_path=None,
                                    error=f"{manifest.name} line {lineno}: not UTF-8 ({exc.reason} at byte "
                                          f"{exc.start}: {preview}); fix or remove the line"))
                continue
            if not line.strip():
                continue
            frame = _parse_line(line, lineno, root, manifest.name)
            if frame.id in seen:
                frame = Frame(id=f"{frame.id}#line{lineno}", image_path=None,
                              error=f"{manifest.name} line {lineno}: duplicate id {frame.id!r}; ids must be unique")
            seen.add(frame.id)
            frames.append(frame)
    if not frames:
        raise DatasetError(f"dataset {cfg.name!r}: {manifest} lists no frames.{hint}")
    missing = sum(1 for f in frames if f.image_path is not None and not f.image_path.exists())
    if missing == len(frames):
        raise DatasetError(f"dataset {cfg.name!r}: none of the {missing} images listed in {manifest} exist.{hint}")
    return frames


def _parse_line(line: str, lineno: int, root: Path, manifest_name: str) -> Frame:
    where = f"{manifest_name} line {lineno}"
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as exc:
        return Frame(id=standin_id(lineno), image_path=None,
                     error=f"{where}: not valid JSON ({exc.msg}); fix or remove the line")
    if not isinstance(entry, dict):
        return Frame(id=standin_id(lineno), image_path=None, error=f"{where}: expected a JSON object")
    frame_id = entry.get("id")
    if not isinstance(frame_id, str) or not _ID_OK.fullmatch(frame_id):
        return Frame(id=standin_id(lineno), image_path=None,
                     error=f"{where}: missing or invalid 'id' (1-200 chars of letters, digits, . _ : / -)")
    image = entry.get("image")
    if not isinstance(image, str) or not image:
        return Frame(id=frame_id, image_path=None, error=f"{where}: frame {frame_id!r} has no 'image' path")
    # Lexical check: '..' and absolute paths may not leave the folder; a symlink
    # the user placed inside it is their choice and is followed.
    path = Path(os.path.normpath(root / image))
    if not path.is_relative_to(root):
        return Frame(id=frame_id, image_path=None,
                     error=f"frame {frame_id!r}: image path {image!r} escapes the dataset folder {display_name(root)}")
    meta = {k: entry.get(k) for k in ("content_type", "video", "shot", "timestamp_s", "run", "source", "sha256")
            if k in entry}
    reference = entry.get("reference")
    return Frame(id=frame_id, image_path=path, reference=reference if isinstance(reference, dict) else None, meta=meta)


def encode_frame(frame: Frame, max_side: int, jpeg_quality: int, max_pixels: int) -> ImageInput:
    """Read, orient, resize (long side <= max_side) and JPEG-encode one frame. Raises FrameError."""
    if frame.error:
        raise FrameError(frame.error)
    assert frame.image_path is not None
    path = frame.image_path
    name = display_name(path.name)  # a file name need not be UTF-8; the error record must be
    if not path.exists():
        raise FrameError(f"frame {frame.id!r}: image {display_name(path)} does not exist")
    if path.stat().st_size == 0:
        raise FrameError(f"frame {frame.id!r}: image {display_name(path)} is empty (0 bytes)")
    too_big = f"exceeds dataset.max_pixels={max_pixels} (decompression-bomb guard)"
    try:
        # dataset.max_pixels is the only size limit: Pillow's own MAX_IMAGE_PIXELS (~89.5 MP) would
        # otherwise refuse larger frames a user allowed. Pillow checks it when it reads the header.
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the check below says it better
            pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
            try:
                img = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = pillow_limit
        with img:
            if img.width * img.height > max_pixels:
                raise FrameError(f"frame {frame.id!r}: {img.width}x{img.height} {too_big}")
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode.startswith("I;16") or img.mode in ("I", "F"):
                # 16/32-bit grey: convert("RGB") would clip it to white, so scale to 8 bits first.
                px = np.asarray(img, dtype=np.float64)
                top = 65535.0  # 16-bit; Pillow may open 16-bit PNG/TIFF as mode I too
                if img.mode == "F" or px.min(initial=0) < 0 or px.max(initial=0) > top:
                    top = max(float(px.max(initial=0)), 1e-12)  # float or true 32-bit: no fixed range
                img = Image.fromarray(np.clip(px / top * 255.0, 0, 255).round().astype(np.uint8))
            img = img.convert("RGB")
    except FrameError:
        raise
    except Image.DecompressionBombError as exc:  # over twice the limit: Pillow refuses before we see the size
        raise FrameError(f"frame {frame.id!r}: {name} {too_big}: {display_name(str(exc))}") from exc
    except UnidentifiedImageError as exc:
        raise FrameError(f"frame {frame.id!r}: {name} is not an image Pillow can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise FrameError(f"frame {frame.id!r}: {name} is corrupt or truncated ({display_name(str(exc))})") from exc
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=jpeg_quality, optimize=True)
    data = buf.getvalue()
    return ImageInput(data=data, mime="image/jpeg", width=img.width, height=img.height,
                      sha256=hashlib.sha256(data).hexdigest())
