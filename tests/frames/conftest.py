"""A short real video made with PyAV: three scenes joined by two hard cuts and a dissolve."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

FPS = 10
# scene A 0-2.0 s | hard cut | scene B 2.0-4.0 s | 1 s dissolve B->C (4.0-5.0) | scene C 5.0-7.0 s
# | hard cut | D 7.0-8.0
DURATION_S = 8.0
CUTS = (2.0, 7.0)
DISSOLVE = (4.0, 5.0)


def _scene(kind: str, i: int, w: int, h: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    if kind == "A":  # dark blue with a white square drifting right
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 2] = 120
        x0 = 10 + i
        img[20:40, x0:x0 + 20] = 255
    elif kind == "B":  # bright horizontal stripes
        img = np.stack([((y // 8) % 2) * 220 + 20] * 3, -1).astype(np.uint8)
    elif kind == "C":  # green-red diagonal gradient
        img = np.stack([(x * 255 // w), (255 - y * 255 // h), np.full_like(x, 40)], -1).astype(np.uint8)
    else:  # D: mid grey with a dark disc
        img = np.full((h, w, 3), 150, np.uint8)
        img[(x - w // 2) ** 2 + (y - h // 2) ** 2 < 400] = 30
    return img


def scene_video(path: Path, size=(128, 96), codec="libx264") -> Path:
    import av

    w, h = size
    with av.open(str(path), "w") as out:
        st = out.add_stream(codec, rate=FPS)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.time_base = Fraction(1, FPS)
        for i in range(int(DURATION_S * FPS)):
            t = i / FPS
            if t < CUTS[0]:
                arr = _scene("A", i, w, h)
            elif t < DISSOLVE[0]:
                arr = _scene("B", i, w, h)
            elif t < DISSOLVE[1]:
                a = (t - DISSOLVE[0]) / (DISSOLVE[1] - DISSOLVE[0])
                arr = ((1 - a) * _scene("B", i, w, h) + a * _scene("C", i, w, h)).astype(np.uint8)
            elif t < CUTS[1]:
                arr = _scene("C", i, w, h)
            else:
                arr = _scene("D", i, w, h)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


@pytest.fixture(scope="session")
def scenes_mp4(tmp_path_factory) -> Path:
    return scene_video(tmp_path_factory.mktemp("vid") / "scenes.mp4")
