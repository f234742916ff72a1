"""What the report keeps of a whole dataset: each frame's position, image path and content type, compactly.

The report's first pass needs, for every frame a run recorded, where it sits in the dataset (sampling and the
timeline go in dataset order), its image (a column of the Parquet file) and its content type (records without
one). Holding the dataset's `Frame` objects for that took 3.7 KB a frame (370 MB at 100k frames, the largest
part of the report's memory); dicts of strings take ~130 bytes a frame. Here frames are read one at a time
from the loader: ids become an IdMap (a 16-byte digest and the position), image paths an Arrow string column
and content types small codes, about 90 bytes a frame in all (90 MB at a million frames).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.frames import Frame
from bench.idset import IdMap

_CHUNK = 65_536  # frames turned into Arrow columns at a time (bounds the Python strings held at once)


class DatasetIndex:
    """Position, image path and content type of every loadable frame of one dataset, by frame id."""

    def __init__(self, frames: Iterable[Frame]) -> None:
        images: list[pd.Series] = []
        chunk_images: list[str | None] = []
        codes: list[int] = []  # content type per frame, as an index into self._ct_names (a few distinct values)
        names: dict[str | None, int] = {None: 0}

        def flush() -> None:
            images.append(pd.Series(pd.array(chunk_images, dtype="str")))
            chunk_images.clear()

        def positions() -> Iterator[tuple[str, int]]:
            n = 0
            for f in frames:
                if f.error is not None:
                    continue
                chunk_images.append(str(f.image_path) if f.image_path is not None else None)
                ct = f.meta.get("content_type")
                codes.append(names.setdefault(str(ct) if ct else None, len(names)))
                if len(chunk_images) >= _CHUNK:
                    flush()
                yield f.id, n
                n += 1

        # The loader refuses a repeated id already; should one come anyway, the last position wins (IdMap).
        self._ids = IdMap(positions())
        flush()
        self._image = pd.concat(images, ignore_index=True)
        self._ct_codes = np.array(codes, dtype=np.int32)
        self._ct_names = list(names)
        self._n = len(self._image)

    def __len__(self) -> int:
        return self._n

    def positions(self, ids: Sequence[str] | pd.Series) -> np.ndarray:
        """Dataset position of each id; ids not in the dataset come after every frame (len(self))."""
        return self._ids.get_many(ids, missing=self._n)

    def images(self, ids: Sequence[str] | pd.Series) -> list[str | None]:
        """Image path of each id (None: not in the dataset, or no image file)."""
        pos = self._ids.get_many(ids)
        found = pos >= 0
        values: list[Any] = [None] * len(pos)
        if found.any():
            for i, v in zip(np.flatnonzero(found).tolist(), self._image.take(pos[found]).tolist(), strict=True):
                values[i] = v if isinstance(v, str) else None
        return values

    def image(self, frame_id: str) -> str | None:
        return self.images([frame_id])[0]

    def content_types(self, ids: Sequence[str] | pd.Series) -> list[str | None]:
        """Content type of each id (None: not in the dataset, or none given)."""
        pos = self._ids.get_many(ids)
        if not self._n:
            return [None] * len(pos)
        return [self._ct_names[c] if p >= 0 else None
                for p, c in zip(pos.tolist(), self._ct_codes[np.maximum(pos, 0)].tolist(), strict=True)]
