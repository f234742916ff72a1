"""A window's frames as one request's media: a grid image (mode=grid) or an mp4 clip (mode.video=true).

Both are made in-process from the images already prepared for the request (bench.frames.prepared), with
Pillow (grid) and PyAV (mp4, libx264: no ffmpeg binary needed), so what is sent is what the record hashes.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image

from bench.backends.base import ImageInput, VideoInput


@dataclass(frozen=True)
class GridLayout:
    rows: int
    cols: int
    tile_width: int
    tile_height: int
    width: int
    height: int

    def to_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "cols": self.cols, "tile_width": self.tile_width, "tile_height": self.tile_height,
                "width": self.width, "height": self.height}

    def describe(self) -> str:
        return f"{self.rows} rows x {self.cols} columns of {self.tile_width}x{self.tile_height} tiles"


def _open(image: ImageInput) -> Image.Image:
    with Image.open(io.BytesIO(image.data)) as im:
        return im.convert("RGB")


def grid_layout(count: int, first: ImageInput, cols: int | None, tile_side: int) -> GridLayout:
    """Columns ceil(sqrt(n)) unless given; every tile the first frame's aspect, long side `tile_side`."""
    cols = max(1, min(count, cols or math.ceil(math.sqrt(count))))
    rows = math.ceil(count / cols)
    scale = tile_side / max(first.width, first.height)
    tw, th = max(1, round(first.width * scale)), max(1, round(first.height * scale))
    return GridLayout(rows, cols, tw, th, cols * tw, rows * th)


def tile_grid(images: list[ImageInput], *, cols: int | None, tile_side: int, jpeg_quality: int = 90
              ) -> tuple[ImageInput, GridLayout]:
    """The images tiled left to right, top to bottom (empty tiles black), as one JPEG."""
    if not images:
        raise ValueError("tile_grid needs at least one image")
    layout = grid_layout(len(images), images[0], cols, tile_side)
    canvas = Image.new("RGB", (layout.width, layout.height))
    for i, image in enumerate(images):
        tile = _open(image).resize((layout.tile_width, layout.tile_height), Image.Resampling.LANCZOS)
        canvas.paste(tile, ((i % layout.cols) * layout.tile_width, (i // layout.cols) * layout.tile_height))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=jpeg_quality)
    data = out.getvalue()
    return ImageInput(data, "image/jpeg", layout.width, layout.height, hashlib.sha256(data).hexdigest()), layout


def encode_clip(images: list[ImageInput], times_s: list[float] | None) -> VideoInput:
    """An H.264 mp4 of the frames, each shown at its timestamp (relative to the first; 1 fps without
    timestamps), the last held for the median gap. Sized to the first frame (even sides, as yuv420p needs)."""
    import av

    if not images:
        raise ValueError("encode_clip needs at least one image")
    times = [float(t) - float(times_s[0]) for t in times_s] if times_s else [float(i) for i in range(len(images))]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    last_gap = sorted(gaps)[len(gaps) // 2] if gaps else 1.0
    first = _open(images[0])
    w, h = first.width - first.width % 2, first.height - first.height % 2
    buf = io.BytesIO()
    ms = Fraction(1, 1000)
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1000)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = ms
        stream.codec_context.time_base = ms
        last_pts = -1
        for image, t in zip(images, times, strict=True):
            pil = _open(image)
            if pil.size != (w, h):
                pil = pil.resize((w, h), Image.Resampling.LANCZOS)
            frame = av.VideoFrame.from_image(pil)
            frame.pts = max(last_pts + 1, round(t * 1000))
            frame.time_base = ms
            last_pts = frame.pts
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = buf.getvalue()
    return VideoInput(data, "video/mp4", len(images), times[-1] + last_gap, hashlib.sha256(data).hexdigest())


def decode_clip(data: bytes) -> list[Image.Image]:
    """The frames of an mp4 (the simulator reads what Gemini would be sent)."""
    import av

    with av.open(io.BytesIO(data)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]
