"""Replicas: least-loaded routing, a dead replica out of rotation and named, per-endpoint metrics (issue 13).

Unit tests drive ReplicaBackend with in-process doubles; the end-to-end tests start real servers on
127.0.0.1 (simulator replicas, the vLLM stand-in on two "GPUs", a list of URLs with a dead one).
"""

import asyncio
import io
import json
import os
import signal
import sys
import threading
import time

import pytest
from hydra import compose, initialize_config_dir
from rich.console import Console

from bench.__main__ import conf_dir
from bench.app import run
from bench.backends.base import BackendError, CaptionResponse, StreamClock, Usage
from bench.backends.replicas import DEAD_AFTER, Replica, ReplicaBackend
from bench.config import SimConfig
from bench.server_process import free_port, start_simulator
from bench.serving import ServingError, check_serving, gpu_assignment
from bench.store import load_records
from bench.summary import print_summary

from .conftest import SEED_CAPTION
from .test_e2e_sim import make_dataset, overrides

STANDIN = os.path.join(os.path.dirname(__file__), "standins", "fake_vllm.py")


class Double:
    """One replica's server, in process: answers after `delay`, or refuses to connect."""

    name = "double"

    def __init__(self, delay=0.01, refuse=False):
        self.delay, self.refuse = delay, refuse
        self.calls = 0
        self.in_flight = self.max_in_flight = 0

    async def generate(self, request):
        self.calls += 1
        if self.refuse:
            raise BackendError("connection", "Connection refused")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            clock = StreamClock()
            await asyncio.sleep(self.delay)
            text = json.dumps(SEED_CAPTION)
            clock.chunk(text)
            return CaptionResponse(text=text, finish_reason="stop", usage=Usage(700, 250), t_sent=clock.t_sent,
                                   t_first_token=clock.t_first_token, t_last_token=clock.done())
        finally:
            self.in_flight -= 1

    async def aclose(self):
        pass


async def _many(backend, n, concurrency):
    """n generate() calls, `concurrency` at a time; returns (endpoints answered, errors)."""
    answered, errors = [], []
    sem = asyncio.Semaphore(concurrency)

    async def one():
        async with sem:
            try:
                answered.append((await backend.generate(None)).endpoint)
            except BackendError as exc:
                errors.append(exc)

    await asyncio.gather(*(one() for _ in range(n)))
    return answered, errors


async def test_requests_go_to_the_least_loaded_replica():
    fast, slow = Double(delay=0.01), Double(delay=0.1)
    backend = ReplicaBackend([Replica("http://fast/v1", fast), Replica("http://slow/v1", slow)])
    answered, errors = await _many(backend, 60, concurrency=4)
    assert not errors and len(answered) == 60
    # The slow replica holds its requests 10x longer, so it has the most in flight most of the time:
    # least-loaded routing sends it far fewer (round-robin would give each 30).
    assert answered.count("http://fast/v1") >= 40 and answered.count("http://slow/v1") >= 1
    assert max(fast.max_in_flight, slow.max_in_flight) <= 3  # 4 in flight spread, never all on one


async def test_idle_replicas_share_requests_evenly():
    a, b, c = Double(), Double(), Double()
    backend = ReplicaBackend([Replica("http://a", a), Replica("http://b", b), Replica("http://c", c)])
    answered, _ = await _many(backend, 9, concurrency=1)  # one at a time: ties broken by fewest sent
    assert (a.calls, b.calls, c.calls) == (3, 3, 3)


async def test_a_replica_that_refuses_connections_is_taken_out_and_named():
    dead, live = Double(refuse=True), Double()
    named = []
    backend = ReplicaBackend([Replica("http://dead/v1", dead), Replica("http://live/v1", live)], on_out=named.append)
    answered, errors = await _many(backend, 30, concurrency=1)
    # Each failed attempt carries the replica it went to (the runner retries it, routed afresh).
    assert all(e.kind == "connection" and e.endpoint == "http://dead/v1" for e in errors)
    assert dead.calls == DEAD_AFTER  # not burnt through: out after DEAD_AFTER refusals in a row
    assert len(errors) == DEAD_AFTER and set(answered) == {"http://live/v1"}
    assert [r.url for r in named] == ["http://dead/v1"] and "failed to connect" in named[0].out
    assert backend.all_gone() is None
    report = {r["endpoint"]: r for r in backend.report()}
    assert report["http://dead/v1"]["out_of_rotation"] and report["http://dead/v1"]["errors"] == {"connection": 3}
    assert not report["http://live/v1"]["out_of_rotation"]


async def test_an_answer_in_between_resets_the_count():
    flaky = Double()
    backend = ReplicaBackend([Replica("http://flaky", flaky)])
    for _ in range(5):  # refusals never DEAD_AFTER in a row: a flaky replica stays in rotation
        flaky.refuse = True
        for _ in range(DEAD_AFTER - 1):
            with pytest.raises(BackendError):
                await backend.generate(None)
        flaky.refuse = False
        await backend.generate(None)
    assert backend.all_gone() is None


async def test_a_managed_replica_whose_process_exited_is_out_before_any_request():
    exited = {"a": None}
    a, b = Double(), Double()
    backend = ReplicaBackend([Replica("http://a", a, gone=lambda: exited["a"]), Replica("http://b", b)])
    exited["a"] = "vllm serve (replica 0) was killed by signal 9 mid-run"
    await _many(backend, 5, concurrency=2)
    assert a.calls == 0 and b.calls == 5


async def test_when_every_replica_is_out_the_run_is_told_why():
    backend = ReplicaBackend([Replica("http://a", Double(refuse=True)), Replica("http://b", Double(refuse=True))])
    _, errors = await _many(backend, 10, concurrency=1)
    reason = backend.all_gone()
    assert reason is not None and "http://a" in reason and "http://b" in reason
    assert "every replica is out of rotation" in errors[-1].message  # no request is sent anywhere


def test_a_replica_listed_twice_is_refused():
    with pytest.raises(ValueError, match="more than once"):
        ReplicaBackend([Replica("http://a", Double()), Replica("http://a", Double())])


# ------------------------------------------------------------------ end to end


def _compose(*ovr):
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="config", overrides=list(ovr))


def _run_dir(tmp_path):
    return sorted((tmp_path / "runs").glob("t/*/*"))[-1]


def test_simulator_replicas_share_a_run_and_metrics_say_per_endpoint(tmp_path):
    ds = make_dataset(tmp_path / "ds", 16)
    cfg = _compose("model=sim", *overrides(tmp_path, ds, "model.sim.replicas=2", "runner.concurrency=4"))
    assert run(cfg, summary=False) == 0
    run_dir = _run_dir(tmp_path)
    records = load_records(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    endpoints = {r["endpoint"] for r in records}
    assert len(endpoints) == 2 and all(e.startswith("http://127.0.0.1:") for e in endpoints)
    by = metrics["by_endpoint"]
    assert set(by) == endpoints
    assert sum(e["completed"] for e in by.values()) == metrics["completed"] == 16
    assert all(e["completed"] >= 4 for e in by.values())  # both did real work
    assert all(e["e2el_s"]["p50"] is not None for e in by.values())
    assert (run_dir / "server-0.log").exists() and (run_dir / "server-1.log").exists()
    assert metrics["replicas_out_of_rotation"] == [] and metrics["simulated"] is True


def test_a_dead_url_in_the_list_is_named_and_no_frame_is_lost(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds", 10)
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with start_simulator(SimConfig(ttft_s=0.01, per_token_s=0.0002), tmp_path / "sim.log") as sim:
        live = sim.base_url + "/v1"
        cfg = _compose("model=sim", *overrides(tmp_path, ds, "model.serve=", f"model.base_url=[{dead},{live}]",
                                                "runner.concurrency=4", "runner.retry.base_delay_s=0.01"))
        assert run(cfg, summary=False) == 0
    run_dir = _run_dir(tmp_path)
    records = load_records(run_dir)
    assert len(records) == 10 and all(r["status"] == "ok" for r in records)  # retried on the live one
    assert {r["endpoint"] for r in records} == {live}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    out = metrics["replicas_out_of_rotation"]
    assert [o["endpoint"] for o in out] == [dead] and "failed to connect" in out[0]["reason"]
    assert metrics["by_endpoint"][dead]["failed_attempts"]["connection"] >= DEAD_AFTER
    assert metrics["by_endpoint"][dead]["completed"] == 0
    assert f"replica out of rotation: {dead}" in capsys.readouterr().err
    shown = io.StringIO()
    print_summary(Console(file=shown, width=250), metrics, label="sim", run_dir=run_dir, status="complete")
    row = next(line for line in shown.getvalue().splitlines() if dead in line)
    assert "0 answered" in row and "OUT OF ROTATION" in row


def test_every_url_dead_stops_the_run_naming_each(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds", 6)
    a, b = (f"http://127.0.0.1:{free_port()}/v1" for _ in range(2))
    cfg = _compose("model=sim", *overrides(tmp_path, ds, "model.serve=", f"model.base_url=[{a},{b}]",
                                            "runner.retry.base_delay_s=0.01"))
    assert run(cfg, summary=False) == 1
    err = capsys.readouterr().err
    assert "every replica is out of rotation" in err and a in err and b in err
    assert load_records(_run_dir(tmp_path)) == []  # not recorded as the model's failures: resumable


def _kill_when_recorded(runs, pidfile, after):
    """Kill the replica whose pid is in `pidfile` once `after` frames are recorded (mid-run)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = sum(len(p.read_bytes().splitlines()) for p in runs.glob("t/*/*/generations.jsonl"))
        if done >= after and pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
            return
        time.sleep(0.02)


def test_managed_vllm_replicas_one_gpu_each_and_one_dies_mid_run(tmp_path, monkeypatch, capsys):
    ds = make_dataset(tmp_path / "ds", 30)
    monkeypatch.setenv("FAKE_VLLM_PIDFILE", str(tmp_path / "pid-{gpu}"))
    cfg = _compose("model=cliptagger", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
                   "runner.progress=false", f"model.vllm.command=[{sys.executable},{STANDIN}]",
                   "model.vllm.require_gpu=false", "model.simulated=true", "model.vllm.replicas=2",
                   "runner.concurrency=4", "runner.retry.base_delay_s=0.01")
    killer = threading.Thread(target=_kill_when_recorded, args=(tmp_path / "runs", tmp_path / "pid-1", 8))
    killer.start()
    try:
        assert run(cfg, summary=False) == 0
    finally:
        killer.join()
    run_dir = _run_dir(tmp_path)
    info = json.loads((run_dir / "server.json").read_text())
    assert [r["cuda_visible_devices"] for r in info["replicas"]] == ["0", "1"]
    assert "CUDA_VISIBLE_DEVICES=1" in (run_dir / "server-1.log").read_text()
    records = load_records(run_dir)
    assert len(records) == 30 and all(r["status"] == "ok" for r in records)  # nothing lost, nothing failed
    metrics = json.loads((run_dir / "metrics.json").read_text())
    out = metrics["replicas_out_of_rotation"]
    assert len(out) == 1 and "replica 1" in out[0]["reason"] and "signal 9" in out[0]["reason"]
    assert len(metrics["by_endpoint"]) == 2  # both served frames before the kill
    assert "replica out of rotation" in capsys.readouterr().err


def test_gpu_assignment_and_refusals():
    cfg = _compose("model=cliptagger", "model.vllm.replicas=2", "model.vllm.tensor_parallel_size=2")
    assert gpu_assignment(cfg.model.vllm) == [[0, 1], [2, 3]]
    cfg = _compose("model=cliptagger", "model.vllm.replicas=2", "model.vllm.gpus=[4,6]")
    assert gpu_assignment(cfg.model.vllm) == [[4], [6]]
    assert gpu_assignment(_compose("model=cliptagger").model.vllm) is None  # one server: environment untouched
    with pytest.raises(ServingError, match="needs 2 GPUs"):
        gpu_assignment(_compose("model=cliptagger", "model.vllm.replicas=2", "model.vllm.gpus=[3]").model.vllm)
    with pytest.raises(ServingError, match="more than once"):
        check_serving(_compose("model=sim", "model.serve=", "model.base_url=[http://a/v1,http://a/v1]").model)
    with pytest.raises(ServingError, match="stream_interval=0"):
        check_serving(_compose("model=sim", "model.sim.stream_interval=0").model)


def test_more_replicas_than_gpus_is_refused_before_a_run_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("bench.serving.gpu_names", lambda: ["NVIDIA H100 80GB"])  # one GPU here
    ds = make_dataset(tmp_path / "ds", 2)
    cfg = _compose("model=cliptagger", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
                   "runner.progress=false", f"model.vllm.command=[{sys.executable},{STANDIN}]",
                   "model.vllm.replicas=2")
    assert run(cfg, summary=False) == 2
    err = capsys.readouterr().err
    assert "model.vllm.replicas=2" in err and "finds 1" in err
    assert not (tmp_path / "runs").exists()
