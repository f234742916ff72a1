"""Frames the explorer opens large: the image at the resolution sent to the model, within a byte budget.

Every embedded frame already has a 160 px thumbnail. A larger copy of every frame would not fit the
page (frames1k at 640 px is about 90 KB a frame as base64, 90 MB for 1,000), so the larger copies
share LARGE_BYTES_BUDGET (or what the frames' own data leaves of the page), in this order: the
frames that failed or are disputed first (what a reviewer checks), then dataset order.
- If all fit at the resolution the model was sent (long side <= the run's dataset.max_side, never
  upscaled), all are embedded so.
- Else, if all fit at one of REDUCED_SIDES (the largest that does, estimated from the bytes per
  pixel of the first PROBE frames), every frame gets at least that, and the first ones the
  resolution sent, as many as the rest of the budget pays for.
- Else the first frames get the resolution sent while the budget lasts; the others keep their
  thumbnail (more frames at 256 px would be little more than the 160 px thumbnail).
The page says which.
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
# frames' data + large images at most this; the rest of 25 MB: plotly.js 3.6 MB, the timeline's values (1.5 MB) and
# previews (bench.report.timeline, which count these images as the explorer's), figures, tables
PAGE_BYTES_TARGET = 16_500_000
REDUCED_SIDES = (512, 384, 320, 256)
JPEG_QUALITY = 80
PROBE = 8  # frames encoded first to estimate the bytes per frame at each size
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
    probe = {id(f): _encode(paths[id(f)], max_side) for f in order[:PROBE]}
    sizes = [(len(e[0]), e[1] * e[2]) for e in probe.values() if e is not None]
    full = sum(b for b, _ in sizes) / len(sizes) if sizes else 0.0
    bpp = sum(b for b, _ in sizes) / max(1, sum(px for _, px in sizes))
    ratio = sum(px for _, px in sizes) / max(1, sum(max(e[1], e[2]) ** 2 for e in probe.values() if e)) or 0.75
    n = len(order)
    side, n_full = None, n  # everything at full size, or as many as fit
    if n * full > budget and full > 0:
        for s in (s for s in REDUCED_SIDES if s < max_side):
            reduced_est = bpp * s * s * ratio * 1.15  # smaller images cost a little more per pixel
            if n * reduced_est <= budget:
                side = s
                n_full = int((budget - n * reduced_est) / max(1.0, full - reduced_est))
                break
    used, sent, reduced = 0, 0, 0
    for i, f in enumerate(order):
        enc = probe[id(f)] if id(f) in probe else (_encode(paths[id(f)], max_side) if i < n_full else None)
        if enc is not None and i < n_full and used + len(enc[0]) <= budget:
            uri, w, h, _, _ = enc
            f["large"] = {"src": uri, "w": w, "h": h, "sw": w, "sh": h}
            used += len(uri)
            sent += 1
            continue
        if side is None:
            continue
        enc = _encode(paths[id(f)], side)
        if enc is None or used + len(enc[0]) > budget:
            continue
        uri, w, h, fw, fh = enc
        scale = min(1.0, max_side / max(fw, fh))
        f["large"] = {"src": uri, "w": w, "h": h, "sw": round(fw * scale), "sh": round(fh * scale)}
        used += len(uri)
        reduced += 1
    none = n - sent - reduced
    text = (f"Click a frame to enlarge it: {sent:,} of the {n:,} frames with an image are embedded at the "
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
