"""Scoring at scale, in small: the records stream past in batches and each frame leaves a few numbers, so memory
does not grow by kilobytes a frame; the normal interval past BOOTSTRAP_MAX_N comes from running moments equal
to bench.stats' own; references are looked up by id without holding the manifest."""

from __future__ import annotations

import copy
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import bench.score as score_mod
import bench.score.table as table_mod
import bench.stats as stats_mod
from bench.score import overlap, score_run
from bench.score.lookup import FrameLookup, OffsetIndex
from bench.score.overlap import METRICS
from bench.score.table import FrameTable, _Moments
from bench.stats import bootstrap_means
from tests.conftest import SEED_CAPTION, write_image
from tests.score.conftest import make_run, reference_for, valid

N = 400


def _big_run(tmp_path: Path, n: int = N) -> Path:
    """n frames over 3 images, every frame with its own reference; outputs: valid, not JSON, or missing."""
    ds = tmp_path / "big"
    for i in range(3):
        write_image(ds / "images" / f"i{i}.jpg", color=(60 * i, 100, 200 - 50 * i))
    with (ds / "manifest.jsonl").open("w") as fh:
        for i in range(n):
            ref = reference_for(i)
            ref["description"] += f" Frame number {i}."
            fh.write(json.dumps({"id": f"f{i:05d}", "image": f"images/i{i % 3}.jpg",
                                 "content_type": ["CGI", "news", "sports"][i % 3], "reference": ref}) + "\n")
    run = make_run(tmp_path, ds, "m", {"f00000": copy.deepcopy(SEED_CAPTION)})
    first = json.loads((run / "generations.jsonl").read_text())
    with (run / "generations.jsonl").open("w") as fh:
        for i in range(n):
            if i % 50 == 7:
                continue  # no output: a missing candidate
            cap = reference_for(i + (i % 4 == 0))
            rec = {**first, "frame_id": f"f{i:05d}", "content_type": ["CGI", "news", "sports"][i % 3],
                   "caption": cap, "text": json.dumps(cap), "validity": valid(), "status": "ok",
                   "timings": {"e2el_s": 0.1 * i}, "attempts": [{"n": 1, "raw": "x" * 2000}]}
            if i % 10 == 3:
                rec.update(caption=None, text="oops", validity={"category": "not_json", "schema_valid": False})
            fh.write(json.dumps(rec) + "\n")
    return run


def _traced_peak(run: Path) -> tuple[int, dict]:
    tracemalloc.start()
    try:
        summary = score_run(run, workers=1, replicates=10)
        return tracemalloc.get_traced_memory()[1], summary
    finally:
        tracemalloc.stop()


def test_scoring_memory_per_frame_is_small_and_the_numbers_hold(tmp_path, monkeypatch):
    monkeypatch.setattr(score_mod, "FRAMES_PER_BATCH", 100)  # a few batches, as at 100k frames with 20k
    monkeypatch.setattr(overlap, "_CACHE_MAX", 100)  # the prepared-text cache is bounded (50k texts), not per frame
    monkeypatch.setattr(overlap, "_SCORER", None)
    score_run(_big_run(tmp_path / "warm", 20), workers=1, replicates=10)  # imports and caches: not per frame
    small, _ = _traced_peak(_big_run(tmp_path / "small", N // 4))
    peak, summary = _traced_peak(run := _big_run(tmp_path, N))
    # What each further frame costs: holding the records (slimmed) and the references, as before, took ~15 KB
    # a frame; streamed, a frame keeps an id and ~400 bytes of numbers (one batch of records at a time).
    per_frame = (peak - small) / (N - N // 4)
    assert per_frame < 2500, f"scoring held {per_frame:.0f} bytes a frame"
    missing = len([i for i in range(N) if i % 50 == 7])
    ref = summary["reference"]
    assert summary["frames"] == N - missing and ref["frames_with_reference"] == N - missing
    assert ref["missing_candidate"] == missing and ref["missing_candidate_ids"][:2] == ["f00007", "f00057"]
    assert summary["valid"] == len([i for i in range(N) if i % 50 != 7 and i % 10 != 3])
    ov = summary["overlap"]
    assert ov["all"]["rougeL"]["method"] == "bootstrap" and ov["all"]["rougeL"]["n"] == N - missing
    assert ov["valid_only"]["rougeL"]["n"] == summary["valid"]
    assert 0 < ov["all"]["rougeL"]["mean"] < ov["valid_only"]["rougeL"]["mean"] <= 100  # invalid outputs score 0
    # no judge: no content type gets a judge score (the old loop rebound its `judged` flag after the first)
    assert set(summary["by_content_type"]) == {"CGI", "news", "sports"}
    assert all(g["judge"]["n"] == 0 for g in summary["by_content_type"].values())
    rows = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == N - missing and len({r["frame_id"] for r in rows}) == len(rows)
    assert not any(p.name.startswith(".scoring-") for p in run.iterdir())  # the temporary rows are gone


def test_same_numbers_in_any_batch_size(tmp_path, monkeypatch):
    run = _big_run(tmp_path, 400)
    a = score_run(run, workers=1, replicates=100)
    monkeypatch.setattr(score_mod, "FRAMES_PER_BATCH", 37)
    b = score_run(run, workers=1, replicates=100)
    for s in (a, b):
        s["scorer"].pop("scored_at")
        s.pop("scoring")
    assert a == b


def test_moments_give_bench_stats_normal_interval(monkeypatch):
    rng = np.random.default_rng(3)
    k = len(METRICS) * 3
    matrix = rng.uniform(0, 100, size=(700, k))
    matrix[rng.uniform(size=matrix.shape) < 0.2] = np.nan
    monkeypatch.setattr(stats_mod, "BOOTSTRAP_MAX_N", 100)
    expected = bootstrap_means(matrix)
    assert expected[0]["method"] == "normal"
    m = _Moments(k)
    for start in range(0, 700, 64):
        m.add(matrix[start:start + 64])
    for got, want in zip(m.stats(), expected, strict=True):
        assert got["n"] == want["n"] and got["method"] == want["method"]
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-12)
        assert got["ci95"] == pytest.approx(want["ci95"], rel=1e-12)


def test_table_switches_to_moments_past_max_n(monkeypatch):
    monkeypatch.setattr(table_mod, "BOOTSTRAP_MAX_N", 50)
    table = FrameTable(("description",))
    overlap = {"rouge1": 50.0, "rouge2": 40.0, "rougeL": 45.0, "bleu": 20.0,
               "per_field": {"description": {"rouge1": 1.0, "rouge2": 2.0, "rougeL": 3.0, "bleu": 4.0}}}
    for i in range(120):
        table.add(f"f{i}", "x", "valid", i % 2 == 0, {**overlap, "rougeL": float(i)}, [1] * 10)
        if i % 40 == 39:
            table.flush()
    assert table.moments is not None and not table._rows  # the rows were folded, not kept
    stats = table.overlap_stats(0, 100)
    assert stats[2]["method"] == "normal" and stats[2]["mean"] == pytest.approx(59.5)
    assert stats[4 + 2]["n"] == 60  # ROUGE-L of valid outputs only
    assert table.bleu_all == [120] * 10 and table.bleu_valid == [60] * 10


def test_offset_index_finds_every_id_and_only_those():
    idx = OffsetIndex()
    for i in range(1000):
        idx.add(f"id{i}", i * 10, i % 2)
    idx.freeze()
    assert len(idx) == 1000
    for i in (0, 1, 500, 999):
        pos = idx.position(f"id{i}")
        assert pos is not None and idx.offsets[pos] == i * 10 and idx.tags[pos] == i % 2
    assert idx.position("id1000") is None and idx.position("") is None


def test_frame_lookup_reads_lines_back_including_a_bom_first_line(tmp_path):
    from bench.config import DatasetConfig
    from bench.frames import load_frames

    ds = tmp_path / "d"
    write_image(ds / "a.jpg")
    lines = [json.dumps({"id": f"x{i}", "image": "a.jpg", "reference": {"summary": f"s{i}"} if i % 2 else None,
                         "video": "v" if i == 2 else None, "timestamp_s": 1.0 if i == 2 else None})
             for i in range(5)]
    lines.insert(3, json.dumps({"id": "x1", "image": "a.jpg"}))  # a duplicate id: the first line wins
    (ds / "manifest.jsonl").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    lookup = FrameLookup(load_frames(DatasetConfig(name="d", path=str(ds))))
    assert lookup.get("x0").reference is None and lookup.get("x1").reference == {"summary": "s1"}
    assert lookup.get("x3").reference == {"summary": "s3"} and lookup.get("nope") is None
    assert lookup.meta("x2")["video"] == "v" and lookup.meta("x4") == {}
    lookup.get("x1", mark=True)
    assert list(lookup.unmarked_ids(1)) == ["x3"]
