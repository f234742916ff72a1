"""bench.load_runs (pandas, per run and per frame), CSV/Parquet export, run discovery, and the report CLI."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

import bench
from bench.load import RunLoadError, find_run_dirs, load_frames_df, load_run_data
from bench.report.__main__ import main as report_main
from bench.report.data import assemble, field_diff
from tests.report.simruns import write_scores


def test_load_runs_per_run_and_per_frame(sim_runs):
    runs = bench.load_runs(list(sim_runs.values()))
    assert isinstance(runs, pd.DataFrame) and len(runs) == 3
    assert set(runs["model"]) == {"sim", "sim_noisy"} and runs["run"].is_unique
    for col in ("schema_valid_rate", "e2el_p95_s", "cost_per_million_usd", "judge_mean", "rougeL", "precision",
                "simulated", "reference_kind"):
        assert col in runs.columns, col
    assert runs["simulated"].all() and runs["judge_mean"].isna().all()
    frames = load_frames_df(list(sim_runs.values()))
    assert len(frames) == 81 and frames.groupby("run").size().eq(27).all()
    noisy = frames[frames["model"] == "sim_noisy"]
    assert noisy["schema_valid"].mean() == pytest.approx(runs.set_index("model").loc["sim_noisy", "schema_valid_rate"])


def test_scores_flow_into_tables_and_report(sim_runs, tmp_path):
    a, b = shutil.copytree(sim_runs["sim"], tmp_path / "a"), shutil.copytree(sim_runs["sim_noisy"], tmp_path / "b")
    write_scores(a, judge_mean=4.2, rouge_mean=60, seed=1)
    write_scores(b, judge_mean=2.8, rouge_mean=40, seed=2)
    runs = bench.load_runs([a, b])
    assert runs["judge_mean"].notna().all() and runs["rougeL"].notna().all()
    frames = bench.load_runs([a, b], level="frame")
    assert "rougeL.description" in frames.columns and frames["judge_score"].notna().all()
    data = assemble(load_run_data([a, b]), thumbnails=False)
    assert data["quality"]["key"] == "judge" and "per_field" in data["figures"]
    cell = data["significance"]["cells"][0][1]  # sim - sim_noisy on judge
    assert cell["diff"] > 0 and cell["p"] < 0.05 and cell["n"] == 27


def test_export_csv_and_parquet(sim_runs, tmp_path):
    assert report_main([str(sim_runs["sim"]), str(sim_runs["sim_noisy"]), "--csv", str(tmp_path / "csv"),
                        "--parquet", str(tmp_path / "pq"), "--no-html"]) == 0
    runs_csv = pd.read_csv(tmp_path / "csv" / "runs.csv")
    frames_pq = pd.read_parquet(tmp_path / "pq" / "frames.parquet")
    assert len(runs_csv) == 2 and len(frames_pq) == 54
    assert set(pd.read_parquet(tmp_path / "pq" / "runs.parquet").columns) == set(runs_csv.columns)


def test_finding_runs_by_glob_folder_and_multirun(sim_runs, tmp_path):
    root = sim_runs["sim"].parent.parent.parent  # .../simruns
    assert len(find_run_dirs([str(root / "sample" / "*" / "*")])) == 3
    assert len(find_run_dirs([root])) == 3
    # a Hydra multirun folder: each job folder (0/, 1/) names the run it made (bench.app writes it)
    sweep = root / "multirun" / "2000-01-01T00-00-00"
    for job, key in enumerate(("sim_noisy", "sim")):
        (sweep / str(job)).mkdir(parents=True)
        (sweep / str(job) / "capbench_run.json").write_text(json.dumps({"run_dir": str(sim_runs[key])}))
    (sweep / "multirun.yaml").write_text("runs_dir: elsewhere\n")
    assert find_run_dirs([sweep]) == [sim_runs["sim_noisy"], sim_runs["sim"]]
    (root / "multirun" / "empty").mkdir()
    (root / "multirun" / "empty" / "multirun.yaml").write_text("{}\n")
    with pytest.raises(RunLoadError, match="name no run folders"):
        find_run_dirs([root / "multirun" / "empty"])
    with pytest.raises(RunLoadError):
        find_run_dirs([tmp_path / "nothing-here"])


def test_report_cli_writes_one_file_and_rejects_bad_input(sim_runs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.html"
    assert report_main([str(p) for p in sim_runs.values()] + ["--out", str(out), "--no-thumbnails"]) == 0
    assert out.is_file() and "report:" in capsys.readouterr().out
    assert report_main([str(tmp_path / "nope")]) == 2
    monkeypatch.chdir(tmp_path)  # the default name goes under reports/
    assert report_main([str(sim_runs["sim"])]) == 0
    assert len(list((tmp_path / "reports").glob("sample__sim__*.html"))) == 1


def test_field_diff_levels():
    ref = {"description": "A red car on a road.", "objects": ["red car", "road"], "actions": [], "logos": []}
    cand = {"description": "A red car on a road.", "objects": ["blue truck"], "actions": ["driving fast"]}
    d = field_diff(cand, ref)
    assert d["description"] == 0 and d["objects"] == 2 and d["actions"] == 2 and d["logos"] == 3
