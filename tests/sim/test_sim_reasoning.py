"""The simulator as a reasoning model, over TCP with the official SDKs: it refuses the old request shapes
as the real APIs do (same status, type, param, code and message) and reports the reasoning it spent
in each protocol's usage."""

from __future__ import annotations

import time

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors, types

from bench.sim.testing import SYSTEM, USER, anthropic_messages, openai_messages

REASONING = 400  # sim.reasoning_tokens in these tests: what a medium effort spends


def oai(server):
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="k", max_retries=0)


def test_openai_reasoning_model_refuses_max_tokens_exactly_like_openai(sim, frames):
    with pytest.raises(openai.BadRequestError) as exc:
        oai(sim()).chat.completions.create(model="gpt-5.6-sol", max_tokens=2000,
                                           messages=openai_messages(frames["red"]))
    assert exc.value.status_code == 400
    assert exc.value.body == {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                   "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}


def test_openai_reasoning_model_refuses_a_temperature(sim, frames):
    with pytest.raises(openai.BadRequestError) as exc:
        oai(sim()).chat.completions.create(model="gpt-5", max_completion_tokens=4000, temperature=0.1,
                                           messages=openai_messages(frames["red"]))
    assert exc.value.body["code"] == "unsupported_value" and exc.value.body["param"] == "temperature"
    assert exc.value.body["message"] == ("Unsupported value: 'temperature' does not support 0.1 with this model. "
                                         "Only the default (1) value is supported.")
    # GPT-5.1-5.5 take one when they do not reason.
    ok = oai(sim()).chat.completions.create(model="gpt-5.4-mini", max_completion_tokens=4000, temperature=0.1,
                                            reasoning_effort="none", messages=openai_messages(frames["red"]))
    assert ok.usage.completion_tokens_details.reasoning_tokens == 0


@pytest.mark.parametrize("effort, spent", [("low", REASONING // 2), ("medium", REASONING), ("high", 2 * REASONING)])
def test_openai_reasoning_tokens_in_usage_and_thinking_time_before_the_answer(sim, frames, effort, spent):
    server = sim(reasoning_tokens=REASONING, thinking_s=0.3)
    t0 = time.perf_counter()
    stream = oai(server).chat.completions.create(model="gpt-5.6-sol", max_completion_tokens=8000,
                                                 reasoning_effort=effort, stream=True,
                                                 stream_options={"include_usage": True},
                                                 messages=openai_messages(frames["gradient"]))
    first = None
    text, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter() - t0
            text.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    assert first >= 0.3  # the thinking happens before the first visible token (inside TTFT)
    assert usage.completion_tokens_details.reasoning_tokens == spent
    assert usage.completion_tokens == spent + -(-len("".join(text)) // 4)  # reasoning is billed as output


def test_openai_reasoning_counts_against_max_completion_tokens(sim, frames):
    r = oai(sim(reasoning_tokens=REASONING)).chat.completions.create(
        model="o3", max_completion_tokens=300, messages=openai_messages(frames["red"]))
    assert r.choices[0].finish_reason == "length" and r.choices[0].message.content == ""
    assert r.usage.completion_tokens == r.usage.completion_tokens_details.reasoning_tokens == 300


def test_a_non_reasoning_name_answers_as_before(sim, frames):
    r = oai(sim()).chat.completions.create(model="capbench-sim", max_tokens=2000, temperature=0.1,
                                           messages=openai_messages(frames["red"]))
    assert r.choices[0].finish_reason == "stop" and r.usage.completion_tokens_details is None


def ant(server):
    return anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0)


@pytest.mark.parametrize("kwargs, message", [
    # (the SDK no longer types temperature: sent as a body field, as the backend sends it)
    ({"extra_body": {"temperature": 0.1}, "thinking": {"type": "enabled", "budget_tokens": 1024}},
     "`temperature` may only be set to 1 when thinking is enabled."),
    ({"thinking": {"type": "enabled", "budget_tokens": 4000}},
     "`max_tokens` must be greater than `thinking.budget_tokens`."),
    ({"thinking": {"type": "enabled", "budget_tokens": 512}, "max_tokens": 8000},
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
])
def test_anthropic_thinking_rules_as_the_api_states_them(sim, frames, kwargs, message):
    args = {"model": "claude-sonnet-4-6", "max_tokens": 2000, "messages": anthropic_messages(frames["red"]), **kwargs}
    with pytest.raises(anthropic.BadRequestError) as exc:
        ant(sim()).messages.create(**args)
    assert exc.value.body["error"]["type"] == "invalid_request_error"
    assert exc.value.body["error"]["message"].startswith(message)


def test_anthropic_opus_4_8_takes_only_adaptive_thinking(sim, frames):
    with pytest.raises(anthropic.BadRequestError, match="thinking.type.adaptive"):
        ant(sim()).messages.create(model="claude-opus-4-8", max_tokens=8000, messages=anthropic_messages(frames["red"]),
                                   thinking={"type": "enabled", "budget_tokens": 2048})
    m = ant(sim(reasoning_tokens=REASONING)).messages.create(
        model="claude-opus-4-8", max_tokens=8000, messages=anthropic_messages(frames["red"]),
        thinking={"type": "adaptive"}, output_config={"effort": "low"})
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.usage.output_tokens_details.thinking_tokens == REASONING // 2


def test_anthropic_stream_shows_thinking_then_text_and_counts_it(sim, frames):
    server = sim(reasoning_tokens=REASONING, thinking_s=0.2)
    kinds = []
    with ant(server).messages.stream(model="claude-sonnet-4-6", max_tokens=8000, system=SYSTEM,
                                     messages=anthropic_messages(frames["gradient"]),
                                     thinking={"type": "enabled", "budget_tokens": 1024}) as s:
        for event in s:
            if event.type == "content_block_delta":
                kinds.append(event.delta.type)
        final = s.get_final_message()
    assert kinds[0] == "thinking_delta" and "signature_delta" in kinds and kinds[-1] == "text_delta"
    assert kinds.index("text_delta") > max(i for i, k in enumerate(kinds) if k == "thinking_delta")
    assert [b.type for b in final.content] == ["thinking", "text"]
    # The budget caps the thinking; output_tokens includes it, the details split it out.
    assert final.usage.output_tokens_details.thinking_tokens == REASONING  # < budget 1024
    assert final.usage.output_tokens == REASONING + -(-len(final.content[1].text) // 4)


def gem(server):
    return genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.base_url))


def gen_config(**thinking):
    return types.GenerateContentConfig(system_instruction=SYSTEM, max_output_tokens=8000,
                                       thinking_config=types.ThinkingConfig(**thinking))


def contents(image):
    return [types.Content(role="user", parts=[types.Part.from_bytes(data=image, mime_type="image/jpeg"),
                                              types.Part.from_text(text=USER)])]


@pytest.mark.parametrize("model, thinking, message", [
    ("gemini-3.8-flash", {"thinking_budget": 512, "thinking_level": "LOW"},
     "You can only set only one of thinking budget and thinking level."),
    ("gemini-2.5-pro", {"thinking_budget": 0}, "Budget 0 is invalid. This model only works in thinking mode."),
])
def test_gemini_thinking_rules_as_the_api_states_them(sim, frames, model, thinking, message):
    client = gem(sim())  # held: a Client closes its connection when collected
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=model, contents=contents(frames["red"]), config=gen_config(**thinking))
    assert exc.value.code == 400 and exc.value.status == "INVALID_ARGUMENT" and exc.value.message == message


def test_gemini_thoughts_counted_apart_and_shown_when_asked(sim, frames):
    server = sim(reasoning_tokens=REASONING, thinking_s=0.1)
    client = gem(server)
    chunks = list(client.models.generate_content_stream(
        model="gemini-3.1-pro-preview", contents=contents(frames["gradient"]),
        config=gen_config(thinking_level="LOW", include_thoughts=True)))
    parts = [p for c in chunks for p in (c.candidates[0].content.parts if c.candidates[0].content else [])]
    assert parts[0].thought and not parts[-1].thought
    usage = chunks[-1].usage_metadata
    assert usage.thoughts_token_count == REASONING // 2
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count + REASONING // 2
