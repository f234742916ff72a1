"""Cost vs quality: honest axes and labels that never print over one another (bench/report/figures.py)."""

from __future__ import annotations

import pandas as pd

from bench.report.figures import colors, cost_axis, cost_quality, label_offsets


def runs_df(points):
    return pd.DataFrame([{"run": lab, "cost_per_million_usd": c, "judge_mean": q, "judge_ci_low": q - 0.1,
                          "judge_ci_high": q + 0.1, "simulated": True} for lab, c, q in points])


def test_close_costs_start_at_zero_and_spread_costs_go_log():
    lin = cost_axis([410.0, 435.0])
    assert lin["type"] == "linear" and lin["range"][0] == 0 and lin["range"][1] > 435
    log = cost_axis([335.0, 5850.0])  # 17x apart
    assert log["type"] == "log" and log["range"][0] < 2.53 < 3.77 < log["range"][1]  # log10 units


def test_three_near_identical_points_get_separate_labels():
    pts = [("sim", 435.0, 4.96), ("sim_anthropic", 435.2, 4.96), ("sim_gemini", 435.1, 4.95), ("noisy", 409.0, 2.4)]
    fig = cost_quality(runs_df(pts), [p[0] for p in pts], "judge", colors([p[0] for p in pts]))
    notes = {a["text"]: a for a in fig["layout"]["annotations"]}
    assert set(notes) == {"sim", "sim_anthropic", "sim_gemini", "noisy"}
    stacked = [notes[k] for k in ("sim", "sim_anthropic", "sim_gemini")]
    ays = sorted(a["ay"] for a in stacked)
    assert all(b - a >= 14 for a, b in zip(ays, ays[1:], strict=False))  # one line apart at least (font 12)
    assert len({a["ax"] for a in stacked}) == 1 and stacked[0]["xanchor"] == "left"  # one column: no overlap
    assert notes["noisy"]["ax"] == 0  # a point alone keeps its label just above
    assert fig["layout"]["xaxis"]["range"][0] == 0  # $409 vs $435 is not blown up
    assert fig["layout"]["yaxis"]["range"][0] < 1 and fig["layout"]["yaxis"]["range"][1] > 5  # the whole 1-5 scale


def test_label_offsets_leave_distant_points_alone():
    assert label_offsets([(0, 0), (100, 100)], 100, 100) == [(0, -22), (0, -22)]
    offs = label_offsets([(50, 50), (50.5, 50.2), (51, 49.9)], 100, 100)
    assert len(set(offs)) == 3


def test_labels_of_a_log_axis_are_placed_in_log_units():
    pts = [("cheap", 335.0, 3.5), ("dear", 5850.0, 3.6)]
    fig = cost_quality(runs_df(pts), ["cheap", "dear"], "judge", colors(["cheap", "dear"]))
    assert fig["layout"]["xaxis"]["type"] == "log"
    xs = sorted(a["x"] for a in fig["layout"]["annotations"])
    assert abs(xs[0] - 2.525) < 0.01 and abs(xs[1] - 3.767) < 0.01  # log10(335), log10(5850)
