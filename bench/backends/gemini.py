"""Google Gemini with the official `google-genai` SDK, streamed.

The image goes as inline bytes before the prompt text; the system prompt as
`system_instruction`. `response_format=json_object` asks for
`response_mime_type="application/json"`; `json_schema` also sends the prompt's
schema as `response_json_schema`. Usage comes from `usage_metadata` (the last
chunk carries the totals). A blocked prompt (`prompt_feedback.block_reason`)
or a SAFETY candidate maps to finish reason `content_filter`.

google-genai does not retry unless asked (MISSION.md), and we don't ask:
bench.retry owns the policy.
"""

from __future__ import annotations

import re
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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
from bench.backends.errors import from_status, from_transport

PROVIDER = "gemini"


def build_config(request: CaptionRequest) -> types.GenerateContentConfig:
    s = request.sampling
    kwargs: dict[str, Any] = {"system_instruction": request.system, "max_output_tokens": s.max_tokens}
    if s.temperature is not None:
        kwargs["temperature"] = s.temperature
    if s.top_p is not None:
        kwargs["top_p"] = s.top_p
    if s.seed is not None:
        kwargs["seed"] = s.seed
    if s.response_format in ("json_object", "json_schema"):
        kwargs["response_mime_type"] = "application/json"
    if s.response_format == "json_schema":
        kwargs["response_json_schema"] = required_schema(request)
    r = request.reasoning
    if r.budget is not None or r.level is not None:
        # google-genai types.ThinkingConfig(thinking_budget= (2.5) | thinking_level= (3.x), include_thoughts=).
        # Thought summaries are asked for so the stream shows when thinking starts (their text is not kept);
        # a budget of 0 turns thinking off, and then the API refuses include_thoughts.
        kwargs["thinking_config"] = types.ThinkingConfig(
            thinking_budget=r.budget, thinking_level=r.level.upper() if r.level else None,
            include_thoughts=r.budget != 0)
    return types.GenerateContentConfig(**kwargs)


def build_contents(request: CaptionRequest) -> list[types.Content]:
    """Media before the text: one inline part per image (a window: several, in order), or one inline
    `video/mp4` part (mode.video=true), or none (a text-only summary)."""
    media = [types.Part.from_bytes(data=image.data, mime_type=image.mime) for image in request.all_images]
    if request.video is not None:
        media.append(types.Part.from_bytes(data=request.video.data, mime_type=request.video.mime))
    return [types.Content(role="user", parts=[*media, types.Part.from_text(text=request.user)])]


class GeminiBackend:
    def __init__(self, model: str, base_url: str | None, api_key: str, *, timeout_s: float = 120.0,
                 extra_headers: dict[str, str] | None = None) -> None:
        self.name = PROVIDER
        self.model = model
        options = types.HttpOptions(base_url=base_url, timeout=int(timeout_s * 1000),
                                    headers=dict(extra_headers or {}) or None)
        self.client = genai.Client(api_key=api_key, http_options=options)

    async def aclose(self) -> None:
        try:
            await self.client.aio.aclose()
        except AttributeError:  # older google-genai without aclose
            pass

    async def generate(self, request: CaptionRequest) -> CaptionResponse:
        config, contents = build_config(request), build_contents(request)
        try:
            return await self._streamed(contents, config)
        except BackendError:
            raise
        except genai_errors.APIError as exc:
            headers = getattr(getattr(exc, "response", None), "headers", None)
            err = from_status(self.name, exc.code or 0, f"{exc.status}: {exc.message}", headers, exc.details)
            err.retry_after = err.retry_after if err.retry_after is not None else _retry_delay(exc.details)
            raise err from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # reading a malformed answer
            raise BackendError("protocol", f"{self.name}: malformed response ({type(exc).__name__}: {exc})") from exc
        except Exception as exc:  # transport errors from the HTTP library
            raise from_transport(self.name, exc) from exc

    async def _streamed(self, contents: list[types.Content], config: types.GenerateContentConfig) -> CaptionResponse:
        clock = StreamClock()
        stream = await self.client.aio.models.generate_content_stream(model=self.model, contents=contents,
                                                                      config=config)
        parts: list[str] = []
        finish = usage = response_id = model = None
        blocked = simulated = whole = False
        chunks = 0
        async for chunk in stream:
            chunks += 1
            headers = getattr(chunk.sdk_http_response, "headers", None)
            response_id = response_id or chunk.response_id
            simulated = simulated or says_simulated(headers)
            whole = whole or is_json_body(headers)  # stream=true (alt=sse) ignored: the SDK read one JSON body
            model = model or chunk.model_version
            if chunk.usage_metadata is not None:
                usage = chunk.usage_metadata
            if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
                blocked = True  # the prompt itself was blocked: no candidates follow
                finish = str(getattr(chunk.prompt_feedback.block_reason, "value", chunk.prompt_feedback.block_reason))
            for candidate in chunk.candidates or []:
                for part in (candidate.content.parts if candidate.content and candidate.content.parts else []):
                    if part.text and part.thought:
                        clock.thought(part.text)
                    elif part.text:
                        clock.chunk(part.text)
                        parts.append(part.text)
                if candidate.finish_reason is not None:
                    finish = str(getattr(candidate.finish_reason, "value", candidate.finish_reason))
        t_end = clock.done()
        if whole and finish is None and usage is None and not parts:
            raise BackendError("misconfigured", f"{self.name}: the server answered with JSON that is not a "
                               "GenerateContentResponse (no candidates, finish reason or usage); check "
                               "model.base_url")
        if not chunks:
            raise BackendError("protocol", f"{self.name}: the answer held no response at all")
        raw = usage.model_dump(exclude_none=True, mode="json") if usage is not None else {}
        return CaptionResponse(text="".join(parts),
                               finish_reason="content_filter" if blocked else normalize_finish_reason(finish),
                               usage=Usage(token_count(raw.get("prompt_token_count")), _output_tokens(raw), raw,
                                           reasoning_tokens=_thoughts(raw)),
                               t_sent=clock.t_sent, t_first_token=t_end if whole else clock.t_first_token,
                               t_last_token=t_end, response_id=response_id, model=model, raw_finish_reason=finish,
                               simulated=simulated, streamed=not whole, t_first_any=clock.first_any)


def _output_tokens(raw: dict[str, Any]) -> int | None:
    """Candidates plus thinking tokens: both are billed as output."""
    out = token_count(raw.get("candidates_token_count"))
    thoughts = token_count(raw.get("thoughts_token_count"))
    if out is None and thoughts is None:
        return None
    return (out or 0) + (thoughts or 0)


def _thoughts(raw: dict[str, Any]) -> int | None:
    """thoughts_token_count; a usage without it (a model that did not think) spent none on thinking."""
    if "thoughts_token_count" in raw:
        return token_count(raw["thoughts_token_count"])
    return 0 if token_count(raw.get("candidates_token_count")) is not None else None


def _retry_delay(details: Any) -> float | None:
    """Gemini puts the wait in error.details[] as google.rpc.RetryInfo {retryDelay: "13s"}."""
    try:
        for item in details.get("error", {}).get("details", []):
            delay = item.get("retryDelay")
            if delay:
                match = re.match(r"([\d.]+)s", delay)
                return float(match.group(1)) if match else None
    except AttributeError:
        return None
    return None
