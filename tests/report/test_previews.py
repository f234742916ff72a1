"""Animated WebP previews (bench.report.previews): 1 fps, 240 px high, quality 50 (NeMo Curator's defaults, seed
002), written once to a content-addressed cache."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from bench.report.previews import HEIGHT, build_preview, cache_dir, data_uri, schedule


def _frames(folder: Path, colours, size=(320, 180)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n, colour in enumerate(colours):
        p = folder / f"f{n}.jpg"
        Image.new("RGB", size, colour).save(p, quality=95)
        out.append(p)
    return out


def _durations(path: Path) -> list[int]:
    out = []
    with Image.open(path) as img:
        for n in range(img.n_frames):
            img.seek(n)
            img.load()  # Pillow sets a WebP frame's duration when it decodes it
            out.append(img.info["duration"])
    return out


def test_schedule_is_a_1_fps_clock():
    # 2 fps keyframes: every second frame is shown, each for one second
    assert schedule([0.0, 0.5, 1.0, 1.5, 2.0]) == ([(0, 1000), (2, 1000), (4, 1000)], 1.0)
    # sparse keyframes: a frame is held for the seconds it covers
    assert schedule([10.0, 13.0]) == ([(0, 3000), (1, 1000)], 1.0)
    # unknown times count one period after the previous frame
    assert schedule([None, None, None]) == ([(0, 1000), (1, 1000), (2, 1000)], 1.0)
    assert schedule([]) == ([], 1.0)


def test_a_long_shot_is_sampled_to_max_frames_at_a_recorded_lower_rate():
    times = [i * 0.5 for i in range(201)]  # 100 s at 2 fps
    plan, rate = schedule(times, max_frames=30)
    assert len(plan) == 30 and plan[0][0] == 0 and plan[-1][0] == 200
    assert abs(rate - 29 / 100) < 1e-9


def test_animated_webp_240_high_at_1_fps(tmp_path):
    paths = _frames(tmp_path / "img", [(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0)])
    pv = build_preview([(p, float(t)) for t, p in enumerate(paths)], folder=tmp_path / "cache")
    assert pv is not None and not pv.cached
    assert pv.frames == 4 and pv.height == HEIGHT == 240 and pv.width == 427 and pv.fps == 1.0
    with Image.open(pv.path) as img:
        assert img.format == "WEBP" and img.is_animated and img.n_frames == 4 and img.size == (427, 240)
        img.seek(2)
        r, g, b = img.convert("RGB").getpixel((200, 120))
        assert b > 150 and r < 60  # the third frame is the blue one: frames in time order
    assert _durations(pv.path) == [1000, 1000, 1000, 1000]
    assert pv.path.parent.parent == tmp_path / "cache" and pv.path.name == f"{pv.key}.webp"
    uri = data_uri(pv.path)
    assert uri.startswith("data:image/webp;base64,") and len(uri) > pv.bytes


def test_written_once_then_read_from_the_cache(tmp_path):
    paths = _frames(tmp_path / "img", [(200, 0, 0), (0, 200, 0)])
    first = build_preview([(p, float(t)) for t, p in enumerate(paths)], folder=tmp_path / "cache")
    mtime = first.path.stat().st_mtime_ns
    again = build_preview([(p, float(t)) for t, p in enumerate(paths)], folder=tmp_path / "cache")
    assert again.cached and again.path == first.path and again.path.stat().st_mtime_ns == mtime
    assert (again.frames, again.width, again.height) == (first.frames, first.width, first.height)
    # content-addressed: the same bytes elsewhere give the same file; changed bytes a new one
    copies = _frames(tmp_path / "copy", [(200, 0, 0), (0, 200, 0)])
    assert build_preview([(p, float(t)) for t, p in enumerate(copies)], folder=tmp_path / "cache").key == first.key
    Image.new("RGB", (320, 180), (0, 0, 0)).save(paths[1])
    changed = build_preview([(p, float(t)) for t, p in enumerate(paths)], folder=tmp_path / "cache")
    assert changed.key != first.key and not changed.cached
    # other display times are another preview
    assert build_preview([(paths[0], 0.0), (paths[1], 3.0)], folder=tmp_path / "cache").key != changed.key
    assert not list((tmp_path / "cache").rglob(".tmp-*"))  # no half-written file left


def test_a_damaged_cache_file_is_made_again(tmp_path):
    paths = _frames(tmp_path / "img", [(200, 0, 0), (0, 200, 0)])
    pv = build_preview([(p, float(t)) for t, p in enumerate(paths)], folder=tmp_path / "cache")
    pv.path.write_bytes(b"not a webp")
    again = build_preview([(p, float(t)) for t, p in enumerate(paths)], folder=tmp_path / "cache")
    assert not again.cached and again.frames == 2
    with Image.open(again.path) as img:
        assert img.n_frames == 2


def test_missing_and_unreadable_images_are_left_out(tmp_path):
    paths = _frames(tmp_path / "img", [(200, 0, 0), (0, 200, 0)])
    junk = tmp_path / "img" / "junk.jpg"
    junk.write_bytes(b"\xff\xd8 not really a jpeg")
    pv = build_preview([(paths[0], 0.0), (tmp_path / "nope.jpg", 1.0), (junk, 2.0), (paths[1], 3.0), (None, 4.0)],
                       folder=tmp_path / "cache")
    assert pv is not None and pv.frames == 2  # the two readable frames
    assert build_preview([(tmp_path / "nope.jpg", 0.0), (None, 1.0)], folder=tmp_path / "cache") is None
    assert build_preview([(junk, 0.0)], folder=tmp_path / "cache") is None


def test_cache_location_follows_capbench_cache_dir_then_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPBENCH_CACHE_DIR", str(tmp_path / "cb"))
    assert cache_dir() == tmp_path / "cb" / "previews"
    paths = _frames(tmp_path / "img", [(200, 0, 0), (0, 200, 0)])
    pv = build_preview([(p, float(t)) for t, p in enumerate(paths)])
    assert pv.path.is_relative_to(tmp_path / "cb" / "previews")
    monkeypatch.delenv("CAPBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "capbench" / "previews"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "capbench" / "previews"
