import json

import pytest
from omegaconf import OmegaConf

from bench.store import RunInUseError, RunStore, fingerprint, load_records, redact


def _cfg(tmp_path, **over):
    base = {"model": {"name": "m", "label": "m", "simulated": False, "api_key_env": "OPENAI_API_KEY",
                      "extra_headers": {"Authorization": "Bearer sk-live"}},
            "dataset": {"name": "d"}, "runner": {"progress": True, "concurrency": 2},
            "runs_dir": str(tmp_path / "runs"), "resume": "auto", "run_dir": None}
    base.update(over)
    return OmegaConf.create(base)


def _rec(fid):
    return {"frame_id": fid, "status": "ok", "validity": {"schema_valid": True}}


def test_resume_skips_recorded_frames_and_cuts_a_torn_line(tmp_path):
    cfg = _cfg(tmp_path)
    store = RunStore.open(cfg, model_label="m")
    store.append(_rec("a"))
    store.append(_rec("b"))
    with store.generations_path.open("a") as fh:
        fh.write('{"frame_id": "c", "sta')  # killed mid-write
    store._lock_handle.close()  # the killed process's lock is gone with it
    again = RunStore.open(cfg, model_label="m")
    assert again.path == store.path and again.resumed
    assert set(again.records) == {"a", "b"}
    again.append(_rec("c"))
    lines = again.generations_path.read_text().splitlines()
    assert [json.loads(line)["frame_id"] for line in lines] == ["a", "b", "c"]


def test_a_damaged_middle_line_is_set_aside_not_everything_after_it(tmp_path):
    cfg = _cfg(tmp_path)
    store = RunStore.open(cfg, model_label="m")
    for fid in "abcd":
        store.append(_rec(fid))
    store._lock_handle.close()  # as if that process ended
    lines = store.generations_path.read_text().splitlines(keepends=True)
    lines[1] = lines[1][:15] + "\n"  # b's line damaged, with its newline
    store.generations_path.write_text("".join(lines))
    again = RunStore.open(cfg, model_label="m")
    assert set(again.records) == {"a", "c", "d"}  # only b runs again
    assert "frame_id" in (again.path / "generations.corrupt.jsonl").read_text()
    assert [json.loads(x)["frame_id"] for x in again.generations_path.read_text().splitlines()] == ["a", "c", "d"]
    assert [r["frame_id"] for r in load_records(again.path)] == ["a", "c", "d"]


def test_one_process_per_run_folder(tmp_path):
    cfg = _cfg(tmp_path)
    first = RunStore.open(cfg, model_label="m")
    with pytest.raises(RunInUseError, match="in use by another capbench process"):
        RunStore.open(cfg, model_label="m")  # the same command started twice
    first.close()  # a finished run releases its folder while the object is still referenced
    assert RunStore.open(cfg, model_label="m").path == first.path


def test_a_finished_run_releases_its_folder_in_the_same_process(tmp_path, monkeypatch):
    """bench.app.run twice in one process: the second must not depend on the garbage collector."""
    from bench import app

    opened = []
    real_open = RunStore.open
    monkeypatch.setattr(RunStore, "open", classmethod(lambda cls, *a, **k: opened.append(real_open(*a, **k))
                                                      or opened[-1]))
    from hydra import compose, initialize_config_dir

    from bench.__main__ import conf_dir

    overrides = [f"runs_dir={tmp_path / 'runs'}", "dataset.limit=2", "runner.progress=false", "run_dir="
                 + str(tmp_path / "run")]
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    assert app.run(cfg, summary=False) == 0
    assert opened and opened[0]._lock_handle is None  # released, though `opened` still holds the store
    real_open(cfg, model_label="again").close()  # the folder can be opened again at once


def test_prices_and_retry_policy_do_not_split_a_run(tmp_path):
    a = OmegaConf.to_container(_cfg(tmp_path))
    b = OmegaConf.to_container(_cfg(tmp_path))
    b["model"]["price"] = {"input_per_million": 2.0, "date": "looked up 2026-11-23"}
    b["runner"]["retry"] = {"max_attempts": 9}
    assert fingerprint(a) == fingerprint(b)


def test_a_frame_is_never_recorded_twice(tmp_path):
    store = RunStore.open(_cfg(tmp_path), model_label="m")
    store.append(_rec("a"))
    with pytest.raises(ValueError):
        store.append(_rec("a"))
    assert len(load_records(store.path)) == 1


def test_complete_runs_are_not_resumed_and_other_configs_get_their_own_folder(tmp_path):
    cfg = _cfg(tmp_path)
    first = RunStore.open(cfg, model_label="m")
    first.start_session({})
    first.end_session("complete")
    first._lock_handle.close()
    second = RunStore.open(cfg, model_label="m")
    assert second.path != first.path and not second.resumed
    other = RunStore.open(_cfg(tmp_path, runner={"progress": True, "concurrency": 4}), model_label="m")
    assert other.path not in (first.path, second.path)


def test_progress_flag_does_not_change_the_fingerprint(tmp_path):
    a = OmegaConf.to_container(_cfg(tmp_path))
    b = OmegaConf.to_container(_cfg(tmp_path, runner={"progress": False, "concurrency": 2}))
    assert fingerprint(a) == fingerprint(b)


def test_saved_config_has_no_secrets(tmp_path):
    store = RunStore.open(_cfg(tmp_path), model_label="m")
    text = (store.path / "config.yaml").read_text()
    assert "sk-live" not in text and "OPENAI_API_KEY" in text
    assert redact({"api_key": "k", "token": "t", "name": "x"}) == {"api_key": "***redacted***",
                                                                   "token": "***redacted***", "name": "x"}
    counts = {"max_tokens": 2000, "image_tokens": 256, "per_token_s": 0.002, "access_token": "t", "client_secret": "s"}
    assert redact(counts) == {"max_tokens": 2000, "image_tokens": 256, "per_token_s": 0.002,
                              "access_token": "***redacted***", "client_secret": "***redacted***"}


def test_secrets_in_urls_and_command_lines_are_redacted():
    cfg = {"model": {"base_url": "http://user:PASSWORDX@127.0.0.1:8000/v1?api_key=QUERYKEYX&x=1",
                     "vllm": {"extra_args": ["--api-key", "VLLMKEYX", "--token=TOKX", "--dtype", "bf16"]}}}
    text = json.dumps(redact(cfg))
    for secret in ("PASSWORDX", "QUERYKEYX", "VLLMKEYX", "TOKX"):
        assert secret not in text
    assert "127.0.0.1:8000/v1" in text and "x=1" in text and "bf16" in text


def test_a_duplicate_record_line_is_set_aside_and_counted(tmp_path):
    # Issue 9: the second record of a frame was dropped at load and kept nowhere.
    cfg = _cfg(tmp_path)
    store = RunStore.open(cfg, model_label="m")
    store.append(_rec("a"))
    store.append(_rec("b"))
    store._lock_handle.close()
    second_a = json.dumps({**_rec("a"), "status": "failed"}) + "\n"
    with store.generations_path.open("a") as fh:
        fh.write(second_a)
    again = RunStore.open(cfg, model_label="m")
    assert again.records["a"]["status"] == "ok"  # the first record wins, as before
    assert (again.path / "generations.duplicates.jsonl").read_text() == second_a
    assert [json.loads(x)["frame_id"] for x in again.generations_path.read_text().splitlines()] == ["a", "b"]
    assert again.set_aside == {"generations.duplicates.jsonl": 1}
    assert json.loads((again.path / "run.json").read_text())["set_aside"] == {"generations.duplicates.jsonl": 1}
    again._lock_handle.close()
    third = RunStore.open(cfg, model_label="m")  # nothing left to set aside, the count stays
    assert third.set_aside == {} and third.meta["set_aside"] == {"generations.duplicates.jsonl": 1}


def test_a_record_holding_a_non_utf8_file_name_is_written_and_read_back_exactly(tmp_path):
    # Issue 9: a bad image named with a non-UTF-8 byte crashed writing its error record.
    store = RunStore.open(_cfg(tmp_path), model_label="m")
    name = b"caf\xe9.jpg".decode("utf-8", "surrogateescape")
    store.append({**_rec("x"), "status": "failed", "error": {"kind": "bad_input", "message": name}})
    store.append(_rec("y"))
    store.generations_path.read_bytes().decode("utf-8")  # the file stays UTF-8
    assert [r["error"]["message"] for r in load_records(store.path) if r["frame_id"] == "x"] == [name]
