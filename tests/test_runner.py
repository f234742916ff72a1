"""The runner with a scripted in-process backend (protocol tests over TCP are in test_e2e_sim.py)."""

import asyncio
import json

import pytest
from omegaconf import OmegaConf

from bench.backends.base import BackendError, CaptionResponse, Sampling, StreamClock, Usage
from bench.config import DatasetConfig, RetryConfig, RunnerConfig
from bench.frames import load_frames
from bench.metrics import compute_metrics
from bench.runner import UNREACHABLE_AFTER, EncodeSettings, FatalRunError, Prices, Runner, ServerWatch
from bench.store import RunStore

from .conftest import SEED_CAPTION, write_image, write_manifest


class ScriptedBackend:
    """Answers each frame by the script keyed on the image's colour; a test double, not a simulator."""

    name = "scripted"

    def __init__(self, delay=0.01, fail_first=0, fatal=False):
        self.delay, self.fail_first, self.fatal = delay, fail_first, fatal
        self.calls = 0
        self.in_flight = self.max_in_flight = 0

    async def generate(self, request):
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.fatal:
                raise BackendError("auth", "bad key", status=401)
            if self.calls <= self.fail_first:
                raise BackendError("rate_limit", "later", status=429, retry_after=0.0)
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


def _setup(tmp_path, n=6, bad=True):
    ds = tmp_path / "ds"
    entries = []
    for i in range(n):
        write_image(ds / f"f{i}.jpg", color=(i * 30, 10, 10))
        entries.append({"id": f"f{i}", "image": f"f{i}.jpg", "content_type": "photo" if i % 2 else "game"})
    if bad:
        (ds / "bad.jpg").write_text("nope")
        entries.append({"id": "bad", "image": "bad.jpg"})
    write_manifest(ds, entries)
    frames = load_frames(DatasetConfig(name="t", path=str(ds)))
    cfg = OmegaConf.create({"model": {"name": "m", "simulated": False}, "dataset": {"name": "t"}, "runner": {},
                            "runs_dir": str(tmp_path / "runs"), "resume": "auto", "run_dir": None})
    return frames, RunStore.open(cfg, model_label="m")


def _runner(prompt, store, backend, **runner_kw):
    rc = RunnerConfig(**{"retry": RetryConfig(base_delay_s=0.0), **runner_kw})
    return Runner(backend=backend, prompt=prompt, sampling=Sampling(), runner_cfg=rc,
                  encode=EncodeSettings(512, 85, 10_000_000), prices=Prices(0.30, 0.50), store=store, session=1)


async def test_closed_loop_records_every_frame_once_and_respects_concurrency(tmp_path, prompt):
    frames, store = _setup(tmp_path)
    backend = ScriptedBackend(fail_first=2)
    await _runner(prompt, store, backend, concurrency=2).run(frames)
    assert set(store.records) == {f.id for f in frames}
    assert backend.max_in_flight <= 2
    bad = store.records["bad"]
    assert bad["status"] == "failed" and bad["validity"]["category"] == "bad_input" and "bad" in bad["error"]["message"]
    ok = [r for r in store.records.values() if r["status"] == "ok"]
    assert all(r["validity"]["category"] == "valid" for r in ok)
    assert sum(r["n_attempts"] - 1 for r in ok) == 2  # the two 429s were retried and counted
    m = compute_metrics(list(store.records.values()), frames_total=len(frames),
                        model={"price": {"input_per_million": 0.30, "output_per_million": 0.50}},
                        runner={"mode": "closed"}, simulated=False)
    # the bad image is a bad input, reported apart: the model's rates are over the 6 frames it was sent
    assert m["completed"] == 6 and m["failed"] == 0 and m["bad_inputs"]["count"] == 1
    assert m["schema_valid_rate"] == 1.0 and m["schema_valid_rate_all_frames"] == 6 / 7
    assert m["mean_input_tokens"] == 700 and m["mean_output_tokens"] == 250  # failed attempts had no usage
    assert m["cost_per_million_usd"] == pytest.approx(335)
    assert m["by_content_type"]["photo"]["frames"] == 3


async def test_open_loop_schedules_at_the_target_rate_and_measures_from_schedule(tmp_path, prompt):
    frames, store = _setup(tmp_path, n=8, bad=False)
    await _runner(prompt, store, ScriptedBackend(delay=0.3), mode="open", rate=50.0, concurrency=2).run(frames)
    recs = list(store.records.values())
    m = compute_metrics(recs, frames_total=8, model={}, runner={"mode": "open", "rate": 50.0}, simulated=False)
    # 2 in flight x 0.3 s each cannot keep 50 req/s: queue time grows and the run says it is saturated.
    assert m["throughput"]["saturated"] is True
    assert m["latency"]["e2el_from_scheduled_s"]["max"] > m["latency"]["e2el_s"]["max"] + 0.5


async def test_fatal_error_stops_early_without_recording(tmp_path, prompt):
    frames, store = _setup(tmp_path, bad=False)
    backend = ScriptedBackend(fatal=True)
    with pytest.raises(FatalRunError, match="bad key"):
        await _runner(prompt, store, backend, concurrency=1).run(frames)
    assert backend.calls == 1 and store.records == {}


async def test_open_loop_that_keeps_up_is_not_saturated(tmp_path, prompt):
    frames, store = _setup(tmp_path, n=12, bad=False)
    await _runner(prompt, store, ScriptedBackend(delay=0.01), mode="open", rate=20.0, concurrency=64).run(frames)
    m = compute_metrics(list(store.records.values()), frames_total=12, model={}, runner={"mode": "open", "rate": 20.0},
                        simulated=False)
    assert m["throughput"]["saturated"] is False
    assert m["throughput"]["achieved_rate"] > 5  # Poisson over 12 arrivals: noisy, but the right order


class ConnectionDropsBackend(ScriptedBackend):
    """Refuses the connection on the first `refuse` calls, then answers; or hangs once `hang_after` calls came."""

    def __init__(self, refuse=0, hang_after=None):
        super().__init__(delay=0.0)
        self.refuse, self.hang_after = refuse, hang_after

    async def generate(self, request):
        self.calls += 1
        if self.calls <= self.refuse:
            raise BackendError("connection", "connection refused")
        if self.hang_after is not None and self.calls > self.hang_after:
            await asyncio.sleep(60)  # in flight when the server dies
        self.calls -= 1  # counted once, by the parent
        return await super().generate(request)


async def test_connection_failures_followed_by_an_answer_are_recorded_as_the_frames_own(tmp_path, prompt):
    frames, store = _setup(tmp_path, bad=False)
    backend = ConnectionDropsBackend(refuse=UNREACHABLE_AFTER - 1)
    await _runner(prompt, store, backend, concurrency=1, retry=RetryConfig(max_attempts=1)).run(frames)
    assert len(store.records) == 6  # a short streak: the server answered after it, so they count
    failed = [r for r in store.records.values() if r["status"] == "failed"]
    assert len(failed) == UNREACHABLE_AFTER - 1 and all(r["error"]["kind"] == "connection" for r in failed)


async def test_connection_failures_in_a_row_stop_the_run_and_are_not_recorded(tmp_path, prompt):
    frames, store = _setup(tmp_path, bad=False)
    backend = ConnectionDropsBackend(refuse=100)
    runner = Runner(backend=backend, prompt=prompt, sampling=Sampling(),
                    runner_cfg=RunnerConfig(concurrency=1, retry=RetryConfig(max_attempts=1)),
                    encode=EncodeSettings(512, 85, 10_000_000), prices=Prices(None, None), store=store, session=1,
                    server=ServerWatch("http://user:secret@127.0.0.1:9/v1"))
    with pytest.raises(FatalRunError, match="3 frames in a row failed to connect") as exc:
        await runner.run(frames)
    assert backend.calls == UNREACHABLE_AFTER and store.records == {}  # they resume, not burnt as failures
    assert "127.0.0.1:9" in str(exc.value) and "secret" not in str(exc.value)


async def test_a_dead_server_process_stops_the_run_and_leaves_in_flight_frames_unrecorded(tmp_path, prompt):
    frames, store = _setup(tmp_path, n=8, bad=False)
    backend = ConnectionDropsBackend(hang_after=3)
    state = {"dead": False}

    async def kill_later():
        while len(store.records) < 3:
            await asyncio.sleep(0.01)
        state["dead"] = True

    runner = Runner(backend=backend, prompt=prompt, sampling=Sampling(), runner_cfg=RunnerConfig(concurrency=2),
                    encode=EncodeSettings(512, 85, 10_000_000), prices=Prices(None, None), store=store, session=1,
                    server=ServerWatch(None, lambda: "simulator (pid 1) was killed by signal 9" if state["dead"]
                                       else None))
    killer = asyncio.ensure_future(kill_later())
    t0 = asyncio.get_running_loop().time()
    with pytest.raises(FatalRunError, match="killed by signal 9"):
        await runner.run(frames)
    await killer
    assert asyncio.get_running_loop().time() - t0 < 10  # not the 60 s the hung requests would take
    assert len(store.records) == 3 and all(r["status"] == "ok" for r in store.records.values())


class RetryThenAnswerBackend(ScriptedBackend):
    """Every frame's first attempt is a 429 asking to wait `wait_s`; answers come whole (not streamed)
    when `streamed` is False."""

    def __init__(self, wait_s=0.2, streamed=True):
        super().__init__(delay=0.02)
        self.wait_s, self.streamed, self.seen = wait_s, streamed, set()

    async def generate(self, request):
        if request.image.sha256 not in self.seen:
            self.seen.add(request.image.sha256)
            raise BackendError("rate_limit", "slow down", status=429, retry_after=self.wait_s)
        out = await super().generate(request)
        out.streamed = self.streamed
        return out


def _summary_text(m, tmp_path):
    from io import StringIO

    from rich.console import Console

    from bench.summary import print_summary

    out = StringIO()
    m["run"] = {"dataset": "t"}
    print_summary(Console(file=out, width=200), m, label="m", run_dir=tmp_path, status="complete")
    return out.getvalue()


async def test_retried_frames_keep_per_attempt_and_felt_latency_apart(tmp_path, prompt):
    frames, store = _setup(tmp_path, n=3, bad=False)
    await _runner(prompt, store, RetryThenAnswerBackend(wait_s=0.2), concurrency=1).run(frames)
    for r in store.records.values():
        t = r["timing"]
        assert r["n_attempts"] == 2 and r["t_first_sent"] == r["attempts"][0]["t_sent"] < r["t_sent"]
        assert t["queue_s"] == pytest.approx(r["t_first_sent"] - r["t_scheduled"])  # before the first send
        assert t["e2el_s"] == pytest.approx(r["t_last_token"] - r["t_sent"])  # the answering attempt
        assert t["e2el_user_s"] == pytest.approx(r["t_last_token"] - r["t_first_sent"])  # what the user felt
        assert t["e2el_user_s"] >= t["e2el_s"] + 0.2  # the backoff the server asked for is in it
        assert t["ttft_user_s"] == pytest.approx(r["t_first_token"] - r["t_first_sent"])
    m = compute_metrics(list(store.records.values()), frames_total=3, model={}, runner={"mode": "closed"},
                        simulated=False)
    assert m["latency"]["e2el_user_s"]["p50"] >= m["latency"]["e2el_s"]["p50"] + 0.2
    assert m["non_streamed_answers"] == 0
    text = _summary_text(m, tmp_path)
    assert "felt E2EL" in text and f"{m['latency']['e2el_user_s']['p50']:.3f} s" in text


async def test_answers_that_came_whole_are_flagged_and_counted(tmp_path, prompt):
    frames, store = _setup(tmp_path, n=2, bad=False)
    await _runner(prompt, store, RetryThenAnswerBackend(wait_s=0.0, streamed=False)).run(frames)
    assert all(r["streamed"] is False for r in store.records.values())
    m = compute_metrics(list(store.records.values()), frames_total=2, model={}, runner={"mode": "closed"},
                        simulated=False)
    assert m["non_streamed_answers"] == 2
    assert "2 answers not streamed" in _summary_text(m, tmp_path)
