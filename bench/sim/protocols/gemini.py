"""Gemini API (generativelanguage v1beta): generateContent and
streamGenerateContent?alt=sse, camelCase JSON, errors as
{"error": {"code", "message", "status"}}. Safety blocks appear either as a
candidate with finishReason SAFETY and no content, or as a blocked prompt
(promptFeedback.blockReason, no candidates)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bench.sim.protocols.base import (
    BadRequest,
    Generation,
    MidstreamError,
    SimRequest,
    decode_b64,
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
        user, images = [], []
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
                    if not isinstance(mime, str) or not mime.startswith("image/"):
                        raise BadRequest(
                            f"* GenerateContentRequest.{where}.inline_data.mime_type: must be an image type"
                        )
                    images.append((mime, decode_b64(inline.get("data"), where, urlsafe_ok=True)))
                else:
                    raise BadRequest(f"* GenerateContentRequest.{where}: unsupported part (use text or inlineData)")
        if len(images) != 1:
            raise BadRequest(f"expected exactly one inlineData image part, got {len(images)}")
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
            image=images[0][1],
            mime=images[0][0],
            stream=action == "streamGenerateContent",
            max_tokens=max_tokens,
            extra={"sse": request.query.get("alt") == "sse"},
        )

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
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
        usage: dict[str, Any] = {
            "promptTokenCount": gen.input_tokens,
            "totalTokenCount": gen.input_tokens + out,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": gen.input_tokens - gen.image_tokens},
                {"modality": "IMAGE", "tokenCount": gen.image_tokens},
            ],
        }
        if out:
            usage["candidatesTokenCount"] = out
        return usage

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
        return web.json_response(self._response(gen, text, _FINISH[gen.finish], gen.output_tokens))

    async def stream(self, request: web.Request, req: SimRequest, gen: Generation) -> web.StreamResponse:
        if not req.extra.get("sse"):
            return await self._json_array_stream(request, gen)
        resp = await open_sse(request)
        last = len(gen.tokens) - 1
        n = 0
        try:
            async for tok in paced(gen):
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
        try:
            async for tok in paced(gen):
                finish = _FINISH[gen.finish] if n == last else None
                await resp.write((b"," if n else b"") + json.dumps(self._response(gen, tok, finish, n + 1)).encode())
                n += 1
        except MidstreamError:
            await resp.write(
                (b"," if n else b"") + json.dumps(self.error_body(500, "Internal error encountered.")).encode()
            )
        if not gen.tokens:
            await resp.write(json.dumps(self._response(gen, None, _FINISH[gen.finish], 0)).encode())
        await resp.write(b"]")
        return resp
