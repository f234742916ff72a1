"""Request shapes per model family: named errors before anything is sent, the parameters each backend
maps model.sampling onto, and OpenAI bodies valid against OpenAI's own OpenAPI spec."""

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bench.backends.anthropic_messages import build_params
from bench.backends.base import CaptionRequest, ImageInput, Reasoning, Sampling
from bench.backends.families import check_request_shape
from bench.backends.gemini import build_config
from bench.backends.openai_chat import OpenAIChatBackend
from bench.config import SamplingConfig
from bench.sim.testing import gradient, jpeg

SPEC = Path("/work/shared/specs/openai-openapi.yaml")
DATA = jpeg(gradient())
IMAGE = ImageInput(data=DATA, mime="image/jpeg", width=320, height=180, sha256=hashlib.sha256(DATA).hexdigest())


def shape(backend, model, **sampling):
    return check_request_shape(backend, model, SamplingConfig(**sampling))


@pytest.mark.parametrize("backend, model, sampling, named", [
    ("openai_chat", "gpt-5.6-sol", {"temperature": 0.1}, "model.sampling.temperature=0.1"),
    ("openai_chat", "gpt-5.6-sol", {"temperature": None, "max_tokens_field": "max_tokens"}, "refuses max_tokens"),
    ("openai_chat", "gpt-5", {"temperature": None, "reasoning_effort": "none"}, "reasoning_effort='none'"),
    ("openai_chat", "gpt-5.4-mini", {"temperature": 0.1, "reasoning_effort": "low"}, "other than none"),
    ("openai_chat", "o3", {"temperature": None, "thinking_budget": 2000}, "not an OpenAI parameter"),
    ("openai_chat", "gpt-4.1", {"reasoning_effort": "low"}, "not a reasoning model"),
    ("anthropic", "claude-sonnet-4-6", {"thinking_budget": 2048}, "temperature=0.1: with thinking"),
    ("anthropic", "claude-sonnet-4-6", {"temperature": None, "thinking_budget": 2000}, "< max_tokens (2000)"),
    ("anthropic", "claude-sonnet-4-6", {"temperature": None, "thinking_budget": 512, "max_tokens": 4096}, "1024"),
    ("anthropic", "claude-opus-4-8", {"temperature": None, "thinking_budget": 2048, "max_tokens": 4096},
     "only adaptive"),
    ("anthropic", "claude-opus-4-8", {"temperature": 0.1}, "model.sampling.temperature=0.1"),
    ("anthropic", "claude-sonnet-4-5", {"temperature": None, "reasoning_effort": "low"}, "no adaptive thinking"),
    ("anthropic", "claude-sonnet-4-20250514", {"response_format": "json_schema"}, "no structured outputs"),
    ("gemini", "gemini-2.5-flash", {"thinking_level": "low"}, "not thinking_level"),
    ("gemini", "gemini-3.8-flash", {"thinking_level": "low", "thinking_budget": 512}, "only one of them"),
    ("gemini", "gemini-2.5-pro", {"thinking_budget": 0}, "cannot stop thinking"),
    ("gemini", "gemini-3.1-pro-preview", {"reasoning_effort": "low"}, "use thinking_level"),
])
def test_a_combination_the_model_refuses_is_named_with_the_fix(backend, model, sampling, named):
    problems = shape(backend, model, **sampling)
    assert any(named in p for p in problems), problems


@pytest.mark.parametrize("backend, model, sampling", [
    ("openai_chat", "gpt-5.4-mini", {"temperature": 0.1, "reasoning_effort": "none"}),  # 5.1-5.5: fine with none
    ("openai_chat", "gpt-4.1", {"max_tokens_field": "max_tokens"}),  # older models take either name
    ("openai_chat", "Qwen/Qwen3-VL-8B-Instruct", {"reasoning_effort": "high"}),  # unknown to the table: sent as is
    ("anthropic", "claude-sonnet-4-6", {"temperature": None, "thinking_budget": 1024, "max_tokens": 4096}),
    ("anthropic", "claude-sonnet-4-6", {"temperature": 1.0, "reasoning_effort": "low"}),
    ("anthropic", "claude-sonnet-4-20250514", {}),  # the card's Claude, as the card ran it
    ("gemini", "gemini-2.5-flash", {"thinking_budget": 0}),
    ("gemini", "gemini-3.1-pro-preview", {"thinking_level": "high"}),
])
def test_combinations_the_model_takes_pass(backend, model, sampling):
    assert shape(backend, model, **sampling) == []


def request(**reasoning):
    return CaptionRequest(image=IMAGE, system="sys", user="user", sampling=Sampling(temperature=None, max_tokens=8192),
                          reasoning=Reasoning(**reasoning), schema={"type": "object"})


def test_anthropic_mapping_extended_and_adaptive_thinking():
    p = build_params("claude-sonnet-4-6", request(budget=2048))
    assert p["thinking"] == {"type": "enabled", "budget_tokens": 2048} and "extra_body" not in p
    p = build_params("claude-opus-4-8", request(effort="low"))
    assert p["thinking"] == {"type": "adaptive"} and p["output_config"] == {"effort": "low"}


def test_gemini_mapping_thinking_budget_and_level():
    cfg = build_config(request(level="low")).model_dump(exclude_none=True, mode="json")
    assert cfg["thinking_config"] == {"thinking_level": "LOW", "include_thoughts": True}
    cfg = build_config(request(budget=0)).model_dump(exclude_none=True, mode="json")
    assert cfg["thinking_config"] == {"thinking_budget": 0, "include_thoughts": False}  # the API refuses thoughts then


@pytest.fixture(scope="module")
def chat_request_validator():
    """CreateChatCompletionRequest from OpenAI's published OpenAPI 3.1 description (JSON Schema 2020-12)."""
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is not on this machine")
    doc = yaml.load(SPEC.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    registry = Registry().with_resource("urn:openai", Resource.from_contents(doc, default_specification=DRAFT202012))
    schema = {"$ref": "urn:openai#/components/schemas/CreateChatCompletionRequest"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


async def sent_body(max_tokens_field="max_completion_tokens", **reasoning):
    """The JSON the OpenAI backend actually puts on the wire (captured by a 127.0.0.1 server)."""
    from aiohttp import web

    seen = {}

    async def handler(request):
        seen["body"] = json.loads(await request.read())
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": {"content": "{}"}, "finish_reason": "stop"}]}
        return web.Response(body=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode(),
                            content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    backend = OpenAIChatBackend("gpt-5.6-sol", f"http://127.0.0.1:{port}/v1", "k", max_tokens_field=max_tokens_field)
    req = CaptionRequest(image=IMAGE, system="sys", user="user",
                         sampling=Sampling(temperature=None, max_tokens=8192, response_format="json_schema"),
                         schema={"type": "object", "properties": {"a": {"type": "string"}}},
                         reasoning=Reasoning(**reasoning))
    try:
        await backend.generate(req)
    finally:
        await backend.aclose()
        await runner.cleanup()
    return seen["body"]


async def test_openai_reasoning_body_validates_against_the_openapi_spec(chat_request_validator):
    body = await sent_body(effort="low")
    assert body["max_completion_tokens"] == 8192 and "max_tokens" not in body and "temperature" not in body
    assert body["reasoning_effort"] == "low"
    chat_request_validator.validate(body)


async def test_the_spec_catches_a_shape_it_does_not_define(chat_request_validator):
    body = await sent_body(effort="low")
    chat_request_validator.validate(body)
    with pytest.raises(jsonschema.ValidationError):
        chat_request_validator.validate({**body, "reasoning_effort": "extreme"})
    old = await sent_body(max_tokens_field="max_tokens")  # the old name is still in the spec (deprecated)
    assert old["max_tokens"] == 8192 and "max_completion_tokens" not in old
    chat_request_validator.validate(old)
