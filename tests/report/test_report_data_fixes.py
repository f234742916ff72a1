"""The report's data: open-loop rates and saturation, thumbnails of folder and video datasets, notes,
the judge interval, and "not enough data" instead of empty plots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import bench
from bench.load import load_run_data
from bench.report import build_report
from bench.report.data import assemble
from tests.frames.conftest import scene_video
from tests.report.simruns import sim_run, write_scores

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def open_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sim_run(tmp_path_factory.mktemp("open") / "run", "sim", "runner=open", "runner.rate=40", "dataset.limit=8")


def _set_saturated(src: Path, dst: Path, saturated: bool) -> Path:
    shutil.copytree(src, dst)
    metrics = json.loads((dst / "metrics.json").read_text())
    metrics["throughput"]["saturated"] = saturated
    (dst / "metrics.json").write_text(json.dumps(metrics))
    return dst


def test_open_loop_rates_in_the_run_table(open_run: Path, sim_runs) -> None:
    runs = bench.load_runs([open_run, sim_runs["sim"]]).set_index("model_name", drop=False)
    row = runs[runs["runner_mode"] == "open"].iloc[0]
    metrics = json.loads((open_run / "metrics.json").read_text())
    assert row["target_rate"] == 40.0
    assert row["achieved_rate"] == pytest.approx(metrics["throughput"]["achieved_rate"])
    assert row["scheduled_rate"] == pytest.approx(metrics["throughput"]["scheduled_rate"])
    assert row["saturated"] == metrics["throughput"]["saturated"]
    assert row["e2el_from_scheduled_p95_s"] == pytest.approx(metrics["latency"]["e2el_from_scheduled_s"]["p95"])
    assert row["ttft_from_scheduled_p50_s"] == pytest.approx(metrics["latency"]["ttft_from_scheduled_s"]["p50"])
    closed = runs[runs["runner_mode"] == "closed"].iloc[0]
    assert closed["target_rate"] != closed["target_rate"]  # NaN: closed loop has no target rate
    frames = bench.load_runs([open_run], level="frame")
    assert frames["e2el_from_scheduled_s"].notna().all()


def test_leaderboard_and_cdf_show_target_achieved_and_saturation(open_run: Path, sim_runs, tmp_path: Path) -> None:
    sat = _set_saturated(open_run, tmp_path / "sat", True)
    out = tmp_path / "r.html"
    build_report([sat, sim_runs["sim"]], out, thumbnails=False)
    html = out.read_text()
    achieved = json.loads((sat / "metrics.json").read_text())["throughput"]["achieved_rate"]
    assert f"(target 40.00, achieved {achieved:.2f}, <b class=\"sat\">SATURATED</b>)" in html
    assert "was SATURATED" in html  # and a note at the top says so
    data = assemble(load_run_data([sat, sim_runs["sim"]]), thumbnails=False)
    names = [t["name"] for t in data["figures"]["latency_cdf"]["data"]]
    assert sum("E2EL from scheduled" in n for n in names) == 1  # the open-loop run only
    assert "from scheduled" in data["figures"]["latency_cdf"]["layout"]["title"]["text"]

    ok = _set_saturated(open_run, tmp_path / "ok", False)
    build_report([ok], out, thumbnails=False)
    html = out.read_text()
    assert "(target 40.00, achieved" in html and "SATURATED</b>" not in html and "was SATURATED" not in html


def test_thumbnails_for_folder_and_video_datasets(sim_runs, tmp_path: Path) -> None:
    images = tmp_path / "photos"
    (images / "trip").mkdir(parents=True)
    sample = sorted((ROOT / "datasets" / "sample" / "images").glob("*.jpg"))
    shutil.copy(sample[0], images / "trip" / "beach.jpg")
    shutil.copy(sample[1], images / "harbour.jpg")
    folder_run = sim_run(tmp_path / "folder-run", "sim", "dataset=folder", f"dataset.path={images}")
    (tmp_path / "clips").mkdir()
    video = scene_video(tmp_path / "clips" / "scenes.mp4")
    video_run = sim_run(tmp_path / "video-run", "sim", "dataset=video", f"dataset.path={video.parent}",
                        "dataset.fps=0.5", f"dataset.cache_dir={tmp_path / 'frame-cache'}")
    for run_dir in (folder_run, video_run):
        data = assemble(load_run_data([run_dir]))
        assert data["frames"] and all(f["thumb"] and f["thumb"].startswith("data:image/jpeg;base64,")
                                      for f in data["frames"]), run_dir
    # the images gone: "no image", never an error
    shutil.rmtree(images)
    data = assemble(load_run_data([folder_run]))
    assert [f["thumb"] for f in data["frames"]] == [None, None]


def test_notes_when_no_run_or_not_every_run_is_judged(sim_runs, tmp_path: Path) -> None:
    plain = assemble(load_run_data([sim_runs["sim"], sim_runs["sim_noisy"]]), thumbnails=False)
    assert plain["quality"]["key"] == "rougeL"
    assert any(n.startswith("No run has judge scores") for n in plain["notes"])
    judged = shutil.copytree(sim_runs["sim"], tmp_path / "judged")
    write_scores(judged, judge_mean=4.0, rouge_mean=60)
    mixed = assemble(load_run_data([judged, sim_runs["sim_noisy"]]), thumbnails=False)
    assert mixed["quality"]["key"] == "rougeL"
    assert any(n.startswith("Not every run has judge scores") for n in mixed["notes"])


def test_judge_interval_is_written_as_an_interval(sim_runs, tmp_path: Path) -> None:
    run = shutil.copytree(sim_runs["sim"], tmp_path / "j")
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.setdefault("scores", {})["judge"] = {"model": "sim-judge", "mean": 4.963, "ci95": [4.889, 5.0], "n": 27}
    (run / "metrics.json").write_text(json.dumps(metrics))
    shutil.rmtree(run / "scores")  # as an older run folder: metrics.json["scores"] is its one scoring
    out = tmp_path / "r.html"
    build_report([run], out, thumbnails=False)
    html = out.read_text()
    assert "[4.89, 5.00] (n=27)" in html and "±" not in html


def test_single_run_and_all_failed_run_say_not_enough_data(sim_runs, tmp_path: Path) -> None:
    out = tmp_path / "one.html"
    build_report([sim_runs["sim"]], out, thumbnails=False)
    html = out.read_text()
    assert 'data-fig="significance"' not in html and 'data-nofig="significance"' in html
    assert "Not enough data: a paired comparison needs at least two runs" in html
    failed = sim_run(tmp_path / "failed", "sim", "model.sim.server_error_rate=1.0", "runner.retry.max_attempts=1",
                     "dataset.limit=3")
    data = assemble(load_run_data([failed]), thumbnails=False)
    assert "latency_cdf" not in data["figures"] and "significance" not in data["figures"]
    build_report([failed], out, thumbnails=False)
    html = out.read_text()
    assert 'data-nofig="latency_cdf"' in html and "no frame has a latency" in html


def test_significance_title_matches_its_colours(sim_runs) -> None:
    data = assemble(load_run_data(list(sim_runs.values())), thumbnails=False)
    fig = data["figures"]["significance"]
    assert "grey: not significant" in fig["layout"]["title"]["text"] and "white" not in fig["layout"]["title"]["text"]
    grey, coloured = fig["data"][0], fig["data"][1]
    assert grey["colorscale"][0][1] == grey["colorscale"][-1][1] == "#d9d9d9"
    cells = data["significance"]["cells"]
    for i, row in enumerate(cells):
        for k, cell in enumerate(row):
            if cell is None:
                continue
            significant = cell["p"] is not None and cell["p"] < 0.05
            # a significant cell is on the coloured layer, any other on the grey one
            assert (coloured["z"][i][k] is not None) == significant
            assert (grey["z"][i][k] is not None) == (not significant)
