"""Small JPEG thumbnails as data URIs, so that the report needs no other file."""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, UnidentifiedImageError

Image.MAX_IMAGE_PIXELS = 50_000_000  # the harness's decompression-bomb limit


@lru_cache(maxsize=4096)
def thumbnail_uri(path: str, size: int = 160, quality: int = 70) -> str | None:
    """`data:image/jpeg;base64,...` of the image fitted in size x size; None if it is missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        with Image.open(p) as img:
            img.draft("RGB", (size, size))  # JPEG: decode at the smallest scale still >= size (DCT scaling), fast
            img = img.convert("RGB")
            img.thumbnail((size, size), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=quality, optimize=True)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
