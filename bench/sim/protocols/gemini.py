"""Gemini API (generativelanguage v1beta): generateContent and
streamGenerateContent?alt=sse, camelCase JSON, errors as
{"error": {"code", "message", "status"}}. Safety blocks appear either as a
candidate with finishReason SAFETY and no content, or as a blocked prompt
(promptFeedback.blockReason, no candidates)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bench.sim import reasoning
from bench.sim.protocols.base import (
    BadRequest,
    Generation,
    MidstreamError,
    SimRequest,
    Thought,
    decode_b64,
    media_fields,
    open_sse,
    paced,
    sse,
)

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "blocked": "SAFETY"}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_SAFETY = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    """The REST API accepts both spellings; the SDK sends camelCase."""
    return d.get(camel, d.get(snake))


class Gemini:
    name = "gemini"

    def api_key(self, request: web.Request) -> str | None:
        return request.headers.get("x-goog-api-key") or request.query.get("key")

    def parse(self, body: Any, request: web.Request) -> SimRequest:
        if not isinstance(body, dict):
            raise BadRequest("Invalid JSON payload: expected an object")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
        user, images, videos = [], [], []
        for i, c in enumerate(contents):
            parts = c.get("parts") if isinstance(c, dict) else None
            if not isinstance(parts, list):
                raise BadRequest(f"* GenerateContentRequest.contents[{i}].parts: must be an array")
            if c.get("role", "user") != "user":
                continue
            for j, part in enumerate(parts):
                where = f"contents[{i}].parts[{j}]"
                if not isinstance(part, dict):
                    raise BadRequest(f"* GenerateContentRequest.{where}: must be an object")
                inline = _get(part, "inlineData", "inline_data")
                if isinstance(part.get("text"), str):
                    user.append(part["text"])
                elif isinstance(inline, dict):
                    mime = _get(inline, "mimeType", "mime_type")
                    if isinstance(mime, str) and mime.startswith("video/"):
                        videos.append((mime, decode_b64(inline.get("data"), where, urlsafe_ok=True)))
                        continue
                    if not isinstance(mime, str) or not mime.startswith("image/"):
                        raise BadRequest(
                            f"* GenerateContentRequest.{where}.inline_data.mime_type: must be an image or video type"
                        )
                    images.append((mime, decode_b64(inline.get("data"), where, urlsafe_ok=True)))
                else:
                    raise BadRequest(f"* GenerateContentRequest.{where}: unsupported part (use text or inlineData)")
        system_parts = (_get(body, "systemInstruction", "system_instruction") or {}).get("parts") or []
        system = "\n".join(p.get("text", "") for p in system_parts if isinstance(p, dict))
        gen_cfg = _get(body, "generationConfig", "generation_config") or {}
        max_tokens = _get(gen_cfg, "maxOutputTokens", "max_output_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise BadRequest("* GenerationConfig.max_output_tokens: must be a positive integer")
        model, _, action = request.match_info["model_action"].rpartition(":")
        return SimRequest(
            model=model,
            system=system,
            user="\n".join(user),
            **media_fields(images),
            videos=videos,
            stream=action == "streamGenerateContent",
            max_tokens=max_tokens,
            extra={"sse": request.query.get("alt") == "sse"},
            think=reasoning.gemini(gen_cfg, model),  # 2.5 and 3.x think; thinking_budget / thinking_level rules
        )

    def error(self, status: int, message: str, headers: dict[str, str] | None = None, *,
              param: str | None = None, code: str | None = None) -> web.Response:
        return web.json_response(self.error_body(status, message, headers), status=status, headers=headers)

    @staticmethod
    def error_body(status: int, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}
        if headers and "retry-after" in headers:  # Google says when to retry in RetryInfo, not a header
            err["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{headers['retry-after']}s"}
            ]
        return {"error": err}

    @staticmethod
    def _usage(gen: Generation, out: int) -> dict[str, Any]:
        # candidatesTokenCount is the answer only; thoughtsTokenCount the thinking (both billed as output).
        thoughts = gen.reasoning_tokens if gen.reasoning_model else 0
        usage: dict[str, Any] = {
            "promptTokenCount": gen.input_tokens,
            "totalTokenCount": gen.input_tokens + out + thoughts,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": gen.input_tokens - gen.image_tokens},
                {"modality": gen.media_modality, "tokenCount": gen.image_tokens},
            ],
        }
        if out:
            usage["candidatesTokenCount"] = out
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return usage

    def _thought(self, gen: Generation, text: str) -> dict[str, Any]:
        """A thought-summary chunk (includeThoughts): a part with `thought: true`, before the answer."""
        body = self._response(gen, None, None, 0)
        body["candidates"][0]["content"] = {"parts": [{"text": text, "thought": True}], "role": "model"}
        return body

    def _response(self, gen: Generation, text: str | None, finish: str | None, out: int) -> dict[str, Any]:
        body: dict[str, Any] = {"usageMetadata": self._usage(gen, out), "modelVersion": gen.model, "responseId": gen.id}
        if gen.finish == "blocked" and gen.attempt.block_style == "prompt":
            body["promptFeedback"] = {"blockReason": "SAFETY", "safetyRatings": _SAFETY}
            return body
        cand: dict[str, Any] = {"index": 0}
        if text is not None:
            cand["content"] = {"parts": [{"text": text}], "role": "model"}
        if finish:
            cand["finishReason"] = finish
            if finish == "SAFETY":
                cand["safetyRatings"] = _SAFETY
        body["candidates"] = [cand]
        return body

    def respond(self, req: SimRequest, gen: Generation) -> web.Response:
        text = None if gen.finish == "blocked" else gen.text
        body = self._response(gen, text, _FINISH[gen.finish], gen.visible_tokens)
        if gen.thoughts and "candidates" in body:
            parts = body["candidates"][0].setdefault("content", {"parts": [], "role": "model"})["parts"]
            parts.insert(0, {"text": "".join(gen.thoughts), "thought": True})
        return web.json_response(body)

    async def stream(self, request: web.Request, req: SimRequest, gen: Generation) -> web.StreamResponse:
        if not req.extra.get("sse"):
            return await self._json_array_stream(request, gen)
        resp = await open_sse(request)
        last = len(gen.tokens) - 1
        n = 0
        try:
            async for tok in paced(gen):
                if isinstance(tok, Thought):
                    await resp.write(sse(self._thought(gen, str(tok))))
                    continue
                finish = _FINISH[gen.finish] if n == last else None
                await resp.write(sse(self._response(gen, tok, finish, n + 1)))
                n += 1
        except MidstreamError:
            await resp.write(sse(self.error_body(500, "Internal error encountered.")))
            return resp
        if not gen.tokens:  # blocked: one chunk saying so
            await resp.write(sse(self._response(gen, None, _FINISH[gen.finish], 0)))
        return resp

    async def _json_array_stream(self, request: web.Request, gen: Generation) -> web.StreamResponse:
        """Without alt=sse the API streams one JSON array; chunks are written as they come."""
        resp = web.StreamResponse(headers={"Content-Type": "application/json; charset=UTF-8"})
        await resp.prepare(request)
        await resp.write(b"[")
        n, last = 0, len(gen.tokens) - 1
        first = True
        try:
            async for tok in paced(gen):
                body = (self._thought(gen, str(tok)) if isinstance(tok, Thought)
                        else self._response(gen, tok, _FINISH[gen.finish] if n == last else None, n + 1))
                await resp.write((b"" if first else b",") + json.dumps(body).encode())
                first = False
                n += 0 if isinstance(tok, Thought) else 1
        except MidstreamError:
            await resp.write(
                (b"" if first else b",") + json.dumps(self.error_body(500, "Internal error encountered.")).encode()
            )
        if not gen.tokens:
            body = json.dumps(self._response(gen, None, _FINISH[gen.finish], 0)).encode()
            await resp.write((b"" if first else b",") + body)
        await resp.write(b"]")
        return resp
