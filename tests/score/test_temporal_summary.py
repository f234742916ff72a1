"""The console's temporal rows (bench.score.temporal.summary_lines) appear only when there is something measured."""

from __future__ import annotations

import io

from rich.console import Console

from bench.score.temporal import summary_lines, temporal_scores
from bench.summary import _score_rows


def _cap(ct: str, objects: list[str]) -> dict:
    return {"content_type": ct, "specific_style": "s", "production_quality": "p", "environment": "a room",
            "description": "d", "summary": "s", "objects": objects}


def test_frames_in_time_without_shot_ids_print_no_temporal_rows():
    """The sample's keyframes: videos with timestamps but no shot ids (no within-shot pair, no cut). The section is
    applicable, yet the console used to print 'best k=None' and a row of dashes."""
    items = [(f"v-{t}", "v", None, float(t), _cap("photo", ["cat"])) for t in range(4)]
    t = temporal_scores(items, replicates=50)
    assert t["applicable"] and t["within_shot_pairs"] == 0 and t["true_cuts"] == 0
    assert t["boundaries"]["best_k"] is None
    assert summary_lines(t) == []
    out = io.StringIO()
    Console(file=out, width=200).print(_score_rows({"temporal": t}))
    assert "best k=None" not in out.getvalue() and "temporal" not in out.getvalue()


def test_one_shot_per_video_prints_stability_but_no_boundaries():
    items = [(f"v-{t}", "v", "s0", float(t), _cap("photo", ["cat"])) for t in range(4)]
    t = temporal_scores(items, replicates=50)
    rows = dict(summary_lines(t))
    assert list(rows) == ["temporal stability"] and rows["temporal stability"].startswith("1.00 over 3 within-shot")


def test_shots_and_cuts_print_both_rows():
    items = [("a", "v", "s0", 0.0, _cap("photo", ["cat"])), ("b", "v", "s0", 1.0, _cap("photo", ["cat"])),
             ("c", "v", "s1", 2.0, _cap("cartoon", ["dog"])), ("d", "v", "s1", 3.0, _cap("cartoon", ["dog"]))]
    t = temporal_scores(items, {"k": 1}, replicates=50)
    rows = dict(summary_lines({**t, "model_simulated": True}))
    assert list(rows) == ["temporal stability (SIMULATED model)", "scene boundaries (SIMULATED model)"]
    assert rows["scene boundaries (SIMULATED model)"].startswith("F1 1.00 at k=1 (P 1.00, R 1.00, 1 true cuts")
    assert "best k=1" in rows["scene boundaries (SIMULATED model)"]


def test_not_applicable_prints_nothing():
    assert summary_lines(temporal_scores([("a", None, None, None, None)])) == []
    assert summary_lines(None) == []
