"""OpenAI chat completions with the official `openai` SDK.

Serves OpenAI itself, hosted ClipTagger (api.inference.net), vLLM and any
OpenAI-compatible server. Streams with `stream_options.include_usage` so TTFT
is measured and token usage still comes from the server. The SDK's own
retries are off (max_retries=0): bench.retry owns the policy and sees every
attempt.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import openai

from bench.backends.base import (
    BackendError,
    CaptionRequest,
    CaptionResponse,
    StreamClock,
    Usage,
    is_json_body,
    normalize_finish_reason,
    required_schema,
    says_simulated,
    token_count,
)
from bench.backends.errors import from_stainless_sdk

PROVIDER = "openai"


def build_messages(request: CaptionRequest) -> list[dict[str, Any]]:
    """The seed's message layout: system text, then user text + the image as a data URL."""
    b64 = base64.b64encode(request.image.data).decode("ascii")
    image_url: dict[str, Any] = {"url": f"data:{request.image.mime};base64,{b64}"}
    if request.sampling.image_detail:
        image_url["detail"] = request.sampling.image_detail
    return [
        {"role": "system", "content": request.system},
        {"role": "user", "content": [{"type": "text", "text": request.user},
                                     {"type": "image_url", "image_url": image_url}]},
    ]


def response_format(request: CaptionRequest) -> dict[str, Any] | None:
    kind = request.sampling.response_format
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        # strict: true is what makes OpenAI enforce the schema while decoding (with false it is a
        # hint only); vLLM enforces a json_schema either way.
        return {"type": "json_schema",
                "json_schema": {"name": "caption", "schema": required_schema(request), "strict": True}}
    return None


def strict_schema_problems(schema: Any, path: str = "$") -> list[str]:
    """Why OpenAI's strict structured outputs would refuse this schema (empty: it accepts it).

    Strict mode needs every object to set additionalProperties: false and to list every property
    in `required` (https://platform.openai.com/docs/guides/structured-outputs, "Supported schemas";
    read 2026-11). Checked before a run so a refused schema is one clear message, not a 400 a frame.
    """
    problems: list[str] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties") or {}
            if schema.get("additionalProperties") is not False:
                problems.append(f"{path}: set additionalProperties: false")
            missing = sorted(set(props) - set(schema.get("required") or []))
            if missing:
                problems.append(f"{path}: list every property in required (missing {', '.join(missing)})")
            for name, sub in props.items():
                problems += strict_schema_problems(sub, f"{path}.{name}")
        for key in ("items", "anyOf", "allOf", "$defs", "definitions"):
            sub = schema.get(key)
            subs = sub.items() if isinstance(sub, dict) and key in ("$defs", "definitions") else (
                enumerate(sub) if isinstance(sub, list) else [(key, sub)] if isinstance(sub, dict) else [])
            for name, item in subs:
                problems += strict_schema_problems(item, f"{path}.{key}" + (f"[{name}]" if name != key else ""))
    return problems


def build_params(model: str, request: CaptionRequest, *, max_tokens_field: str = "max_completion_tokens",
                 extra_body: dict[str, Any] | None = None) -> dict[str, Any]:
    """chat.completions.create(**params) for one frame; also the body of a Batch API line (bench/batch)."""
    s = request.sampling
    params: dict[str, Any] = {
        "model": model,
        "messages": build_messages(request),
        max_tokens_field: s.max_tokens,
    }
    if request.reasoning.effort is not None:  # openai SDK: chat.completions.create(reasoning_effort=...)
        params["reasoning_effort"] = request.reasoning.effort
    if s.temperature is not None:
        params["temperature"] = s.temperature
    if s.top_p is not None:
        params["top_p"] = s.top_p
    if s.seed is not None:
        params["seed"] = s.seed
    fmt = response_format(request)
    if fmt is not None:
        params["response_format"] = fmt
    if extra_body:
        params["extra_body"] = dict(extra_body)
    return params


class OpenAIChatBackend:
    def __init__(self, model: str, base_url: str | None, api_key: str, *, timeout_s: float = 120.0,
                 stream: bool = True, extra_body: dict[str, Any] | None = None,
                 extra_headers: dict[str, str] | None = None, provider: str = PROVIDER,
                 max_tokens_field: str = "max_completion_tokens") -> None:
        self.name = provider
        self.model = model
        self.stream = stream
        # max_completion_tokens: OpenAI's reasoning models refuse max_tokens, and vLLM takes either;
        # max_tokens only for a server that needs the old name (model.sampling.max_tokens_field).
        self.max_tokens_field = max_tokens_field
        self.extra_body = dict(extra_body or {})
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout_s,
                                         default_headers=dict(extra_headers or {}))

    async def aclose(self) -> None:
        await self.client.close()

    def _params(self, request: CaptionRequest) -> dict[str, Any]:
        return build_params(self.model, request, max_tokens_field=self.max_tokens_field, extra_body=self.extra_body)

    async def generate(self, request: CaptionRequest) -> CaptionResponse:
        params = self._params(request)
        try:
            if self.stream:
                return await self._streamed(params)
            return await self._whole(params)
        except Exception as exc:
            raise from_stainless_sdk(self.name, exc, openai) from exc

    async def _streamed(self, params: dict[str, Any]) -> CaptionResponse:
        """Stream through the SDK (request, auth, HTTP errors) but read the SSE lines ourselves.

        Why: the SDK builds a pydantic model per chunk (~150 us); at one token per
        chunk and a few thousand tokens/s that saturates a core, and a benchmark
        client must not be the bottleneck it measures (benchmarks/sim_throughput.py).
        """
        clock = StreamClock()
        parts: list[str] = []
        finish_reason = response_id = model = None
        usage = Usage()
        async with self.client.chat.completions.with_streaming_response.create(
                **params, stream=True, stream_options={"include_usage": True}) as response:
            simulated = says_simulated(response.headers)
            if is_json_body(response.headers):  # the server ignored stream=true and sent the whole answer
                body = await response.read()
                return self._from_json_body(body, clock, simulated)
            chunks, done, received = 0, False, 0
            limit = max(100_000, 40 * params[self.max_tokens_field])  # a token is a few characters, never 40
            async for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # comments, event names and blank separators
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                chunk = json.loads(data)
                if not isinstance(chunk, dict):
                    raise BackendError("protocol", f"{self.name}: a stream chunk is not a JSON object: {data[:80]!r}")
                chunks += 1
                if chunk.get("error"):  # an error sent inside a 200 stream
                    err = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
                    raise BackendError("server", f"{self.name}: stream error: {err.get('message', err)}")
                response_id = response_id or _str(chunk.get("id"))
                model = model or _str(chunk.get("model"))
                if isinstance(chunk.get("usage"), dict):
                    usage = _usage(chunk["usage"])
                for choice in chunk.get("choices") or []:
                    if not isinstance(choice, dict):
                        raise BackendError("protocol", f"{self.name}: a choice is not an object: {choice!r:.80}")
                    delta = choice.get("delta") or {}
                    # vLLM's reasoning parsers stream the reasoning apart (reasoning_content, or
                    # reasoning in newer releases); OpenAI's own chat completions never show it.
                    thought = delta.get("reasoning_content") or delta.get("reasoning")
                    clock.thought(thought if isinstance(thought, str) else None)
                    text = delta.get("content")
                    text = text if isinstance(text, str) else None
                    clock.chunk(text)
                    if text:
                        parts.append(text)
                        received += len(text)
                        if received > limit:  # a runaway server must not fill the disk
                            raise BackendError("protocol", f"{self.name}: answer longer than {limit:,} characters, "
                                               "far beyond max_tokens; cut off")
                    finish_reason = _str(choice.get("finish_reason")) or finish_reason
            if not chunks:  # a 200 that is not an event stream (a proxy's HTML page, say)
                kind = response.headers.get("content-type", "?")
                raise BackendError("protocol", f"{self.name}: the answer is not an event stream ({kind})")
            if not done and finish_reason is None:  # the stream stopped mid-answer
                raise BackendError("connection", f"{self.name}: the stream ended without a finish reason or [DONE]")
        t_end = clock.done()
        return CaptionResponse(text="".join(parts), finish_reason=normalize_finish_reason(finish_reason),
                               usage=usage, t_sent=clock.t_sent, t_first_token=clock.t_first_token,
                               t_last_token=t_end, response_id=response_id, model=model,
                               raw_finish_reason=finish_reason, simulated=simulated, t_first_any=clock.first_any)

    def _from_json_body(self, body: bytes, clock: StreamClock, simulated: bool) -> CaptionResponse:
        """A chat.completion sent as one JSON body: the answer it is, with its usage. Anything else in
        JSON is an endpoint that is not an OpenAI chat API: every frame would get the same (fatal)."""
        t_end = clock.done()
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BackendError("protocol", f"{self.name}: application/json answer that is not JSON: "
                                           f"{body[:80]!r}") from None
        if isinstance(data, dict) and data.get("error"):  # an error object sent with HTTP 200
            err = data["error"] if isinstance(data["error"], dict) else {"message": data["error"]}
            raise BackendError("server", f"{self.name}: error in a 200 answer: {err.get('message', err)}")
        choices = data.get("choices") if isinstance(data, dict) else None
        message = choices[0].get("message") if isinstance(choices, list) and choices and isinstance(
            choices[0], dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("content", ""), str | None):
            raise BackendError("misconfigured", f"{self.name}: the server answered a streamed chat request with "
                               f"JSON that is not a chat.completion ({body[:120]!r}); check model.base_url")
        finish = _str(choices[0].get("finish_reason"))
        return CaptionResponse(text=message.get("content") or "", finish_reason=normalize_finish_reason(finish),
                               usage=_usage(data["usage"]) if isinstance(data.get("usage"), dict) else Usage(),
                               t_sent=clock.t_sent, t_first_token=t_end, t_last_token=t_end,
                               response_id=_str(data.get("id")), model=_str(data.get("model")),
                               raw_finish_reason=finish, simulated=simulated, streamed=False)

    async def _whole(self, params: dict[str, Any]) -> CaptionResponse:
        clock = StreamClock()
        raw = await self.client.chat.completions.with_raw_response.create(**params)
        completion = raw.parse()
        t_end = clock.done()
        if not completion.choices:
            raise BackendError("protocol", f"{self.name}: response has no choices")
        choice = completion.choices[0]
        return CaptionResponse(text=choice.message.content or "",
                               finish_reason=normalize_finish_reason(choice.finish_reason),
                               usage=_usage(completion.usage) if completion.usage else Usage(), t_sent=clock.t_sent,
                               t_first_token=t_end, t_last_token=t_end, response_id=completion.id,
                               model=completion.model, raw_finish_reason=choice.finish_reason,
                               simulated=says_simulated(raw.headers), streamed=False)


def _usage(u: Any) -> Usage:
    raw = u.model_dump(exclude_none=True) if hasattr(u, "model_dump") else {k: v for k, v in u.items() if v is not None}
    details = raw.get("completion_tokens_details")
    # completion_tokens includes the reasoning tokens (billed as output); the split is in the details.
    reasoning = token_count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    return Usage(input_tokens=token_count(raw.get("prompt_tokens")),
                 output_tokens=token_count(raw.get("completion_tokens")), raw=raw, reasoning_tokens=reasoning)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None

