"""The timeline's data (bench.report.timeline): what it draws is what the temporal scores counted; frames in time
order; bounded (frames, previews) with what is left out said; previews per window when records carry frame_ids."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from bench.load import load_run_data
from bench.report.data import _ds_key, assemble, frames_table
from bench.report.render import render
from bench.report.timeline import _videos, timeline_data
from bench.score.temporal import BOUNDARY_FIELDS, changed_fields
from tests.report.timeruns import time_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return time_runs(tmp_path_factory.mktemp("tl-data"))


def _parts(paths):
    runs = load_run_data(paths, records=False)
    labels = [r.label or r.model for r in runs]
    table, sources, index = frames_table(runs, labels)
    return runs, labels, table, sources, [index[_ds_key(r)] for r in runs]


def test_boundaries_and_changes_are_the_temporal_scores_own(runs):
    loaded, labels, table, sources, images = _parts(list(runs.values()))
    tl = timeline_data(loaded, labels, table, sources, images, [], previews=False)
    assert tl["applicable"] and [v["video"] for v in tl["videos"]] == ["clipA.mp4", "clipB.mp4"]
    assert [v["cuts"] for v in tl["videos"]] == [[3], [2]]
    assert [f["t"] for f in tl["videos"][0]["frames"]] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    for i, run in enumerate(loaded):
        b = run.metrics["scores"]["temporal"]["boundaries"]
        predicted = matched = 0
        for v in tl["videos"]:
            lane = v["runs"][i]
            assert lane["k"] == b["k"] == 3 and lane["fields_mask"] == 2 ** len(BOUNDARY_FIELDS) - 1
            for j, mask in enumerate(lane["changes"]):
                if mask >= 0 and bin(mask & lane["fields_mask"]).count("1") >= lane["k"]:
                    predicted += 1
                    matched += j in v["cuts"]  # tolerance 0: a boundary matches the cut at its own pair
        assert (predicted, matched) == (b["predicted"], b["matched"]), labels[i]
    # a lane's change bit is bench.score.temporal.changed_fields of the two captions
    recs = {r["frame_id"]: r for r in map(json.loads, (runs["sim_noisy"] / "generations.jsonl").open())}
    frames = tl["videos"][0]["frames"]
    for j, mask in enumerate(tl["videos"][0]["runs"][1]["changes"]):
        a, b = recs[frames[j]["id"]], recs[frames[j + 1]["id"]]
        ok = a["validity"]["schema_valid"] and b["validity"]["schema_valid"]
        want = changed_fields(a["caption"], b["caption"]) if ok else None
        assert mask == (-1 if want is None else sum(1 << BOUNDARY_FIELDS.index(f) for f in want))


def test_frames_sorted_in_time_duplicates_and_single_frame_videos_left_out():
    table = pd.DataFrame({
        "key": ["v-2", "v-0", "v-1", "v-1b", "w-0", "still"], "frame_id": ["v-2", "v-0", "v-1", "v-1b", "w-0", "still"],
        "video": ["v", "v", "v", "v", "w", None], "timestamp_s": [2.0, 0.0, 1.0, 1.0, 0.0, None],
        "shot": ["s1", "s0", "s0", "s0", "x", None], "_run": [0] * 6, "_pos": [0, 1, 2, 3, 4, 5]})
    videos = _videos(table)
    assert [v["video"] for v in videos] == ["v"]  # w has one frame, "still" none in time
    assert [f[0] for f in videos[0]["frames"]] == ["v-0", "v-1", "v-2"]  # sorted; v-1b (same instant) left out


def test_bounded_videos_whose_frames_the_explorer_embeds_first_and_previews_within_budget(runs):
    loaded, labels, table, sources, images = _parts(list(runs.values()))
    tl = timeline_data(loaded, labels, table, sources, images, [{"id": "clipB-t003.0"}], max_frames=8,
                       preview_bytes=0)
    assert [v["video"] for v in tl["videos"]] == ["clipB.mp4"]
    assert tl["videos"][0]["frames"][3] == {"id": "clipB-t003.0", "t": 3.0, "shot": "b1", "emb": True}
    assert not tl["videos"][0]["frames"][0]["emb"]  # not in the explorer: the page says so when clicked
    assert tl["note"].startswith("1 of 2 videos with frames ordered in time, 6 of 14 frames (at most 8 frames and "
                                 "1.5 MB of values")
    assert "previews: 0 of 2 embedded, 2 left out" in tl["note"]
    assert all(p["uri"] is None and p["why"].startswith("left out") for p in tl["videos"][0]["previews"])
    full = timeline_data(loaded, labels, table, sources, images, [])
    assert full["note"] == "2 of 2 videos with frames ordered in time, 14 of 14 frames; previews: 4 of 4 embedded."
    assert [p["label"] for p in full["videos"][0]["previews"]] == ["shot a0", "shot a1"]
    assert [(p["first"], p["last"], p["frames"]) for p in full["videos"][0]["previews"]] == [(0, 3, 2), (4, 7, 2)]


def test_long_values_bound_the_videos_kept(runs, monkeypatch):
    """TIMELINE_BYTES: videos in order of preference while their values fit; the first is always kept."""
    import bench.report.timeline as timeline

    monkeypatch.setattr(timeline, "TIMELINE_BYTES", 100)
    loaded, labels, table, sources, images = _parts(list(runs.values()))
    tl = timeline_data(loaded, labels, table, sources, images, [{"id": "clipB-t000.0"}], previews=False)
    assert [v["video"] for v in tl["videos"]] == ["clipB.mp4"] and tl["note"].startswith("1 of 2 videos")


def test_a_preview_per_window_when_records_carry_frame_ids(runs, tmp_path):
    run = tmp_path / "windows"
    shutil.copytree(runs["sim"], run)
    windows = {"clipA-t000.0": ["clipA-t000.0", "clipA-t000.5", "clipA-t001.0"],
               "clipA-t001.5": ["clipA-t001.5", "clipA-t002.0", "clipA-t002.5", "clipA-t003.0", "clipA-t003.5"]}
    lines = []
    for line in (run / "generations.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["frame_id"] in windows:
            rec["frame_ids"] = windows[rec["frame_id"]]
        lines.append(json.dumps(rec))
    (run / "generations.jsonl").write_text("\n".join(lines) + "\n")
    loaded, labels, table, sources, images = _parts([run])
    tl = timeline_data(loaded, labels, table, sources, images, [])
    previews = tl["videos"][0]["previews"]
    assert [(p["label"], p["first"], p["last"], p["frames"]) for p in previews] == [
        ("window clipA-t000.0", 0, 2, 2), ("window clipA-t001.5", 3, 7, 3)]  # 1 fps over 1.0 s and 2.0 s
    assert [p["label"] for p in tl["videos"][1]["previews"]] == ["shot b0", "shot b1"]  # no windows there


def test_no_timeline_without_frames_in_time(runs):
    data = assemble(load_run_data(list(runs.values()), records=False))
    assert data["timeline"]["applicable"]
    html = render(data)
    assert 'id="timeline"' in html and 'href="#timeline"' in html and 'id="tl-view"' in html
    stills = pd.DataFrame({"key": ["a"], "frame_id": ["a"], "video": [None], "timestamp_s": [None], "shot": [None],
                           "_run": [0], "_pos": [0]})
    assert timeline_data([], [], stills, [], [], []) == {"applicable": False}
    html = render({**data, "timeline": {"applicable": False}})
    assert 'id="timeline"' not in html and 'href="#timeline"' not in html and 'id="tl-view"' not in html


def test_previews_group_frames_by_shot_and_unknown_shots_together():
    from bench.report.timeline import _groups

    shots = [None, None, None, "s0", "s0", "s1", None]
    frames = [(f"f{i}", f"f{i}", float(i), s) for i, s in enumerate(shots)]
    assert _groups(frames) == [(0, 2, None), (3, 4, "s0"), (5, 5, "s1"), (6, 6, None)]


def test_previews_get_what_the_page_has_left_under_25_mb():
    from bench.report import timeline

    assert timeline.preview_budget([], 0) == timeline.PREVIEW_MAX_BYTES == 8_000_000
    big = [{"id": "x", "thumb": "a" * 15_000_000}]  # an explorer near its 16 MB
    left = timeline.preview_budget(big, 1_000_000)
    assert left == 24_000_000 - 3_700_000 - 1_500_000 - 1_000_000 - len('{"id":"x","thumb":""}') - 15_000_000
    assert 15_000_000 + 3_700_000 + 1_000_000 + left + 1_500_000 <= 24_000_000
    assert timeline.preview_budget([{"thumb": "a" * 20_000_000}], 0) == timeline.PREVIEW_MIN_BYTES
