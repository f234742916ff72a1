"""OpenAI Chat Completions (also what vLLM and inference.net speak).

Shapes follow /work/shared/specs/openai-openapi.yaml and the openai SDK:
`chat.completion` objects, `chat.completion.chunk` SSE lines ending with
`data: [DONE]`, and a final usage-only chunk (empty `choices`) when
`stream_options.include_usage` is true.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bench.sim import reasoning
from bench.sim.protocols.base import (
    BadRequest,
    Generation,
    MidstreamError,
    SimRequest,
    decode_b64,
    media_fields,
    now,
    open_sse,
    paced,
    sse,
    text_of,
)

_FINISH = {"stop": "stop", "length": "length", "blocked": "content_filter"}
_ERROR_TYPE = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
}


class OpenAIChat:
    name = "openai"

    def api_key(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None

    def parse(self, body: Any, request: web.Request) -> SimRequest:
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("'model' is required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("'messages' must be a non-empty array")
        system, user, images = [], [], []
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                raise BadRequest(f"messages[{i}] must be an object")
            role, content = msg.get("role"), msg.get("content")
            if role in ("system", "developer"):
                system.append(text_of(content, f"messages[{i}].content"))
            elif role == "user":
                if isinstance(content, str):
                    user.append(content)
                    continue
                if not isinstance(content, list):
                    raise BadRequest(f"messages[{i}].content must be a string or an array of parts")
                for j, part in enumerate(content):
                    kind = part.get("type") if isinstance(part, dict) else None
                    if kind == "text" and isinstance(part.get("text"), str):
                        user.append(part["text"])
                    elif kind == "image_url":
                        images.append(self._image(part.get("image_url"), f"messages[{i}].content[{j}]"))
                    else:
                        raise BadRequest(f"messages[{i}].content[{j}]: unsupported part type {kind!r}")
            elif role != "assistant":
                raise BadRequest(f"messages[{i}].role {role!r} is not supported")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise BadRequest("'max_tokens' must be a positive integer")
        opts = body.get("stream_options") or {}
        think = reasoning.openai(body, model)  # a reasoning model refuses max_tokens and temperature
        return SimRequest(
            model=model,
            system="\n".join(system),
            user="\n".join(user),
            **media_fields(images),
            stream=bool(body.get("stream")),
            max_tokens=max_tokens,
            include_usage=bool(isinstance(opts, dict) and opts.get("include_usage")),
            think=think,
        )

    @staticmethod
    def _image(image_url: Any, where: str) -> tuple[str, bytes]:
        url = image_url.get("url") if isinstance(image_url, dict) else None
        if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
            raise BadRequest(f"{where}: image_url.url must be a base64 data URL (the simulator has no internet)")
        head, data = url[5:].split(";base64,", 1)
        return head or "application/octet-stream", decode_b64(data, where)

    def error(self, status: int, message: str, headers: dict[str, str] | None = None, *,
              param: str | None = None, code: str | None = None) -> web.Response:
        etype, default_code = _ERROR_TYPE.get(status, ("server_error", None))
        body = {"error": {"message": message, "type": etype, "param": param, "code": code or default_code}}
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    def _usage(gen: Generation) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": gen.input_tokens,
            "completion_tokens": gen.output_tokens,  # reasoning included, as OpenAI bills it
            "total_tokens": gen.total_tokens,
        }
        if gen.reasoning_model:  # OpenAI's CompletionUsage.completion_tokens_details
            usage["completion_tokens_details"] = {"reasoning_tokens": gen.reasoning_tokens, "audio_tokens": 0,
                                                  "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        return usage

    def respond(self, req: SimRequest, gen: Generation) -> web.Response:
        blocked = gen.finish == "blocked"
        return web.json_response(
            {
                "id": gen.id,
                "object": "chat.completion",
                "created": now(),
                "model": gen.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None if blocked else gen.text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": _FINISH[gen.finish],
                    }
                ],
                "usage": self._usage(gen),
                "system_fingerprint": "capbench-sim",
            }
        )

    def _chunk(self, gen: Generation, created: int, delta: dict[str, Any], finish: str | None, usage: bool) -> dict:
        chunk: dict[str, Any] = {
            "id": gen.id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": gen.model,
            "system_fingerprint": "capbench-sim",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage:
            chunk["usage"] = None  # as the API does: null on every chunk but the last
        return chunk

    async def stream(self, request: web.Request, req: SimRequest, gen: Generation) -> web.StreamResponse:
        resp = await open_sse(request)
        created, inc = now(), req.include_usage
        await resp.write(sse(self._chunk(gen, created, {"role": "assistant", "content": ""}, None, inc)))
        try:
            async for tok in paced(gen):
                await resp.write(sse(self._chunk(gen, created, {"content": tok}, None, inc)))
        except MidstreamError:
            err = {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
            await resp.write(sse(err))
            return resp
        await resp.write(sse(self._chunk(gen, created, {}, _FINISH[gen.finish], inc)))
        if inc:
            final = self._chunk(gen, created, {}, None, True)
            final["choices"], final["usage"] = [], self._usage(gen)
            await resp.write(sse(final))
        await resp.write(sse("[DONE]"))
        return resp


def model_list(names: list[str]) -> dict[str, Any]:
    """GET /v1/models, as vLLM answers it."""
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "capbench-sim"} for n in names],
    }
