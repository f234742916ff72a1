"""Sequential decode at timestamps, stills, resize and deterministic JPEG (no network)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from bench.frames.decode import (
    DecodeError,
    encode_jpeg,
    frames_at,
    iter_video_frames,
    load_still,
    looks_blank,
    resize_long_side,
    sha256_bytes,
    video_info,
    write_bytes_if_changed,
)

FPS, N_FRAMES = 10, 30  # as conftest.make_video encodes them


def test_iter_decodes_every_frame_in_order(tiny_video, vid):
    frames = list(iter_video_frames(tiny_video))
    assert len(frames) == N_FRAMES
    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert frames[0].time_s == 0.0
    assert [round(f.time_s, 6) for f in frames] == [round(i / FPS, 6) for i in range(N_FRAMES)]
    assert [vid.index(f.image) for f in frames] == list(range(N_FRAMES))
    assert all(f.image.mode == "RGB" and f.image.size == (96, 64) for f in frames)


def test_frames_at_picks_the_frame_on_screen(tiny_video, vid):
    # 10 fps: frame k covers [k/10, (k+1)/10); 1.05 s is still frame 10, 0.299 is frame 2.
    want = [2.0, 0.0, 1.05, 0.299, 1.0, 2.9]
    got = frames_at(tiny_video, want)
    assert set(got) == set(want)
    assert {t: vid.index(got[t].image) for t in want} == {
        0.0: 0, 0.299: 2, 1.0: 10, 1.05: 10, 2.0: 20, 2.9: 29}
    assert got[1.05].time_s == pytest.approx(1.0)


def test_frames_at_duplicate_and_unsorted_timestamps(tiny_video):
    got = frames_at(tiny_video, [1.5, 1.5, 0.5])
    assert sorted(got) == [0.5, 1.5]


def test_timestamps_are_relative_to_first_frame(tmp_path, vid):
    video = vid.make(tmp_path / "offset.mp4", pts_offset=25)  # container starts at 2.5 s
    frames = list(iter_video_frames(video))
    assert frames[0].time_s == 0.0
    got = frames_at(video, [1.0])
    assert vid.index(got[1.0].image) == 10


def test_past_the_end_is_a_clear_error(tiny_video, vid):
    with pytest.raises(DecodeError) as exc:
        frames_at(tiny_video, [1.0, 30.0])
    msg = str(exc.value)
    assert "tiny.mp4" in msg and "30.0" in msg and "past the end" in msg
    # within tolerance of the last frame: the last frame is used
    got = frames_at(tiny_video, [3.2])
    assert vid.index(got[3.2].image) == N_FRAMES - 1


def test_lossless_codec_exact(tmp_path, vid):
    video = vid.make(tmp_path / "lossless.mkv", codec="ffv1", n=12)
    assert video_info(video)["frames"] == 12
    got = frames_at(video, [0.55])
    assert vid.index(got[0.55].image) == 5


def test_unreadable_video_is_decode_error(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(DecodeError) as exc:
        frames_at(bad, [0.0])
    assert "broken.mp4" in str(exc.value)
    with pytest.raises(DecodeError):
        frames_at(tmp_path / "missing.mp4", [0.0])


def test_decode_is_deterministic(tiny_video):
    a = encode_jpeg(frames_at(tiny_video, [1.2])[1.2].image)
    b = encode_jpeg(frames_at(tiny_video, [1.2])[1.2].image)
    assert a == b


@pytest.mark.parametrize("size,max_side,expected", [
    ((1280, 720), 640, (640, 360)),
    ((720, 1280), 640, (360, 640)),
    ((214, 160), 640, (214, 160)),      # never upscale
    ((640, 480), 640, (640, 480)),
    ((1001, 333), 500, (500, 166)),
    ((3088, 2056), 640, (640, 426)),
])
def test_resize_long_side(size, max_side, expected):
    img = Image.new("RGB", size, (10, 20, 30))
    out = resize_long_side(img, max_side)
    assert out.size == expected
    assert max(out.size) <= max_side


def test_jpeg_is_byte_identical_and_clean():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    img.info["exif"] = b"Exif\x00\x00junk"  # must not leak into the file
    a, b = encode_jpeg(img, 85), encode_jpeg(img.copy(), 85)
    assert a == b and sha256_bytes(a) == sha256_bytes(b)
    assert a[:2] == b"\xff\xd8"
    assert b"Exif" not in a
    with Image.open(io.BytesIO(a)) as im:
        assert im.format == "JPEG" and im.size == (64, 48) and im.mode == "RGB"
        assert not im.info.get("progressive")
    assert len(encode_jpeg(img, 50)) < len(a)


def test_write_bytes_if_changed(tmp_path):
    p = tmp_path / "sub" / "x.jpg"
    assert write_bytes_if_changed(p, b"abc") is True
    before = os.stat(p).st_mtime_ns
    assert write_bytes_if_changed(p, b"abc") is False
    assert os.stat(p).st_mtime_ns == before
    assert write_bytes_if_changed(p, b"abcd") is True
    assert p.read_bytes() == b"abcd"
    assert not [q for q in p.parent.iterdir() if q.name.startswith(".")]  # no temp left


def test_load_still_rotation_and_exif(tmp_path):
    img = Image.new("RGB", (80, 40), (200, 0, 0))
    img.paste((0, 0, 200), (0, 0, 10, 40))  # blue stripe on the left
    p = tmp_path / "a.jpg"
    img.save(p, quality=95)
    rot = load_still(p, rotate=90)  # clockwise, like kphotoalbum's angle=90
    assert rot.size == (40, 80)
    top = np.asarray(rot)[:5, 20]
    assert top[:, 2].mean() > 150  # the left stripe is now at the top

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    p2 = tmp_path / "b.jpg"
    img.save(p2, quality=95, exif=exif)
    assert load_still(p2).size == (40, 80)
    assert load_still(p2, exif_transpose=False).size == (80, 40)
    with pytest.raises(ValueError):
        load_still(p, rotate=45)


def test_load_still_flattens_alpha_and_palette(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    p = tmp_path / "t.png"
    rgba.save(p)
    out = load_still(p)
    assert out.mode == "RGB" and out.getpixel((5, 5)) == (255, 255, 255)
    gray = tmp_path / "g.png"
    Image.new("L", (10, 10), 128).save(gray)
    assert load_still(gray).mode == "RGB"
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    with pytest.raises(DecodeError):
        load_still(bad)


def test_looks_blank():
    assert looks_blank(Image.new("RGB", (32, 32), (0, 0, 0)))
    assert looks_blank(Image.new("RGB", (32, 32), (128, 128, 128)))  # uniform slate
    rng = np.random.default_rng(1)
    assert not looks_blank(Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)))
