"""Frames opened large (bench/report/large.py): at the resolution sent to the model while the byte budget lasts,
failed and disputed frames first, then reduced, then thumbnails only; and the page says which."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from bench.report.large import PAGE_BYTES_TARGET, attach_large_images, sent_max_side


def _images(tmp_path, n: int, size=(640, 480)) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):  # noise: JPEG cannot shrink it, so sizes are realistic upper bounds
        p = tmp_path / f"f{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(p, quality=90)
        paths.append(str(p))
    return paths


def _frames(paths: list[str], why: dict[int, str] | None = None) -> list[dict]:
    return [{"id": f"f{i}", "_img": p, **({"why": why[i]} if why and i in why else {})} for i, p in enumerate(paths)]


def _size(uri: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as img:
        return img.size


def test_everything_fits_at_the_resolution_sent(tmp_path):
    frames = _frames(_images(tmp_path, 3))
    info = attach_large_images(frames, 1024, frames_bytes=0)
    assert [(f["large"]["w"], f["large"]["h"], f["large"]["sw"], f["large"]["sh"]) for f in frames] == \
        [(640, 480, 640, 480)] * 3  # never upscaled to max_side
    assert _size(frames[0]["large"]["src"]) == (640, 480)
    assert info["sent"] == 3 and info["reduced"] == 0 and info["thumbs_only"] == 0
    assert all("_img" not in f for f in frames)  # the private path never reaches the page
    assert info["text"].startswith("Click a frame to enlarge it: 3 of the 3 frames")


def test_max_side_is_the_resolution_sent(tmp_path):
    frames = _frames(_images(tmp_path, 1, size=(800, 400)))
    attach_large_images(frames, 512, frames_bytes=0)
    assert (frames[0]["large"]["w"], frames[0]["large"]["h"]) == (512, 256) == _size(frames[0]["large"]["src"])
    assert sent_max_side([{"dataset": {"max_side": 512}}, {"dataset": {"max_side": 768}}, {}]) == 1024  # {}: default
    assert sent_max_side([{"dataset": {"max_side": 512}}]) == 512


def test_a_small_budget_sends_failed_frames_first_then_reduces_then_thumbnails(tmp_path):
    paths = _images(tmp_path, 12)
    full = attach_large_images(_frames(paths[:1]), 1024, frames_bytes=0)["bytes"]  # one frame at full size
    budget = int(full * 8)  # all 12 fit at 384 px (0.4 of full), and 5 of them at full size with it
    frames = _frames(paths, why={7: "failed", 9: "disputed"})
    info = attach_large_images(frames, 1024, frames_bytes=0, budget=budget)
    sent = [f["id"] for f in frames if f.get("large") and f["large"]["w"] == 640]
    assert sorted(sent) == ["f0", "f1", "f2", "f7", "f9"][:len(sent)] and {"f7", "f9"} <= set(sent)  # failed first
    reduced = [f for f in frames if f.get("large") and f["large"]["w"] < 640]
    assert info["sent"] >= 4 and info["reduced"] == len(reduced) == 12 - info["sent"]  # every frame has one
    assert info["reduced_side"] == 384 and all(f["large"]["w"] == 384 for f in reduced)
    assert all((f["large"]["sw"], f["large"]["sh"]) == (640, 480) for f in reduced)  # what the model saw
    assert info["bytes"] <= budget
    assert sum(len(f["large"]["src"]) for f in frames if f.get("large")) == info["bytes"]
    assert "reduced to 384 px" in info["text"] and "only as thumbnails" not in info["text"]


def test_when_no_size_fits_all_the_first_frames_get_the_resolution_sent(tmp_path):
    paths = _images(tmp_path, 12)
    full = attach_large_images(_frames(paths[:1]), 1024, frames_bytes=0)["bytes"]
    frames = _frames(paths, why={10: "failed"})
    info = attach_large_images(frames, 1024, frames_bytes=0, budget=int(full * 2.1))  # 12 x 256 px would not fit (2.2)
    assert info["reduced"] == 0 and info["sent"] == 2 and info["thumbs_only"] == 10
    assert [f["id"] for f in frames if f.get("large")] == ["f0", "f10"]  # the failed one, then dataset order
    assert "10 only as thumbnails" in info["text"]


def test_no_room_left_means_thumbnails_only_and_says_so(tmp_path):
    frames = _frames(_images(tmp_path, 2))
    info = attach_large_images(frames, 1024, frames_bytes=PAGE_BYTES_TARGET)  # the frames' data took the page
    assert info["budget"] == 0 and not any("large" in f for f in frames)
    assert info["thumbs_only"] == 2 and "2 only as thumbnails" in info["text"]


def test_unreadable_images_are_skipped(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    frames = [{"id": "bad", "_img": str(bad)}, {"id": "gone", "_img": str(tmp_path / "missing.jpg")}]
    info = attach_large_images(frames, 1024, frames_bytes=0)
    assert not any("large" in f for f in frames) and info["sent"] == 0 and info["thumbs_only"] == 2
