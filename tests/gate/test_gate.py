"""`python -m bench.gate`: fails sim_noisy against a sim baseline, passes a sim re-run, JUnit XML parses."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.gate.__main__ import load_gate_config, main
from bench.gate.inputs import FORMAT, load_side
from tests.report.simruns import write_scores

ROOT = Path(__file__).resolve().parents[2]


def junit_cases(path: Path) -> dict[str, str]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    out = {}
    for case in suite.findall("testcase"):
        status = "fail" if case.find("failure") is not None else "skip" if case.find("skipped") is not None else "pass"
        out[case.get("name")] = status
    assert int(suite.get("tests")) == len(out)
    assert int(suite.get("failures")) == sum(1 for s in out.values() if s == "fail")
    return out


def test_sim_noisy_fails_against_a_sim_baseline(sim_runs, tmp_path, capsys):
    junit = tmp_path / "noisy.xml"
    code = main([str(sim_runs["sim_noisy"]), "--baseline", str(sim_runs["sim"]), "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "FAILED" in out
    cases = junit_cases(junit)
    # sim_noisy's captions are degraded (quality 0.5): ROUGE-L always drops significantly. Its
    # malformed/truncated answers are a random draw, so the validity floor fails exactly when the
    # draw took the run under 95%.
    assert cases["rougeL drop"] == "fail"
    rate = json.loads((sim_runs["sim_noisy"] / "metrics.json").read_text())["schema_valid_rate"]
    assert cases["schema_valid floor"] == ("fail" if rate < 0.95 else "pass")
    assert set(cases) == {"schema_valid floor", "schema_valid drop", "judge score drop", "rougeL drop", "p95 latency",
                          "cost per 1M", "pairwise vs baseline"}
    assert cases["pairwise vs baseline"] == "skip"  # never ranked pairwise (tests/gate/test_gate_pairwise.py)


def test_sim_rerun_passes_against_a_run_folder_and_a_baseline_file(sim_runs, tmp_path, capsys):
    baseline = tmp_path / "base.json"
    assert main([str(sim_runs["sim"]), "--write-baseline", str(baseline)]) == 0
    data = json.loads(baseline.read_text())
    assert data["format"] == FORMAT and len(data["per_frame"]["frame_id"]) == 27
    assert baseline.stat().st_size < 20_000  # small enough to commit
    for base in (sim_runs["sim"], baseline):
        junit = tmp_path / "rerun.xml"
        code = main([str(sim_runs["sim_rerun"]), "--baseline", str(base), "--junit", str(junit)])
        out = capsys.readouterr().out
        assert code == 0, out
        cases = junit_cases(junit)
        assert cases["schema_valid floor"] == cases["schema_valid drop"] == "pass"
        assert cases["p95 latency"] == cases["cost per 1M"] == "pass"
        assert cases["judge score drop"] == "skip"  # neither side scored


def test_committed_baseline_gates_a_fresh_simulator_run(sim_runs, tmp_path, capsys):
    """What the project's CI does: a fresh simulator run of the sample against baselines/sim-sample.json."""
    junit = tmp_path / "ci.xml"
    code = main([str(sim_runs["sim_rerun"]), "--baseline", str(ROOT / "baselines/sim-sample.json"),
                 "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "fail" not in junit_cases(junit).values()


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def _rescore(run: Path, **kwargs) -> None:
    """Replace the run's scores.jsonl with made-up scores (write_scores) and drop metrics.json's score
    headlines, which the made-up file would contradict (the gate refuses a run whose headlines and
    scores.jsonl disagree)."""
    write_scores(run, **kwargs)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.pop("scores", None)
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_scores_significant_judge_drop_fails_and_missing_scores_fail(sim_runs, tmp_path, capsys):
    base = _copy(sim_runs["sim"], tmp_path / "base")
    good = _copy(sim_runs["sim_rerun"], tmp_path / "good")
    worse = _copy(sim_runs["sim_rerun"], tmp_path / "worse")
    unscored = _copy(sim_runs["sim_rerun"], tmp_path / "unscored")
    _rescore(base, judge_mean=4.0, rouge_mean=55, seed=1)
    _rescore(good, judge_mean=4.0, rouge_mean=55, seed=1)
    _rescore(worse, judge_mean=2.5, rouge_mean=40, seed=2)
    assert main([str(good), "--baseline", str(base), "--junit", str(tmp_path / "g.xml")]) == 0
    assert main([str(worse), "--baseline", str(base), "--junit", str(tmp_path / "w.xml")]) == 1
    cases = junit_cases(tmp_path / "w.xml")
    assert cases["judge score drop"] == "fail" and cases["rougeL drop"] == "fail"
    # the baseline is scored, the run is not: fail by default, skip when told to
    assert main([str(unscored), "--baseline", str(base), "--junit", str(tmp_path / "u.xml")]) == 1
    assert junit_cases(tmp_path / "u.xml")["judge score drop"] == "fail"
    assert main([str(unscored), "--baseline", str(base), "gate.missing=skip", "--junit", str(tmp_path / "u.xml")]) == 0
    # a baseline file keeps the per-frame scores: the same verdicts, still paired
    file = tmp_path / "scored.json"
    assert main([str(base), "--write-baseline", str(file)]) == 0
    assert main([str(worse), "--baseline", str(file), "--junit", str(tmp_path / "wf.xml")]) == 1
    assert "paired permutation" in capsys.readouterr().out
    # a summary-only baseline (--no-frames) falls back to unpaired tests
    thin = tmp_path / "thin.json"
    assert main([str(base), "--write-baseline", str(thin), "--no-frames"]) == 0
    assert main([str(worse), "--baseline", str(thin), "--junit", str(tmp_path / "t.xml")]) == 1
    assert "Welch" in capsys.readouterr().out


@pytest.mark.parametrize("args", [
    ["{missing}", "--baseline", "{sim}"],
    ["{sim}", "--baseline", "{missing}"],
    ["{sim}", "--baseline", "{notbaseline}"],
    ["{sim}", "--baseline", "{sim}", "gate=nope"],
    ["{sim}", "--baseline", "{sim}", "gate.typo=1"],
    ["{sim}", "--baseline", "{sim}", "gate.schema_validity.rung=bogus"],
    ["{sim}"],
    ["{otherds}", "--baseline", "{sim}"],
])
def test_unusable_input_exits_2(sim_runs, tmp_path, args):
    not_baseline = tmp_path / "x.json"
    not_baseline.write_text('{"hello": 1}')
    other = _copy(sim_runs["sim_rerun"], tmp_path / "other")
    metrics = json.loads((other / "metrics.json").read_text())
    metrics["run"]["dataset"] = "frames1k"
    (other / "metrics.json").write_text(json.dumps(metrics))
    paths = {"missing": str(tmp_path / "nope"), "sim": str(sim_runs["sim"]), "notbaseline": str(not_baseline),
             "otherds": str(other)}
    assert main([a.format(**paths) for a in args]) == 2


def test_gate_configs_compose_typed():
    default, strict = load_gate_config([]), load_gate_config(["gate=strict"])
    assert default.name == "default" and strict.name == "strict"
    assert strict.latency_p95.max_ratio < default.latency_p95.max_ratio
    assert strict.schema_validity.min_rate >= default.schema_validity.min_rate
    assert load_gate_config(["gate.cost.max_ratio=2"]).cost.max_ratio == 2.0


def test_baseline_file_round_trips(sim_runs, tmp_path):
    path = tmp_path / "b.json"
    assert main([str(sim_runs["sim_noisy"]), "--write-baseline", str(path)]) == 0
    from_file, from_run = load_side(path), load_side(sim_runs["sim_noisy"])
    assert from_file.validity == from_run.validity and from_file.per_frame == from_run.per_frame
    assert from_file.e2el_p95_s == pytest.approx(from_run.e2el_p95_s)
