"""Small helpers for tests that talk to the simulator: synthetic frames and
minimal request bodies in each protocol's format (importable from any test
directory, unlike conftest helpers)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

SYSTEM = "You are an image annotation API trained to analyze YouTube video keyframes."
USER = "Return JSON in the ClipTagger structure. Output only the JSON."
# All latency off: for tests that count outcomes rather than time them.
FAST: dict[str, float] = dict(ttft_s=0.0, ttft_jitter_s=0.0, per_token_s=0.0, per_token_jitter_s=0.0)


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def solid(rgb: tuple[int, int, int] = (30, 90, 200), size: tuple[int, int] = (320, 180)) -> Image.Image:
    return Image.new("RGB", size, rgb)


def gradient(size: tuple[int, int] = (320, 180)) -> Image.Image:
    """Red on the left fading to blue on the right."""
    w, h = size
    ramp = np.linspace(0, 255, w, dtype=np.float32)
    px = np.stack([255 - ramp, np.full_like(ramp, 40), ramp], axis=-1)
    return Image.fromarray(np.tile(px[None], (h, 1, 1)).astype(np.uint8))


def noisy(seed: int = 0, size: tuple[int, int] = (240, 180)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def sample_frames() -> dict[str, bytes]:
    return {
        "solid": jpeg(solid()),
        "red": jpeg(solid((200, 20, 20), (640, 360))),
        "gradient": jpeg(gradient()),
        "noisy": jpeg(noisy()),
        "grey": jpeg(noisy(1).convert("L")),
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def expected_input_tokens(image_tokens: int = 256, system: str = SYSTEM, user: str = USER) -> int:
    """The simulator's rule: image tokens + ceil(characters of system+user / 4)."""
    return image_tokens + -(-len(system + user) // 4)


def openai_messages(image: bytes | None, mime: str = "image/jpeg") -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"type": "text", "text": USER}]
    if image is not None:
        url = f"data:{mime};base64,{b64(image)}"
        content.append({"type": "image_url", "image_url": {"url": url, "detail": "high"}})
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]


def anthropic_messages(image: bytes | None) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if image is not None:
        source = {"type": "base64", "media_type": "image/jpeg", "data": b64(image)}
        content.append({"type": "image", "source": source})
    content.append({"type": "text", "text": USER})
    return [{"role": "user", "content": content}]
