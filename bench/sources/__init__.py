"""Bring your own frames: ``dataset=folder`` (images under a folder) and ``dataset=video``.

Both return the harness's :class:`bench.dataset.Frame` objects, chosen by
``dataset.kind`` in :func:`bench.dataset.load_frames` (``manifest`` is the
default).  Ids are stable across runs, so an interrupted run resumes by id.
"""

from __future__ import annotations

from bench.config import DatasetConfig


def load_source_frames(cfg: DatasetConfig) -> list:
    if cfg.kind == "folder":
        from .folder import load_folder

        return load_folder(cfg)
    if cfg.kind == "video":
        from .video import load_videos

        return load_videos(cfg)
    from bench.dataset import DatasetError

    raise DatasetError(f"dataset.kind={cfg.kind!r}: use manifest, folder or video")
