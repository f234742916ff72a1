"""Finding one frame's line again, by id, without holding every frame: the scorers' random access.

Scoring streams the run's records (bench.store.iter_records) and needs, per record, the frame's reference
caption (a manifest line, or a teacher run's record) and, for the judge, the frame itself. Holding those for
every frame is kilobytes a frame (a 100k-frame scoring took 1.66 GB); an `OffsetIndex` keeps 16 bytes of id
digest (bench.idset.id_key) and 8 bytes of file offset a frame, sorted for binary search, and the line is read
again when it is needed (the OS page cache makes that cheap). Each position also has a `marked` flag, so a
reader can ask afterwards which ids it never looked up (frames with a reference but no output).

Why not sqlite or a dict: a dict of a million str ids alone is ~100 MB; sqlite would copy every line to disk.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.frames import Frame, FrameSource
from bench.idset import id_key
from bench.store import iter_records, iter_records_located, parse_record_line


class OffsetIndex:
    """frame id -> (offset, a small int tag), built by `add` in any order, then `freeze`d for lookups."""

    def __init__(self) -> None:
        self._keys = bytearray()
        self._offsets = array("q")
        self._tags = array("b")
        self.keys: Any = None

    def add(self, frame_id: str, offset: int, tag: int = 0) -> None:
        self._keys += id_key(frame_id)
        self._offsets.append(offset)
        self._tags.append(tag)

    def freeze(self) -> OffsetIndex:
        keys = np.frombuffer(bytes(self._keys), dtype="S16")
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.offsets = np.frombuffer(self._offsets.tobytes(), dtype=np.int64)[order] if len(self._offsets) \
            else np.empty(0, dtype=np.int64)
        self.tags = np.frombuffer(self._tags.tobytes(), dtype=np.int8)[order] if len(self._tags) \
            else np.empty(0, dtype=np.int8)
        self.marked = np.zeros(len(keys), dtype=bool)
        self._keys, self._offsets, self._tags = bytearray(), array("q"), array("b")
        return self

    def __len__(self) -> int:
        return 0 if self.keys is None else int(self.keys.size)

    def position(self, frame_id: str) -> int | None:
        key = id_key(frame_id)
        pos = int(self.keys.searchsorted(key))
        return pos if pos < self.keys.size and self.keys[pos] == key else None


class FrameLookup:
    """A dataset's frames by id: a lazily read manifest through an OffsetIndex; a folder or video source (a
    list, small) through a dict. Tags: HAS_REFERENCE (a reference caption), IN_TIME (video and timestamp_s)."""

    def __init__(self, frames: FrameSource) -> None:
        self.frames = frames
        self._located = hasattr(frames, "iter_located")
        if self._located:
            self.index = OffsetIndex()
            self._linenos: dict[int, int] = {}  # only line 1 needs its number back (a BOM may start it)
            for offset, lineno, frame in frames.iter_located():  # type: ignore[attr-defined]
                self.index.add(frame.id, offset, _tag(frame))
                if lineno == 1:
                    self._linenos[offset] = lineno
            self.index.freeze()
        else:
            self._by_id = {f.id: f for f in frames}
            self.index = OffsetIndex()
            for i, f in enumerate(self._by_id.values()):
                self.index.add(f.id, i, _tag(f))
            self.index.freeze()
            self._list = list(self._by_id.values())

    def __len__(self) -> int:
        return len(self.index)

    def get(self, frame_id: str, *, mark: bool = False) -> Frame | None:
        pos = self.index.position(frame_id)
        if pos is None:
            return None
        if mark:
            self.index.marked[pos] = True
        offset = int(self.index.offsets[pos])
        if not self._located:
            return self._list[offset]
        frame = self.frames.frame_at(offset, self._linenos.get(offset, 2))  # type: ignore[attr-defined]
        # The id the source gave it (a duplicate line's frame is renamed "ID#lineN" by the source).
        return frame if frame.id == frame_id else None

    def unmarked_ids(self, tag: int) -> Iterator[str]:
        """Ids with this tag (bit) that were never looked up with mark=True, in dataset order."""
        for frame in self.frames:
            pos = self.index.position(frame.id)
            if pos is not None and not self.index.marked[pos] and self.index.tags[pos] & tag:
                yield frame.id

    def meta(self, frame_id: str) -> dict[str, Any] | None:
        """The frame's meta (video, shot, timestamp_s...), read only for frames in time (else {})."""
        pos = self.index.position(frame_id)
        if pos is None:
            return None
        if not self.index.tags[pos] & IN_TIME:
            return {}
        frame = self.get(frame_id)
        return frame.meta if frame is not None else None


HAS_REFERENCE = 1
IN_TIME = 2


def _tag(frame: Frame) -> int:
    return (HAS_REFERENCE if isinstance(frame.reference, dict) else 0) | (
        IN_TIME if frame.meta.get("video") is not None and frame.meta.get("timestamp_s") is not None else 0)


class RecordReader:
    """A run's records read back by byte offset (as bench.store.iter_records_located gave it)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / "generations.jsonl"
        self._fh: Any = None

    def at(self, offset: int) -> dict[str, Any]:
        if self._fh is None:
            self._fh = self.path.open("rb")
        self._fh.seek(offset)
        rec = parse_record_line(self._fh.readline())
        if rec is None:
            raise ValueError(f"{self.path}: no record at byte {offset} (the file changed while it was read)")
        return rec

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class RecordLookup(RecordReader):
    """A run's records by id (the first record per frame, as bench.store.iter_records reads them), read
    again from generations.jsonl when asked: a teacher run used as the reference."""

    def __init__(self, run_dir: Path, tag_of: Any) -> None:
        super().__init__(run_dir)
        self.index = OffsetIndex()
        for offset, rec in iter_records_located(run_dir):
            self.index.add(rec["frame_id"], offset, tag_of(rec))
        self.index.freeze()

    def __len__(self) -> int:
        return len(self.index)

    def get(self, frame_id: str, *, mark: bool = False) -> dict[str, Any] | None:
        pos = self.index.position(frame_id)
        if pos is None:
            return None
        if mark:
            self.index.marked[pos] = True
        return self.at(int(self.index.offsets[pos]))

    def unmarked_ids(self, tag: int) -> Iterator[str]:
        for rec in iter_records(self.path.parent):
            pos = self.index.position(rec["frame_id"])
            if pos is not None and not self.index.marked[pos] and self.index.tags[pos] & tag:
                yield rec["frame_id"]
