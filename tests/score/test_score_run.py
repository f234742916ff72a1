"""score_run on small hand-made run folders: references, missing frames, invalid outputs, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from bench.score import NothingScored, ScoreError, score_run
from bench.score.__main__ import main as score_main
from bench.score.canonical import canonical_text
from bench.score.compare import compare_runs
from tests.score.conftest import make_dataset, make_run, reference_for

CONTRACT_ROW = {"frame_id", "reference", "valid", "overlap", "judge"}
METRIC = {"mean", "ci95", "n"}


def student(i: int) -> dict:
    cap = reference_for(i)
    cap["description"] = cap["description"].replace("grass", "reeds").split(". ")[0] + "."
    cap["objects"] = cap["objects"][:3] + ["a red kite"]
    return cap


def rows_of(run: Path) -> dict[str, dict]:
    return {r["frame_id"]: r for r in map(json.loads, (run / "scores.jsonl").read_text().splitlines())}


@pytest.fixture
def runs(tiny: Path, tmp_path: Path) -> dict[str, Path]:
    cand = make_run(tmp_path, tiny, "student", {"f0": reference_for(0), "f1": student(1), "f2": "bad", "f3": "fail",
                                                "f5": student(5)}, status="incomplete")
    teacher = make_run(tmp_path, tiny, "teacher", {"f0": reference_for(0), "f1": reference_for(1),
                                                   "f2": reference_for(2), "f3": reference_for(3), "f5": "bad"})
    return {"student": cand, "teacher": teacher}


def test_dataset_reference_counts_labels_and_contract(runs: dict[str, Path]) -> None:
    s = score_run(runs["student"])
    ref = s["reference"]
    assert (ref["kind"], ref["source"]) == ("dataset", "tiny")
    assert (ref["frames_with_reference"], ref["missing_reference"], ref["missing_candidate"]) == (5, 0, 1)
    assert ref["missing_candidate_ids"] == ["f4"]
    assert s["partial"] is True and any("incomplete" in r for r in s["partial_reasons"])
    ov = s["overlap"]
    for view in ("all", "valid_only"):
        assert set(ov[view]) >= {"rouge1", "rouge2", "rougeL", "bleu", "corpus_bleu"}
        assert METRIC <= set(ov[view]["rougeL"])
    assert ov["all"]["rougeL"]["n"] == 5 and ov["valid_only"]["rougeL"]["n"] == 3
    assert ov["valid_only"]["rougeL"]["mean"] > ov["all"]["rougeL"]["mean"]  # invalid outputs count as 0 in "all"
    assert set(ov["per_field"]) == set(reference_for(0))
    assert s["judge"] is None and set(s["by_content_type"]) == {"CGI", "real-world footage"}

    rows = rows_of(runs["student"])
    assert set(rows) == {"f0", "f1", "f2", "f3", "f5"} and all(CONTRACT_ROW <= set(r) for r in rows.values())
    assert rows["f0"]["overlap"]["rougeL"] == 100.0
    for bad in ("f2", "f3"):
        assert rows[bad]["valid"] is False
        assert {rows[bad]["overlap"][m] for m in ("rouge1", "rouge2", "rougeL", "bleu")} == {0.0}
    # logos: f1 has none on either side -> no evidence, left out; f0 has "Acme" on both
    assert rows["f1"]["overlap"]["per_field"]["logos"] is None
    assert rows["f0"]["overlap"]["per_field"]["logos"]["rouge1"] == 100.0
    # the per-frame number is rouge-score's own on the canonical texts
    direct = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(
        canonical_text(reference_for(1)), canonical_text(student(1)))["rougeL"].fmeasure * 100
    assert rows["f1"]["overlap"]["rougeL"] == direct
    metrics = json.loads((runs["student"] / "metrics.json").read_text())
    assert metrics["frames"] == 6 and metrics["scores"]["reference"]["kind"] == "dataset"  # other keys kept


def test_rescoring_is_idempotent(runs: dict[str, Path]) -> None:
    first = score_run(runs["student"])
    text = (runs["student"] / "scores.jsonl").read_text()
    second = score_run(runs["student"])
    assert (runs["student"] / "scores.jsonl").read_text() == text
    first["scorer"].pop("scored_at"), second["scorer"].pop("scored_at")
    assert first == second


def test_teacher_run_reference(runs: dict[str, Path]) -> None:
    s = score_run(runs["student"], reference=str(runs["teacher"]))
    ref = s["reference"]
    assert ref["kind"] == "run" and ref["source"] == str(runs["teacher"])
    # f5: the teacher's output was invalid -> a missing reference, with the reason
    assert (ref["frames_with_reference"], ref["missing_reference"], ref["missing_candidate"]) == (4, 1, 0)
    assert ref["missing_reference_reasons"] == {"teacher output invalid (not_json)": 1}
    rows = rows_of(runs["student"])
    assert rows["f5"]["overlap"] is None and rows["f0"]["reference"] == {"kind": "run", "source": str(runs["teacher"]),
                                                                        "id": "run:teacher/teacher"}


def test_reference_run_on_another_dataset(runs: dict[str, Path], tmp_path: Path) -> None:
    other_ds = make_dataset(tmp_path / "o", name="other")
    other = make_run(tmp_path / "o", other_ds, "other", {"f0": reference_for(0)})
    with pytest.raises(ScoreError, match="dataset 'other'.*same frames"):
        score_run(runs["student"], reference=str(other))
    renamed = make_run(tmp_path / "r", other_ds, "renamed", {"f0": reference_for(0)}, dataset_name="tiny")
    (renamed / "generations.jsonl").write_text((renamed / "generations.jsonl").read_text().replace('"f0"', '"zz"'))
    with pytest.raises(ScoreError, match="share no frame"):
        score_run(runs["student"], reference=str(renamed))


def test_old_or_broken_run_folders(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ScoreError, match="not a folder"):
        score_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScoreError, match="no generations.jsonl"):
        score_run(tmp_path / "empty")
    run = runs["student"]
    gens = run / "generations.jsonl"
    lines = [json.loads(x) for x in gens.read_text().splitlines()]
    # an older format without 'validity': scored, flagged as partial, with a warning
    gens.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "validity"}) + "\n" for r in lines))
    s = score_run(run)
    assert s["partial"] and any("older" in w for w in s["reference"]["warnings"])
    # without 'caption' it cannot be scored: a clear message
    gens.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "caption"}) + "\n" for r in lines))
    with pytest.raises(ScoreError, match="older or a different tool"):
        score_run(run)
    (run / "config.yaml").unlink()
    with pytest.raises(ScoreError, match="no config.yaml"):
        score_run(run)


def test_dataset_without_references(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path, name="noref", with_refs=False)
    run = make_run(tmp_path, ds, "m", {"f0": reference_for(0)})
    with pytest.raises(NothingScored, match="no reference captions"):  # nothing to score: an error, not "0 frames"
        score_run(run)
    assert not (run / "scores" / "index.json").exists()
    assert "scores" not in json.loads((run / "metrics.json").read_text())


def test_cli_and_compare(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert score_main([str(runs["student"]), "workers=1"]) == 0
    out = capsys.readouterr().out
    assert "ROUGE-L" in out and "PARTIAL" in out and "judge: not run" in out
    assert score_main([str(runs["student"]), "bogus=1"]) == 2
    assert score_main([str(runs["student"]), "judge=no-such-judge"]) == 2
    assert score_main(["/nonexistent/run"]) == 2
    assert score_main([str(runs["teacher"])]) == 0
    c = compare_runs(runs["teacher"], runs["student"], metrics=["rougeL"])
    assert c["frames_shared"] == 5 and c["metrics"]["rougeL"]["diff"] > 0
    score_run(runs["teacher"], reference=str(runs["student"]))
    with pytest.raises(ScoreError, match="different references"):
        compare_runs(runs["teacher"], runs["student"])
