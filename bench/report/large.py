"""Frames the explorer opens large: the image at the resolution sent to the model, within a byte budget.

Every embedded frame already has a 160 px thumbnail. A larger copy of every frame would not fit the
page (frames1k at 640 px is about 90 KB a frame as base64, 90 MB for 1,000), so the larger copies
share LARGE_BYTES_BUDGET (less what the frames' own data leaves of the page budget), in this order:
the frames that failed or are disputed first (what a reviewer checks), then dataset order:
- "sent": at the resolution the model was sent (long side <= the run's dataset.max_side, never
  upscaled), for the first frames, while they take at most half the budget;
- "reduced": the other frames at the largest long side of REDUCED_SIDES whose estimated size lets
  all of them fit the rest of the budget (estimated from the bytes per pixel of the "sent" ones);
- frames the budget does not reach keep their thumbnail, and the page says so.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

# bytes of base64 images at most: with plotly.js (3.6 MB), figures, tables and the frames' data (at most
# FRAMES_BYTES_BUDGET in bench.report.data) the page stays under the 25 MB of issue 12
LARGE_BYTES_BUDGET = 8_000_000
PAGE_BYTES_TARGET = 21_000_000  # frames' data + large images at most this (the rest: plotly.js, figures, tables)
REDUCED_SIDES = (512, 384, 320, 256)
JPEG_QUALITY = 80
DEFAULT_MAX_SIDE = 1024  # bench.config.DatasetConfig.max_side


def _encode(path: str, side: int) -> tuple[str, int, int, int, int] | None:
    """(data URI, width, height, full width, full height) of the image fitted in side x side, or None."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        with Image.open(p) as img:
            img.draft("RGB", (side, side))  # JPEG: decode at the smallest DCT scale still >= side
            img = ImageOps.exif_transpose(img).convert("RGB")
            full = img.size
            img.thumbnail((side, side), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        return None
    uri = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return uri, img.width, img.height, full[0], full[1]


def attach_large_images(frames: list[dict[str, Any]], max_side: int, *, frames_bytes: int,
                        budget: int = LARGE_BYTES_BUDGET) -> dict[str, Any]:
    """Give frames (the explorer's entries, each with a private "_img" image path, removed here) a "large"
    image {"src", "w", "h", "sw", "sh"} (sw x sh: the size the model was sent) as the budget allows; returns
    what was embedded, with the sentence the page shows."""
    budget = max(0, min(budget, PAGE_BYTES_TARGET - frames_bytes))
    paths = {id(f): f.pop("_img", None) for f in frames}
    order = sorted((f for f in frames if paths[id(f)]), key=lambda f: 0 if f.get("why") in ("failed", "disputed")
                   else 1)  # stable: dataset order within each group
    used, sent, reduced, per_pixel = 0, 0, 0, []
    rest: list[dict[str, Any]] = []
    for f in order:
        if used >= budget / 2:
            rest.append(f)
            continue
        enc = _encode(paths[id(f)], max_side)
        if enc is None:
            continue
        uri, w, h, _, _ = enc
        per_pixel.append(len(uri) / max(1, w * h))
        if used + len(uri) > budget / 2:
            rest.append(f)
            continue
        f["large"] = {"src": uri, "w": w, "h": h, "sw": w, "sh": h}
        used += len(uri)
        sent += 1
    side = None
    if rest:
        bpp = sum(per_pixel) / len(per_pixel) if per_pixel else 0.35  # base64 bytes per pixel at quality 80
        share = (budget - used) / len(rest)
        side = next((s for s in REDUCED_SIDES if s < max_side and bpp * s * s * 0.75 <= share), None)
    if side is not None:
        for f in rest:
            enc = _encode(paths[id(f)], side)
            if enc is None or used + len(enc[0]) > budget:
                continue
            uri, w, h, fw, fh = enc
            scale = min(1.0, max_side / max(fw, fh))
            f["large"] = {"src": uri, "w": w, "h": h, "sw": round(fw * scale), "sh": round(fh * scale)}
            used += len(uri)
            reduced += 1
    with_image = len(order)
    none = with_image - sent - reduced
    text = (f"Click a frame to enlarge it: {sent:,} of the {with_image:,} frames with an image are embedded at the "
            f"resolution sent to the model (long side at most {max_side} px)")
    if reduced:
        text += f", {reduced:,} reduced to {side} px"
    if none:
        text += f", {none:,} only as thumbnails"
    if reduced or none:
        text += (f" (large images share {budget / 1e6:.1f} MB of the page; failed and disputed frames first, then "
                 "dataset order)")
    return {"sent": sent, "reduced": reduced, "reduced_side": side, "thumbs_only": none, "bytes": used,
            "budget": budget, "max_side": max_side, "text": text + "."}


def sent_max_side(configs: list[Any]) -> int:
    """The largest dataset.max_side among the runs' configs: the resolution the frames were sent at."""
    sides = []
    for cfg in configs:
        ds = cfg.get("dataset") if isinstance(cfg, dict) else None
        side = ds.get("max_side") if isinstance(ds, dict) else None
        sides.append(int(side) if isinstance(side, int | float) and side > 0 else DEFAULT_MAX_SIDE)
    return max(sides, default=DEFAULT_MAX_SIDE)
