"""bench.sim.server: the app in the caller's event loop, concurrency, logging, stats."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from bench.config import SimConfig
from bench.sim.server import SimServer
from bench.sim.testing import FAST, openai_messages, sample_frames


async def test_async_concurrent_streams_do_not_serialise() -> None:
    """20 streams of ~160 tokens at 2 ms/token take about one stream's time, not twenty."""
    cfg = SimConfig(ttft_s=0.05, ttft_jitter_s=0.0, per_token_s=0.002, per_token_jitter_s=0.0)
    frames = list(sample_frames().values())
    async with SimServer(cfg) as sim:
        client = openai.AsyncOpenAI(base_url=sim.base_url + "/v1", api_key="sk-test", max_retries=0)

        async def one(i: int) -> float:
            t0 = time.perf_counter()
            stream = await client.chat.completions.create(
                model="m", messages=openai_messages(frames[i % len(frames)]), stream=True
            )
            async for _ in stream:
                pass
            return time.perf_counter() - t0

        t0 = time.perf_counter()
        durations = await asyncio.gather(*(one(i) for i in range(20)))
        wall = time.perf_counter() - t0
        await client.close()
    single = min(durations)
    assert single >= 0.05 + 0.002 * 100  # the schedule is honoured...
    assert wall < single * 6  # ...and concurrent streams overlap


async def test_client_giving_up_cancels_hung_handler(capfd: pytest.CaptureFixture[str]) -> None:
    async with SimServer(SimConfig(**FAST, hang_rate=1.0, hang_s=60.0)) as sim:
        async with httpx.AsyncClient(timeout=0.3) as c:
            with pytest.raises(httpx.ReadTimeout):
                await c.post(
                    sim.base_url + "/v1/chat/completions",
                    json={"model": "m", "messages": openai_messages(sample_frames()["red"])},
                )
        await asyncio.sleep(0.2)
        t0 = time.perf_counter()
    assert time.perf_counter() - t0 < 3.0
    assert "POST /v1/chat/completions 499" in capfd.readouterr().err


async def test_log_line_and_stats(capfd: pytest.CaptureFixture[str]) -> None:
    async with SimServer(SimConfig(**FAST, malformed_rate=1.0)) as sim:
        async with httpx.AsyncClient() as c:
            r = await c.post(
                sim.base_url + "/v1/chat/completions",
                json={"model": "cliptagger", "messages": openai_messages(sample_frames()["solid"])},
                headers={"Authorization": "Bearer sk-very-secret"},
            )
            assert r.status_code == 200
            stats = (await c.get(sim.base_url + "/sim/stats")).json()
    assert stats == {"requests": {"openai": 1}, "images": {"openai": 1}, "outcomes": {"malformed": 1}}
    err = capfd.readouterr().err
    line = next(ln for ln in err.splitlines() if "POST /v1/chat/completions" in ln)
    assert "model=cliptagger" in line and "outcome=malformed" in line and "output_tokens=" in line
    assert "sk-very-secret" not in err


def test_bad_config_fails_at_start() -> None:
    with pytest.raises(ValueError, match="sum to"):
        SimServer(SimConfig(malformed_rate=0.6, hang_rate=0.6)).in_thread()


async def test_unknown_gemini_method_and_route() -> None:
    async with SimServer(SimConfig(**FAST)) as sim:
        async with httpx.AsyncClient() as c:
            r = await c.post(sim.base_url + "/v1beta/models/gemini:countTokens", json={})
            assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
            r = await c.get(sim.base_url + "/nope")
            assert r.status_code == 404 and r.headers["x-capbench-simulated"] == "true"
