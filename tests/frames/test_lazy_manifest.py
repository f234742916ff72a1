"""A big manifest is read lazily: memory does not grow with its lines, and bad lines are named."""

from __future__ import annotations

import itertools
import tracemalloc

from bench.config import DatasetConfig
from bench.frames import load_frames
from bench.idset import MERGE_AT, IdSet

from ..conftest import write_image

N = 70_000  # past one merge of the id set (MERGE_AT)
BAD = {1_000: b'{"id": "broken", "image": \n', 37_777: b'{"image": "a.jpg"}\n', 60_000: b"\xff\xfe not utf-8\n",
       69_999: b'{"id": "f5", "image": "a.jpg"}\n'}  # the last repeats line 6's id


def _big_manifest(folder):
    write_image(folder / "a.jpg")
    write_image(folder / "b.jpg")
    with (folder / "manifest.jsonl").open("wb") as fh:
        for i in range(1, N + 1):
            fh.write(BAD.get(i) or b'{"id": "f%d", "image": "%s.jpg"}\n' % (i, b"ab"[i % 2:i % 2 + 1]))
    return folder


def test_a_big_manifest_with_bad_lines_loads_lazily_and_names_them(tmp_path):
    ds = _big_manifest(tmp_path / "ds")
    tracemalloc.start()
    frames = load_frames(DatasetConfig(name="big", path=str(ds)))
    bad = {}
    count = 0
    for frame in frames:
        count += 1
        if frame.error:
            bad[frame.id] = frame.error
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == len(frames) == N and frames.bad_lines == 4
    assert set(bad) == {"#line1000", "#line37777", "#line60000", "f5#line69999"}
    assert "line 1000: not valid JSON" in bad["#line1000"]
    assert "line 37777: missing or invalid 'id'" in bad["#line37777"]
    assert "line 60000: not UTF-8" in bad["#line60000"]
    assert "line 69999: duplicate id 'f5'" in bad["f5#line69999"]
    # 70k Frame objects would be ~250 MB; the reader holds one frame at a time and the ids as 16-byte
    # digests: at most MERGE_AT recent ones in a Python set (~5 MB), the rest in a numpy array.
    assert peak < 16_000_000, peak
    assert len(frames.ids) == N and "f5#line69999" in frames.ids and "#line60000" in frames.ids
    # Iterating again starts over; a filter over it is a plain iterator (what sharding composes with).
    odd = (f for f in frames if f.id.startswith("f") and int(f.id[1:].split("#")[0]) % 2)
    assert [f.id for f in itertools.islice(odd, 3)] == ["f1", "f3", "f5"]


def test_idset_is_a_set_of_ids():
    ids = IdSet()
    names = [f"frame-{i}" for i in range(MERGE_AT + 10)]  # past one merge into the sorted array
    assert all(ids.add(n) for n in names)
    assert not ids.add("frame-7") and not ids.add(names[-1])
    assert len(ids) == len(names)
    assert all(n in ids for n in names[::997]) and "frame-x" not in ids and 3 not in ids
    ids.discard("frame-7")
    ids.discard(names[-1])
    assert "frame-7" not in ids and names[-1] not in ids and "frame-8" in ids and len(ids) == len(names) - 2
    odd = "caf\udce9/x.jpg"  # a non-UTF-8 file name as Python holds it
    assert ids.add(odd) and odd in ids and "caf\u00e9/x.jpg" not in ids
    assert ids.nbytes() < 40 * len(names)


def test_later_passes_over_the_same_file_flag_the_same_lines_without_a_second_id_set(tmp_path, monkeypatch):
    ds = _big_manifest(tmp_path / "ds")
    frames = load_frames(DatasetConfig(name="big", path=str(ds)))  # the counting pass checks every id
    first = [(f.id, f.error) for f in frames]
    sets = []

    class CountingIdSet(IdSet):
        def __init__(self, *a, **k):
            sets.append(self)
            super().__init__(*a, **k)

    monkeypatch.setattr("bench.frames.manifest.IdSet", CountingIdSet)
    ids_before = frames.ids
    assert [(f.id, f.error) for f in frames] == first  # a run's pass: the same frames, the same duplicate named
    assert sets == [] and frames.ids is ids_before  # ...and no second set of a million ids held beside `ids`
    with (ds / "manifest.jsonl").open("ab") as fh:  # the file changed: every id is checked again
        fh.write(b'{"id": "f9", "image": "a.jpg"}\n')
    again = [(f.id, f.error) for f in frames]
    assert len(sets) == 1 and again[:-1] == first and again[-1][0] == f"f9#line{N + 1}"
    assert "duplicate id 'f9'" in again[-1][1] and f"f9#line{N + 1}" in frames.ids
