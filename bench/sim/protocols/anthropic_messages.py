"""Anthropic Messages API: `message` objects and the named SSE event sequence
(message_start, content_block_start, ping, content_block_delta*, content_block_stop,
message_delta, message_stop), errors as {"type": "error", "error": {...}}."""

from __future__ import annotations

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
    new_id,
    open_sse,
    paced,
    sse,
    text_of,
)

_STOP = {"stop": "end_turn", "length": "max_tokens", "blocked": "refusal"}
_ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_REFUSAL = {
    "type": "refusal",
    "category": None,
    "explanation": "The simulator declined this request (block_rate).",
}


_SIGNATURE = "c2ltdWxhdGVkLXRoaW5raW5nLXNpZ25hdHVyZQ=="  # opaque to clients; a real one verifies the block


class AnthropicMessages:
    name = "anthropic"

    def api_key(self, request: web.Request) -> str | None:
        key = request.headers.get("x-api-key")
        if key is None and request.headers.get("Authorization", "").lower().startswith("bearer "):
            key = request.headers["Authorization"][7:]
        return key

    def parse(self, body: Any, request: web.Request) -> SimRequest:
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: Field required")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise BadRequest("max_tokens: Field required (a positive integer)")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: at least one message is required")
        user, images = [], []
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
                raise BadRequest(f"messages.{i}: role must be 'user' or 'assistant'")
            content = msg.get("content")
            if msg["role"] == "assistant":
                continue
            if isinstance(content, str):
                user.append(content)
                continue
            if not isinstance(content, list):
                raise BadRequest(f"messages.{i}.content: expected a string or an array of blocks")
            for j, block in enumerate(content):
                kind = block.get("type") if isinstance(block, dict) else None
                if kind == "text" and isinstance(block.get("text"), str):
                    user.append(block["text"])
                elif kind == "image":
                    images.append(self._image(block.get("source"), f"messages.{i}.content.{j}.source"))
                else:
                    raise BadRequest(f"messages.{i}.content.{j}: unsupported block type {kind!r}")
        return SimRequest(
            model=model,
            system=text_of(body.get("system"), "system"),
            user="\n".join(user),
            **media_fields(images),
            stream=bool(body.get("stream")),
            max_tokens=max_tokens,
            think=reasoning.anthropic(body, model),  # extended / adaptive thinking, with its rules
        )

    @staticmethod
    def _image(source: Any, where: str) -> tuple[str, bytes]:
        if not isinstance(source, dict) or source.get("type") != "base64":
            raise BadRequest(f"{where}: only base64 image sources are supported (the simulator has no internet)")
        media = source.get("media_type")
        if media not in ("image/jpeg", "image/png", "image/gif", "image/webp"):
            raise BadRequest(f"{where}.media_type: must be image/jpeg, image/png, image/gif or image/webp")
        return media, decode_b64(source.get("data"), f"{where}.data")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None, *,
              param: str | None = None, code: str | None = None) -> web.Response:
        body = {
            "type": "error",
            "error": {"type": _ERROR_TYPE.get(status, "api_error"), "message": message},
            "request_id": new_id("req_"),
        }
        return web.json_response(body, status=status, headers=headers)

    def _message(self, gen: Generation, content: list[dict[str, Any]], stop: str | None, out: int) -> dict[str, Any]:
        return {
            "id": gen.id,
            "type": "message",
            "role": "assistant",
            "model": gen.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "stop_details": _REFUSAL if stop == "refusal" else None,
            "usage": self._usage(gen, out),
        }

    @staticmethod
    def _usage(gen: Generation, out: int) -> dict[str, Any]:
        """output_tokens includes the thinking (billed as output); output_tokens_details splits it out."""
        usage: dict[str, Any] = {"input_tokens": gen.input_tokens, "output_tokens": out}
        if gen.reasoning_model:
            usage["output_tokens_details"] = {"thinking_tokens": min(out, gen.reasoning_tokens)}
        return usage

    def respond(self, req: SimRequest, gen: Generation) -> web.Response:
        content: list[dict[str, Any]] = []
        if gen.thoughts:
            content.append({"type": "thinking", "thinking": "".join(gen.thoughts), "signature": _SIGNATURE})
        if gen.finish != "blocked":
            content.append({"type": "text", "text": gen.text})
        return web.json_response(self._message(gen, content, _STOP[gen.finish], gen.output_tokens))

    @staticmethod
    async def _end_thinking(resp: web.StreamResponse, text_block: bool = True) -> None:
        sig = {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": _SIGNATURE}}
        await resp.write(sse(sig, "content_block_delta"))
        await resp.write(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        if text_block:
            block = {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}
            await resp.write(sse(block, "content_block_start"))

    async def stream(self, request: web.Request, req: SimRequest, gen: Generation) -> web.StreamResponse:
        resp = await open_sse(request)
        start = {"type": "message_start", "message": self._message(gen, [], None, 1)}
        await resp.write(sse(start, "message_start"))
        blocked = gen.finish == "blocked"
        index = 0
        if gen.thoughts:  # a thinking block first (index 0), then the text block
            block = {"type": "content_block_start", "index": 0,
                     "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
            await resp.write(sse(block, "content_block_start"))
        elif not blocked:
            block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
            await resp.write(sse(block, "content_block_start"))
        await resp.write(sse({"type": "ping"}, "ping"))
        try:
            async for tok in paced(gen):
                if isinstance(tok, Thought):
                    delta = {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "thinking_delta", "thinking": str(tok)}}
                    await resp.write(sse(delta, "content_block_delta"))
                    continue
                if index == 0 and gen.thoughts:  # close the thinking block, open the text block
                    index = 1
                    await self._end_thinking(resp)
                delta = {"type": "content_block_delta", "index": index,
                         "delta": {"type": "text_delta", "text": tok}}
                await resp.write(sse(delta, "content_block_delta"))
        except MidstreamError:
            err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            await resp.write(sse(err, "error"))
            return resp
        if gen.thoughts and index == 0:  # thought, but no visible token (the cap was spent thinking)
            await self._end_thinking(resp, text_block=False)
        elif not blocked:
            await resp.write(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        stop = _STOP[gen.finish]
        usage = self._usage(gen, gen.output_tokens)
        del usage["input_tokens"]  # message_delta carries the output side
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None, "stop_details": _REFUSAL if blocked else None},
            "usage": usage,
        }
        await resp.write(sse(delta, "message_delta"))
        await resp.write(sse({"type": "message_stop"}, "message_stop"))
        return resp
