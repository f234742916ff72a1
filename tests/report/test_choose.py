"""Choosing what goes into a report (bench/report/choose.py): a failed 3-frame attempt that a glob picks up no longer
switches the report's quality axis; --include-all keeps it; --latest keeps the newest run per (model, config)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.report import build_report
from bench.report.__main__ import main as report_main
from tests.report.simruns import write_scores


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def runs_folder(sim_runs, tmp_path) -> tuple[Path, Path]:
    """runs/ holding sim and sim_noisy (judged, 27 frames each) and a failed gpt-4.1 attempt of 3 frames, unscored."""
    root = tmp_path / "runs"
    for name, judge in (("sim", 4.5), ("sim_noisy", 3.0)):
        dst = root / name / "r1"
        shutil.copytree(sim_runs[name], dst)
        write_scores(dst, judge_mean=judge, rouge_mean=60)
    failed = root / "gpt-4.1" / "r1"
    shutil.copytree(sim_runs["sim"], failed)
    lines = (failed / "generations.jsonl").read_text().splitlines()[:3]
    (failed / "generations.jsonl").write_text("\n".join(lines) + "\n")
    for extra in ("scores.jsonl", "scores"):
        shutil.rmtree(failed / extra, ignore_errors=True) if (failed / extra).is_dir() else \
            (failed / extra).unlink(missing_ok=True)
    metrics = json.loads((failed / "metrics.json").read_text())
    metrics.pop("scores", None)
    metrics.update(frames=3, recorded=3, run={**metrics["run"], "model": "gpt-4.1"}, simulated=False)
    (failed / "metrics.json").write_text(json.dumps(metrics))
    edit_json(failed / "run.json", status="failed", model="gpt-4.1", simulated=False)
    return root, failed


def test_a_failed_tiny_run_found_by_a_glob_is_left_out_and_named(sim_runs, tmp_path):
    root, failed = runs_folder(sim_runs, tmp_path)
    # what happened before: the failed attempt has no judge scores, so the whole report fell back to validity
    everything = build_report([str(root / "*" / "*")], tmp_path / "all.html", include_all=True)
    assert sorted(everything["runs"]) == ["gpt-4.1", "sim", "sim_noisy"]
    assert everything["data"]["quality"]["key"] == "schema_valid"
    # by default it is left out, with a note naming it and why; the quality axis stays the judge's
    info = build_report([str(root / "*" / "*")], tmp_path / "chosen.html")
    assert sorted(info["runs"]) == ["sim", "sim_noisy"] and info["data"]["quality"]["key"] == "judge"
    note = next(n for n in info["data"]["notes"] if n.startswith("Left out 1 run"))
    assert str(failed) in note and "status failed, 3 frames (< 10)" in note and "--include-all" in note
    assert str(failed) in (tmp_path / "chosen.html").read_text()  # the note is on the page
    # a folder of runs is expanded the same way
    assert sorted(build_report([root], tmp_path / "folder.html")["runs"]) == ["sim", "sim_noisy"]


def test_a_run_named_directly_is_always_kept(sim_runs, tmp_path):
    root, failed = runs_folder(sim_runs, tmp_path)
    info = build_report([root / "sim" / "r1", failed], tmp_path / "named.html")
    assert sorted(info["runs"]) == ["gpt-4.1", "sim"]


def test_min_frames_is_configurable_and_an_empty_choice_is_a_usage_error(sim_runs, tmp_path, capsys):
    root, _ = runs_folder(sim_runs, tmp_path)
    out = tmp_path / "cli.html"
    assert report_main([str(root), "--include-all", "--out", str(out), "--no-thumbnails"]) == 0
    assert "3 runs" in capsys.readouterr().out
    # at --min-frames 2 the 3-frame attempt is not tiny, but still failed: left out for that reason alone
    assert report_main([str(root), "--min-frames", "2", "--out", str(out), "--no-thumbnails"]) == 0
    printed = capsys.readouterr().out
    assert "2 runs" in printed and "(status failed)" in printed and "frames (<" not in printed
    # 27-frame runs are "tiny" under --min-frames 30: nothing left, said so (exit 2) with the runs named
    assert report_main([str(root), "--min-frames", "30", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no run folders found" in err and "27 frames (< 30)" in err


def test_latest_keeps_the_newest_run_per_model_and_config(sim_runs, tmp_path):
    root = tmp_path / "runs"
    for name, created in (("old", "2026-01-01T00:00:00+00:00"), ("new", "2026-02-01T00:00:00+00:00")):
        dst = root / "sim" / name
        shutil.copytree(sim_runs["sim"], dst)
        edit_json(dst / "run.json", created=created, fingerprint="same-config")
    other = root / "sim" / "other-config"
    shutil.copytree(sim_runs["sim"], other)
    edit_json(other / "run.json", created="2025-01-01T00:00:00+00:00", fingerprint="another-config")
    both = build_report([root], tmp_path / "both.html")
    assert len(both["runs"]) == 3  # without --latest: all three, labelled by folder
    info = build_report([root], tmp_path / "latest.html", latest=True)
    dirs = sorted(Path(r["run_dir"]).name for r in info["data"]["leaderboard"])
    assert dirs == ["new", "other-config"]
    note = next(n for n in info["data"]["notes"] if n.startswith("--latest"))
    assert str(root / "sim" / "old") in note
