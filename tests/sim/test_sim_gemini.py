"""Gemini generateContent / streamGenerateContent, driven through `google-genai` over TCP."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import jsonschema
import pytest
from google import genai
from google.genai import errors, types

from bench.config import SimConfig
from bench.sim.server import SimServer
from bench.sim.testing import SYSTEM, USER, b64, expected_input_tokens

Sim = Callable[..., SimServer]
MODEL = "gemini-2.5-flash"


def client(sim: SimServer, **opts: Any) -> genai.Client:
    return genai.Client(api_key="AIza-test", http_options=types.HttpOptions(base_url=sim.base_url, **opts))


def contents(image: bytes | None) -> list[Any]:
    parts: list[Any] = [types.Part.from_bytes(data=image, mime_type="image/jpeg")] if image is not None else []
    return parts + [USER]


def config(**kw: Any) -> types.GenerateContentConfig:
    base = dict(
        system_instruction=SYSTEM, max_output_tokens=2000, temperature=0.1, response_mime_type="application/json"
    )
    return types.GenerateContentConfig(**{**base, **kw})


def generate(c: genai.Client, image: bytes | None, **kw: Any) -> types.GenerateContentResponse:
    return c.models.generate_content(model=MODEL, contents=contents(image), config=config(**kw))


def stream(c: genai.Client, image: bytes | None, **kw: Any) -> list[types.GenerateContentResponse]:
    return list(c.models.generate_content_stream(model=MODEL, contents=contents(image), config=config(**kw)))


def test_non_stream(sim: Sim, frames: dict[str, bytes], caption_schema: dict) -> None:
    r = generate(client(sim()), frames["gradient"])
    assert r.model_version == MODEL
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    jsonschema.validate(json.loads(r.text), caption_schema)
    u = r.usage_metadata
    assert u.prompt_token_count == expected_input_tokens()
    assert u.candidates_token_count == -(-len(r.text) // 4)
    # Gemini 2.5 Flash thinks by default: its thoughts are counted apart, and in the total.
    assert u.thoughts_token_count == SimConfig().reasoning_tokens
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count + u.thoughts_token_count
    assert r.sdk_http_response.headers["x-capbench-simulated"] == "true"


def test_stream_sse(sim: Sim, frames: dict[str, bytes], caption_schema: dict) -> None:
    chunks = stream(client(sim(ttft_s=0.02, per_token_s=0.0005)), frames["noisy"])
    text = "".join(ch.text or "" for ch in chunks)
    jsonschema.validate(json.loads(text), caption_schema)
    assert all(len(ch.text) <= 4 for ch in chunks)
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert all(ch.candidates[0].finish_reason is None for ch in chunks[:-1])
    assert chunks[-1].usage_metadata.candidates_token_count == len(chunks)
    assert chunks[-1].usage_metadata.prompt_token_count == expected_input_tokens()


def test_v1beta_path_and_json_array_stream(sim: Sim, frames: dict[str, bytes]) -> None:
    s = sim()
    body = {
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
        "contents": [
            {
                "role": "user",
                "parts": [{"inlineData": {"mimeType": "image/jpeg", "data": b64(frames["red"])}}, {"text": USER}],
            }
        ],
        # Thinking off: a 2.5 Flash that thinks would spend the 5-token cap on its thoughts.
        "generationConfig": {"maxOutputTokens": 5, "thinkingConfig": {"thinkingBudget": 0}},
    }
    r = httpx.post(f"{s.base_url}/v1beta/models/{MODEL}:generateContent", json=body, headers={"x-goog-api-key": "k"})
    assert r.status_code == 200 and r.json()["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert r.json()["usageMetadata"]["candidatesTokenCount"] == 5
    r = httpx.post(f"{s.base_url}/v1beta/models/{MODEL}:streamGenerateContent", json=body)
    arr = r.json()  # without alt=sse the API streams one JSON array
    assert len(arr) == 5 and arr[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_safety_blocks_both_styles(sim: Sim, frames: dict[str, bytes]) -> None:
    c = client(sim(block_rate=1.0))
    styles: Counter[str] = Counter()
    for _ in range(10):
        r = generate(c, frames["solid"])
        if r.prompt_feedback is not None and r.prompt_feedback.block_reason is not None:
            assert r.prompt_feedback.block_reason == types.BlockedReason.SAFETY and not r.candidates
            styles["prompt"] += 1
        else:
            cand = r.candidates[0]
            assert cand.finish_reason == types.FinishReason.SAFETY and cand.content is None
            styles["candidate"] += 1
        assert r.text is None and r.usage_metadata.prompt_token_count == expected_input_tokens()
    assert styles["prompt"] and styles["candidate"]
    chunks = stream(c, frames["solid"])
    assert len(chunks) == 1 and not chunks[0].text


def test_truncation(sim: Sim, frames: dict[str, bytes]) -> None:
    r = generate(client(sim(truncation_rate=1.0)), frames["noisy"])
    assert r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert r.usage_metadata.candidates_token_count == -(-len(r.text) // 4)
    with pytest.raises(ValueError):
        json.loads(r.text)


def test_errors_in_google_shape(sim: Sim, frames: dict[str, bytes]) -> None:
    with pytest.raises(errors.ClientError) as e:
        generate(client(sim(rate_limit_rate=1.0, retry_after_s=0.25)), frames["solid"])
    assert e.value.code == 429 and e.value.status == "RESOURCE_EXHAUSTED"
    assert e.value.response.headers["retry-after"] == "0.25"
    assert e.value.details["error"]["details"][0]["retryDelay"] == "0.25s"
    with pytest.raises(errors.ServerError) as e5:
        generate(client(sim(server_error_rate=1.0)), frames["solid"])
    assert e5.value.code == 500 and e5.value.status == "INTERNAL"
    with pytest.raises(errors.ClientError) as e4:
        generate(client(sim()), None)
    assert e4.value.code == 400 and e4.value.status == "INVALID_ARGUMENT" and "image" in e4.value.message
    with pytest.raises(errors.ClientError) as ea:
        generate(client(sim(require_api_key="AIza-right")), frames["solid"])
    assert ea.value.code == 401 and ea.value.status == "UNAUTHENTICATED"


def test_midstream_error_chunk(sim: Sim, frames: dict[str, bytes]) -> None:
    c = client(sim(server_error_rate=1.0))
    for _ in range(6):
        with pytest.raises(errors.ServerError):
            stream(c, frames["red"])


def test_hang_and_disconnect(sim: Sim, frames: dict[str, bytes]) -> None:
    # google-genai does not wrap transport errors: timeouts and drops surface as httpx2 exceptions.
    with pytest.raises(httpx2.TimeoutException):
        generate(client(sim(hang_rate=1.0, hang_s=30.0), timeout=400), frames["solid"])
    s = sim(disconnect_rate=1.0)
    with pytest.raises(httpx2.TransportError):
        generate(client(s), frames["solid"])
    with pytest.raises(httpx2.TransportError):
        stream(client(s), frames["noisy"])
