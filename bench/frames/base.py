"""The frame type and what every frame source shares: ids, errors, where datasets live."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
ID_OK = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")


def standin_id(lineno: int) -> str:
    """The id of a manifest line that has no usable id of its own. '#' never occurs in a valid id
    (ID_OK), so a stand-in can neither collide with a real frame nor take a real frame's id."""
    return f"#line{lineno}"


def display_name(name: str | Path) -> str:
    """A path as text that can be printed and written as UTF-8, losslessly: a byte that is not
    UTF-8 (held as a surrogate escape by Python) is shown as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")

# Image.MAX_IMAGE_PIXELS and the warnings filters are process-wide; encode_frame runs in worker threads.
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


class FrameSource(Protocol):
    """What load_frames returns: the frames in order (each iter() starts over) and how many there are.
    A list for folders and videos; a lazy reader for a manifest (bench.frames.manifest)."""

    def __iter__(self) -> Iterator[Frame]: ...

    def __len__(self) -> int: ...


def resolve_dataset_dir(path: str) -> Path:
    """Relative dataset paths are tried from the working directory, then the project root."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    return (PROJECT_ROOT / p).resolve()


def frame_id(name: str, timestamp_s: float | None) -> str:
    """Stable id: ``NAME-tSSS.s`` for video frames (``vtest-t012.0``), NAME for stills."""
    if timestamp_s is None:
        return name
    t = float(timestamp_s)
    if abs(t * 10 - round(t * 10)) < 1e-9:
        return f"{name}-t{t:05.1f}"
    return f"{name}-t{t:07.3f}"
