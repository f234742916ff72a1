"""One judge "all" view everywhere: a frame with no caption scores NO_CAPTION_SCORE in metrics.json, in
bench.score.compare, in the gate and in the report; frames not judged for other reasons stay out."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.config import GateConfig
from bench.gate.checks import _score_drop
from bench.gate.inputs import load_side
from bench.load import NO_CAPTION_SCORE, frame_scores, judge_score_all, load_run, load_run_data
from bench.report.data import assemble
from bench.score import score_run
from bench.score.__main__ import compose_judge
from bench.score.compare import compare_runs, format_comparison
from tests.score.conftest import make_dataset, make_run, reference_for


def test_judge_score_all_convention() -> None:
    assert judge_score_all({"score": 4.0, "failure": None}, "valid") == 4.0
    assert judge_score_all({"score": 2.0}, "rule_violation") == 2.0
    for category in ("not_json", "truncated", "refused", "transport_error", "bad_input"):
        assert judge_score_all(None, category) == NO_CAPTION_SCORE == 1.0
    assert judge_score_all({"score": None, "failure": "judge request failed"}, "valid") is None  # judge failed
    assert judge_score_all(None, "valid") is None  # a caption the judge was not asked about
    assert judge_score_all(None, "schema_invalid") is None


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("allview")
    tiny = make_dataset(root)
    good = make_run(root, tiny, "good", {f"f{i}": reference_for(i) for i in range(6)})
    # f2 not JSON and f3 a transport failure: no caption, so never sent to the judge
    noisy = make_run(root, tiny, "noisy", {"f0": reference_for(0), "f1": reference_for(1), "f2": "bad", "f3": "fail",
                                           "f4": reference_for(4), "f5": reference_for(5)})
    judge = compose_judge("sim", [])
    cache = root / "judge.sqlite"
    return {"good": good, "noisy": noisy, "s_good": score_run(good, judge=judge, judge_cache=cache, workers=1),
            "s_noisy": score_run(noisy, judge=judge, judge_cache=cache, workers=1)}


def test_headline_counts_no_caption_frames(judged: dict[str, Any]) -> None:
    j = judged["s_noisy"]["judge"]
    assert j["n"] == 6 and j["no_caption"] == 2 and j["not_judged"] == 2 and j["valid_only"]["n"] == 4
    assert "no caption scores 1" in j["view"] and j["valid_only"]["label"] == "schema-valid outputs only"
    assert j["label"] == j["model"]  # the judge is named by its label, not by the view's description
    rows = {r["frame_id"]: r for r in map(json.loads, (judged["noisy"] / "scores.jsonl").read_text().splitlines())}
    scores = [judge_score_all(r["judge"], r["category"]) for r in rows.values()]
    assert j["mean"] == pytest.approx(sum(scores) / 6)
    # by content type too: f0, f2, f4 are CGI (f2 not JSON), f1, f3, f5 real-world footage (f3 failed)
    for ct in ("CGI", "real-world footage"):
        assert judged["s_noisy"]["by_content_type"][ct]["judge"]["n"] == 3


def test_compare_gate_and_report_use_the_same_view(judged: dict[str, Any]) -> None:
    mean = judged["s_noisy"]["judge"]["mean"]
    c = compare_runs(judged["good"], judged["noisy"], metrics=["judge"], permutations=500)
    assert c["metrics"]["judge"]["n"] == 6 and c["metrics"]["judge"]["mean_b"] == pytest.approx(mean)
    assert "no caption judged 1" in format_comparison(c)
    v = compare_runs(judged["good"], judged["noisy"], metrics=["judge"], valid_only=True, permutations=500)
    assert v["metrics"]["judge"]["n"] == 4 and "valid only" in format_comparison(v)

    run, base = load_side(judged["noisy"]), load_side(judged["good"])
    assert run.scores["judge"]["n"] == 6 and run.scores["judge"]["mean"] == pytest.approx(mean)
    assert run.frame_values("judge")["f2"] == NO_CAPTION_SCORE
    check = _score_drop("judge", "judge score", run, base, GateConfig(), 0.05, digits=3)
    assert "(n=6)" in check.measured and "over 6 shared frames" in check.detail

    data = assemble(load_run_data([judged["good"], judged["noisy"]]), thumbnails=False)
    assert data["quality"]["key"] == "judge"
    cell = data["significance"]["cells"][1][0]  # noisy − good
    assert cell["n"] == 6 and cell["diff"] == pytest.approx(c["metrics"]["judge"]["diff"] * -1)
    lb = {r["run"]: r for r in data["leaderboard"]}
    assert lb["noisy"]["judge_n"] == 6 and lb["noisy"]["judge_mean"] == pytest.approx(mean)
    cgi = next(r for r in data["by_content"] if r["content_type"] == "CGI")["runs"][1]
    f2 = next(f for f in data["frames"] if f["id"] == "f2")["runs"][1]
    assert f2["judge"] == NO_CAPTION_SCORE and f2["judge_nc"] is True
    cgi_scores = [next(f for f in data["frames"] if f["id"] == i)["runs"][1]["judge"] for i in ("f0", "f2", "f4")]
    assert cgi["judge"] == pytest.approx(sum(cgi_scores) / 3)
    text = data["figures"]["content"]["data"][0]["text"][1]  # the noisy run's row: "mean (frames averaged)"
    assert all(t.endswith("(3)") for t in text)


def test_frames_not_judged_for_other_reasons_stay_out(judged: dict[str, Any], tmp_path: Path) -> None:
    run_dir = tmp_path / "noisy"
    shutil.copytree(judged["noisy"], run_dir)
    lines = [json.loads(x) for x in (run_dir / "scores.jsonl").read_text().splitlines()]
    for row in lines:
        if row["frame_id"] == "f4":  # the judge failed on a caption: no score, not the minimum
            row["judge"] = {"score": None, "scores": [], "failure": "judge request failed: server: 500"}
    (run_dir / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    fs = frame_scores(load_run(run_dir))
    assert math.isnan(fs["f4"]["judge_score"]) and fs["f2"]["judge_score"] == NO_CAPTION_SCORE
    assert load_side(run_dir).scores["judge"]["n"] == 5
    data = assemble(load_run_data([run_dir]), thumbnails=False)
    content = data["figures"]["content"]["data"][0]
    counts = dict(zip(content["x"], content["text"][0], strict=True))
    assert counts["CGI"].endswith("(2)") and counts["real-world footage"].endswith("(3)")  # frames averaged


def test_an_unjudged_run_gets_no_judge_scores(tmp_path: Path) -> None:
    tiny = make_dataset(tmp_path)
    run_dir = make_run(tmp_path, tiny, "plain", {"f0": reference_for(0), "f1": "bad", "f2": "fail"})
    score_run(run_dir, workers=1)  # overlap only
    fs = frame_scores(load_run(run_dir))
    assert all(math.isnan(f["judge_score"]) for f in fs.values())
    assert "judge" not in load_side(run_dir).scores
