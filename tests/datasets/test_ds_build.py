"""End-to-end builder runs on fake packages (real .debs built locally; no network)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from bench.datasets import (
    MANIFEST_KEYS,
    SpecError,
    build,
    count_sentences,
    frame_id,
    load_spec,
    read_jsonl,
    validate_manifest_entry,
    validate_reference,
)
from bench.datasets.__main__ import main as cli_main

REF = {
    "description": "A grey square fills the frame. A small white square sits in its top left corner.",
    "objects": ["grey background", "small white square"],
    "actions": [],
    "environment": "Plain synthetic test pattern.",
    "content_type": "CGI",
    "specific_style": "test pattern",
    "production_quality": "computer-generated",
    "summary": "A plain grey test frame with a white square in the corner.",
    "logos": [],
}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def world(tmp_path, vid, debkit):
    """Two fake packages (a video and a big photo), a spec and a fake downloader."""
    video = vid.make(tmp_path / "clip.mp4", size=(1280, 720))
    rng = np.random.default_rng(3)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)).save(photo, quality=90)
    deb_v = debkit.make(tmp_path, "fake-video", "1.0-1", {"usr/share/fake-video/clip.mp4": video})
    deb_p = debkit.make(tmp_path, "fake-photos", "2:0.5-3", {"usr/share/fake-photos/photo.jpg": photo})
    ds = tmp_path / "datasets" / "mini"
    ds.mkdir(parents=True)
    spec = {
        "dataset": "mini",
        "output": {"max_side": 320, "jpeg_quality": 85, "require_references": True},
        "packages": {
            "fake-video": {"version": "1.0-1", "sha256": _sha(deb_v)},
            "fake-photos": {"version": "2:0.5-3", "sha256": _sha(deb_p)},
        },
        "sources": [
            {"name": "clip", "package": "fake-video", "path": "usr/share/fake-video/clip.mp4",
             "kind": "video", "content_type": "CGI animation", "licence": "CC-BY-4.0",
             "licence_evidence": "Files: * Copyright: 2026 Test Author <test@example.org> "
                                 "License: CC-BY-4.0",
             "attribution": "2026 Test Author", "timestamps": [0.0, 1.0, 2.55]},
            {"name": "photo", "package": "fake-photos", "path": "usr/share/fake-photos/photo.jpg",
             "kind": "still", "content_type": "photograph", "licence": "CC-BY-4.0",
             "licence_evidence": "License: CC-BY-4.0", "attribution": "2026 Test Author",
             "rotate": 90},
        ],
    }
    (ds / "sources.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    refs = [{"id": i, "reference": REF} for i in
            ("clip-t000.0", "clip-t001.0", "clip-t002.550", "photo")]
    (ds / "references.jsonl").write_text("".join(json.dumps(r) + "\n" for r in refs))

    class World:
        pass

    w = World()
    w.dir, w.spec_path, w.spec = ds, ds / "sources.yaml", spec
    w.cache = tmp_path / "cache"
    w.dl = debkit.Downloader({"fake-video": deb_v, "fake-photos": deb_p})
    w.debs = {"fake-video": deb_v, "fake-photos": deb_p}
    w.vid = vid
    return w


def _build(w, **kw):
    return build(load_spec(w.spec_path), w.cache, downloader=w.dl, log=lambda m: None, **kw)


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_frame_ids():
    assert frame_id("vtest", 12.0) == "vtest-t012.0"
    assert frame_id("vtest", 0.6) == "vtest-t000.6"
    assert frame_id("clip", 125) == "clip-t125.0"
    assert frame_id("clip", 2.55) == "clip-t002.550"
    assert frame_id("kpa-pool", None) == "kpa-pool"


def test_build_writes_images_manifest_notice(world):
    rep = _build(world)
    assert rep.ok, rep.summary()
    assert rep.frames == 4 and rep.written == 4
    assert rep.fetched_packages == 2 and rep.downloaded_bytes == sum(
        p.stat().st_size for p in world.debs.values())
    entries = read_jsonl(world.dir / "manifest.jsonl")
    assert [e["id"] for e in entries] == ["clip-t000.0", "clip-t001.0", "clip-t002.550", "photo"]
    for e in entries:
        assert validate_manifest_entry(e) == []
        assert tuple(e) == MANIFEST_KEYS
        img = world.dir / e["image"]
        assert _sha(img) == e["sha256"]
        with Image.open(img) as im:
            assert im.format == "JPEG" and im.size == (e["width"], e["height"])
            assert max(im.size) <= 320
        assert e["reference"] == REF
        assert e["source"]["licence"] == "CC-BY-4.0"
    clip = entries[1]
    assert clip["video"] == "fake-video:clip.mp4" and clip["timestamp_s"] == 1.0
    assert clip["shot"] is None and (clip["width"], clip["height"]) == (320, 180)
    assert clip["source"]["version"] == "1.0-1" and clip["source"]["deb_sha256"] == _sha(
        world.debs["fake-video"])
    photo = entries[3]
    assert photo["video"] is None and photo["timestamp_s"] is None
    assert (photo["width"], photo["height"]) == (240, 320)  # rotated 90: portrait
    assert photo["source"]["version"] == "2:0.5-3"
    # the decoded frame is the one on screen at that time
    with Image.open(world.dir / entries[2]["image"]) as im:
        assert world.vid.index(im) == 25
    notice = (world.dir / "NOTICE.md").read_text()
    for e in entries:
        assert f"`{e['image']}`" in notice
    assert "2026 Test Author" in notice and "CC-BY-4.0" in notice


def test_rebuild_is_idempotent_and_byte_identical(world):
    assert _build(world).ok
    before = _snapshot(world.dir)
    mtimes = {p: p.stat().st_mtime_ns for p in world.dir.rglob("*") if p.is_file()}
    rep = _build(world)
    assert rep.ok and rep.written == 0 and rep.unchanged == 4
    assert rep.downloaded_bytes == 0 and rep.fetched_packages == 0 and rep.cached_packages == 2
    assert rep.files_written == []
    assert _snapshot(world.dir) == before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    # a fresh build from scratch (new cache, images deleted) gives the same bytes
    shutil.rmtree(world.cache)
    shutil.rmtree(world.dir / "images")
    (world.dir / "manifest.jsonl").unlink()
    assert _build(world).ok
    assert _snapshot(world.dir) == before


def test_check_mode_rebuilds_in_memory_and_never_writes(world):
    assert _build(world).ok
    before = _snapshot(world.dir)
    rep = _build(world, check=True)
    assert rep.ok, rep.summary()
    assert rep.rebuilt_ok == 4 and rep.hashed_only == 0
    assert _snapshot(world.dir) == before
    # tamper with an image: check fails and names it
    img = world.dir / "images" / "clip-t001.0.jpg"
    img.write_bytes(img.read_bytes()[:-10] + b"0123456789")
    rep = _build(world, check=True)
    assert not rep.ok and any("clip-t001.0" in f for f in rep.failures)


def test_check_without_debs_only_hashes(world):
    assert _build(world).ok
    shutil.rmtree(world.cache)
    calls = len(world.dl.calls)
    rep = _build(world, check=True)
    assert rep.ok, rep.summary()
    assert rep.hashed_only == 4 and rep.rebuilt_ok == 0
    assert len(world.dl.calls) == calls  # no download attempted
    assert not world.cache.exists() or not list(world.cache.glob("*.deb"))
    (world.dir / "images" / "photo.jpg").write_bytes(b"\xff\xd8 not the committed image")
    rep = _build(world, check=True)
    assert not rep.ok and any("photo" in f for f in rep.failures)


def test_check_detects_stale_manifest(world):
    assert _build(world).ok
    m = world.dir / "manifest.jsonl"
    m.write_text(m.read_text().replace('"CGI animation"', '"cartoon"'))
    rep = _build(world, check=True)
    assert not rep.ok and any("manifest.jsonl" in f for f in rep.failures)


def test_one_bad_source_does_not_spoil_the_rest(world):
    world.spec["sources"][0]["path"] = "usr/share/fake-video/missing.mp4"
    world.spec_path.write_text(yaml.safe_dump(world.spec, sort_keys=False))
    rep = _build(world)
    assert not rep.ok
    assert any("clip" in f and "missing.mp4" in f for f in rep.failures)
    assert (world.dir / "images" / "photo.jpg").exists()
    ids = [e["id"] for e in read_jsonl(world.dir / "manifest.jsonl")]
    assert ids == ["photo"]


def test_failed_source_keeps_committed_frames(world):
    assert _build(world).ok
    before = (world.dir / "manifest.jsonl").read_text()
    shutil.rmtree(world.cache)
    world.dl.debs.pop("fake-video")  # package vanished from the archive
    rep = _build(world)
    assert not rep.ok and any("fake-video" in f for f in rep.failures)
    assert (world.dir / "manifest.jsonl").read_text() == before  # nothing lost


def test_checksum_mismatch_is_reported_by_package(world):
    world.spec["packages"]["fake-photos"]["sha256"] = "0" * 64
    world.spec_path.write_text(yaml.safe_dump(world.spec, sort_keys=False))
    rep = _build(world)
    assert not rep.ok
    assert len(rep.failures) >= 1 and "fake-photos" in rep.failures[0]
    assert "sha256 mismatch" in rep.failures[0]
    assert {e["id"] for e in read_jsonl(world.dir / "manifest.jsonl")} == {
        "clip-t000.0", "clip-t001.0", "clip-t002.550"}


def test_unreadable_video_is_a_named_failure(world, debkit, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 1000)
    deb = debkit.make(tmp_path, "fake-video", "1.0-1", {"usr/share/fake-video/clip.mp4": bad})
    world.dl.debs["fake-video"] = deb
    world.spec["packages"]["fake-video"]["sha256"] = _sha(deb)
    world.spec_path.write_text(yaml.safe_dump(world.spec, sort_keys=False))
    rep = _build(world)
    assert not rep.ok and any("source clip" in f and "clip.mp4" in f for f in rep.failures)
    assert (world.dir / "images" / "photo.jpg").exists()


def test_changed_licence_stops_that_source(world):
    world.spec["sources"][1]["licence_evidence"] = "License: GPL-3+"
    world.spec_path.write_text(yaml.safe_dump(world.spec, sort_keys=False))
    rep = _build(world)
    assert not rep.ok and any("photo" in f and "licence_evidence" in f for f in rep.failures)
    assert (world.dir / "images" / "clip-t001.0.jpg").exists()


def test_timestamp_past_end_is_a_named_failure(world):
    world.spec["sources"][0]["timestamps"] = [1.0, 99.0]
    world.spec_path.write_text(yaml.safe_dump(world.spec, sort_keys=False))
    rep = _build(world)
    assert not rep.ok and any("99.0" in f and "clip" in f for f in rep.failures)


def test_missing_reference_is_a_warning_in_build_and_failure_in_check(world):
    lines = (world.dir / "references.jsonl").read_text().splitlines()
    (world.dir / "references.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    rep = _build(world)
    assert rep.ok and any("photo" in w and "reference" in w for w in rep.warnings)
    assert read_jsonl(world.dir / "manifest.jsonl")[-1]["reference"] is None
    rep = _build(world, check=True)
    assert not rep.ok


def test_cli_exit_codes_and_summary(world, capsys, monkeypatch):
    import bench.datasets as ds

    monkeypatch.setattr(ds, "apt_get_download", world.dl)
    real_build = ds.build

    def fake_build(spec, cache_dir, **kw):
        return real_build(spec, cache_dir, downloader=world.dl, **kw)

    monkeypatch.setattr("bench.datasets.__main__.build", fake_build)
    root = str(world.dir.parent)
    args = ["build", "mini", "--root", root, "--cache-dir", str(world.cache)]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "build mini: 4 frames" in out and "downloaded" in out and "time:" in out
    assert cli_main(args + ["--check"]) == 0
    assert "rebuilt byte-identical: 4" in capsys.readouterr().out
    assert cli_main(["build", "nosuch", "--root", root]) == 2
    assert cli_main(["list", "--root", root]) == 0
    assert "mini" in capsys.readouterr().out
    world.spec["sources"][0]["path"] = "usr/share/fake-video/missing.mp4"
    world.spec_path.write_text(yaml.safe_dump(world.spec, sort_keys=False))
    assert cli_main(args) == 1
    assert "FAILED: source clip" in capsys.readouterr().out


def test_spec_errors_are_listed(tmp_path):
    bad = {
        "packages": {"p": {"version": "1", "sha256": "a" * 64}},
        "sources": [
            {"name": "a", "package": "p", "path": "x.mp4", "kind": "video",
             "content_type": "c", "licence": "l", "timestamps": [1.0, 1.0]},
            {"name": "B!", "package": "q", "path": "y", "kind": "gif",
             "content_type": "c", "licence": "l"},
            {"name": "v", "package": "p", "path": "z.mp4", "kind": "video",
             "content_type": "c", "licence": "l"},
        ],
    }
    p = tmp_path / "sources.yaml"
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(SpecError) as exc:
        load_spec(p)
    msg = str(exc.value)
    assert "duplicate frame id a-t001.0" in msg
    assert "package q is not pinned" in msg
    assert "kind must be" in msg
    assert "name must match" in msg
    assert "needs 'timestamps'" in msg
    with pytest.raises(SpecError):
        load_spec(tmp_path / "nope.yaml")


def test_validate_reference_uses_the_harness_ladder():
    """References are checked with bench.validity (the prompt's schema and rules), plus no hedging."""
    assert validate_reference(REF) == []
    bad = dict(REF, description="This image shows a grey square. " * 5,
               objects=[f"o{i}" for i in range(11)], actions=["a"] * 6, summary="One. Two.")
    problems = " | ".join(validate_reference(bad))
    for needle in ("banned lead-in", "description: 5 sentences, at most 4", "objects: 11 items",
                   "actions: 6 items", "summary: 2 sentences, at most 1"):
        assert needle in problems
    # the ladder stops at the schema rung: a wrong type or a missing key is a schema problem
    assert "schema: logos" in " | ".join(validate_reference(dict(REF, logos="none")))
    assert any("required property" in p for p in validate_reference({"description": "x"}))
    assert any("hedges" in p for p in validate_reference(dict(REF, summary="It looks like a cat.")))
    assert any("objects: empty" in p for p in validate_reference(dict(REF, objects=[])))
    assert count_sentences("A 'Displays' window says 'Does it look OK?' here. Next one.") == 2
    assert count_sentences("Version 3304-4.1 BLITS is shown.") == 1


def test_corrupt_manifest_and_references_are_reported_not_crashes(world):
    assert _build(world).ok
    (world.dir / "manifest.jsonl").write_text("{not json\n")
    rep = _build(world)
    assert rep.ok and any("ignoring the existing manifest" in w for w in rep.warnings)
    assert len(read_jsonl(world.dir / "manifest.jsonl")) == 4  # rewritten
    (world.dir / "references.jsonl").write_text("{broken\n")
    rep = _build(world)
    assert not rep.ok and any("references.jsonl" in f for f in rep.failures)


def test_check_with_nothing_to_verify_is_not_ok(world, capsys, monkeypatch):
    """No images and no .debs (e.g. frames1k before its first build): nothing verified, so not OK, and the
    summary says to build first."""
    assert _build(world).ok
    shutil.rmtree(world.cache)
    shutil.rmtree(world.dir / "images")
    rep = _build(world, check=True)
    assert rep.unverified == 4 and not rep.failures
    assert not rep.ok
    summary = rep.summary()
    assert "result: OK" not in summary and "NOT VERIFIED (4 of 4 frames)" in summary
    assert "build the dataset first (python -m bench.datasets build mini)" in summary
    monkeypatch.setattr("bench.datasets.__main__.build",
                        lambda spec, cache_dir, **kw: build(spec, cache_dir, downloader=world.dl, **kw))
    assert cli_main(["build", "mini", "--check", "--root", str(world.dir.parent), "--cache-dir",
                     str(world.cache)]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out
