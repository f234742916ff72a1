"""`dataset.kind=manifest`: a folder with `manifest.jsonl` and the images.

One JSON object a line: `id`, `image` relative to the folder, optional `reference` caption,
`content_type`, `video`, `shot`, `timestamp_s`, `source` provenance. Problems with one frame
(bad manifest line, path escaping the folder) become a `Frame` with `error` set: the runner
records it as a failed frame and goes on. Read lazily (ManifestFrames): memory does not grow
with the number of lines.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path

from bench.config import DatasetConfig
from bench.frames.base import ID_OK, DatasetError, Frame, display_name, resolve_dataset_dir, standin_id
from bench.idset import IdSet


class ManifestFrames:
    """The frames a manifest lists, read lazily: each `iter()` reads the file again, line by line, and
    yields one `Frame` at a time, so a million-line manifest never becomes a million objects.
    Duplicate ids are caught with a compact id set (bench.idset, ~16 bytes a frame). `len()` is the
    number of frames (counted once, when the manifest is opened). Bad lines are frames with `error`
    set, named by line number; `bad_lines` counts them. `ids` is the set of every id (an IdSet, kept
    from the last full pass), so the run needs no extra pass to know its frames.

    A filter composes: `(f for f in frames if keep(f.id))` is an iterator of the same frames.
    """

    def __init__(self, cfg: DatasetConfig) -> None:
        self.cfg = cfg
        self.root = resolve_dataset_dir(cfg.path)
        self.manifest = self.root / cfg.manifest
        hint = f" {cfg.build_hint}" if cfg.build_hint else ""
        if not self.root.is_dir():
            raise DatasetError(f"dataset {cfg.name!r}: folder {self.root} does not exist.{hint}")
        if not self.manifest.is_file():
            raise DatasetError(f"dataset {cfg.name!r}: no manifest at {self.manifest}.{hint}")
        # Lines found to repeat an id by the last full pass, and the file's (size, mtime) then: a later pass over the
        # same file flags the same lines without building a second id set (16 MB a million frames, on top of
        # `ids`, for the whole run)
        self._dup_lines: set[int] | None = None
        self._dup_stamp: tuple[int, int] | None = None
        # One pass to count and check, holding nothing but counters and the id set.
        count = bad = 0
        any_image = False
        missing_checked: set[Path] = set()  # a few images shared by many lines are stat'ed once each
        for frame in self:
            count += 1
            bad += frame.error is not None
            if not any_image and frame.image_path is not None and frame.image_path not in missing_checked:
                any_image = frame.image_path.exists()
                if not any_image and len(missing_checked) < 10_000:
                    missing_checked.add(frame.image_path)
        if not count:
            raise DatasetError(f"dataset {cfg.name!r}: {self.manifest} lists no frames.{hint}")
        if not any_image:
            raise DatasetError(f"dataset {cfg.name!r}: none of the {count} images listed in {self.manifest} "
                               f"exist.{hint}")
        self._count = count
        self.bad_lines = bad
        assert len(self.ids) == count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Frame]:
        return (frame for _, _, frame in self.iter_located())

    def frame_at(self, offset: int, lineno: int) -> Frame:
        """The frame of the line at byte `offset` (as iter_located gave it), read again from the file: a
        reader that needs a few frames by id keeps offsets (8 bytes) rather than Frames (kilobytes)."""
        with self.manifest.open("rb") as fh:
            fh.seek(offset)
            raw = fh.readline()
        return _parse_line(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"), lineno, self.root, self.manifest.name)

    def iter_located(self) -> Iterator[tuple[int, int, Frame]]:
        """(byte offset of the line, line number, frame) for every frame `iter()` yields, in the same order."""
        manifest, root = self.manifest, self.root
        limit = self.cfg.limit  # read once: a config attribute per line was a tenth of a run's frame reading
        stat = manifest.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        known = self._dup_lines if self._dup_stamp == stamp else None  # None: check every id with a new set
        seen = IdSet() if known is None else None
        dup_lines: set[int] = set()
        produced = 0
        offset = 0
        with manifest.open("rb") as fh:  # bytes, decoded per line: one bad line must not stop the rest
            for lineno, raw in enumerate(fh, start=1):
                at, offset = offset, offset + len(raw)
                if limit is not None and produced >= limit:
                    break
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")  # a BOM may only start the file
                except UnicodeDecodeError as exc:
                    preview = raw.rstrip(b"\r\n")[:120].decode("utf-8", "backslashreplace")
                    produced += 1
                    if seen is not None:
                        seen.add(standin_id(lineno))
                    yield at, lineno, Frame(id=standin_id(lineno), image_path=None,
                                error=f"{manifest.name} line {lineno}: not UTF-8 ({exc.reason} at byte "
                                      f"{exc.start}: {preview}); fix or remove the line")
                    continue
                if not line.strip():
                    continue
                frame = _parse_line(line, lineno, root, manifest.name)
                if seen is not None:
                    repeated = not seen.add(frame.id)
                else:  # the same file as the last full pass: the lines it found repeated
                    repeated = lineno in (known or ())
                if repeated:
                    frame = Frame(id=f"{frame.id}#line{lineno}", image_path=None,
                                  error=f"{manifest.name} line {lineno}: duplicate id {frame.id!r}; ids must be unique")
                    dup_lines.add(lineno)
                    if seen is not None:
                        seen.add(frame.id)
                produced += 1
                yield at, lineno, frame
        if seen is not None:  # a full pass that checked every id
            self.ids = seen  # every id yielded: the run's set of frames, without another pass
            self._dup_lines, self._dup_stamp = dup_lines, stamp


def load_manifest(cfg: DatasetConfig) -> ManifestFrames:
    return ManifestFrames(cfg)


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
    path = _image_path(str(root), image)
    if path is None:
        return Frame(id=frame_id, image_path=None,
                     error=f"frame {frame_id!r}: image path {image!r} escapes the dataset folder {display_name(root)}")
    meta = {k: entry.get(k) for k in ("content_type", "video", "shot", "timestamp_s", "run", "source", "sha256")
            if k in entry}
    reference = entry.get("reference")
    return Frame(id=frame_id, image_path=path, reference=reference if isinstance(reference, dict) else None, meta=meta)


@functools.lru_cache(maxsize=4096)
def _image_path(root: str, image: str) -> Path | None:
    """The image's path inside the dataset folder, or None if it leaves it. Plain string operations
    (pathlib's parsing was most of the time of reading a million-line manifest), cached for the
    common case of many frames per image file."""
    path = os.path.normpath(os.path.join(root, image))
    if path != root and not path.startswith(root.rstrip(os.sep) + os.sep):
        return None
    return Path(path)
