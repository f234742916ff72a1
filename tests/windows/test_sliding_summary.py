"""mode=sliding (chained differential captions) and mode=summary (text-only, from an earlier run's captions):
chains in order, a failed link handled and said, a killed run resumed mid-chain, summaries over each protocol."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.app import run
from bench.store import load_records

from ..conftest import ROOT, kill_run_after
from .helpers import clip_dataset, compose_cfg, overrides


def run_mode(tmp_path, ds, *extra):
    cfg = compose_cfg(*overrides(tmp_path, ds, *extra))
    code = run(cfg)
    return code, sorted(Path(cfg.runs_dir).glob("t/*/*"), key=lambda p: p.stat().st_mtime)[-1]


def chains(records):
    by_video = {}
    for r in sorted(records, key=lambda r: r["frame_id"]):
        by_video.setdefault(r["video"], []).append(r)
    return by_video


def good(r):
    return r["status"] == "ok" and r["validity"]["schema_valid"]


def test_sliding_chains_each_video_in_time_order(tmp_path):
    ds = clip_dataset(tmp_path / "ds")
    code, run_dir = run_mode(tmp_path, ds, "mode=sliding")
    assert code == 0
    by_video = chains(load_records(run_dir))
    assert [r["frame_id"] for r in by_video["a.mp4"]] == [f"a-s{i:04d}" for i in range(1, 6)]
    assert [r["frame_id"] for r in by_video["b.mp4"]] == ["b-s0001", "b-s0002"]
    for links in by_video.values():
        assert links[0]["previous_caption_from"] is None
        for before, link in zip(links, links[1:], strict=False):
            assert link["previous_caption_from"] == before["frame_id"] and "notes" not in link
    a = by_video["a.mp4"]
    assert [r["crosses_cut"] for r in a] == [False, False, True, False, False]  # the cut between 2 s and 3 s
    assert [r["caption"]["scene_change"] for r in a] == [False, False, True, False, False]
    assert all(r["images_per_request"] == 2 and r["window_s"] == 1.0 for r in a)


def test_a_failed_link_is_recorded_and_the_next_one_uses_the_last_good_caption(tmp_path):
    ds = clip_dataset(tmp_path / "ds")
    code, run_dir = run_mode(tmp_path, ds, "mode=sliding", "model.sim.server_error_rate=0.5",
                             "runner.retry.max_attempts=1")
    assert code == 0
    records = load_records(run_dir)
    assert any(r["status"] == "failed" for r in records)  # the fault rate planted at least one failed link
    checked = 0
    for links in chains(records).values():
        last_good = None
        for before, link in zip([None, *links], links, strict=False):
            assert link["previous_caption_from"] == last_good
            if before is not None and not good(before):
                assert any(f"the previous link {before['frame_id']} has no valid caption" in n for n in link["notes"])
                checked += 1
            if good(link):
                last_good = link["frame_id"]
    assert checked >= 1


def test_a_one_frame_video_is_skipped_by_sliding_with_its_reason(tmp_path):
    ds = clip_dataset(tmp_path / "ds", [("a.mp4", "a", 0.0, "s0"), ("a.mp4", "a", 1.0, "s0"),
                                        ("solo.mp4", "solo", 0.0, "s2")])
    code, run_dir = run_mode(tmp_path, ds, "mode=sliding")
    assert code == 0
    solo = {r["frame_id"]: r for r in load_records(run_dir)}["solo-s0000"]
    assert solo["validity"]["category"] == "bad_input"
    assert "has one frame: sliding mode needs two adjacent frames" in solo["error"]["message"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["bad_inputs"]["count"] == 1 and metrics["completed"] == 1


def test_sliding_killed_mid_chain_resumes_from_the_last_stored_caption(tmp_path):
    ds = clip_dataset(tmp_path / "ds")
    cmd = [sys.executable, "-m", "bench", *overrides(tmp_path, ds, "mode=sliding", "runner.concurrency=1",
                                                     "model.sim.per_token_s=0.004")]
    gens = kill_run_after(cmd, tmp_path / "runs", 2, timeout_s=90, poll_s=0.02)  # mid-chain
    assert gens is not None, "the run never recorded two links"
    first_session = {r["frame_id"] for r in load_records(gens.parent)}
    assert 2 <= len(first_session) < 7
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr
    ids = [json.loads(line)["frame_id"] for line in gens.read_text().splitlines()]
    assert sorted(ids) == sorted([f"a-s{i:04d}" for i in range(1, 6)] + ["b-s0001", "b-s0002"])  # each once
    resumed = 0
    for links in chains(load_records(gens.parent)).values():
        for before, link in zip(links, links[1:], strict=False):
            assert link["previous_caption_from"] == before["frame_id"]  # the chain is whole
            if before["frame_id"] in first_session and link["frame_id"] not in first_session:
                assert link["session"] == 2
                resumed += 1
    assert resumed >= 1  # a link of the second session was given the caption stored by the first


@pytest.mark.parametrize("model", ["sim", "sim_anthropic", "sim_gemini"])
def test_summary_of_a_sliding_run_over_each_protocol(tmp_path, model, capsys):
    ds = clip_dataset(tmp_path / "ds")
    code, sliding = run_mode(tmp_path, ds, "mode=sliding")
    assert code == 0
    code, run_dir = run_mode(tmp_path, ds, f"model={model}", "mode=summary", f"mode.from_run={sliding}")
    assert code == 0
    records = {r["frame_id"]: r for r in load_records(run_dir)}
    assert sorted(records) == ["a-summary", "b-summary"]
    a = records["a-summary"]
    assert a["validity"]["category"] == "valid" and a["images_per_request"] == 0 and a["image"] is None
    assert a["caption"]["scenes"] == 2 and records["b-summary"]["caption"]["scenes"] == 1  # one cut in a
    assert a["window_s"] == 6.0 and a["notes"][-1].startswith("5 captions from sliding run")
    assert "$ per hour of video" in capsys.readouterr().out


def test_summary_of_a_frame_run_and_its_errors(tmp_path, capsys):
    ds = clip_dataset(tmp_path / "ds")
    code, frames = run_mode(tmp_path, ds)
    assert code == 0
    code, run_dir = run_mode(tmp_path, ds, "mode=summary", f"mode.from_run={frames}")
    assert code == 0
    records = {r["frame_id"]: r for r in load_records(run_dir)}
    assert records["a-summary"]["caption"]["scenes"] == 2 and records["b-summary"]["caption"]["scenes"] == 1
    assert [e["t_s"] for e in records["a-summary"]["caption"]["timeline"]] == [0.0, 3.0]
    code, _ = run_mode(tmp_path, ds, "mode=summary", f"mode.from_run={run_dir}")  # a summary of a summary
    assert code == 2 and "is a mode=summary run" in capsys.readouterr().err
    code, _ = run_mode(tmp_path, ds, "mode=summary")
    assert code == 2 and "mode.from_run needs a value" in capsys.readouterr().err
