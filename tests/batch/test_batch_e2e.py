"""runner=batch end to end: each provider's official SDK against the simulator's batch protocols over TCP.

The simulator runs outside the harness (as a provider does), so a run that stops can resume against
the same batches. Stopping while batches are in progress uses runner.batch.timeout_s (the run stops
with exit 1, resumable); the SIGKILL test kills the process itself."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from hydra import compose, initialize_config_dir

from bench.__main__ import conf_dir
from bench.app import run
from bench.batch.journal import Journal
from bench.config import SimConfig, register
from bench.sim.batch import BATCH
from bench.sim.server import SimServer
from bench.store import load_records

from ..conftest import ROOT
from ..test_e2e_sim import make_dataset

register()

FAST = dict(ttft_s=0.0, ttft_jitter_s=0.0, per_token_s=0.0, per_token_jitter_s=0.0)
MODELS = {"openai_chat": ("sim", "/v1"), "anthropic": ("sim_anthropic", ""), "gemini": ("sim_gemini", "")}


def batch_overrides(tmp_path, ds, sim, backend, *extra):
    model, suffix = MODELS[backend]
    return [f"model={model}", "model.serve=", f"model.base_url={sim.base_url}{suffix}", "runner=batch",
            f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}", "runner.progress=false",
            "runner.batch.poll_interval_s=0.1", "reference=null", *extra]


def run_bench(ovr):
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(ovr))
    code = run(cfg, summary=False)
    run_dir = sorted((cfg.runs_dir and __import__("pathlib").Path(cfg.runs_dir)).glob("t/*/*"))[-1]
    return code, run_dir


def metrics_of(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.parametrize("backend", ["openai_chat", "anthropic", "gemini"])
def test_stopped_while_polling_resumes_without_resubmitting(tmp_path, backend):
    ds = make_dataset(tmp_path / "ds", 12)
    with SimServer(SimConfig(batch_turnaround_s=2.0, **FAST)).in_thread() as sim:
        ovr = batch_overrides(tmp_path, ds, sim, backend, "runner.batch.max_requests=5", "runner.batch.timeout_s=0.3")
        code, run_dir = run_bench(ovr)
        assert code == 1  # stopped: batches still running, nothing recorded yet
        assert load_records(run_dir) == []
        journal = Journal(run_dir)
        assert sorted(e.requests for e in journal.entries.values()) == [2, 5, 5]  # split by max_requests
        assert all(e.open for e in journal.entries.values())
        assert sim.app[BATCH].submitted == 3
        time.sleep(2.0)
        code, again = run_bench(ovr)  # the same command
        assert code == 0 and again == run_dir
        assert sim.app[BATCH].submitted == 3  # polled, never submitted again
    ids = [r["frame_id"] for r in load_records(run_dir)]
    assert sorted(ids) == [f"f{i:03d}" for i in range(12)]  # every frame exactly once
    m = metrics_of(run_dir)
    assert m["completed"] == 12 and m["failed"] == 0 and m["simulated"] is True
    b = m["batch"]
    assert b["submitted"] == 3 and b["open"] == 0 and b["turnaround_s"]["n"] == 3
    assert b["turnaround_s"]["p50"] >= 1.5 and b["frames_per_hour"] > 0
    # Batch price = list price x 0.5 (no batch price in the database for the simulator's stated price).
    assert b["cost_per_million_usd"] == pytest.approx(b["on_demand_cost_per_million_usd"] * 0.5)
    assert m["cost"]["price"]["kind"] == "batch" and "50%" in m["cost"]["price"]["source"]
    assert m["latency"]["not_applicable"].startswith("not measured in batch mode")
    assert m["ttft_p50_s"] is None and m["requests_per_s"] is None
    recs = load_records(run_dir)
    assert all(r["served_by_simulator"] for r in recs)
    assert sum(r["cost_usd"] for r in recs) == pytest.approx(
        sum(r["usage"]["input_tokens"] * 0.15 + r["usage"]["output_tokens"] * 0.25 for r in recs) / 1e6)


@pytest.mark.parametrize("backend", ["openai_chat", "anthropic", "gemini"])
def test_damaged_result_file_nothing_lost_nothing_counted_twice(tmp_path, backend):
    ds = make_dataset(tmp_path / "ds", 6)
    faults = ["unknown_id", "duplicate", "missing"] + (["non_json"] if backend != "gemini" else [])
    cfg = SimConfig(batch_turnaround_s=0.3, batch_result_faults=faults, **FAST)
    with SimServer(cfg).in_thread() as sim:
        code, run_dir = run_bench(batch_overrides(tmp_path, ds, sim, backend))
    assert code == 0
    recs = load_records(run_dir)
    assert sorted(r["frame_id"] for r in recs) == [f"f{i:03d}" for i in range(6)]
    missing = [r for r in recs if r["status"] == "failed"]
    assert len(missing) == 1 and missing[0]["error"]["kind"] == "batch_missing"
    problems = metrics_of(run_dir)["batch"]["result_problems"]
    want = {"unknown_custom_id": 1, "duplicate_custom_id": 1, "missing_results": 1}
    if backend != "gemini":
        want["unreadable_lines"] = 1
    assert problems == want
    fetched = Journal(run_dir).entries
    assert [e.fetched["unknown_custom_ids"] for e in fetched.values()] == [["no-such-request"]]


@pytest.mark.parametrize(("backend", "on_demand"), [("anthropic", False), ("anthropic", True),
                                                   ("openai_chat", False), ("gemini", False)])
def test_failed_inside_a_batch_counted_with_reason_and_resent(tmp_path, backend, on_demand):
    ds = make_dataset(tmp_path / "ds", 20)
    cfg = SimConfig(batch_turnaround_s=0.3, batch_error_rate=0.2, batch_expire_rate=0.2, **FAST)
    with SimServer(cfg).in_thread() as sim:
        ovr = batch_overrides(tmp_path, ds, sim, backend)
        code, run_dir = run_bench(ovr)
        assert code == 0
        failed = {r["frame_id"]: r["error"] for r in load_records(run_dir) if r["status"] == "failed"}
        kinds = {e["kind"] for e in failed.values()}
        assert kinds == {"batch_errored", "batch_expired"}
        assert all(e["message"] for e in failed.values())  # the provider's reason
        m = metrics_of(run_dir)
        assert m["batch"]["failed_by_reason"] == {k: sum(e["kind"] == k for e in failed.values()) for k in kinds}
        sim.app[BATCH].state.cfg.batch_error_rate = sim.app[BATCH].state.cfg.batch_expire_rate = 0.0
        extra = ["retry_failed=true"] + (["runner.batch.retry_on_demand=true"] if on_demand else [])
        code, again = run_bench(ovr + extra)
        assert code == 0 and again == run_dir
        assert sim.app[BATCH].submitted == (1 if on_demand else 2)  # only the failed frames went again
    recs = load_records(run_dir)
    assert sorted(r["frame_id"] for r in recs) == [f"f{i:03d}" for i in range(20)]
    assert all(r["status"] == "ok" for r in recs)
    resent = [r for r in recs if r["frame_id"] in failed]
    assert all((r.get("batch") is None) == on_demand for r in resent)
    superseded = (run_dir / "superseded.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["frame_id"] for x in superseded) == sorted(failed)


def test_a_batch_that_never_finishes_stops_the_run_resumably(tmp_path):
    ds = make_dataset(tmp_path / "ds", 4)
    with SimServer(SimConfig(batch_turnaround_s=0.1, batch_never_finish=True, **FAST)).in_thread() as sim:
        ovr = batch_overrides(tmp_path, ds, sim, "openai_chat", "runner.batch.timeout_s=0.5")
        code, run_dir = run_bench(ovr)
        assert code == 1 and load_records(run_dir) == []
        assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
        sim.app[BATCH].state.cfg.batch_never_finish = False
        code, again = run_bench(ovr)
        assert code == 0 and again == run_dir and sim.app[BATCH].submitted == 1
    assert len(load_records(run_dir)) == 4


def test_cancelled_batch_frames_are_recorded_as_cancelled(tmp_path):
    import asyncio

    from bench.batch.openai_batch import OpenAIBatch

    ds = make_dataset(tmp_path / "ds", 3)
    with SimServer(SimConfig(batch_turnaround_s=30.0, **FAST)).in_thread() as sim:
        ovr = batch_overrides(tmp_path, ds, sim, "openai_chat", "runner.batch.timeout_s=0.2")
        code, run_dir = run_bench(ovr)
        assert code == 1
        (entry,) = Journal(run_dir).entries.values()

        async def cancel():
            provider = OpenAIBatch("capbench-sim", f"{sim.base_url}/v1", "k")
            await provider.cancel(entry.batch_id)
            await provider.aclose()

        asyncio.run(cancel())
        time.sleep(0.3)
        code, _ = run_bench(ovr)
    assert code == 0
    recs = load_records(run_dir)
    assert [r["error"]["kind"] for r in recs] == ["batch_cancelled"] * 3


def test_sigkill_while_polling_then_resume(tmp_path):
    ds = make_dataset(tmp_path / "ds", 8)
    with SimServer(SimConfig(batch_turnaround_s=3.0, **FAST)).in_thread() as sim:
        cmd = [sys.executable, "-m", "bench", *batch_overrides(tmp_path, ds, sim, "openai_chat",
                                                               "runner.batch.max_requests=4")]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, env=env)
        deadline = time.time() + 60
        while time.time() < deadline and sim.app[BATCH].submitted < 2:
            time.sleep(0.05)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGKILL)  # mid-polling
        proc.wait()
        assert sim.app[BATCH].submitted == 2
        again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
        assert again.returncode == 0, again.stderr
        assert "polled, not submitted again" in again.stderr
        assert sim.app[BATCH].submitted == 2
    (run_dir,) = (tmp_path / "runs").glob("t/sim/*")
    assert sorted(r["frame_id"] for r in load_records(run_dir)) == [f"f{i:03d}" for i in range(8)]


def test_the_gate_accepts_a_batch_run_and_recomputes_its_batch_cost(tmp_path):
    from bench.gate.verify import load_checked_side
    from bench.load import load_run_data
    from bench.report.data import assemble

    ds = make_dataset(tmp_path / "ds", 4)
    with SimServer(SimConfig(batch_turnaround_s=0.2, **FAST)).in_thread() as sim:
        code, run_dir = run_bench(batch_overrides(tmp_path, ds, sim, "gemini"))
    assert code == 0
    load_checked_side(run_dir)  # metrics.json (batch prices, no TTFT) agrees with the records
    data = assemble(load_run_data([run_dir]), thumbnails=False)  # the report says why latency is empty
    assert any("TTFT and E2EL do not exist in batch mode" in n and "gemini Batch API" in n for n in data["notes"])
    assert all(f["runs"][0]["ttft"] is None and f["runs"][0]["e2el"] is None for f in data["frames"])
    m = metrics_of(run_dir)
    from rich.console import Console

    from bench.summary import print_summary

    console = Console(width=250, record=True)
    print_summary(console, m, label="sim_gemini", run_dir=run_dir, status="complete")
    text = console.export_text()
    assert "not measured in batch mode" in text and "TTFT p50" not in text and "SIMULATED" in text
    assert "batch vs on-demand $ per 1M" in text and "frames per hour" in text
    m["cost_per_million_usd"] = m["batch"]["on_demand_cost_per_million_usd"]  # as if priced on demand
    (run_dir / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(Exception, match="cost_per_million_usd"):
        load_checked_side(run_dir)


@pytest.mark.parametrize("backend", ["openai_chat", "gemini", "anthropic"])
def test_killed_between_submit_and_journal_finds_the_batch_or_resends(tmp_path, backend, monkeypatch):
    """The journal has `prepared` but no `submitted` line (killed in that instant): OpenAI and Gemini find the
    batch by its label and poll it; Anthropic cannot list by label, so the batch is abandoned (named) and its
    frames sent again."""
    from bench.batch.runner import BatchRunner

    ds = make_dataset(tmp_path / "ds", 3)
    with SimServer(SimConfig(batch_turnaround_s=0.3, **FAST)).in_thread() as sim:
        ovr = batch_overrides(tmp_path, ds, sim, backend)
        real = BatchRunner._submit_one

        async def killed_after_submit(self, chunk, size):
            self.journal.write = _drop_submitted(self.journal.write)
            await real(self, chunk, size)
            raise KeyboardInterrupt

        monkeypatch.setattr(BatchRunner, "_submit_one", killed_after_submit)
        code, run_dir = run_bench(ovr)
        assert code == 130 and sim.app[BATCH].submitted == 1
        monkeypatch.setattr(BatchRunner, "_submit_one", real)
        code, again = run_bench(ovr)
        assert code == 0 and again == run_dir
        assert sim.app[BATCH].submitted == (2 if backend == "anthropic" else 1)
    assert sorted(r["frame_id"] for r in load_records(run_dir)) == ["f000", "f001", "f002"]
    events = [json.loads(x)["event"] for x in (run_dir / "batches.jsonl").read_text().splitlines()]
    assert ("abandoned" in events) == (backend == "anthropic")


def _drop_submitted(write):
    def wrapper(event, **fields):
        if event != "submitted":
            write(event, **fields)
    return wrapper


@pytest.mark.parametrize("backend", ["openai_chat", "anthropic", "gemini"])
def test_a_real_model_config_at_the_simulator_is_labelled_simulated(tmp_path, backend):
    ds = make_dataset(tmp_path / "ds", 2)
    with SimServer(SimConfig(batch_turnaround_s=0.2, **FAST)).in_thread() as sim:
        code, run_dir = run_bench(batch_overrides(tmp_path, ds, sim, backend, "model.simulated=false"))
    assert code == 0
    assert all(r["served_by_simulator"] for r in load_records(run_dir))
    assert metrics_of(run_dir)["simulated"] is True
