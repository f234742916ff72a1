"""`dataset.kind=manifest`: a folder with `manifest.jsonl` and the images.

One JSON object a line: `id`, `image` relative to the folder, optional `reference` caption,
`content_type`, `video`, `shot`, `timestamp_s`, `source` provenance. Problems with one frame
(bad manifest line, path escaping the folder) become a `Frame` with `error` set: the runner
records it as a failed frame and goes on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.config import DatasetConfig
from bench.frames.base import ID_OK, DatasetError, Frame, display_name, resolve_dataset_dir, standin_id


def load_manifest(cfg: DatasetConfig) -> list[Frame]:
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
    if not isinstance(frame_id, str) or not ID_OK.fullmatch(frame_id):
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
