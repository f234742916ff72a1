"""Issue 9: every scoring of a run is kept side by side and picked explicitly; runs scored against different
references or judges are never ranked against each other; two scorers of one run folder never race."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from pathlib import Path

import pytest

import bench
from bench.gate.inputs import GateInputError, check_comparable, load_side, write_baseline
from bench.load import load_run
from bench.report.data import assemble
from bench.score import score_run
from bench.score.__main__ import compose_judge
from bench.scorings import read_index, scoring_lock
from tests.score.conftest import make_run, reference_for


def test_scorings_are_kept_side_by_side_and_picked(tiny: Path, tmp_path: Path) -> None:
    outputs = {f"f{i}": reference_for(i) for i in range(6)}
    student = make_run(tmp_path, tiny, "student", {**outputs, "f1": reference_for(2)})
    teacher = make_run(tmp_path, tiny, "teacher", outputs)
    by_dataset = score_run(student, workers=1)
    judged = score_run(student, judge=compose_judge("sim", []), workers=1)
    # the judge is named by its label in the summary and the scoring key, not by a view's description
    assert judged["judge"]["label"] == "sim-judge" and "__judge-sim-judge" in judged["scoring"]["key"]
    by_teacher = score_run(student, reference=str(teacher), workers=1)
    keys = {by_dataset["scoring"]["key"], judged["scoring"]["key"], by_teacher["scoring"]["key"]}
    assert len(keys) == 3 and set(read_index(student)["scorings"]) == keys  # nothing replaced
    assert read_index(student)["latest"] == by_teacher["scoring"]["key"]
    for k in keys:
        assert (student / "scores" / f"{k}.json").is_file() and (student / "scores" / f"{k}.jsonl").is_file()
    # readers pick: latest by default (named in a note), or by reference / judge / key
    latest = load_run(student)
    assert latest.scoring["reference_id"] == "run:teacher/teacher" and "3 scorings" in latest.scoring_notes[0]
    ds = load_run(student, reference="dataset", judge="none")
    assert ds.metrics["scores"]["overlap"]["all"]["rougeL"]["mean"] == by_dataset["overlap"]["all"]["rougeL"]["mean"]
    assert load_run(student, judge="sim-judge").metrics["scores"]["judge"]["model"] == "sim-judge"
    ambiguous = load_run(student, reference="dataset")  # two scorings against the dataset: the latest, named
    assert ambiguous.scoring["key"] == judged["scoring"]["key"] and "2 scorings match" in ambiguous.scoring_notes[0]
    frame = bench.load_runs([student], reference="dataset", judge="none")
    assert frame["reference_id"].tolist() == ["dataset:tiny"] and frame["judge_id"].isna().all()
    with pytest.raises(bench.load.RunLoadError, match="no scoring matches"):
        load_run(student, judge="gpt-4.1")


def test_old_single_scores_slot_is_still_read(tiny: Path, tmp_path: Path) -> None:
    run = make_run(tmp_path, tiny, "old", {"f0": reference_for(0)})
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["scores"] = {"reference": {"kind": "dataset", "source": "tiny"},
                         "overlap": {"all": {"rougeL": {"mean": 50.0}}}, "judge": None}
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "scores.jsonl").write_text(json.dumps({"frame_id": "f0", "overlap": {"rougeL": 50.0}}) + "\n")
    loaded = load_run(run)
    assert loaded.scoring == {"key": "legacy", "reference_id": "dataset:tiny", "judge": None}
    assert loaded.scores["f0"]["overlap"]["rougeL"] == 50.0


def test_report_refuses_to_rank_scores_against_different_references(tiny: Path, tmp_path: Path) -> None:
    outputs = {f"f{i}": reference_for(i) for i in range(6)}
    a = make_run(tmp_path, tiny, "a", {**outputs, "f1": reference_for(3)})
    teacher = make_run(tmp_path, tiny, "teacher", {**outputs, "f2": reference_for(4)})
    b = make_run(tmp_path, tiny, "b", outputs)
    score_run(a, workers=1)
    score_run(b, reference=str(teacher), workers=1)
    data = assemble(bench.load.load_run_data([a, b]), thumbnails=False)
    assert data["quality"]["key"] == "schema_valid"  # not ROUGE-L: the two were scored against different things
    assert any("different references" in n and "dataset:tiny" in n and "run:teacher/teacher" in n
               for n in data["notes"])
    score_run(b, workers=1)  # b re-scored against the dataset: now comparable, and the latest
    data = assemble(bench.load.load_run_data([a, b]), thumbnails=False)
    assert data["quality"]["key"] == "rougeL" and not any("different references" in n for n in data["notes"])


def test_gate_exits_2_on_a_scoring_mismatch(tiny: Path, tmp_path: Path) -> None:
    # The gate's loading (bench.gate.verify) also checks metrics.json against the records, which these
    # hand-made runs do not have: the scoring selection and the comparison are the gate's own functions.
    outputs = {f"f{i}": reference_for(i) for i in range(6)}
    run = make_run(tmp_path, tiny, "run", outputs)
    teacher = make_run(tmp_path, tiny, "teacher", {**outputs, "f2": reference_for(4)})
    base = make_run(tmp_path, tiny, "base", outputs)
    score_run(run, reference=str(teacher), workers=1)
    score_run(base, workers=1)
    baseline = write_baseline(load_side(base), tmp_path / "base.json")
    assert json.loads(baseline.read_text())["scoring"]["reference_id"] == "dataset:tiny"
    with pytest.raises(GateInputError) as err:
        check_comparable(load_side(run), load_side(baseline))
    text = " ".join(str(err.value).split())
    assert "different references" in text and "run:teacher/teacher" in text and "dataset:tiny" in text
    score_run(run, workers=1)  # scored against the dataset too: the latest scoring now matches
    check_comparable(load_side(run), load_side(baseline))
    key = load_run(run, reference="run:teacher/teacher").scoring["key"]
    with pytest.raises(GateInputError, match="different references"):  # the teacher scoring picked explicitly
        check_comparable(load_side(run, scoring=key), load_side(baseline))


def _hold_lock(run: str, ready: str, hold_s: float) -> None:
    with scoring_lock(Path(run)):
        Path(ready).write_text("1")
        time.sleep(hold_s)
        (Path(run) / "first-done").write_text(str(time.time()))


def _score(run: str, out: str) -> None:
    s = score_run(run, workers=1)
    Path(out).write_text(json.dumps({"t": time.time(), "key": s["scoring"]["key"]}))


def test_second_scorer_waits_for_the_first(tiny: Path, tmp_path: Path) -> None:
    run = make_run(tmp_path, tiny, "m", {f"f{i}": reference_for(i) for i in range(3)})
    ctx = mp.get_context("spawn")
    ready = tmp_path / "ready"
    first = ctx.Process(target=_hold_lock, args=(str(run), str(ready), 2.0))
    first.start()
    deadline = time.time() + 60
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert ready.exists()
    second = ctx.Process(target=_score, args=(str(run), str(tmp_path / "second.json")))
    second.start()
    first.join(60)
    second.join(120)
    assert first.exitcode == 0 and second.exitcode == 0
    done_first = float((run / "first-done").read_text())
    assert json.loads((tmp_path / "second.json").read_text())["t"] > done_first  # it waited, then scored
    assert read_index(run)["scorings"]
