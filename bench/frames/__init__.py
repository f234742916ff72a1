"""Frames: every way capbench gets the frames it sends, in one package.

    from bench.frames import load_frames, encode_frame
    frames = load_frames(cfg.dataset)        # FrameSource: manifest (lazy), folder or video (dataset.kind)
    image = encode_frame(next(iter(frames)), 1024, 90, 50_000_000)   # the bytes sent (ImageInput)

- base: the `Frame` type, `DatasetError` / `FrameError`, frame ids, dataset paths
- manifest: `dataset.kind=manifest` (manifest.jsonl + images; frames1k, the sample)
- folder, video: your own images (`dataset=folder`) and videos (`dataset=video`)
- image: decode, orient, resize and JPEG-encode a frame for a request
- decode: deterministic video/still decoding and JPEG writing (video source, frames1k builder)
- shots: shot detection on tiny thumbnails (video sampling, frames1k builder)
- windows, clip: window modes (mode=window|grid|sliding|summary): frames grouped into units, and a unit's
  frames as a grid image or an mp4 clip

The runner, the scorers, the report and the frames1k builder (bench.datasets) import from here;
nothing here imports them.
"""

from __future__ import annotations

from bench.config import DatasetConfig
from bench.frames.base import (
    ID_OK,
    PROJECT_ROOT,
    DatasetError,
    Frame,
    FrameError,
    FrameSource,
    display_name,
    frame_id,
    resolve_dataset_dir,
    standin_id,
)
from bench.frames.image import encode_frame

__all__ = ["Frame", "FrameError", "FrameSource", "DatasetError", "load_frames", "encode_frame", "resolve_dataset_dir",
           "frame_id", "standin_id", "display_name", "ID_OK", "PROJECT_ROOT"]


def load_frames(cfg: DatasetConfig) -> FrameSource:
    """The dataset's frames, by `dataset.kind` (manifest | folder | video): iterable (again and again, in
    the same order) and sized. A manifest is read lazily, one line at a time, so iterate it: never
    turn it into a list at scale."""
    if cfg.limit is not None and cfg.limit < 1:
        raise DatasetError(f"dataset {cfg.name!r}: limit must be >= 1 (got {cfg.limit}); leave it unset for all frames")
    if cfg.kind == "manifest":
        from bench.frames.manifest import load_manifest

        return load_manifest(cfg)
    if cfg.kind == "folder":
        from bench.frames.folder import load_folder

        return load_folder(cfg)
    if cfg.kind == "video":
        from bench.frames.video import load_videos

        return load_videos(cfg)
    raise DatasetError(f"dataset.kind={cfg.kind!r}: use manifest, folder or video")
