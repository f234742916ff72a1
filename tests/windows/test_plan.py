"""Frame grouping (bench.frames.windows): windows never cross videos, cuts are flagged, bad input is named."""

import pytest

from bench.frames.base import DatasetError
from bench.frames.windows import plan_units, summary_inputs, video_key

from .helpers import frame, mode


def clip(video="a.mp4", times=(0, 1, 2, 3, 4, 5), cut_at=3):
    return [frame(f"a-t{t:05.1f}", video, float(t), "s0" if t < cut_at else "s1") for t in times]


def test_windows_of_n_consecutive_frames_never_cross_videos_and_flag_cuts():
    frames = clip() + [frame(f"b-t{t:05.1f}", "b.mp4", float(t), "s9") for t in range(3)]
    units = plan_units(frames, mode("window", frames=4))
    assert [u.id for u in units] == ["a-w0000", "a-w0001", "b-w0000"]
    assert [u.frame_ids for u in units] == [["a-t000.0", "a-t001.0", "a-t002.0", "a-t003.0"],
                                           ["a-t004.0", "a-t005.0"], ["b-t000.0", "b-t001.0", "b-t002.0"]]
    assert [u.crosses_cut for u in units] == [True, False, False]
    assert units[0].shots == ("s0", "s1")
    # each window covers up to the next window's first frame; the last one its last frame + the usual gap
    assert [(u.t_start, u.t_end, u.video_s) for u in units] == [(0.0, 4.0, 4.0), (4.0, 6.0, 2.0), (0.0, 3.0, 3.0)]
    record = units[0].record_fields()
    assert record["frames"] == 4 and record["window_s"] == 4.0 and record["crosses_cut"] is True


def test_window_s_groups_by_time_span():
    units = plan_units(clip(times=(0, 0.5, 1.9, 2.0, 3.5, 7.0)), mode("window", window_s=2.0))
    assert [u.frame_ids for u in units] == [["a-t000.0", "a-t000.5", "a-t001.9"], ["a-t002.0", "a-t003.5"],
                                           ["a-t007.0"]]


def test_out_of_order_frames_are_sorted_and_duplicate_timestamps_dropped_with_a_note():
    frames = clip(times=(3, 0, 2, 1)) + [frame("a-dup", "a.mp4", 2.0, "s0")]
    unit = plan_units(frames, mode("window", frames=10))[0]
    assert unit.frame_ids == ["a-t000.0", "a-t001.0", "a-t002.0", "a-t003.0"]
    assert "frames were out of time order: sorted by timestamp_s" in unit.notes
    assert "duplicate timestamp_s 2: frame a-dup left out (same time as a-t002.0)" in unit.notes


def test_missing_timestamps_window_by_order_but_window_s_is_a_clear_error():
    frames = [frame(f"x{i}", "x.mp4", None) for i in range(5)]
    units = plan_units(frames, mode("window", frames=2))
    assert [u.frame_ids for u in units] == [["x0", "x1"], ["x2", "x3"], ["x4"]]
    assert units[0].notes == ("no timestamp_s: windows by manifest order",) and units[0].video_s is None
    with pytest.raises(DatasetError, match=r"video 'x.mp4': mode.window_s needs timestamp_s .* x0, x1, x2"):
        plan_units(frames, mode("window", window_s=2.0))


def test_a_one_frame_video_is_a_window_of_one_and_a_skipped_sliding_chain():
    one = [frame("solo-t000.0", "solo.mp4", 0.0, "s0")]
    win = plan_units(one, mode("window", frames=4))
    assert len(win) == 1 and win[0].frame_ids == ["solo-t000.0"] and win[0].skip is None
    assert "the video has one frame: a window of one" in win[0].notes
    sliding = plan_units(one, mode("sliding"))
    assert len(sliding) == 1 and sliding[0].id == "solo-s0000"
    assert "has one frame: sliding mode needs two adjacent frames" in sliding[0].skip


def test_sliding_pairs_adjacent_frames_in_time_order():
    units = plan_units(clip(times=(2, 0, 1, 3)), mode("sliding"))
    assert [(u.id, u.frame_ids, u.crosses_cut) for u in units] == [
        ("a-s0001", ["a-t000.0", "a-t001.0"], False), ("a-s0002", ["a-t001.0", "a-t002.0"], False),
        ("a-s0003", ["a-t002.0", "a-t003.0"], True)]
    assert [u.video_s for u in units] == [1.0, 1.0, 1.0]


def test_video_key_is_an_id_safe_stem():
    assert video_key("clips/match 1.mp4") == "clips/match_1"
    assert video_key("opencv-doc:vtest.avi") == "opencv-doc:vtest"


def test_summary_inputs_take_valid_captions_in_time_order_and_name_a_missing_video(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("mode:\n  kind: frame\n")
    ok = {"status": "ok", "validity": {"schema_valid": True}, "video": "a.mp4"}
    lines = [{**ok, "frame_id": "a-t001.0", "timestamp_s": 1.0, "caption": {"summary": "second"}},
             {**ok, "frame_id": "a-t000.0", "timestamp_s": 0.0, "caption": {"summary": "first"}},
             {**ok, "frame_id": "a-t002.0", "timestamp_s": 2.0, "caption": {"summary": "bad"},
              "validity": {"schema_valid": False}}]
    import json
    (run / "generations.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{torn")
    units = plan_units(clip(times=(0, 1, 2)) + [frame("b-t000.0", "b.mp4", 0.0)], mode("summary"))
    a, b = summary_inputs(units, run)
    assert a.text.splitlines() == ['t=0s: {"summary": "first"}', 't=1s: {"summary": "second"}']
    assert b.skip and "no valid captions of video 'b.mp4'" in b.skip
    (run / "config.yaml").write_text("mode:\n  kind: window\n")
    with pytest.raises(DatasetError, match="is a mode=window run"):
        summary_inputs(units, run)
    with pytest.raises(DatasetError, match="no generations.jsonl"):
        summary_inputs(units, tmp_path / "nowhere")


def test_frame_mode_keeps_the_fingerprint_of_runs_made_before_modes_existed():
    from omegaconf import OmegaConf

    from bench.store import fingerprint

    from .helpers import compose_cfg

    plain = OmegaConf.to_container(compose_cfg(), resolve=False)
    assert plain["mode"]["kind"] == "frame"
    before_modes = {k: v for k, v in plain.items() if k != "mode"}
    assert fingerprint(plain) == fingerprint(before_modes)  # an old run still resumes
    window = OmegaConf.to_container(compose_cfg("mode=window"), resolve=False)
    assert fingerprint(window) != fingerprint(plain)
