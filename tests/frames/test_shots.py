"""Shot detection and keyframe selection on a real (PyAV-made) video with cuts and a dissolve."""

from __future__ import annotations

import pytest

from bench.datasets.selectors.shots import capacity, select, units
from bench.frames.shots import ShotParams, detect_shots, scan_video, shot_keyframes

from .conftest import CUTS, DISSOLVE, DURATION_S, FPS


def test_scan_reads_every_frame(scenes_mp4):
    scan = scan_video(scenes_mp4)
    assert scan.n == int(DURATION_S * FPS)
    assert scan.thumbs.shape == (scan.n, 24, 32)
    assert scan.times[0] == 0.0 and scan.end_s == pytest.approx(DURATION_S)


def test_hard_cuts_and_the_dissolve_are_found(scenes_mp4):
    scan = scan_video(scenes_mp4)
    shots = detect_shots(scan, ShotParams())
    starts = [s.start_s for s in shots]
    assert len(shots) == 4, starts  # A | B | (dissolve) C | D
    assert starts[1] == pytest.approx(CUTS[0]) and starts[3] == pytest.approx(CUTS[1])
    assert DISSOLVE[0] < starts[2] < DISSOLVE[1]  # cut placed inside the dissolve, only once
    assert [s.id for s in shots] == ["s000", "s001", "s002", "s003"]


def test_keyframes_avoid_the_dissolve_and_the_edges(scenes_mp4):
    scan = scan_video(scenes_mp4)
    p = ShotParams(per_shot=3, min_gap_s=0.5)
    shots = detect_shots(scan, p)
    keys = shot_keyframes(scan, shots, p)
    for shot in shots:
        for t in keys.get(shot.index, []):
            assert shot.start_s < t < shot.end_s
            assert not (DISSOLVE[0] <= t < DISSOLVE[1])
            assert round(t * 10) == pytest.approx(t * 10)  # on the 0.1 s grid


def test_select_fills_an_exact_quota_in_tiers(scenes_mp4):
    scan = scan_video(scenes_mp4)
    p = ShotParams(per_shot=3, min_gap_s=0.5, run_frames=3, run_fps=2.0, runs=1)
    shots = detect_shots(scan, p)
    all_units = units(scan, shots, p, "vid")
    picks = select(all_units, 4)
    assert [x.shot for x in picks] == ["s000", "s001", "s002", "s003"]  # one per shot first
    picks = select(all_units, 7)
    runs = [x for x in picks if x.run]
    assert len(runs) == 3 and len({x.run["id"] for x in runs}) == 1
    times = [x.timestamp_s for x in runs]
    assert times[1] - times[0] == pytest.approx(0.5) and [x.run["index"] for x in runs] == [0, 1, 2]
    assert times == sorted(times)
    with pytest.raises(ValueError, match="yields only"):
        select(all_units, capacity(all_units) + 1)
