"""bench.load at scale: image paths read once per manifest (the report asks per batch of frames), again when the
manifest changes; a run loaded without records streams them (iter_run_records) and its scoring rows
(iter_score_rows)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import bench.load as load_mod
from bench.load import RunData, image_paths, iter_run_records, iter_score_rows


def _run(tmp_path: Path) -> RunData:
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "manifest.jsonl").write_text("".join(json.dumps({"id": f"f{i}", "image": f"im/{i}.jpg"}) + "\n"
                                               for i in range(5)) + "not json\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "generations.jsonl").write_text("".join(json.dumps({"frame_id": f"f{i}", "status": "ok"}) + "\n"
                                                   for i in range(5)) + '{"frame_id": "f9"')  # a torn last line
    (run / "rows.jsonl").write_text("".join(json.dumps({"frame_id": f"f{i}", "valid": True}) + "\n"
                                            for i in range(3)))
    return RunData(path=run, config={"dataset": {"path": str(ds), "kind": "manifest"}}, meta={}, metrics={},
                   records=[], scores_path=run / "rows.jsonl")


def test_image_paths_read_the_manifest_once_until_it_changes(tmp_path, monkeypatch):
    run = _run(tmp_path)
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda f, *a, **k: (opened.append(str(f)), real_open(f, *a, **k))[1])
    first = image_paths(run)
    assert first == {f"f{i}": str(tmp_path / "ds" / "im" / f"{i}.jpg") for i in range(5)}
    assert image_paths(run) == first and len(opened) == 1  # the second ask is served from memory
    manifest = tmp_path / "ds" / "manifest.jsonl"
    manifest.write_text(json.dumps({"id": "g", "image": "g.jpg"}) + "\n")
    os.utime(manifest, ns=(1, 1))  # another size and mtime: read again
    assert image_paths(run) == {"g": str(tmp_path / "ds" / "g.jpg")} and len(opened) == 2
    load_mod._IMAGE_PATHS.clear()


def test_records_and_score_rows_stream_from_the_run_folder(tmp_path):
    run = _run(tmp_path)
    assert [r["frame_id"] for r in iter_run_records(run)] == [f"f{i}" for i in range(5)]  # the torn line left out
    assert [fid for fid, _ in iter_score_rows(run)] == ["f0", "f1", "f2"]
    run.records = [{"frame_id": "mem"}]
    run.scores = {"mem": {"valid": False}}
    assert [r["frame_id"] for r in iter_run_records(run)] == ["mem"]  # in memory: those (a sharded run's)
    assert list(iter_score_rows(run)) == [("mem", {"valid": False})]
