"""OpenAI chat completions, driven through the real `openai` SDK over TCP."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from bench.sim.server import SimServer
from bench.sim.testing import expected_input_tokens, openai_messages

Sim = Callable[..., SimServer]


def client(sim: SimServer, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url + "/v1", api_key="sk-test", max_retries=kw.pop("max_retries", 0), **kw)


def s_url(c: openai.OpenAI) -> str:
    return str(c.base_url)


def create(c: openai.OpenAI, image: bytes | None, **kw: Any) -> Any:
    args = dict(
        model="cliptagger-12b",
        messages=openai_messages(image),
        temperature=0.1,
        max_tokens=2000,
        response_format={"type": "json_object"},
    )
    return c.chat.completions.create(**{**args, **kw})


def test_non_stream(sim: Sim, frames: dict[str, bytes], caption_schema: dict) -> None:
    s = sim()
    raw = client(s).chat.completions.with_raw_response.create(
        model="inference-net/cliptagger-12b", messages=openai_messages(frames["gradient"]), max_tokens=2000
    )
    assert raw.headers["x-capbench-simulated"] == "true"
    r = raw.parse()
    assert r.model == "inference-net/cliptagger-12b" and r.object == "chat.completion"
    choice = r.choices[0]
    assert choice.finish_reason == "stop"
    jsonschema.validate(json.loads(choice.message.content), caption_schema)
    assert r.usage.prompt_tokens == expected_input_tokens()
    assert r.usage.completion_tokens == -(-len(choice.message.content) // 4)
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_stream_with_usage_and_timing(sim: Sim, frames: dict[str, bytes], caption_schema: dict) -> None:
    s = sim(ttft_s=0.15, ttft_jitter_s=0.0, per_token_s=0.001, per_token_jitter_s=0.0)
    t0 = time.perf_counter()
    ttft = None
    chunks = []
    for chunk in create(client(s), frames["noisy"], stream=True, stream_options={"include_usage": True}):
        if chunk.choices and chunk.choices[0].delta.content and ttft is None:
            ttft = time.perf_counter() - t0
        chunks.append(chunk)
    e2e = time.perf_counter() - t0
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    jsonschema.validate(json.loads(text), caption_schema)
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert all(len(c.choices[0].delta.content) <= 4 for c in content_chunks)  # one token per chunk
    assert chunks[-2].choices[0].finish_reason == "stop"
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert final.usage.completion_tokens == len(content_chunks)
    assert final.usage.prompt_tokens == expected_input_tokens()
    assert all(c.usage is None for c in chunks[:-1])
    assert ttft is not None and 0.14 <= ttft < 1.0
    assert e2e >= 0.15 + 0.001 * (len(content_chunks) - 1) * 0.9


def test_stream_without_include_usage_has_no_usage_chunk(sim: Sim, frames: dict[str, bytes]) -> None:
    chunks = list(create(client(sim()), frames["solid"], stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices for c in chunks)


def test_deterministic_caption_across_servers(sim: Sim, frames: dict[str, bytes]) -> None:
    a = create(client(sim(seed=3)), frames["noisy"]).choices[0].message.content
    b = create(client(sim(seed=3)), frames["noisy"]).choices[0].message.content
    c = create(client(sim(seed=3)), frames["gradient"]).choices[0].message.content
    assert a == b and a != c


def test_fault_rates_over_300_requests(sim: Sim, frames: dict[str, bytes]) -> None:
    rates = dict(
        rate_limit_rate=0.1,
        server_error_rate=0.1,
        disconnect_rate=0.1,
        block_rate=0.1,
        truncation_rate=0.1,
        malformed_rate=0.1,
        hang_rate=0.05,
        hang_s=0.01,
    )
    s = sim(**rates)
    c = client(s, timeout=5.0)
    seen: Counter[str] = Counter()
    images = list(frames.values())
    n = 300
    for i in range(n):
        try:
            r = create(c, images[i % len(images)])
        except openai.RateLimitError as e:
            assert float(e.response.headers["retry-after"]) == pytest.approx(0.2)
            seen["rate_limit"] += 1
            continue
        except openai.InternalServerError:
            seen["server_error"] += 1
            continue
        except openai.APIConnectionError:
            seen["disconnect"] += 1
            continue
        finish = r.choices[0].finish_reason
        if finish == "content_filter":
            seen["blocked"] += 1
        elif finish == "length":
            seen["truncated"] += 1
        else:
            try:
                json.loads(r.choices[0].message.content)
                seen["ok"] += 1  # includes hangs that answered after hang_s
            except ValueError:
                seen["malformed"] += 1
    for kind in ("rate_limit", "server_error", "disconnect", "blocked", "truncated", "malformed"):
        assert 12 <= seen[kind] <= 50, seen  # 30 expected; 4 sd is about 21
    assert 90 <= seen["ok"] <= 150, seen
    stats = httpx.get(s.base_url + "/sim/stats").json()
    assert stats["outcomes"]["hang"] > 0 and sum(stats["outcomes"].values()) == n


def test_sdk_retries_honour_retry_after_and_succeed(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim(rate_limit_rate=0.5, retry_after_s=0.05)
    c = client(s, max_retries=8)
    for name in ("solid", "noisy", "red"):
        assert create(c, frames[name]).choices[0].finish_reason == "stop"
    assert httpx.get(s.base_url + "/sim/stats").json()["outcomes"].get("rate_limit", 0) > 0


def test_hang_is_a_client_timeout_and_shutdown_is_prompt(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim(hang_rate=1.0, hang_s=60.0)
    with pytest.raises(openai.APITimeoutError):
        create(client(s, timeout=0.5), frames["solid"])
    with pytest.raises(openai.APITimeoutError):
        list(create(client(s, timeout=0.5), frames["solid"], stream=True))
    t0 = time.perf_counter()
    s.stop_thread()
    assert time.perf_counter() - t0 < 3.0


def test_disconnect_is_a_connection_error(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim(disconnect_rate=1.0)
    with pytest.raises(openai.APIConnectionError):
        create(client(s), frames["solid"])
    got = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in create(client(s), frames["noisy"], stream=True):
            got.append(chunk)
    assert got  # the stream started, then the connection dropped


def test_midstream_server_error(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim(server_error_rate=1.0)
    kinds: Counter[str] = Counter()
    for _ in range(12):
        try:
            list(create(client(s), frames["red"], stream=True))
        except openai.InternalServerError:
            kinds["http_500"] += 1
        except openai.APIError as e:
            assert "server had an error" in str(e.message)
            kinds["in_stream"] += 1
    assert kinds["http_500"] and kinds["in_stream"]


def test_content_filter(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim(block_rate=1.0)
    r = create(client(s), frames["solid"])
    assert r.choices[0].finish_reason == "content_filter" and r.choices[0].message.content is None
    assert r.usage.completion_tokens == 0 and r.usage.prompt_tokens == expected_input_tokens()
    chunks = list(create(client(s), frames["solid"], stream=True, stream_options={"include_usage": True}))
    assert chunks[-2].choices[0].finish_reason == "content_filter"
    assert not "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_truncation_and_max_tokens(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim(truncation_rate=1.0)
    r = create(client(s), frames["noisy"])
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == -(-len(r.choices[0].message.content) // 4)
    with pytest.raises(ValueError):
        json.loads(r.choices[0].message.content)
    r = create(client(sim()), frames["noisy"], max_tokens=10)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 10
    assert len(r.choices[0].message.content) == 40


def test_bad_requests_get_openai_errors(sim: Sim, frames: dict[str, bytes]) -> None:
    c = client(sim())
    with pytest.raises(openai.BadRequestError) as e:
        create(c, None)
    assert e.value.status_code == 400 and e.value.body["type"] == "invalid_request_error"
    assert "image" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        create(c, b"not an image")
    with pytest.raises(openai.BadRequestError):  # remote URLs: the simulator has no internet
        c.chat.completions.create(
            model="m",
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}]}
            ],
        )
    r = httpx.post(s_url(c) + "chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_auth_models_and_health(sim: Sim, frames: dict[str, bytes], capfd: pytest.CaptureFixture[str]) -> None:
    s = sim(require_api_key="sk-right", model_names=["cliptagger-12b"])
    with pytest.raises(openai.AuthenticationError):
        create(client(s), frames["solid"])
    good = openai.OpenAI(base_url=s.base_url + "/v1", api_key="sk-right", max_retries=0)
    assert create(good, frames["solid"]).choices[0].finish_reason == "stop"
    with pytest.raises(openai.NotFoundError):
        create(good, frames["solid"], model="gpt-4.1")
    assert [m.id for m in good.models.list()] == ["cliptagger-12b"]
    h = httpx.get(s.base_url + "/health")
    assert h.status_code == 200 and h.headers["x-capbench-simulated"] == "true"
    err = capfd.readouterr().err
    assert "POST /v1/chat/completions 401" in err and "sk-right" not in err and "sk-test" not in err
    assert "Bearer" not in err


def test_stream_interval_groups_tokens_as_vllm_does(sim: Sim, frames: dict[str, bytes]) -> None:
    """--stream-interval 8: the first token alone, then 8 tokens a chunk, the rest at the end; same text, usage."""
    per_token = sim(ttft_s=0.0, ttft_jitter_s=0.0, per_token_s=0.0, per_token_jitter_s=0.0)
    grouped = sim(ttft_s=0.0, ttft_jitter_s=0.0, per_token_s=0.0, per_token_jitter_s=0.0, stream_interval=8)

    def stream(s: SimServer) -> tuple[list[str], int]:
        chunks = list(create(client(s), frames["noisy"], stream=True, stream_options={"include_usage": True}))
        return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content], \
            chunks[-1].usage.completion_tokens

    singles, tokens = stream(per_token)
    groups, grouped_tokens = stream(grouped)
    assert "".join(groups) == "".join(singles) and grouped_tokens == tokens == len(singles)
    assert groups[0] == singles[0]  # the first token is never held back
    assert groups[1:-1] == ["".join(singles[i:i + 8]) for i in range(1, 1 + 8 * (len(groups) - 2), 8)]
    assert len(groups) == 2 + (tokens - 1 - 1) // 8 and 1 <= len(groups[-1]) <= 8 * 4
