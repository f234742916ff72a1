"""Temporal scores end to end on the simulator: a dataset of frames ordered in time (two videos, known shot cuts),
scored automatically after the run; the same numbers recomputed from generations.jsonl; planted jitter
(model.sim.temporal_jitter) measured as lower stability; the summary and `python -m bench.score` print it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from PIL import Image
from rich.console import Console

from bench.__main__ import conf_dir
from bench.app import run as run_bench
from bench.score.__main__ import main as score_main
from bench.score.temporal import run_items, temporal_scores
from bench.summary import print_summary

FAST = ["runner.progress=false", "runner.concurrency=8", "model.sim.ttft_s=0.005", "model.sim.per_token_s=0.0001",
        "model.sim.per_token_jitter_s=0.0", "model.sim.ttft_jitter_s=0.0"]


def _shot_image(kind: int, frame: int) -> Image.Image:
    """Three visually unrelated scenes; frames of one scene differ by a few pixels only."""
    rng = np.random.default_rng(kind)
    if kind % 3 == 0:
        px = np.zeros((96, 128, 3), np.uint8) + np.array([210, 40, 40], np.uint8)  # plain red card
    elif kind % 3 == 1:
        px = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)  # busy multicoloured texture
    else:
        ramp = np.linspace(0, 255, 128, dtype=np.float32)
        px = np.stack([np.tile(ramp, (96, 1)), np.full((96, 128), 60.0), np.tile(255 - ramp, (96, 1))], -1)
        px = px.astype(np.uint8)  # red-to-blue gradient
    px = px.copy()
    px[0, frame % 128] = (px[0, frame % 128].astype(int) + 7) % 256  # a different file per frame
    return Image.fromarray(px)


def make_video_dataset(root: Path) -> Path:
    folder = root / "clips"
    (folder / "images").mkdir(parents=True)
    lines = []
    for video, shots in (("v1", [0, 1, 2]), ("v2", [1, 0, 2, 1])):
        t = 0.0
        for s, kind in enumerate(shots):
            for f in range(3):
                fid = f"{video}-t{t:05.1f}"
                _shot_image(kind, s * 3 + f).save(folder / "images" / f"{fid}.png")
                lines.append({"id": fid, "image": f"images/{fid}.png", "content_type": "test", "video": video,
                              "shot": f"s{s:03d}", "timestamp_s": t, "reference": None})
                t += 0.5
    (folder / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return folder


def bench_run(root: Path, dataset: Path, name: str, *extra: str) -> Path:
    run_dir = root / name
    with initialize_config_dir(version_base="1.3", config_dir=conf_dir()):
        cfg = compose("config", overrides=["model=sim", "dataset=sample", f"dataset.path={dataset}",
                                           "dataset.name=clips", f"run_dir={run_dir}", *FAST, *extra])
    assert run_bench(cfg, Console(file=io.StringIO()), summary=False) == 0
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("temporal")
    ds = make_video_dataset(root)
    return {"ds": ds, "sim": bench_run(root, ds, "sim"),
            "jitter": bench_run(root, ds, "jitter", "model.sim.temporal_jitter=0.7")}


def _records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "generations.jsonl").read_text().splitlines()]


def test_run_is_scored_for_time_and_records_carry_where_each_frame_sits(runs: dict[str, Any]) -> None:
    t = json.loads((runs["sim"] / "metrics.json").read_text())["scores"]["temporal"]
    assert t["applicable"] and t["frames"] == 21 and t["videos"] == 2
    assert t["true_cuts"] == 5 and t["within_shot_pairs"] == 14
    recs = {r["frame_id"]: r for r in _records(runs["sim"])}
    assert (recs["v2-t001.5"]["video"], recs["v2-t001.5"]["shot"], recs["v2-t001.5"]["timestamp_s"]) == \
        ("v2", "s001", 1.5)
    # the simulator describes each scene the same way: content type and style hold within a shot, cuts are found
    assert t["field_stability"]["content_type"]["value"] == 1.0
    assert t["boundaries"]["best_f1"] == 1.0


def test_identical_numbers_when_recomputed_from_generations(runs: dict[str, Any]) -> None:
    for name in ("sim", "jitter"):
        scored = json.loads((runs[name] / "metrics.json").read_text())["scores"]["temporal"]
        again = temporal_scores(run_items(_records(runs[name])))  # defaults = the run's temporal config
        assert scored.pop("model_simulated") is True  # the scorer labels where the captions came from
        assert json.loads(json.dumps(again)) == scored


def test_planted_jitter_is_measured(runs: dict[str, Any]) -> None:
    calm = json.loads((runs["sim"] / "metrics.json").read_text())["scores"]["temporal"]
    jittery = json.loads((runs["jitter"] / "metrics.json").read_text())["scores"]["temporal"]
    assert jittery["stability"] < calm["stability"] - 0.05
    exact = ("content_type", "specific_style", "production_quality")
    assert sum(jittery["field_stability"][f]["value"] for f in exact) < \
        sum(calm["field_stability"][f]["value"] for f in exact)
    assert jittery["boundaries"]["precision"] <= calm["boundaries"]["precision"]


def test_summary_and_score_cli_print_temporal_lines(runs: dict[str, Any], capsys: pytest.CaptureFixture) -> None:
    metrics = json.loads((runs["sim"] / "metrics.json").read_text())
    out = io.StringIO()
    print_summary(Console(file=out, width=200), metrics, label="sim", run_dir=runs["sim"], status="complete")
    text = out.getvalue()
    assert "temporal stability (SIMULATED model)" in text and "scene boundaries" in text and "F1 " in text
    assert score_main([str(runs["sim"]), "temporal.k=1", "temporal.tolerance=1"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "scene boundaries (SIMULATED model): F1" in printed and "at k=1" in printed and "tolerance 1" in printed
    rescored = json.loads((runs["sim"] / "metrics.json").read_text())["scores"]["temporal"]
    assert rescored["settings"]["k"] == 1 and rescored["settings"]["tolerance"] == 1
    assert score_main([str(runs["sim"]), "temporal.kk=1"]) == 2  # a misspelt key fails by name
    assert "kk" in capsys.readouterr().err


def test_load_runs_and_report_carry_the_temporal_columns(runs: dict[str, Any], tmp_path: Path) -> None:
    from bench.load import load_runs
    from bench.report import build_report

    frames = load_runs([runs["sim"], runs["jitter"]], level="frame")
    row = frames[(frames["frame_id"] == "v2-t001.5")].iloc[0]
    assert (row["video"], row["shot"], row["timestamp_s"]) == ("v2", "s001", 1.5)
    table = load_runs([runs["sim"], runs["jitter"]]).set_index("run")
    assert table["temporal_stability"].notna().all()
    calm, jittery = table.loc[table.index[0]], table.loc[table.index[1]]
    assert jittery["temporal_stability"] < calm["temporal_stability"]
    assert 0 <= jittery["flicker_rate"] <= 1 and calm["boundary_best_f1"] == 1.0
    build_report([runs["sim"], runs["jitter"]], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "temporal stability" in html and "boundary F1" in html
    assert f"{calm['temporal_stability']:,.2f}" in html


def test_video_frames_at_fps_carry_pixel_shot_ids_as_true_cuts(tmp_path: Path) -> None:
    """dataset=video, sampling=fps: each frame gets the id of the shot the pixel detector put it in, so the two
    hard cuts of the test clip (2 s, 7 s) are true cuts for the temporal scores."""
    from bench.config import DatasetConfig
    from bench.frames import load_frames
    from bench.score.temporal import TemporalItem
    from tests.frames.conftest import CUTS, scene_video

    clip = scene_video(tmp_path / "scenes.mp4")
    cfg = DatasetConfig(name="video", kind="video", path=str(clip), cache_dir=str(tmp_path / "cache"), fps=2.0)
    frames = load_frames(cfg)
    shot = {f.meta["timestamp_s"]: f.meta["shot"] for f in frames}
    assert None not in shot.values()
    for cut in CUTS:
        assert shot[cut - 0.5] != shot[cut] and shot[cut] == shot[cut + 0.5]
    assert shot[0.0] == shot[1.5] == "s000"
    # captions that change exactly at the hard cuts: every cut the detector found and only those are boundaries
    scene = {t: sum(t >= c for c in CUTS) for t in shot}
    items = [TemporalItem(f.id, f.meta["video"], f.meta["shot"], f.meta["timestamp_s"],
                          {"content_type": f"scene {scene[f.meta['timestamp_s']]}", "summary": "x", "objects": []})
             for f in frames]
    b = temporal_scores(items, {"k": 1, "boundary_fields": ["content_type"]})["boundaries"]
    n_cuts = len(set(shot.values())) - 1
    assert b["true_cuts"] == n_cuts >= 2 and b["matched"] == 2 and b["predicted"] == 2


def test_older_records_without_time_fields_take_them_from_the_dataset(runs: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from bench.score import score_run

    old = tmp_path / "old-run"
    shutil.copytree(runs["jitter"], old)
    lines = []
    for rec in _records(old):
        for key in ("video", "shot", "timestamp_s"):
            rec.pop(key)
        lines.append(json.dumps(rec))
    (old / "generations.jsonl").write_text("\n".join(lines) + "\n")
    expected = json.loads((runs["jitter"] / "metrics.json").read_text())["scores"]["temporal"]
    assert json.loads(json.dumps(score_run(old)["temporal"])) == expected


@pytest.mark.parametrize(("override", "named"), [("temporal.k=9", "temporal.k=9"),
                                                 ("temporal.boundary_fields=[colour]", "temporal.boundary_fields"),
                                                 ("model.sim.temporal_jitter=1.5", "temporal_jitter")])
def test_bad_temporal_settings_stop_before_the_run(override: str, named: str, tmp_path: Path) -> None:
    from bench.app import ConfigError, check_config

    with initialize_config_dir(version_base="1.3", config_dir=conf_dir()):
        cfg = compose("config", overrides=[override, f"run_dir={tmp_path / 'run'}"])
    with pytest.raises(ConfigError, match=named):
        check_config(cfg)
