"""``dataset=folder dataset.path=DIR``: every image under DIR (recursively), sorted by path.

The id of an image is its path relative to DIR (``holiday/beach.jpg``). A path
that is not a valid manifest id (characters outside ``[A-Za-z0-9._:/-]``, over
200 characters) becomes a sanitised form plus a short hash of the exact path
(``a b.jpg`` -> ``a_b.jpg~<hash>``); ``~`` never occurs in a valid id, so two
files never share an id. An id depends only on its own path, never on which
other files exist, so a run resumes by id.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bench.config import DatasetConfig
from bench.frames.base import ID_OK, DatasetError, Frame, resolve_dataset_dir

_BAD = re.compile(r"[^A-Za-z0-9._:/-]")


def normalise_extensions(exts) -> tuple[str, ...]:
    return tuple(sorted({("." + str(e).lower().lstrip(".")) for e in exts}))


def stable_id(rel: str, max_len: int = 200) -> str:
    """A manifest-safe id from one relative path: the path itself if valid, else sanitised + '~' + hash."""
    if len(rel) <= max_len and ID_OK.fullmatch(rel):
        return rel
    digest = hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{_BAD.sub('_', rel)[: max_len - len(digest) - 1]}~{digest}"


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
    for p in files:
        rel = p.relative_to(root).as_posix()
        frames.append(Frame(id=stable_id(rel), image_path=p, meta={"path": rel}))
        if cfg.limit is not None and len(frames) >= cfg.limit:
            break
    return frames
