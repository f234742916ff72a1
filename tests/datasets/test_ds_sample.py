"""The committed sample dataset: shape, hashes, sizes, references, licences (no network)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from bench.datasets import (
    CONTENT_TYPES,
    ID_RE,
    build,
    load_spec,
    read_jsonl,
    validate_manifest_entry,
    validate_reference,
)

SAMPLE = Path(__file__).resolve().parents[2] / "datasets" / "sample"


@pytest.fixture(scope="module")
def entries():
    return read_jsonl(SAMPLE / "manifest.jsonl")


@pytest.fixture(scope="module")
def spec():
    return load_spec(SAMPLE / "sources.yaml")


def test_manifest_shape_and_ids(entries):
    assert 20 <= len(entries) <= 32
    ids = [e["id"] for e in entries]
    assert len(set(ids)) == len(ids)
    for e in entries:
        assert validate_manifest_entry(e) == [], e["id"]
        assert ID_RE.match(e["id"]) and e["id"] == e["id"].lower()


def test_images_match_manifest(entries):
    total = 0
    for e in entries:
        p = SAMPLE / e["image"]
        data = p.read_bytes()
        total += len(data)
        assert hashlib.sha256(data).hexdigest() == e["sha256"], e["id"]
        with Image.open(p) as im:
            assert im.format == "JPEG" and im.mode == "RGB"
            assert im.size == (e["width"], e["height"])
            assert max(im.size) <= 640
    assert total < 1_000_000
    on_disk = {p.name for p in (SAMPLE / "images").glob("*")}
    assert on_disk == {Path(e["image"]).name for e in entries}


def test_every_frame_has_a_valid_hand_written_reference(entries):
    for e in entries:
        assert e["reference"] is not None, e["id"]
        assert validate_reference(e["reference"]) == [], e["id"]
    refs = {r["id"]: r["reference"] for r in read_jsonl(SAMPLE / "references.jsonl")}
    assert refs == {e["id"]: e["reference"] for e in entries}


def test_composition_spreads_over_content_types(entries):
    counts = Counter(e["content_type"] for e in entries)
    assert set(counts) <= set(CONTENT_TYPES)
    assert len(counts) >= 7
    assert counts["real-world footage"] >= 6 and counts["photograph"] >= 3
    packages = {e["source"]["package"] for e in entries}
    assert len(packages) >= 12
    assert "opencv-doc" in packages
    stills = [e for e in entries if e["video"] is None]
    assert all(e["timestamp_s"] is None for e in stills)


def test_no_do_not_use_material(entries):
    banned = ("megamind", "minions", "homer", "franck", "groot", "t1.jpg")
    for e in entries:
        assert not any(b in e["source"]["path"].lower() for b in banned), e["id"]


def test_provenance_matches_spec_and_notice(entries, spec):
    pins = {name: p.pin for name, p in spec.packages.items()}
    notice = (SAMPLE / "NOTICE.md").read_text()
    for e in entries:
        src = e["source"]
        pin = pins[src["package"]]
        assert (src["version"], src["deb_sha256"]) == (pin.version, pin.sha256)
        assert src["licence"]
        assert f"`{e['image']}`" in notice and src["licence"] in notice
    sizes = [p.size for p in spec.packages.values()]
    assert all(s is not None and s < 150_000_000 for s in sizes)


def test_offline_check_passes_without_debs(tmp_path, spec):
    """`build sample --check` with an empty cache: hashes only, no network, no writes."""
    rep = build(spec, tmp_path / "empty-cache", check=True, log=lambda m: None)
    assert rep.ok, rep.summary()
    assert rep.hashed_only == len(list(spec.frames())) and rep.rebuilt_ok == 0
    assert not (tmp_path / "empty-cache").exists()
