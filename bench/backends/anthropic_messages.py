"""Anthropic Messages with the official `anthropic` SDK, streamed.

The image goes as a base64 `image` block before the prompt text (Anthropic's
advice for vision prompts). Usage comes from the stream: input tokens in
`message_start`, output tokens in `message_delta`. With
`response_format=json_schema` the prompt's schema is sent as
`output_config.format` (structured outputs); Anthropic has no plain JSON mode,
so `json_object` relies on the prompt alone. SDK retries are off
(max_retries=0): bench.retry owns the policy.
"""

from __future__ import annotations

import base64
from typing import Any

import anthropic

from bench.backends.base import (
    BackendError,
    CaptionRequest,
    CaptionResponse,
    StreamClock,
    Usage,
    is_json_body,
    json_body,
    normalize_finish_reason,
    required_schema,
    says_simulated,
    token_count,
)
from bench.backends.errors import from_stainless_sdk

PROVIDER = "anthropic"


def build_params(model: str, request: CaptionRequest) -> dict[str, Any]:
    s = request.sampling
    if request.video is not None:
        raise BackendError("unsupported_request", "the Anthropic Messages API takes no video blocks: send the "
                           "window's frames as images (mode.video=false)")
    # Several images (a window) are several image blocks, in order, before the text; none for a text-only summary.
    image_blocks = [{"type": "image", "source": {"type": "base64", "media_type": image.mime,
                                                 "data": base64.b64encode(image.data).decode("ascii")}}
                    for image in request.all_images]
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": s.max_tokens,
        "system": request.system,
        "messages": [{"role": "user", "content": [*image_blocks, {"type": "text", "text": request.user}]}],
    }
    # Current SDKs no longer type `temperature`/`top_p` (newer Claude models reject
    # them); models that take them (Claude Sonnet 4) get them as body fields.
    # Set model.sampling.temperature=null to leave them out.
    sampling = {k: v for k, v in (("temperature", s.temperature), ("top_p", s.top_p)) if v is not None}
    if sampling:
        params["extra_body"] = sampling
    output_config: dict[str, Any] = {}
    if s.response_format == "json_schema":
        output_config["format"] = {"type": "json_schema", "schema": required_schema(request)}
    r = request.reasoning
    # anthropic SDK: messages.create(thinking=ThinkingConfigEnabledParam {"type": "enabled", "budget_tokens"}
    # | ThinkingConfigAdaptiveParam {"type": "adaptive"}, output_config=OutputConfigParam {"effort", "format"}).
    if r.budget is not None:
        params["thinking"] = {"type": "enabled", "budget_tokens": r.budget}
    elif r.effort is not None:
        params["thinking"] = {"type": "adaptive"}
        output_config["effort"] = r.effort
    if output_config:
        params["output_config"] = output_config
    return params


class AnthropicMessagesBackend:
    def __init__(self, model: str, base_url: str | None, api_key: str, *, timeout_s: float = 120.0,
                 extra_headers: dict[str, str] | None = None, extra_body: dict[str, Any] | None = None) -> None:
        self.name = PROVIDER
        self.model = model
        self.extra_body = dict(extra_body or {})
        self.client = anthropic.AsyncAnthropic(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout_s,
                                               default_headers=dict(extra_headers or {}))

    async def aclose(self) -> None:
        await self.client.close()

    async def generate(self, request: CaptionRequest) -> CaptionResponse:
        params = build_params(self.model, request)
        if self.extra_body:
            params["extra_body"] = {**params.get("extra_body", {}), **self.extra_body}
        try:
            return await self._streamed(params)
        except Exception as exc:
            raise from_stainless_sdk(self.name, exc, anthropic) from exc

    async def _streamed(self, params: dict[str, Any]) -> CaptionResponse:
        clock = StreamClock()
        stream = await self.client.messages.create(**params, stream=True)
        parts: list[str] = []
        input_tokens = output_tokens = None
        raw_usage: dict[str, Any] = {}
        stop_reason = response_id = model = None
        stopped = False
        simulated = says_simulated(getattr(stream.response, "headers", None))
        if is_json_body(getattr(stream.response, "headers", None)):  # stream=true ignored: one JSON body
            async with stream:
                body = await stream.response.aread()
            return self._from_json_body(body, clock, simulated)
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    response_id, model = event.message.id, event.message.model
                    if event.message.usage is not None:
                        raw_usage.update(event.message.usage.model_dump(exclude_none=True))
                        input_tokens = token_count(event.message.usage.input_tokens)
                elif event.type == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
                    clock.chunk(event.delta.text)
                    parts.append(event.delta.text)
                elif event.type == "content_block_delta" and getattr(event.delta, "type", "") == "thinking_delta":
                    clock.thought(event.delta.thinking)  # thinking time: first thought to first text
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    if event.usage is not None:
                        raw_usage.update(event.usage.model_dump(exclude_none=True))
                        output_tokens = token_count(event.usage.output_tokens)
                        # Some servers report input tokens only at the end.
                        input_tokens = token_count(getattr(event.usage, "input_tokens", None)) or input_tokens
                elif event.type == "message_stop":
                    stopped = True
                elif event.type == "error":  # an error event inside an HTTP 200 stream
                    err = getattr(event, "error", None)
                    kind = getattr(err, "type", "api_error")
                    raise BackendError("rate_limit" if kind == "rate_limit_error" else "server",
                                       f"{self.name}: stream error {kind}: {getattr(err, 'message', '')}")
        if response_id is None:  # no message_start: a 200 that is not a Messages stream
            raise BackendError("protocol", f"{self.name}: the answer is not a Messages event stream")
        if not stopped and stop_reason is None:
            raise BackendError("connection", f"{self.name}: the stream ended before message_stop")
        t_end = clock.done()
        usage = Usage(input_tokens, output_tokens, raw_usage, reasoning_tokens=_thinking_tokens(raw_usage))
        return CaptionResponse(text="".join(parts), finish_reason=normalize_finish_reason(stop_reason),
                               usage=usage, t_sent=clock.t_sent,
                               t_first_token=clock.t_first_token, t_last_token=t_end, response_id=response_id,
                               model=model, raw_finish_reason=stop_reason, simulated=simulated,
                               t_first_any=clock.first_any)

    def _from_json_body(self, body: bytes, clock: StreamClock, simulated: bool) -> CaptionResponse:
        """A Message sent as one JSON body: the answer it is, with its usage. Other JSON is an endpoint
        that is not the Messages API: every frame would get the same (fatal)."""
        t_end = clock.done()
        data = json_body(self.name, body)
        if isinstance(data, dict) and data.get("type") == "error":  # an error object sent with HTTP 200
            err = data.get("error") if isinstance(data.get("error"), dict) else {}
            raise BackendError("rate_limit" if err.get("type") == "rate_limit_error" else "server",
                               f"{self.name}: error in a 200 answer: {err.get('message', data)}")
        content = data.get("content") if isinstance(data, dict) else None
        if not (isinstance(data, dict) and data.get("type") == "message" and isinstance(content, list)):
            raise BackendError("misconfigured", f"{self.name}: the server answered a streamed Messages request with "
                               f"JSON that is not a Message ({body[:120]!r}); check model.base_url")
        text = "".join(b["text"] for b in content
                       if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        stop = data.get("stop_reason") if isinstance(data.get("stop_reason"), str) else None
        return CaptionResponse(text=text, finish_reason=normalize_finish_reason(stop),
                               usage=Usage(token_count(usage.get("input_tokens")),
                                           token_count(usage.get("output_tokens")), dict(usage),
                                           reasoning_tokens=_thinking_tokens(usage)),
                               t_sent=clock.t_sent, t_first_token=t_end, t_last_token=t_end,
                               response_id=data.get("id") if isinstance(data.get("id"), str) else None,
                               model=data.get("model") if isinstance(data.get("model"), str) else None,
                               raw_finish_reason=stop, simulated=simulated, streamed=False)


def _thinking_tokens(raw_usage: dict[str, Any]) -> int | None:
    """usage.output_tokens_details.thinking_tokens: of output_tokens (which include thinking, and are what is
    billed), those spent thinking. A server that does not send the details leaves the split unknown (None)."""
    details = raw_usage.get("output_tokens_details")
    return token_count(details.get("thinking_tokens")) if isinstance(details, dict) else None
