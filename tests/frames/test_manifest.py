import io
import json

import numpy as np
import pytest
from PIL import Image

from bench.config import DatasetConfig
from bench.frames import DatasetError, Frame, FrameError, encode_frame, load_frames

from ..conftest import write_image, write_manifest


def _cfg(folder, **kw):
    return DatasetConfig(name="t", path=str(folder), **kw)


def _encode(frame, max_side=1024, max_pixels=50_000_000):
    return encode_frame(frame, max_side, 90, max_pixels)


def test_every_kind_of_bad_frame_is_named_and_the_rest_load(tmp_path):
    ds = tmp_path / "ds"
    write_image(ds / "images/good.jpg", size=(1600, 900))
    (ds / "images/empty.jpg").write_bytes(b"")
    (ds / "images/text.jpg").write_text("not an image at all")
    good = (ds / "images/good.jpg").read_bytes()
    (ds / "images/cut.jpg").write_bytes(good[: len(good) // 3])
    write_image(tmp_path / "outside.jpg")
    write_manifest(ds, [
        {"id": "good", "image": "images/good.jpg", "content_type": "photo"},
        {"id": "empty", "image": "images/empty.jpg"},
        {"id": "text", "image": "images/text.jpg"},
        {"id": "cut", "image": "images/cut.jpg"},
        {"id": "missing", "image": "images/nope.jpg"},
        {"id": "escape", "image": "../outside.jpg"},
        '{"id": "broken", "image": ',
        {"image": "images/good.jpg"},
        {"id": "good", "image": "images/good.jpg"},
    ])
    frames = {f.id: f for f in load_frames(_cfg(ds))}
    assert len(frames) == 9
    image = _encode(frames["good"], max_side=640)
    assert (image.width, image.height) == (640, 360) and image.mime == "image/jpeg" and len(image.sha256) == 64
    assert frames["good"].meta["content_type"] == "photo"
    reasons = {}
    for fid, frame in frames.items():
        if fid == "good":
            continue
        with pytest.raises(FrameError) as exc:
            _encode(frame)
        reasons[fid] = str(exc.value)
    assert "0 bytes" in reasons["empty"]
    assert "not an image" in reasons["text"]
    assert "corrupt or truncated" in reasons["cut"]
    assert "does not exist" in reasons["missing"]
    assert "escapes the dataset folder" in reasons["escape"]
    assert "line 7" in reasons["#line7"] and "not valid JSON" in reasons["#line7"]
    assert "line 8" in reasons["#line8"] and "'id'" in reasons["#line8"]
    assert "duplicate id" in reasons["good#line9"]


def test_decompression_bomb_is_refused(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    Image.new("L", (5000, 5000)).save(ds / "big.png")
    write_manifest(ds, [{"id": "bomb", "image": "big.png"}])
    (frame,) = load_frames(_cfg(ds))
    with pytest.raises(FrameError, match="decompression-bomb"):
        _encode(frame, max_pixels=1_000_000)


def test_missing_dataset_says_how_to_build_it(tmp_path):
    with pytest.raises(DatasetError, match="python -m bench.datasets build x"):
        load_frames(_cfg(tmp_path / "nope", build_hint="Build it with `python -m bench.datasets build x`."))
    ds = write_manifest(tmp_path / "ds", [{"id": "a", "image": "images/a.jpg"}])
    with pytest.raises(DatasetError, match="none of the 1 images"):
        load_frames(_cfg(ds))


def test_limit_and_png_rgba_are_handled(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    Image.new("RGBA", (40, 30), (1, 2, 3, 128)).save(ds / "a.png")
    write_manifest(ds, [{"id": f"f{i}", "image": "a.png"} for i in range(5)])
    frames = load_frames(_cfg(ds, limit=2))
    assert [f.id for f in frames] == ["f0", "f1"]
    assert _encode(next(iter(frames))).mime == "image/jpeg"


def test_limit_below_one_is_a_dataset_error(tmp_path):
    ds = tmp_path / "ds"
    write_image(ds / "a.jpg")
    write_manifest(ds, [{"id": "f0", "image": "a.jpg"}, {"id": "f1", "image": "a.jpg"}])
    for limit in (0, -3):
        with pytest.raises(DatasetError, match="limit must be >= 1"):
            load_frames(_cfg(ds, limit=limit))
        with pytest.raises(DatasetError, match="limit must be >= 1"):
            load_frames(_cfg(ds, kind="folder", limit=limit))
    assert [f.id for f in load_frames(_cfg(ds, limit=1))] == ["f0"]


def test_bom_and_non_utf8_lines(tmp_path):
    ds = tmp_path / "ds"
    write_image(ds / "a.jpg")
    (ds / "manifest.jsonl").write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"id": "first", "image": "a.jpg"}).encode() + b"\n"
        + b'{"id": "caf\xe9", "image": "a.jpg"}\n'  # Latin-1, not UTF-8
        + json.dumps({"id": "last", "image": "a.jpg"}).encode() + b"\n"
    )
    frames = list(load_frames(_cfg(ds)))
    assert [f.id for f in frames] == ["first", "#line2", "last"]
    assert frames[0].error is None and frames[2].error is None
    with pytest.raises(FrameError, match="line 2: not UTF-8") as exc:
        _encode(frames[1])
    assert "caf\\xe9" in str(exc.value)  # the line's bytes, shown losslessly


def test_stand_in_ids_cannot_collide_with_or_take_real_ids(tmp_path):
    # Issue 9: a bad line's stand-in id `lineN` could equal a real frame's id (a crash, then a run
    # that stays incomplete forever) or take it (the real frame then looked like a duplicate).
    ds = tmp_path / "ds"
    write_image(ds / "a.jpg")
    (ds / "manifest.jsonl").write_bytes(
        json.dumps({"id": "line3", "image": "a.jpg"}).encode() + b"\n"
        + b'{"id": "caf\xe9", "image": "a.jpg"}\n'  # not UTF-8: line 2
        + b'{"id": "bad id!"}\n'  # invalid id: line 3
        + json.dumps({"id": "line2", "image": "a.jpg"}).encode() + b"\n"
    )
    frames = {f.id: f for f in load_frames(_cfg(ds))}
    assert len(frames) == 4
    assert frames["line3"].error is None and frames["line2"].error is None  # the real frames keep their ids
    assert "not UTF-8" in frames["#line2"].error and "'id'" in frames["#line3"].error


def test_a_non_utf8_image_name_gives_a_printable_lossless_error(tmp_path):
    # A manifest may name a file whose name is not UTF-8 (JSON "\udce9" = the byte 0xE9 on disk).
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / b"caf\xe9.jpg".decode("utf-8", "surrogateescape")).write_bytes(b"not an image")
    (ds / "manifest.jsonl").write_text(json.dumps({"id": "cafe", "image": "caf\udce9.jpg"}) + "\n")
    (frame,) = load_frames(_cfg(ds))
    with pytest.raises(FrameError) as exc:
        _encode(frame)
    message = str(exc.value)
    message.encode("utf-8")  # printable and writable as UTF-8
    assert "caf\\xe9.jpg is not an image" in message


def _mean_sent(image) -> float:
    return float(np.asarray(Image.open(io.BytesIO(image.data)).convert("L"), dtype=np.float64).mean())


@pytest.mark.parametrize(("fmt", "dtype", "full_scale"), [
    ("PNG", np.uint16, 65535.0),  # opens as I;16
    ("TIFF", np.int32, 65535.0),  # mode I holding 16-bit values
    ("TIFF", np.float32, None),  # mode F: scaled by its own max
])
def test_high_bit_depth_grey_is_scaled_not_clipped_to_white(tmp_path, fmt, dtype, full_scale):
    ramp = np.tile(np.linspace(12000, 40000, 96), (64, 1)).astype(dtype)
    path = tmp_path / f"grey.{fmt.lower()}"
    Image.fromarray(ramp).save(path, format=fmt)
    assert Image.open(path).mode in ("I;16", "I", "F")
    expected = float(ramp.mean()) / (full_scale or float(ramp.max())) * 255
    sent = _mean_sent(_encode(Frame(id="g", image_path=path)))
    assert abs(sent - expected) < 3, (sent, expected)


def test_max_pixels_above_pillows_own_limit_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # stands in for Pillow's ~89.5 MP default
    path = write_image(tmp_path / "a.png", size=(100, 100), fmt="PNG")  # 10x Pillow's limit
    frame = Frame(id="a", image_path=path)
    assert _encode(frame, max_pixels=50_000).width == 100
    assert Image.MAX_IMAGE_PIXELS == 1_000  # restored after the open
    for max_pixels in (9_000, 4_000):  # over the limit; over twice the limit (Pillow raises itself)
        with pytest.raises(FrameError, match=f"exceeds dataset.max_pixels={max_pixels}"):
            _encode(frame, max_pixels=max_pixels)
    assert Image.MAX_IMAGE_PIXELS == 1_000
