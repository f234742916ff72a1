"""A sweep names its folder, ends with one table of its runs, names failed jobs by their overrides; its
runs are labelled by what it varied in load_runs; bench.score takes its multirun folder; frame tables."""

import os
import subprocess
import sys

import pytest

from bench.load import load_runs
from bench.score.__main__ import main as score_main
from bench.sweep import sweep_label, varied

from .conftest import ROOT


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["CAPBENCH_CACHE_DIR"] = str(tmp / "cache")
    out = subprocess.run([sys.executable, "-m", "bench", "-m", "model=sim,gpt-4.1", "runner.concurrency=1,3",
                          f"dataset.path={ROOT / 'datasets/sample'}", "dataset.name=t", "dataset.limit=2",
                          f"runs_dir={tmp / 'runs'}", "runner.progress=false", "model.sim.ttft_s=0.01",
                          "model.sim.per_token_s=0.0002"], cwd=tmp, capture_output=True, text=True, timeout=300,
                         env=env)
    (multirun,) = (tmp / "runs" / "multirun").iterdir()
    return out, multirun


def test_a_sweep_names_its_folder_tabulates_its_runs_and_names_failed_jobs_by_overrides(sweep):
    out, multirun = sweep
    assert out.returncode == 2
    assert out.stderr.startswith(f"sweep: {multirun}\n")  # said before the first job runs
    table = out.stdout[out.stdout.index(f"sweep: {multirun}  (4 jobs)"):]
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert len(rows) == 4
    assert "sim · runner.concurrency=1 (SIMULATED)" in rows[0] and "complete" in rows[0] and "2/2" in rows[0]
    assert "sim · runner.concurrency=3 (SIMULATED)" in rows[1] and "100.0%" in rows[1]
    assert "model=gpt-4.1 runner.concurrency=1" in rows[2] and "no run" in rows[2]
    for row in rows[:2]:  # the run folder, whole on its line
        assert str(multirun.parent.parent / "t" / "sim") in row
    assert ("sweep: 2 of 4 jobs failed: model=gpt-4.1 runner.concurrency=1 (job 2, exit 2), "
            "model=gpt-4.1 runner.concurrency=3 (job 3, exit 2)") in out.stderr
    # piped, messages are not wrapped: the key's name and the fix stay on one line
    assert "needs an API key: set OPENAI_API_KEY (export OPENAI_API_KEY=...) or choose another model" in out.stderr


def test_runs_of_a_sweep_are_labelled_by_what_it_varied(sweep):
    _, multirun = sweep
    runs = load_runs([multirun])
    assert sorted(runs["run"]) == ["sim · runner.concurrency=1", "sim · runner.concurrency=3"]
    frames = load_runs([multirun], level="frame")
    assert set(frames["run"]) == set(runs["run"])


def test_bench_score_takes_a_multirun_folder(sweep, capsys):
    _, multirun = sweep
    assert score_main([str(multirun)]) == 0
    out = capsys.readouterr().out
    assert out.count("scores: ") == 2 and out.count("ROUGE-L") >= 2


def test_frame_table_carries_caption_fields_image_and_time_with_integer_counts(sweep):
    _, multirun = sweep
    df = load_runs([multirun], level="frame")
    row = df.iloc[0]
    assert isinstance(row["caption.objects"], list) and row["caption.objects"]
    assert isinstance(row["caption.description"], str) and isinstance(row["caption.logos"], list)
    assert row["image_path"].endswith(".jpg") and os.path.isfile(row["image_path"])
    assert row["video"] and row["timestamp_s"] >= 0 and "shot" in df
    for col in ("attempts", "input_tokens", "output_tokens"):
        assert str(df[col].dtype) == "Int64", col
    assert int(row["input_tokens"]) > 0 and int(row["attempts"]) == 1


def test_varied_keeps_only_the_overrides_that_differ():
    jobs = [["model=sim", "runner.concurrency=1", "dataset.limit=2"],
            ["model=sim", "runner.concurrency=8", "dataset.limit=2"]]
    assert varied(jobs) == [["runner.concurrency=1"], ["runner.concurrency=8"]]
    assert varied([["a=1"], ["a=1"]]) == [["a=1"], ["a=1"]]
    assert varied([["a=1"], ["a=1"]], all_if_none=False) == [[], []]
    assert varied([["a=1"], ["a=1", "b=2"]]) == [[], ["b=2"]]
    assert sweep_label("sim", ["model=sim", "runner.concurrency=8"]) == "sim · runner.concurrency=8"
    assert sweep_label("sim", ["model=sim"]) == "sim"


def test_gate_output_keeps_a_long_path_on_one_line_when_piped(sweep, tmp_path, capsys):
    from bench.gate.__main__ import main as gate_main

    _, multirun = sweep
    run = load_runs([multirun])["run_dir"].iloc[0]
    target = tmp_path / ("a-rather-long-folder-name-" * 4) / "baseline.json"
    assert gate_main([run, "--write-baseline", str(target)]) == 0
    assert f"baseline written: {target} (sim on t, 2 frames" in capsys.readouterr().out
