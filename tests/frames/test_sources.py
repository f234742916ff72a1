"""dataset=video and dataset=folder on real files made in the test (no network)."""

from __future__ import annotations

import pytest
from PIL import Image

from bench.config import DatasetConfig
from bench.frames import ID_OK, DatasetError, FrameError, encode_frame, load_frames
from bench.frames.folder import stable_id

from .conftest import CUTS, DISSOLVE, scene_video


def _cfg(path, kind, tmp_path, **kw):
    return DatasetConfig(name=kind, kind=kind, path=str(path), cache_dir=str(tmp_path / "cache"), **kw)


def test_video_at_fps_ids_timestamps_count(scenes_mp4, tmp_path):
    frames = load_frames(_cfg(scenes_mp4, "video", tmp_path, fps=2.0))
    assert len(frames) == 16  # 8 s at 2 fps: 0.0, 0.5, ... 7.5
    assert [f.id for f in frames[:3]] == ["scenes-t000.0", "scenes-t000.5", "scenes-t001.0"]
    assert [f.meta["timestamp_s"] for f in frames] == [k / 2 for k in range(16)]
    assert all(f.error is None and f.image_path.is_file() for f in frames)
    img = encode_frame(frames[3], 1024, 90, 50_000_000)
    assert (img.width, img.height) == (128, 96)
    capped = load_frames(_cfg(scenes_mp4, "video", tmp_path, fps=2.0, max_frames_per_video=4))
    assert [f.meta["timestamp_s"] for f in capped] == [0.0, 2.0, 4.0, 6.0]  # spread evenly


def test_video_at_scene_changes(scenes_mp4, tmp_path):
    frames = load_frames(_cfg(scenes_mp4, "video", tmp_path, sampling="scenes"))
    assert [f.meta["shot"] for f in frames] == ["s000", "s001", "s002", "s003"]
    ts = [f.meta["timestamp_s"] for f in frames]
    assert ts[0] < CUTS[0] < ts[1] < DISSOLVE[0] and DISSOLVE[1] <= ts[2] < CUTS[1] < ts[3]
    assert all(f.id == f"scenes-t{t:05.1f}" for f, t in zip(frames, ts, strict=True))


def test_extraction_is_cached_and_ids_are_stable(scenes_mp4, tmp_path):
    cfg = _cfg(scenes_mp4, "video", tmp_path, fps=1.0)
    first = load_frames(cfg)
    mtimes = {f.image_path: f.image_path.stat().st_mtime_ns for f in first}
    again = load_frames(cfg)
    assert [f.id for f in again] == [f.id for f in first]
    assert {f.image_path: f.image_path.stat().st_mtime_ns for f in again} == mtimes  # reused, not rewritten
    other = load_frames(_cfg(scenes_mp4, "video", tmp_path, fps=0.5))
    assert other[0].image_path.parent != first[0].image_path.parent  # settings are part of the cache key


def test_video_folder_bad_videos_and_duplicate_stems(scenes_mp4, tmp_path):
    d = tmp_path / "videos"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    (d / "a" / "clip.mp4").write_bytes(scenes_mp4.read_bytes())
    scene_video(d / "b" / "clip.mkv", size=(96, 64))
    (d / "empty.mp4").write_bytes(b"")
    (d / "junk.avi").write_bytes(b"not a video at all" * 100)
    (d / "notes.txt").write_text("ignored")
    frames = load_frames(_cfg(d, "video", tmp_path, fps=0.5))
    by_id = {f.id: f for f in frames}
    assert "a/clip-t000.0" in by_id and "b/clip-t006.0" in by_id  # same stem: relative path
    assert "empty" in by_id and "0 bytes" in by_id["empty"].error
    assert "junk" in by_id and "junk.avi" in by_id["junk"].error
    with pytest.raises(FrameError, match="junk.avi"):
        encode_frame(by_id["junk"], 1024, 90, 50_000_000)
    assert sum(f.error is None for f in frames) == 8


def test_only_bad_videos_is_a_dataset_error(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "zero.mp4").write_bytes(b"")
    with pytest.raises(DatasetError, match="no usable video.*zero.mp4"):
        load_frames(_cfg(tmp_path / "v", "video", tmp_path))
    with pytest.raises(DatasetError, match="does not exist"):
        load_frames(_cfg(tmp_path / "nope.mp4", "video", tmp_path))
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(DatasetError, match="no videos"):
        load_frames(_cfg(tmp_path / "empty-dir", "video", tmp_path))


def test_folder_ids_are_relative_paths_and_stable(tmp_path):
    d = tmp_path / "imgs"
    for rel, fmt in (("b.png", "PNG"), ("a.jpg", "JPEG"), ("sub/c d.webp", "WEBP"), ("sub/x.JPEG", "JPEG"),
                     (".hidden/y.jpg", "JPEG")):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (200, 10, 10)).save(d / rel, format=fmt)
    (d / "readme.txt").write_text("x")
    cfg = DatasetConfig(name="f", kind="folder", path=str(d))
    ids = [f.id for f in load_frames(cfg)]
    assert ids[:2] == ["a.jpg", "b.png"] and ids[3] == "sub/x.JPEG"
    assert ids[2].startswith("sub/c_d.webp~")  # a space is not allowed in an id: sanitised + hash
    assert [f.id for f in load_frames(cfg)] == ids
    assert [f.id for f in load_frames(DatasetConfig(name="f", kind="folder", path=str(d), limit=2))] == ids[:2]
    assert all(encode_frame(f, 1024, 90, 50_000_000).mime == "image/jpeg" for f in load_frames(cfg))
    with pytest.raises(DatasetError, match="no images"):
        load_frames(DatasetConfig(name="f", kind="folder", path=str(d), extensions=[".tif"]))
    with pytest.raises(DatasetError, match="does not exist"):
        load_frames(DatasetConfig(name="f", kind="folder", path=str(tmp_path / "missing")))


def test_folder_ids_never_collide_and_never_move(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    names = ["a b.jpg", "a_b.jpg", "a?b.jpg", "caf\u00e9.jpg", "caf_.jpg"]
    for name in names:
        Image.new("RGB", (8, 8)).save(d / name, format="JPEG")
    both = {f.meta["path"]: f.id for f in load_frames(DatasetConfig(name="f", kind="folder", path=str(d)))}
    assert len(set(both.values())) == len(names)  # injective
    assert both["a_b.jpg"] == "a_b.jpg" and both["caf_.jpg"] == "caf_.jpg"  # valid paths are their own id
    assert both["a b.jpg"].startswith("a_b.jpg~") and both["a?b.jpg"].startswith("a_b.jpg~")
    for name in names:  # an id depends on its own path only, not on which other files exist
        (d / name).unlink()
    for name in names:
        Image.new("RGB", (8, 8)).save(d / name, format="JPEG")
        (frame,) = load_frames(DatasetConfig(name="f", kind="folder", path=str(d)))
        assert frame.id == both[name]
        (d / name).unlink()
    long_ids = {stable_id("x" * 300 + s) for s in ("1", "2")}
    assert len(long_ids) == 2 and all(len(i) <= 200 for i in long_ids)
    assert not ID_OK.fullmatch(stable_id("a b.jpg"))  # hashed ids can never equal a valid path
    assert stable_id("a.jpg\n") != "a.jpg\n"
