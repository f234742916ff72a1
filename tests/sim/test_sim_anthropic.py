"""Anthropic Messages, driven through the real `anthropic` SDK over TCP."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import httpx2
import jsonschema
import pytest

from bench.sim.server import SimServer
from bench.sim.testing import SYSTEM, anthropic_messages, expected_input_tokens

Sim = Callable[..., SimServer]


def client(sim: SimServer, **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.base_url, api_key="sk-ant-test", max_retries=kw.pop("max_retries", 0), **kw)


def create(c: anthropic.Anthropic, image: bytes | None, **kw: Any) -> Any:
    args = dict(
        model="claude-sim-sonnet",
        max_tokens=2000,
        system=SYSTEM,
        extra_body={"temperature": 0.1},
        messages=anthropic_messages(image),
    )
    return c.messages.create(**{**args, **kw})


def test_non_stream(sim: Sim, frames: dict[str, bytes], caption_schema: dict) -> None:
    raw = client(sim()).messages.with_raw_response.create(
        model="claude-sim-sonnet", max_tokens=2000, system=SYSTEM, messages=anthropic_messages(frames["red"])
    )
    assert raw.headers["x-capbench-simulated"] == "true"
    m = raw.parse()
    assert m.model == "claude-sim-sonnet" and m.role == "assistant" and m.stop_reason == "end_turn"
    text = m.content[0].text
    jsonschema.validate(json.loads(text), caption_schema)
    assert m.usage.input_tokens == expected_input_tokens()
    assert m.usage.output_tokens == -(-len(text) // 4)


def test_stream_events_and_usage(sim: Sim, frames: dict[str, bytes], caption_schema: dict) -> None:
    c = client(sim(ttft_s=0.02, per_token_s=0.0005))
    events = list(create(c, frames["gradient"], stream=True))
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[1] == "content_block_start"
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert all(len(d) <= 4 for d in deltas)
    jsonschema.validate(json.loads("".join(deltas)), caption_schema)
    assert events[0].message.usage.input_tokens == expected_input_tokens()
    assert events[-2].delta.stop_reason == "end_turn" and events[-2].usage.output_tokens == len(deltas)
    # The SDK's stream helper accumulates the same message.
    with c.messages.stream(
        model="claude-x", max_tokens=2000, system=SYSTEM, messages=anthropic_messages(frames["gradient"])
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "".join(deltas) and final.usage.output_tokens == len(deltas) and final.stop_reason == "end_turn"


def test_refusal(sim: Sim, frames: dict[str, bytes]) -> None:
    c = client(sim(block_rate=1.0))
    m = create(c, frames["solid"])
    assert m.stop_reason == "refusal" and m.content == [] and m.usage.output_tokens == 0
    assert m.stop_details is not None and m.stop_details.type == "refusal"
    with c.messages.stream(model="claude-x", max_tokens=100, messages=anthropic_messages(frames["solid"])) as s:
        final = s.get_final_message()
    assert final.stop_reason == "refusal" and final.content == []


def test_max_tokens_and_truncation(sim: Sim, frames: dict[str, bytes]) -> None:
    m = create(client(sim()), frames["noisy"], max_tokens=12)
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 12 and len(m.content[0].text) == 48
    m = create(client(sim(truncation_rate=1.0)), frames["noisy"])
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == -(-len(m.content[0].text) // 4)


def test_rate_limit_shape_and_retry_after(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim(rate_limit_rate=1.0, retry_after_s=0.5)
    with pytest.raises(anthropic.RateLimitError) as e:
        create(client(s), frames["solid"])
    assert e.value.response.headers["retry-after"] == "0.5"
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "rate_limit_error"
    with pytest.raises(anthropic.InternalServerError) as e5:
        create(client(sim(server_error_rate=1.0)), frames["solid"])
    assert e5.value.body["error"]["type"] == "api_error"


def test_midstream_error_event(sim: Sim, frames: dict[str, bytes]) -> None:
    c = client(sim(server_error_rate=1.0))
    kinds: Counter[str] = Counter()
    for _ in range(12):
        try:
            list(create(c, frames["red"], stream=True))
        except anthropic.InternalServerError:
            kinds["http"] += 1
        except anthropic.APIStatusError as e:  # `event: error` after the stream began
            assert "overloaded_error" in str(e)
            kinds["event"] += 1
    assert kinds["http"] and kinds["event"]


def test_hang_and_disconnect(sim: Sim, frames: dict[str, bytes]) -> None:
    with pytest.raises(anthropic.APITimeoutError):
        create(client(sim(hang_rate=1.0, hang_s=30.0), timeout=0.4), frames["solid"])
    s = sim(disconnect_rate=1.0)
    with pytest.raises(anthropic.APIConnectionError):
        create(client(s), frames["solid"])
    # The anthropic SDK does not wrap errors raised while reading a stream: a
    # mid-stream drop surfaces as the transport's own RemoteProtocolError.
    with pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)) as e:
        list(create(client(s), frames["noisy"], stream=True))
    assert "incomplete chunked read" in str(e.value) or isinstance(e.value, anthropic.APIConnectionError)


def test_bad_requests(sim: Sim, frames: dict[str, bytes]) -> None:
    c = client(sim())
    with pytest.raises(anthropic.BadRequestError) as e:
        create(c, None)
    assert e.value.body["error"]["type"] == "invalid_request_error" and "image" in e.value.body["error"]["message"]
    url_image = [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.jpg"}}]}]
    with pytest.raises(anthropic.BadRequestError):
        c.messages.create(model="claude-x", max_tokens=10, messages=url_image)
    r = httpx.post(
        sim().base_url + "/v1/messages", json={"model": "claude-x", "messages": anthropic_messages(frames["red"])}
    )
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]


def test_auth(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim(require_api_key="sk-ant-right")
    with pytest.raises(anthropic.AuthenticationError) as e:
        create(client(s), frames["solid"])
    assert e.value.body["error"]["type"] == "authentication_error"
    ok = anthropic.Anthropic(base_url=s.base_url, api_key="sk-ant-right", max_retries=0)
    assert create(ok, frames["solid"]).stop_reason == "end_turn"
