"""A frame's image as the bytes sent: read, orient, resize, JPEG-encode (bench.frames.encode_frame)."""

from __future__ import annotations

import hashlib
import io
import threading
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bench.backends.base import ImageInput
from bench.frames.base import Frame, FrameError, display_name

# Image.MAX_IMAGE_PIXELS and the warnings filters are process-wide; encode_frame runs in worker threads.
_OPEN_LOCK = threading.Lock()


def encode_frame(frame: Frame, max_side: int, jpeg_quality: int, max_pixels: int) -> ImageInput:
    """Read, orient, resize (long side <= max_side) and JPEG-encode one frame. Raises FrameError."""
    if frame.error:
        raise FrameError(frame.error)
    assert frame.image_path is not None
    path = frame.image_path
    name = display_name(path.name)  # a file name need not be UTF-8; the error record must be
    if not path.exists():
        raise FrameError(f"frame {frame.id!r}: image {display_name(path)} does not exist")
    if path.stat().st_size == 0:
        raise FrameError(f"frame {frame.id!r}: image {display_name(path)} is empty (0 bytes)")
    too_big = f"exceeds dataset.max_pixels={max_pixels} (decompression-bomb guard)"
    try:
        # dataset.max_pixels is the only size limit: Pillow's own MAX_IMAGE_PIXELS (~89.5 MP) would
        # otherwise refuse larger frames a user allowed. Pillow checks it when it reads the header.
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the check below says it better
            pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
            try:
                img = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = pillow_limit
        with img:
            if img.width * img.height > max_pixels:
                raise FrameError(f"frame {frame.id!r}: {img.width}x{img.height} {too_big}")
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode.startswith("I;16") or img.mode in ("I", "F"):
                # 16/32-bit grey: convert("RGB") would clip it to white, so scale to 8 bits first.
                px = np.asarray(img, dtype=np.float64)
                top = 65535.0  # 16-bit; Pillow may open 16-bit PNG/TIFF as mode I too
                if img.mode == "F" or px.min(initial=0) < 0 or px.max(initial=0) > top:
                    top = max(float(px.max(initial=0)), 1e-12)  # float or true 32-bit: no fixed range
                img = Image.fromarray(np.clip(px / top * 255.0, 0, 255).round().astype(np.uint8))
            img = img.convert("RGB")
    except FrameError:
        raise
    except Image.DecompressionBombError as exc:  # over twice the limit: Pillow refuses before we see the size
        raise FrameError(f"frame {frame.id!r}: {name} {too_big}: {display_name(str(exc))}") from exc
    except UnidentifiedImageError as exc:
        raise FrameError(f"frame {frame.id!r}: {name} is not an image Pillow can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise FrameError(f"frame {frame.id!r}: {name} is corrupt or truncated ({display_name(str(exc))})") from exc
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=jpeg_quality, optimize=True)
    data = buf.getvalue()
    return ImageInput(data=data, mime="image/jpeg", width=img.width, height=img.height,
                      sha256=hashlib.sha256(data).hexdigest())
