"""RunStore.append on the client's hot path (issue 12): orjson, one handle kept open for the run, each record
in the file as soon as it is appended, and appends after a rewrite of the file go to the new file."""

import json

from bench.store import RunStore, load_records

from .test_store import _cfg, _rec


def test_a_record_reads_back_as_json_dumps_would_have_written_it(tmp_path):
    store = RunStore.open(_cfg(tmp_path), model_label="m")
    record = {**_rec("a"), "text": 'ünïcode «字幕» \n "quoted" \u2028', "t_sent": 1764472800.123456789,
              "usage": {"input_tokens": 979, "raw": {"nested": [1, 2.5, None, True]}}, "big": 2**70, "path": tmp_path}
    store.append(record)
    line = store.generations_path.read_bytes()  # in the file at once, before close()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == json.loads(json.dumps(record, default=str))  # 2**70 and a Path too
    store.close()


def test_appends_after_supersede_go_to_the_rewritten_file(tmp_path):
    store = RunStore.open(_cfg(tmp_path), model_label="m")
    for fid in ("a", "b", "c"):
        store.append({**_rec(fid), "status": "failed" if fid == "b" else "ok"})
    assert store.supersede({"b"}) == 1
    store.append(_rec("b"))  # sent again: its new record
    store.append(_rec("d"))
    assert [r["frame_id"] for r in load_records(store.path)] == ["a", "c", "b", "d"]
    assert [json.loads(x)["frame_id"] for x in (store.path / "superseded.jsonl").read_text().splitlines()] == ["b"]
    store.close()
    again = RunStore.open(_cfg(tmp_path), model_label="m")  # resumes: the four records, none twice
    assert again.resumed and set(again.records) == {"a", "b", "c", "d"}
