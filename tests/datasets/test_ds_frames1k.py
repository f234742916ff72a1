"""The committed frames1k spec and manifest (no network; the images are not committed)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bench.config import DatasetConfig
from bench.datasets import CONTENT_TYPES, ID_RE, build, load_spec, read_jsonl, validate_manifest_entry
from bench.frames import DatasetError, load_frames

ROOT = Path(__file__).resolve().parents[2]
F1K = ROOT / "datasets" / "frames1k"


@pytest.fixture(scope="module")
def entries():
    return read_jsonl(F1K / "manifest.jsonl")


def test_spec_loads_and_adds_up_to_1000():
    spec = load_spec(F1K / "sources.yaml")
    assert spec.target_frames == 1000 and sum(s.quota for s in spec.sources) == 1000
    assert all(s.content_type in CONTENT_TYPES for s in spec.sources)
    assert all(s.select.get("method") == "shots" for s in spec.sources if s.kind == "video")
    sizes = sum(p.size for p in spec.packages.values())
    assert sizes < 1_000_000_000  # total download under 1 GB
    assert not {"berusky2-data", "supertuxkart-data"} & set(spec.packages)


def test_manifest_is_well_formed(entries):
    assert len(entries) == 1000
    ids = [e["id"] for e in entries]
    assert len(set(ids)) == 1000 and all(ID_RE.match(i) for i in ids)
    for e in entries:
        assert validate_manifest_entry(e) == [], e["id"]
    counts = Counter(e["content_type"] for e in entries)
    assert set(counts) == set(CONTENT_TYPES)  # all nine content types
    assert min(counts.values()) >= 40
    videos = [e for e in entries if e["video"]]
    assert all(e["shot"] and e["timestamp_s"] is not None for e in videos)
    assert len({(e["video"], e["shot"]) for e in videos}) >= 300  # many distinct shots
    per_shot = Counter((e["video"], e["shot"]) for e in videos if not e.get("run"))
    assert max(per_shot.values()) <= 10


def test_runs_are_consecutive_frames_at_a_fixed_rate(entries):
    runs: dict[str, list[dict]] = {}
    for e in entries:
        if e.get("run"):
            runs.setdefault(e["run"]["id"], []).append(e)
    assert len(runs) >= 30
    for rid, members in runs.items():
        members.sort(key=lambda e: e["run"]["index"])
        assert [m["run"]["index"] for m in members] == list(range(len(members))), rid
        assert len({m["shot"] for m in members}) == 1 and len(members) >= 3
        step = 1 / members[0]["run"]["fps"]
        for a, b in zip(members, members[1:], strict=False):
            assert b["timestamp_s"] - a["timestamp_s"] == pytest.approx(step, abs=1e-6)


def test_no_do_not_use_material(entries):
    banned = ("megamind", "minions", "homer", "franck", "groot", "t1.jpg", "lena", "messi")
    for e in entries:
        assert not any(b in e["source"]["path"].lower() for b in banned), e["id"]


def test_offline_check_without_debs_never_downloads(tmp_path):
    rep = build(load_spec(F1K / "sources.yaml"), tmp_path / "empty-cache", check=True, log=lambda m: None)
    assert not rep.failures, rep.summary()
    assert rep.ok == (rep.unverified == 0)  # images not built here: nothing verified, not OK
    assert rep.frames == 1000 and rep.rebuilt_ok == 0
    assert rep.hashed_only + rep.unverified == 1000
    assert not (tmp_path / "empty-cache").exists()


def test_missing_images_say_how_to_build_them(tmp_path):
    shutil.copy(F1K / "manifest.jsonl", tmp_path / "manifest.jsonl")
    conf = yaml.safe_load((ROOT / "conf" / "dataset" / "frames1k.yaml").read_text())
    cfg = DatasetConfig(name="frames1k", path=str(tmp_path), build_hint=conf["build_hint"])
    with pytest.raises(DatasetError, match="python -m bench.datasets build frames1k"):
        load_frames(cfg)
