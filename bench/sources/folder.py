"""``dataset=folder dataset.path=DIR``: every image under DIR (recursively), sorted by path.

The id of an image is its path relative to DIR (``holiday/beach.jpg``), with
characters outside ``[A-Za-z0-9._:/-]`` replaced by ``_``; when two paths
clash after that, a short hash of the real path is appended. Ids are the same
on every run over the same folder, so a run resumes by id.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bench.config import DatasetConfig
from bench.dataset import DatasetError, Frame, resolve_dataset_dir

_BAD = re.compile(r"[^A-Za-z0-9._:/-]")


def normalise_extensions(exts) -> tuple[str, ...]:
    return tuple(sorted({("." + str(e).lower().lstrip(".")) for e in exts}))


def stable_id(rel: str, taken: set[str], max_len: int = 200) -> str:
    """A manifest-safe id from a relative path; deterministic for a given set of paths."""
    base = _BAD.sub("_", rel)
    if len(base) > max_len - 9:
        base = base[: max_len - 9]
    if base in taken:
        base = f"{base}~{hashlib.sha256(rel.encode()).hexdigest()[:8]}"
    return base


def list_files(root: Path, exts: tuple[str, ...]) -> list[Path]:
    """Files under root whose suffix is in exts, hidden files and folders skipped, sorted by relative path."""
    out = [p for p in root.rglob("*")
           if p.is_file() and p.suffix.lower() in exts
           and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def load_folder(cfg: DatasetConfig) -> list[Frame]:
    root = resolve_dataset_dir(cfg.path)
    exts = normalise_extensions(cfg.extensions)
    if not root.is_dir():
        raise DatasetError(f"dataset {cfg.name!r}: folder {root} does not exist "
                           "(dataset.path=DIR should name a folder of images)")
    files = list_files(root, exts)
    if not files:
        raise DatasetError(f"dataset {cfg.name!r}: no images ({', '.join(exts)}) under {root}")
    frames: list[Frame] = []
    taken: set[str] = set()
    for p in files:
        rel = p.relative_to(root).as_posix()
        fid = stable_id(rel, taken)
        taken.add(fid)
        frames.append(Frame(id=fid, image_path=p, meta={"path": rel}))
        if cfg.limit is not None and len(frames) >= cfg.limit:
            break
    return frames
