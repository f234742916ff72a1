"""End to end over TCP: the harness drives the real SDKs against the simulator process."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from bench.__main__ import conf_dir
from bench.app import run
from bench.config import register
from bench.store import load_records

from .conftest import ROOT, kill_run_after, write_manifest

register()
from PIL import Image  # noqa: E402


def make_dataset(folder: Path, n: int) -> Path:
    entries = []
    for i in range(n):
        img = Image.new("RGB", (96, 64), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
        img.paste((255 - (i * 37) % 256, 40, 40), (i % 50, 10, i % 50 + 30, 40))
        path = folder / "images" / f"f{i:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        entries.append({"id": f"f{i:03d}", "image": f"images/f{i:03d}.jpg", "content_type": ["game", "photo"][i % 2]})
    return write_manifest(folder, entries)


def overrides(tmp_path, ds, *extra):
    return [f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}", "runner.progress=false",
            "model.sim.ttft_s=0.01", "model.sim.per_token_s=0.0002", *extra]


def run_bench(*ovr):
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(ovr))
    code = run(cfg)
    run_dirs = sorted(Path(cfg.runs_dir).glob("t/*/*"))
    return code, run_dirs[-1]


@pytest.mark.parametrize("backend", ["openai_chat", "anthropic", "gemini"])
def test_clean_run_over_each_protocol(tmp_path, backend):
    ds = make_dataset(tmp_path / "ds", 6)
    code, run_dir = run_bench(*overrides(tmp_path, ds, f"model.backend={backend}"))
    assert code == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("frames", "completed", "failed", "schema_valid_rate", "json_parse_rate", "ttft_p50_s", "e2el_p50_s",
                "e2el_p95_s", "requests_per_s", "output_tokens_per_s", "mean_input_tokens", "mean_output_tokens",
                "cost_per_million_usd", "simulated"):
        assert key in metrics, key
    assert metrics["simulated"] is True and metrics["frames"] == metrics["completed"] == 6
    assert metrics["schema_valid_rate"] == 1.0
    assert metrics["ttft_p50_s"] > 0 and metrics["e2el_p50_s"] >= metrics["ttft_p50_s"]
    records = load_records(run_dir)
    assert len(records) == 6
    # usage is the server's, not re-tokenized: the simulator counts image tokens (256) plus text
    assert all(r["usage"]["input_tokens"] > 256 and r["usage"]["output_tokens"] > 10 for r in records)
    assert (run_dir / "server.log").exists() and (run_dir / "config.yaml").exists()


def test_twenty_percent_faults_every_frame_accounted_for(tmp_path):
    ds = make_dataset(tmp_path / "ds", 60)
    code, run_dir = run_bench(*overrides(
        tmp_path, ds, "model.sim.malformed_rate=0.05", "model.sim.truncation_rate=0.05",
        "model.sim.rate_limit_rate=0.04", "model.sim.retry_after_s=0.05", "model.sim.server_error_rate=0.03",
        "model.sim.disconnect_rate=0.02", "model.sim.hang_rate=0.01", "model.sim.hang_s=30",
        "runner.request_timeout_s=1.5", "runner.retry.base_delay_s=0.01", "runner.retry.max_attempts=2"))
    assert code == 0
    records = load_records(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert sorted(r["frame_id"] for r in records) == [f"f{i:03d}" for i in range(60)]
    assert metrics["completed"] + metrics["failed"] == 60
    assert sum(metrics["validity"]["categories"].values()) == 60
    assert metrics["retried_attempts"] > 0
    cats = metrics["validity"]["categories"]
    assert cats.get("valid", 0) < 60 and (cats.get("not_json", 0) + cats.get("truncated", 0)) > 0
    assert metrics["json_lenient_rate"] >= metrics["json_parse_rate"]


def test_missing_key_stops_before_anything_is_sent(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ds = make_dataset(tmp_path / "ds", 2)
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides(tmp_path, ds, "model=gpt-4.1"))
    assert run(cfg) == 2
    assert not (tmp_path / "runs").exists()


def test_wrong_key_is_fatal_and_stops_early(tmp_path):
    ds = make_dataset(tmp_path / "ds", 30)
    code, run_dir = run_bench(*overrides(tmp_path, ds, "model.sim.require_api_key=the-right-key",
                                         "runner.concurrency=2"))
    assert code == 1
    assert load_records(run_dir) == []  # nothing recorded: fix the key and resume
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    log = (run_dir / "server.log").read_text()
    assert log.count("POST") <= 4  # stopped instead of burning through 30 frames


def test_sigkill_midway_then_resume_records_every_frame_once(tmp_path):
    ds = make_dataset(tmp_path / "ds", 40)
    cmd = [sys.executable, "-m", "bench", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
           "runner.progress=false", "runner.concurrency=2", "model.sim.per_token_s=0.002"]
    gens = kill_run_after(cmd, tmp_path / "runs", 8, timeout_s=60, poll_s=0.05)  # mid-flight
    assert gens is not None, "run never got going"
    done_before = len(load_records(gens.parent))
    assert 8 <= done_before < 40
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr
    ids = [json.loads(line)["frame_id"] for line in gens.read_text().splitlines()]
    assert sorted(ids) == [f"f{i:03d}" for i in range(40)]  # all there, none twice
    meta = json.loads((gens.parent / "run.json").read_text())
    assert meta["status"] == "complete" and len(meta["sessions"]) == 2


def test_sigterm_stops_cleanly_and_stops_the_simulator(tmp_path):
    ds = make_dataset(tmp_path / "ds", 40)
    cmd = [sys.executable, "-m", "bench", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
           "runner.progress=false", "runner.concurrency=1", "model.sim.per_token_s=0.003"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        found = list((tmp_path / "runs").glob("t/sim/*/generations.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    run_dir = found[0].parent
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert "re-run the same command to resume" in err
    log = (run_dir / "server.log").read_text()
    assert "shutting down" in log  # the simulator was stopped, not orphaned


def test_a_real_model_config_pointed_at_the_simulator_is_labelled_simulated(tmp_path):
    from bench.config import SimConfig
    from bench.sim.server import SimServer

    ds = make_dataset(tmp_path / "ds", 3)
    with SimServer(SimConfig(ttft_s=0.0, per_token_s=0.0)).in_thread() as server:
        code, run_dir = run_bench(f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
                                  "runner.progress=false", "model=openai_compatible",
                                  f"model.base_url={server.base_url}/v1", "model.name=some-model")
    assert code == 0
    assert json.loads((run_dir / "metrics.json").read_text())["simulated"] is True
    assert json.loads((run_dir / "run.json").read_text())["simulated"] is True


def test_retry_failed_resends_only_failed_frames_and_keeps_the_old_records(tmp_path):
    from bench.config import SimConfig
    from bench.server_process import free_port
    from bench.sim.server import SimServer

    ds = make_dataset(tmp_path / "ds", 12)
    port = free_port()
    ovr = [f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}", "runner.progress=false",
           "model=openai_compatible", f"model.base_url=http://127.0.0.1:{port}/v1", "model.name=m",
           "runner.retry.max_attempts=1"]
    with SimServer(SimConfig(server_error_rate=0.5, ttft_s=0.0, per_token_s=0.0), port=port).in_thread():
        code, run_dir = run_bench(*ovr)  # an outage: half the requests fail
    first = {r["frame_id"]: r for r in load_records(run_dir)}
    failed = sorted(fid for fid, r in first.items() if r["status"] == "failed")
    assert code == 0 and failed and len(first) == 12
    with SimServer(SimConfig(ttft_s=0.0, per_token_s=0.0), port=port).in_thread():  # the server recovered
        code, again = run_bench(*ovr, "retry_failed=true")
    assert code == 0 and again == run_dir  # the same run, continued
    records = {r["frame_id"]: r for r in load_records(run_dir)}
    assert sorted(records) == sorted(first) and all(r["status"] == "ok" for r in records.values())
    superseded = [json.loads(x)["frame_id"] for x in (run_dir / "superseded.jsonl").read_text().splitlines()]
    assert sorted(superseded) == failed  # the old failures are kept, not lost
    assert all(first[f] == records[f] for f in first if f not in failed)  # good records untouched
    assert json.loads((run_dir / "metrics.json").read_text())["failed"] == 0


def test_a_missing_judge_key_stops_before_the_run(tmp_path, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    ds = make_dataset(tmp_path / "ds", 2)
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides(tmp_path, ds, "judge=gemini-2.5-pro"))
    assert run(cfg, summary=False) == 2
    assert not (tmp_path / "runs").exists()  # nothing was run, nothing was paid for


def test_a_server_that_is_down_stops_the_run_early(tmp_path):
    from bench.server_process import free_port

    ds = make_dataset(tmp_path / "ds", 20)
    code, run_dir = run_bench(f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
                              "runner.progress=false", "model=openai_compatible", "model.name=x",
                              f"model.base_url=http://127.0.0.1:{free_port()}/v1", "runner.concurrency=1",
                              "runner.retry.base_delay_s=0.01")
    assert code == 1
    # The frames that found it down are not the model's failures: unrecorded, they run on resume.
    assert load_records(run_dir) == []
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"


def test_retry_failed_on_the_embedded_simulator_is_a_fresh_draw(tmp_path):
    ds = make_dataset(tmp_path / "ds", 30)
    flaky = overrides(tmp_path, ds, "model.sim.server_error_rate=0.3", "runner.retry.max_attempts=1")
    code, run_dir = run_bench(*flaky)
    failed_before = {r["frame_id"] for r in load_records(run_dir) if r["status"] == "failed"}
    code, again = run_bench(*flaky, "retry_failed=true")
    assert code == 0 and again == run_dir and failed_before
    failed_after = {r["frame_id"] for r in load_records(run_dir) if r["status"] == "failed"}
    assert failed_after != failed_before and len(failed_after) < len(failed_before)


def _children(pid: int, marker: str) -> list[int]:
    """Pids of `pid`'s child processes whose command line contains `marker` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and marker in cmdline:
            out.append(int(stat.parent.name))
    return out


def _wait_for_records(runs: Path, pattern: str, at_least: int, proc: subprocess.Popen) -> Path:
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        found = list(runs.glob(pattern))
        if found and len(found[0].read_text().splitlines()) >= at_least:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"the run never recorded {at_least} frames")


def _assert_resumes_and_finishes(cmd: list[str], gens: Path, n: int) -> None:
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stderr  # the same run, continued: not a new one from zero
    ids = [json.loads(line)["frame_id"] for line in gens.read_text().splitlines()]
    assert sorted(ids) == [f"f{i:03d}" for i in range(n)]  # every frame once
    records = load_records(gens.parent)
    assert all(r["status"] == "ok" for r in records)  # no frame burnt as a connection failure
    meta = json.loads((gens.parent / "run.json").read_text())
    assert meta["status"] == "complete" and [s["status"] for s in meta["sessions"]] == ["failed", "complete"]


def test_killing_the_simulator_mid_run_stops_the_run_and_the_same_command_resumes(tmp_path):
    ds = make_dataset(tmp_path / "ds", 40)
    cmd = [sys.executable, "-m", "bench", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
           "runner.progress=false", "runner.concurrency=2", "model.sim.per_token_s=0.002"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        gens = _wait_for_records(tmp_path / "runs", "t/sim/*/generations.jsonl", 6, proc)
        (sim_pid,) = _children(proc.pid, "bench.sim")
        os.kill(sim_pid, signal.SIGKILL)  # the server dies; the harness lives
        killed = time.time()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.time() - killed < 15  # stopped within seconds, not after burning every frame's retries
    assert proc.returncode == 1, err
    assert "simulator" in err and "killed by signal 9" in err and "last log lines" in err  # cause + log tail
    before = load_records(gens.parent)
    assert 6 <= len(before) < 40
    assert all(r["status"] == "ok" for r in before)  # in-flight and unsent frames left unrecorded
    assert json.loads((gens.parent / "run.json").read_text())["status"] == "failed"
    _assert_resumes_and_finishes(cmd, gens, 40)


def test_an_external_endpoint_that_goes_away_stops_the_run_and_the_same_command_resumes(tmp_path):
    from bench.server_process import free_port

    ds = make_dataset(tmp_path / "ds", 40)
    port = free_port()
    sim_cmd = [sys.executable, "-m", "bench.sim", "--port", str(port), "--set", "ttft_s=0.01",
               "--set", "per_token_s=0.002"]
    cmd = [sys.executable, "-m", "bench", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
           "runner.progress=false", "runner.concurrency=2", "model=openai_compatible", "model.name=m",
           f"model.base_url=http://127.0.0.1:{port}/v1", "runner.retry.base_delay_s=0.05"]
    server = subprocess.Popen(sim_cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc = None
    try:
        assert '"ready"' in server.stdout.readline()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        gens = _wait_for_records(tmp_path / "runs", "t/openai_compatible/*/generations.jsonl", 6, proc)
        server.kill()  # the endpoint goes away mid-run
        server.wait()
        stopped = time.time()
        _, err = proc.communicate(timeout=60)
    finally:
        for p in (server, proc):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert time.time() - stopped < 30
    assert proc.returncode == 1, err
    assert "in a row" in err and f"127.0.0.1:{port}" in err
    before = load_records(gens.parent)
    assert 6 <= len(before) < 40 and all(r["status"] == "ok" for r in before)
    server = subprocess.Popen(sim_cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert '"ready"' in server.stdout.readline()  # the endpoint is back
        _assert_resumes_and_finishes(cmd, gens, 40)
    finally:
        server.terminate()
        server.wait(timeout=10)
