"""Each backend's SDK path against the simulator over TCP: the outcomes every provider must map
onto one vocabulary (clean answer, retry-after, 5xx, hang, dropped connection, safety block, bad key,
unknown model)."""

import contextlib
import hashlib
import json
import random

import pytest

from bench.backends import BASE_URL_SUFFIX
from bench.backends.anthropic_messages import AnthropicMessagesBackend
from bench.backends.base import BackendError, CaptionRequest, ImageInput, Sampling
from bench.backends.gemini import GeminiBackend
from bench.backends.openai_chat import OpenAIChatBackend
from bench.config import RetryConfig, SimConfig
from bench.retry import call_with_retry
from bench.sim.server import SimServer
from bench.sim.testing import FAST, gradient, jpeg
from bench.validity import assess

BACKENDS = {"openai_chat": OpenAIChatBackend, "anthropic": AnthropicMessagesBackend, "gemini": GeminiBackend}
DATA = jpeg(gradient())
IMAGE = ImageInput(data=DATA, mime="image/jpeg", width=320, height=180, sha256=hashlib.sha256(DATA).hexdigest())


def _request(response_format="json_object"):
    return CaptionRequest(image=IMAGE, system="You caption frames.", user="Return the ClipTagger JSON.",
                          sampling=Sampling(response_format=response_format), schema={"type": "object"})


@contextlib.asynccontextmanager
async def _connected(protocol, server, key="sim-key", model="capbench-sim"):
    """A backend of this protocol pointed at the simulator, closed afterwards."""
    backend = BACKENDS[protocol](model, server.base_url + BASE_URL_SUFFIX[protocol], key)
    try:
        yield backend
    finally:
        await backend.aclose()


@pytest.fixture(params=sorted(BACKENDS))
def protocol(request):
    return request.param


def _serve(**knobs):
    return SimServer(SimConfig(**{**FAST, **knobs})).in_thread()


async def test_clean_answer_with_server_usage_and_ttft(protocol, prompt):
    with _serve(ttft_s=0.02, per_token_s=0.001) as server:
        async with _connected(protocol, server) as backend:
            out = await backend.generate(_request())
    assert out.finish_reason == "stop" and out.simulated  # the simulator says so in a header
    assert out.usage.input_tokens > 256 and out.usage.output_tokens > 10
    assert out.t_sent < out.t_first_token <= out.t_last_token
    assert out.t_first_token - out.t_sent >= 0.02
    verdict, caption = assess(out.text, out.finish_reason, prompt.json_schema, prompt.rules)
    assert verdict.schema_valid and set(caption) >= {"description", "objects", "summary"}


@pytest.mark.parametrize("knobs, kind", [
    ({"rate_limit_rate": 1.0, "retry_after_s": 0.3}, "rate_limit"),
    ({"server_error_rate": 1.0}, "server"),
    ({"disconnect_rate": 1.0}, "connection"),
])
async def test_transport_faults_map_to_one_vocabulary(protocol, knobs, kind):
    with _serve(**knobs) as server:
        async with _connected(protocol, server) as backend:
            with pytest.raises(BackendError) as exc:
                await backend.generate(_request())
    assert exc.value.kind == kind and exc.value.retryable
    if kind == "rate_limit":
        assert exc.value.retry_after == pytest.approx(0.3, abs=0.01)


async def test_retry_after_is_waited_then_the_retry_succeeds(protocol):
    # The simulator decides faults per (image, attempt number): over a few attempts one gets through.
    with _serve(rate_limit_rate=0.5, retry_after_s=0.05, seed=3) as server:
        async with _connected(protocol, server) as backend:
            out = await call_with_retry(lambda: backend.generate(_request()), RetryConfig(max_attempts=8), 5.0,
                                        random.Random(0))
    assert out.response is not None
    failed = [a for a in out.attempts if not a.ok]
    assert all(a.error_kind == "rate_limit" for a in failed)
    assert all(later.waited_s == pytest.approx(0.05, abs=0.01) for later in out.attempts[1:])


async def test_hung_request_hits_the_timeout(protocol):
    with _serve(hang_rate=1.0, hang_s=30.0) as server:
        async with _connected(protocol, server) as backend:
            out = await call_with_retry(lambda: backend.generate(_request()), RetryConfig(max_attempts=1), 0.5,
                                        random.Random(0))
    assert out.response is None and out.error.kind == "timeout"
    assert 0.45 < out.attempts[0].duration_s < 3.0


async def test_safety_block_is_a_refusal_not_a_crash(protocol, prompt):
    with _serve(block_rate=1.0) as server:
        async with _connected(protocol, server) as backend:
            out = await backend.generate(_request())
    assert out.finish_reason == "content_filter"
    verdict, _ = assess(out.text, out.finish_reason, prompt.json_schema, prompt.rules)
    assert verdict.category == "refused"


async def test_wrong_key_and_unknown_model_are_fatal(protocol):
    with _serve(require_api_key="right-key", model_names=["capbench-sim"]) as server:
        for key, model, kind in (("wrong-key", "capbench-sim", "auth"), ("right-key", "no-such-model", "not_found")):
            async with _connected(protocol, server, key=key, model=model) as backend:
                with pytest.raises(BackendError) as exc:
                    await backend.generate(_request())
            assert exc.value.kind == kind and exc.value.fatal
            assert protocol.split("_")[0] in str(exc.value)  # the provider is named


async def test_json_schema_mode_sends_the_schema(protocol):
    with _serve() as server:
        async with _connected(protocol, server) as backend:
            out = await backend.generate(_request("json_schema"))
        assert json.loads(out.text)


@pytest.mark.parametrize("body, content_type", [
    (b"<html>502 Bad Gateway from a proxy</html>", "text/html"),
    (b"data: {not json\n\n", "text/event-stream"),
])
async def test_a_server_answering_garbage_is_a_recorded_failure_not_a_crash(body, content_type):
    from aiohttp import web

    async def garbage(request):
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    backend = OpenAIChatBackend("m", f"http://127.0.0.1:{port}/v1", "k")
    try:
        out = await call_with_retry(lambda: backend.generate(_request()), RetryConfig(max_attempts=2,
                                                                                      base_delay_s=0.0), 5.0,
                                    random.Random(0))
    finally:
        await backend.aclose()
        await runner.cleanup()
    assert out.response is None
    assert out.error.kind == "protocol" and len(out.attempts) == 2  # retried, then given up


@contextlib.asynccontextmanager
async def _answering(path, body, content_type="application/json"):
    """A local server answering every POST to `path` with `body` (HTTP 200), and the number of requests it saw."""
    from aiohttp import web

    seen = []

    async def answer(request):
        seen.append(await request.read())
        return web.Response(body=json.dumps(body).encode() if not isinstance(body, bytes) else body,
                            content_type=content_type)

    app = web.Application()
    app.router.add_post(path, answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


CAPTION_TEXT = json.dumps({"description": "A red square.", "objects": ["square"]})
NON_STREAMED = {
    "openai_chat": ("/v1/chat/completions", {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": CAPTION_TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 700, "completion_tokens": 250, "total_tokens": 950}}),
    "anthropic": ("/v1/messages", {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": CAPTION_TEXT}], "stop_reason": "max_tokens", "stop_sequence": None,
        "usage": {"input_tokens": 700, "output_tokens": 250}}),
    "gemini": (r"/{version:v1|v1beta|v1alpha}/models/{model_action}", {
        "candidates": [{"content": {"role": "model", "parts": [{"text": CAPTION_TEXT}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 700, "candidatesTokenCount": 250}, "responseId": "r1",
        "modelVersion": "m"}),
}


async def _once(protocol, base_url):
    backend = BACKENDS[protocol]("m", base_url + BASE_URL_SUFFIX[protocol], "k")
    try:
        return await call_with_retry(lambda: backend.generate(_request()), RetryConfig(max_attempts=3,
                                                                                       base_delay_s=0.0), 5.0,
                                     random.Random(0))
    finally:
        await backend.aclose()


async def test_a_non_streamed_json_answer_to_a_streamed_request_is_the_answer(protocol):
    path, body = NON_STREAMED[protocol]
    async with _answering(path, body) as (base_url, seen):
        out = await _once(protocol, base_url)
    assert len(seen) == 1 and len(out.attempts) == 1  # read once, no retries burnt
    r = out.response
    assert r is not None and r.text == CAPTION_TEXT
    assert r.usage.input_tokens == 700 and r.usage.output_tokens == 250
    assert r.finish_reason == ("length" if protocol == "anthropic" else "stop")
    assert r.streamed is False  # flagged: its TTFT is when the whole body arrived
    assert r.t_sent < r.t_first_token == r.t_last_token


@pytest.mark.parametrize("protocol", sorted(BACKENDS))
async def test_a_json_answer_of_an_unknown_shape_stops_the_run_instead_of_burning_retries(protocol):
    path, _ = NON_STREAMED[protocol]
    async with _answering(path, {"detail": "this is not a caption API"}) as (base_url, seen):
        out = await _once(protocol, base_url)
    assert out.response is None and len(seen) == 1
    assert out.error.kind == "misconfigured" and out.error.fatal and "JSON" in out.error.message


async def test_openai_json_schema_is_sent_strict_with_the_prompts_schema(prompt):
    from bench.backends.openai_chat import strict_schema_problems

    schema = dict(prompt.json_schema)
    assert strict_schema_problems(schema) == []  # the ClipTagger schema is strict-compatible as it is
    request = CaptionRequest(image=IMAGE, system="s", user="u", sampling=Sampling(response_format="json_schema"),
                             schema=schema)
    path, body = NON_STREAMED["openai_chat"]
    async with _answering(path, body) as (base_url, seen):
        backend = OpenAIChatBackend("m", base_url + "/v1", "k")
        try:
            await backend.generate(request)
        finally:
            await backend.aclose()
    sent = json.loads(seen[0])["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True  # enforced, not a hint
    assert sent["json_schema"]["schema"] == schema


def test_strict_schema_problems_name_what_openai_would_refuse():
    from bench.backends.openai_chat import strict_schema_problems

    schema = {"type": "object", "additionalProperties": False, "required": ["a"],
              "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {
                  "type": "object", "properties": {"c": {"type": "string"}}}}}}
    assert strict_schema_problems(schema) == [
        "$: list every property in required (missing b)",
        "$.b.items: set additionalProperties: false",
        "$.b.items: list every property in required (missing c)",
    ]
