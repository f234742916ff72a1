"""The runner's load path: lazy frame iterables, images prepared ahead, the open-loop schedule, and the
client's own distortion in metrics.json and the summary (issue 12)."""

import io
import json
import random

import pytest
from hydra import compose, initialize_config_dir
from rich.console import Console

from bench.__main__ import conf_dir
from bench.app import run
from bench.summary import print_summary

from .test_e2e_sim import make_dataset, overrides, run_bench
from .test_runner import ScriptedBackend, _runner, _setup


class RecordingBackend(ScriptedBackend):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.images = []

    async def generate(self, request):
        self.images.append(request.image)
        return await super().generate(request)


async def test_run_reads_a_lazy_iterable_and_sends_each_frame_once(tmp_path, prompt):
    frames, store = _setup(tmp_path, n=10)
    backend = RecordingBackend(delay=0.005)
    runner = _runner(prompt, store, backend, concurrency=3)
    await runner.run(f for f in frames)  # a generator, read once
    assert set(store.records) == {f.id for f in frames}
    assert backend.calls == 10 and backend.max_in_flight <= 3 and runner.sent == 10  # the bad frame is not sent
    assert store.records["bad"]["validity"]["category"] == "bad_input"
    assert all(isinstance(r["prep_s"], float) and r["prep_s"] >= 0 for r in store.records.values())
    stats = runner.client_stats()
    assert stats["lag_samples"] > 0 and stats["cpu_ms_per_request"] is not None
    # frames already recorded are skipped, the iterable is still read lazily
    await _runner(prompt, store, backend).run(f for f in frames)
    assert backend.calls == 10


async def test_open_loop_keeps_the_poisson_schedule_with_prepared_frames(tmp_path, prompt):
    frames, store = _setup(tmp_path, n=8, bad=False)
    rate, seed = 40.0, 7
    await _runner(prompt, store, ScriptedBackend(delay=0.01), mode="open", rate=rate, concurrency=8,
                  seed=seed).run(iter(frames))
    scheduled = [store.records[f.id]["t_scheduled"] for f in frames]
    arrivals = random.Random(seed)
    gaps = [arrivals.expovariate(rate) for _ in frames]
    # the schedule is the seeded Poisson draw, frame by frame in order, whatever preparation took
    for i in range(1, len(frames)):
        assert abs((scheduled[i] - scheduled[i - 1]) - gaps[i]) < 1e-6
    assert all(store.records[f.id]["t_first_sent"] >= store.records[f.id]["t_scheduled"] for f in frames)


def test_metrics_and_summary_say_how_much_the_client_distorted(tmp_path):
    ds = make_dataset(tmp_path / "ds", 4)
    code, run_dir = run_bench(*overrides(tmp_path, ds))
    assert code == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    client = metrics["client"]
    assert client["session"] == 1 and client["lag_samples"] > 0
    assert set(client["lag_ms"]) == {"mean", "p50", "p90", "p99", "max"}
    assert client["lag_ms"]["p50"] <= client["lag_ms"]["p99"] <= client["lag_ms"]["max"]
    assert isinstance(client["client_limited"], bool) and client["cpu_ms_per_request"] > 0
    assert client["client_limited"] == bool(client["reasons"])
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["sessions"][-1]["client_limited"] == client["client_limited"]

    def summary(m):
        out = io.StringIO()
        print_summary(Console(file=out, width=300), m, label="sim", run_dir=run_dir, status="complete")
        return out.getvalue()

    assert client["event_loop"] == "uvloop"  # installed with capbench, the default (bench.eventloop)
    assert "client (this session)" in summary(metrics) and "event loop (uvloop)" in summary(metrics)
    limited = {**client, "client_limited": True, "reasons": ["event-loop lag p99 42.0 ms >= 10 ms"]}
    text = summary({**metrics, "client": limited})
    assert "CLIENT-LIMITED" in text and "42.0 ms" in text
    calm = {**client, "client_limited": False, "reasons": []}
    assert "CLIENT-LIMITED" not in summary({**metrics, "client": calm})


def test_the_standard_event_loop_can_be_chosen_and_an_unknown_one_is_refused(tmp_path):
    ds = make_dataset(tmp_path / "ds", 3)
    code, run_dir = run_bench(*overrides(tmp_path, ds, "runner.event_loop=asyncio"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert code == 0 and metrics["completed"] == 3 and metrics["client"]["event_loop"] == "asyncio"
    out = io.StringIO()
    code = run(_cfg(*overrides(tmp_path, ds, "runner.event_loop=tokio")), Console(file=out, width=300))
    assert code == 2 and "runner.event_loop='tokio' is not one of auto, uvloop, asyncio" in out.getvalue()


def test_uvloop_missing_falls_back_under_auto_and_is_named_when_asked_for(monkeypatch):
    import sys

    from bench.eventloop import EventLoopError, loop_factory

    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert loop_factory("auto")[0] == "asyncio"
    with pytest.raises(EventLoopError, match="pip install uvloop"):
        loop_factory("uvloop")


def _cfg(*ovr):
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="config", overrides=list(ovr))
