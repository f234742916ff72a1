"""The gate checks what it gates (issue 9): metrics.json verified against the run's records, baselines
validated by type, no unpaired fallback on disjoint frames, skipped checks never counted as passed."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.gate.__main__ import main, verdict_line
from bench.gate.checks import FAIL, PASS, SKIP, CheckResult

ROOT = Path(__file__).resolve().parents[2]


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def _edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _gate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())  # rich wraps long lines
    return code, text


# ---- generations.jsonl missing, empty or garbage: refused, for the gate and for --write-baseline -------------
def _remove(path: Path) -> None:
    path.unlink()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(4096).replace(b"\n", b"\x00") + b"\n" + os.urandom(4096))


@pytest.mark.parametrize(("damage", "reason"), [(_remove, "no generations.jsonl"), (_empty, "is empty"),
                                                (_garbage, "holds no readable record")])
@pytest.mark.parametrize("mode", ["gate", "write-baseline"])
def test_damaged_records_are_refused(sim_runs, tmp_path, capsys, damage, reason, mode):
    run = _copy(sim_runs["sim_rerun"], tmp_path / "run")
    damage(run / "generations.jsonl")
    baseline = tmp_path / "written.json"
    args = (["--baseline", str(ROOT / "baselines/sim-sample.json"), "--junit", str(tmp_path / "j.xml")]
            if mode == "gate" else ["--write-baseline", str(baseline)])
    code, text = _gate(capsys, str(run), *args)
    assert code == 2, text
    assert reason in text and "PASSED" not in text
    assert not baseline.exists()  # no baseline claiming 27 frames
    # the same damage on the baseline side is refused too
    if mode == "gate":
        code, text = _gate(capsys, str(sim_runs["sim_rerun"]), "--baseline", str(run))
        assert code == 2 and reason in text


def test_a_truncated_record_file_disagrees_with_its_metrics(sim_runs, tmp_path, capsys):
    run = _copy(sim_runs["sim_rerun"], tmp_path / "run")
    lines = (run / "generations.jsonl").read_text().splitlines(keepends=True)
    (run / "generations.jsonl").write_text("".join(lines[:20]))
    code, text = _gate(capsys, str(run), "--write-baseline", str(tmp_path / "b.json"))
    assert code == 2
    assert "metrics.json disagrees with generations.jsonl (20 records)" in text
    assert "recorded: metrics.json says 27, the records give 20" in text


@pytest.mark.parametrize(("key", "edit"), [
    ("e2el_p95_s", lambda m: m.update(e2el_p95_s=m["e2el_p95_s"] / 2)),
    ("cost_per_million_usd", lambda m: m.update(cost_per_million_usd=m["cost_per_million_usd"] * 0.9)),
    ("validity.ladder.schema_valid.k", lambda m: m["validity"]["ladder"]["schema_valid"].update(k=26)),
    ("schema_valid_rate", lambda m: m.update(schema_valid_rate="1.0")),  # a string is not the number
    ("mean_output_tokens", lambda m: m.update(mean_output_tokens=m["mean_output_tokens"] + 1)),
    ("simulated", lambda m: m.update(simulated=False)),
])
def test_metrics_that_the_records_do_not_give_are_refused(sim_runs, tmp_path, capsys, key, edit):
    run = _copy(sim_runs["sim_rerun"], tmp_path / "run")
    _edit_json(run / "metrics.json", edit)
    code, text = _gate(capsys, str(run), "--baseline", str(sim_runs["sim"]), "--junit", str(tmp_path / "j.xml"))
    assert code == 2, text
    assert "metrics.json disagrees with generations.jsonl" in text and f"{key}: metrics.json says" in text
    assert not (tmp_path / "j.xml").exists()


def test_score_headlines_must_match_scores_jsonl(sim_runs, tmp_path, capsys):
    run = _copy(sim_runs["sim_rerun"], tmp_path / "run")
    # the summary the gate reads: the latest scoring's (scores/KEY.json; metrics.json holds a copy)
    latest = json.loads((run / "scores" / "index.json").read_text())["latest"]
    _edit_json(run / "scores" / f"{latest}.json", lambda m: m["overlap"]["all"]["rougeL"].update(mean=99.9))
    code, text = _gate(capsys, str(run), "--write-baseline", str(tmp_path / "b.json"))
    assert code == 2 and "rougeL: metrics.json says mean 99.9 over 27 frames, scores.jsonl gives" in text
    # headlines with no scores.jsonl behind them
    run2 = _copy(sim_runs["sim_rerun"], tmp_path / "run2")
    (run2 / "scores.jsonl").unlink()
    (run2 / "scores" / f"{latest}.jsonl").unlink()
    code, text = _gate(capsys, str(run2), "--baseline", str(sim_runs["sim"]))
    assert code == 2 and "there is no scores.jsonl behind them" in text


def test_a_run_without_metrics_json_is_refused(sim_runs, tmp_path, capsys):
    run = _copy(sim_runs["sim_rerun"], tmp_path / "run")
    (run / "metrics.json").unlink()
    for args in (["--baseline", str(sim_runs["sim"])], ["--write-baseline", str(tmp_path / "b.json")]):
        code, text = _gate(capsys, str(run), *args)
        assert code == 2 and "no metrics.json" in text


def test_orphan_records_are_refused_not_guessed(sim_runs, tmp_path, capsys):
    run = _copy(sim_runs["sim_rerun"], tmp_path / "run")
    _edit_json(run / "metrics.json", lambda m: m.update(orphan_records=2))
    code, text = _gate(capsys, str(run), "--baseline", str(sim_runs["sim"]))
    assert code == 2 and "2 record(s) are of frames no longer in the dataset" in text


def test_an_honest_run_and_its_baseline_still_verify(sim_runs, tmp_path, capsys):
    """The checks above refuse tampering, not the runs capbench writes (sim_noisy has failures and retries)."""
    for name in ("sim", "sim_noisy"):
        out = tmp_path / f"{name}.json"
        code, text = _gate(capsys, str(sim_runs[name]), "--write-baseline", str(out))
        assert code == 0, text
        assert "27 frames" in text and out.is_file()


# ---- baselines: typed, never a traceback, never a silent unpaired pass ----------------------------------------
def _baseline(sim_runs, tmp_path: Path) -> Path:
    path = tmp_path / "base.json"
    assert main([str(sim_runs["sim"]), "--write-baseline", str(path)]) == 0
    return path


@pytest.mark.parametrize(("edit", "named"), [
    (lambda b: b.update(validity="x"), "validity: Input should be a valid dictionary"),
    (lambda b: b["scores"]["rougeL"].update(mean="NaN"), "scores.rougeL.mean"),
    (lambda b: b["scores"]["rougeL"].update(mean=float("nan")), "scores.rougeL.mean"),  # the JSON literal NaN
    (lambda b: b["validity"]["schema_valid"].update(k=30), "validity.schema_valid: k=30 is more than n=27"),
    (lambda b: b.update(e2el_p95_s="fast"), "e2el_p95_s"),
    (lambda b: b.update(frames=-1), "frames"),
    (lambda b: b["per_frame"]["rougeL"].pop(), "per_frame.rougeL has 26 values for 27 frame ids"),
    (lambda b: b["per_frame"]["schema_valid"].__setitem__(0, "yes"), "per_frame.schema_valid"),
    (lambda b: b["per_frame"]["rougeL"].__setitem__(3, "high"), "per_frame.rougeL"),
    (lambda b: b["per_frame"]["frame_id"].__setitem__(1, b["per_frame"]["frame_id"][0]), "more than once"),
])
def test_malformed_baseline_names_the_field(sim_runs, tmp_path, capsys, edit, named):
    path = _baseline(sim_runs, tmp_path)
    capsys.readouterr()
    _edit_json(path, edit)
    code, text = _gate(capsys, str(sim_runs["sim_rerun"]), "--baseline", str(path))
    assert code == 2, text
    assert "malformed baseline" in text and named in text
    assert "Traceback" not in text


def test_a_baseline_sharing_no_frame_is_refused(sim_runs, tmp_path, capsys):
    path = _baseline(sim_runs, tmp_path)
    _edit_json(path, lambda b: b["per_frame"].update(frame_id=[f"other-{i}" for i in b["per_frame"]["frame_id"]]))
    code, text = _gate(capsys, str(sim_runs["sim_rerun"]), "--baseline", str(path))
    assert code == 2 and "have no frame in common" in text and "PASSED" not in text
    # a summary-only baseline (--no-frames) is the explicit unpaired comparison, still allowed
    thin = tmp_path / "thin.json"
    assert main([str(sim_runs["sim"]), "--write-baseline", str(thin), "--no-frames"]) == 0
    assert main([str(sim_runs["sim_rerun"]), "--baseline", str(thin), "--junit", str(tmp_path / "t.xml")]) == 0


def test_committed_baseline_is_well_formed():
    from bench.gate.baseline_schema import baseline_problem

    assert baseline_problem(json.loads((ROOT / "baselines/sim-sample.json").read_text())) is None


# ---- a skipped check is not a passed one -------------------------------------------------------------------------
def test_skipped_checks_are_counted_apart(sim_runs, tmp_path, capsys):
    junit = tmp_path / "j.xml"
    code, text = _gate(capsys, str(sim_runs["sim_rerun"]), "--baseline", str(sim_runs["sim"]), "--junit", str(junit))
    assert code == 0, text
    # (the runs were never ranked pairwise: that check is skipped too, tests/score/test_pairwise_everywhere.py)
    assert "PASSED: 5 passed, 2 skipped of 7 checks; skipped: judge score drop, pairwise vs baseline" in text
    assert "7/7" not in text
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("skipped") == "2" and suite.get("tests") == "7"
    skipped = [c.get("name") for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert skipped == ["judge score drop", "pairwise vs baseline"]


def test_verdict_line_counts_each_outcome():
    def r(name: str, status: str) -> CheckResult:
        return CheckResult(name, status, "", "", "")

    assert verdict_line([r("a", PASS), r("b", PASS)]).endswith("PASSED[/green bold]: 2 passed of 2 checks")
    line = verdict_line([r("a", PASS), r("b", FAIL), r("c", SKIP)])
    assert "FAILED" in line and "1 passed, 1 failed, 1 skipped of 3 checks; failing: b; skipped: c" in line


def test_the_gate_streams_records_and_score_rows(sim_runs, tmp_path, capsys, monkeypatch):
    """A run folder is verified and gated in streamed passes: nothing reads the whole generations.jsonl or
    scores.jsonl into memory (issue 12), and the side it gives is the one the held records gave."""
    import bench.load
    import bench.scorings
    from bench.gate.inputs import from_run
    from bench.gate.verify import load_checked_side
    from bench.load import load_run

    run = _copy(sim_runs["sim_noisy"], tmp_path / "run")
    held = from_run(load_run(run))  # the records and rows in memory, as before

    def refuse(*_a, **_k):
        raise AssertionError("read a whole file into memory")

    monkeypatch.setattr(bench.load, "load_records", refuse)
    monkeypatch.setattr(bench.load, "read_rows", refuse)
    monkeypatch.setattr(bench.scorings, "read_rows", refuse)
    streamed = load_checked_side(run)
    assert streamed.per_frame == held.per_frame and streamed.validity == held.validity
    assert streamed.scores == held.scores and streamed.frames == held.frames == 27
    assert len(streamed.per_frame["frame_id"]) == 27 and "rougeL" in streamed.per_frame
    code, text = _gate(capsys, str(run), "--baseline", str(sim_runs["sim"]))
    assert code in (0, 1) and "frames" in text  # a verdict, not an input error
