"""DatasetIndex and IdMap: what the report keeps of a whole dataset, compactly, and exactly."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from bench.frames import Frame
from bench.idset import IdMap
from bench.report.data import iter_dataset_frames
from bench.report.dataset_index import DatasetIndex


def test_id_map_last_value_wins_and_misses_are_reported():
    m = IdMap([("a", 1), ("b", 2), ("a", 3), ("c", -1)])
    assert len(m) == 3 and m.get("a") == 3 and m.get("c") == -1 and m.get("zz") is None
    assert "b" in m and "zz" not in m and 5 not in m
    assert m.get_many(["c", "a", "zz", "b"], missing=-7).tolist() == [-1, 3, -7, 2]
    assert IdMap([]).get_many(["x"]).tolist() == [-1] and IdMap([]).get("x") is None


def test_id_map_holds_many_ids_in_little_memory():
    n = 200_000
    m = IdMap((f"frame-{i:07d}", i * 10) for i in range(n))
    assert m._keys.nbytes + m._values.nbytes == 24 * n  # a digest and a value an id, nothing per id in Python
    assert m.get_many([f"frame-{i:07d}" for i in (0, 7, n - 1)]).tolist() == [0, 70, (n - 1) * 10]


def test_dataset_index_positions_images_and_content_types(monkeypatch):
    monkeypatch.setattr("bench.report.dataset_index._CHUNK", 3)  # several chunks
    frames = [Frame(id=f"f{i}", image_path=Path(f"/d/img{i}.jpg") if i != 4 else None,
                    meta={"content_type": ["news", "sports", None][i % 3]}) for i in range(8)]
    frames.insert(2, Frame(id="bad", image_path=None, meta={}, error="line 3: not JSON"))  # not a frame
    ix = DatasetIndex(iter(frames))
    assert len(ix) == 8
    assert ix.positions(pd.Series(["f7", "f0", "nope", "bad"])).tolist() == [7, 0, 8, 8]
    assert ix.images(["f3", "f4", "nope"]) == ["/d/img3.jpg", None, None]
    assert ix.image("f1") == "/d/img1.jpg"
    assert ix.content_types(["f0", "f1", "f2", "nope"]) == ["news", "sports", None, None]
    empty = DatasetIndex(iter([]))
    assert len(empty) == 0 and empty.content_types(["x"]) == [None] and empty.images(["x"]) == [None]



def test_a_manifest_whose_images_are_not_here_is_read_one_frame_at_a_time(tmp_path):
    """The report's fallback when the loader refuses the dataset (no image found: a report built on another
    machine) streams the manifest: it held every line as a Frame with its reference (3.5 GB at a million)."""
    n = 20_000
    with (tmp_path / "manifest.jsonl").open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"f{i:05d}", "image": "images/missing.jpg", "content_type": "news",
                                 "reference": {"description": "words " * 80}}) + "\n")
        fh.write("{not json\n")
    run = SimpleNamespace(config={"dataset": {"name": "gone", "kind": "manifest", "path": str(tmp_path)}})
    tracemalloc.start()
    try:
        seen = 0
        for frame in iter_dataset_frames(run):  # type: ignore[arg-type]
            assert frame.reference == {"description": "words " * 80} and frame.image_path is None
            seen += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == n
    assert peak < 8_000_000, peak  # the loader's own check and a frame at a time (all 20,000 held: 27 MB)
    ix = DatasetIndex(iter_dataset_frames(run))  # type: ignore[arg-type]
    assert len(ix) == n and ix.positions(["f00007"]).tolist() == [7] and ix.content_types(["f19999"]) == ["news"]
