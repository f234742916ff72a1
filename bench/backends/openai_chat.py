"""OpenAI chat completions: streamed over aiohttp with prebuilt request bytes, else the official `openai` SDK.

Serves OpenAI itself, hosted ClipTagger (api.inference.net), vLLM and any
OpenAI-compatible server. Streams with `stream_options.include_usage` so TTFT
is measured and token usage still comes from the server. The streamed path
(the default, and the hot one) posts the JSON bytes itself and reads the SSE
lines with bench.backends.chat_sse: the SDK's per-request and per-chunk work
made the client the bottleneck under load (issue 12). Non-streamed requests
(model.stream=false) go through the SDK. Either way no retries here: bench.retry
owns the policy and sees every attempt, and errors map through bench.backends.errors.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import TYPE_CHECKING, Any

import aiohttp

from bench._version import __version__
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
)
from bench.backends.chat_sse import ChatStreamReader, usage_of
from bench.backends.errors import from_stainless_sdk, from_status, from_transport

if TYPE_CHECKING:
    import openai

PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the openai SDK's default, when neither argument nor env sets one
_IMAGE_SLOT = "\x00capbench-image\x00"  # where the image's data URL goes in the prebuilt body
_ERROR_BODY_MAX = 64 * 1024  # of an error answer, read for its message
DRAIN_S = 0.05  # after [DONE], how long the end of the body is waited for (see _drain)


def build_messages(request: CaptionRequest, url: str | None = None) -> list[dict[str, Any]]:
    """The seed's message layout: system text, then user text + the image as a data URL (or `url`).
    Several images (a window) go as several `image_url` parts, in order, after the text; a text-only
    request (a clip summary) has no image part."""
    images = request.all_images
    if request.video is not None:
        raise BackendError("unsupported_request", "the OpenAI chat protocol takes no video parts: send the window's "
                           "frames as images (mode.video=false)")
    parts: list[dict[str, Any]] = [{"type": "text", "text": request.user}]
    for n, image in enumerate(images):
        image_url: dict[str, Any] = {"url": url if url and n == 0 and len(images) == 1
                                     else f"data:{image.mime};base64,{image.base64}"}
        if request.sampling.image_detail:
            image_url["detail"] = request.sampling.image_detail
        parts.append({"type": "image_url", "image_url": image_url})
    return [
        {"role": "system", "content": request.system},
        {"role": "user", "content": parts},
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
                 extra_body: dict[str, Any] | None = None, image_url: str | None = None) -> dict[str, Any]:
    """chat.completions.create(**params) for one frame; also the body of a Batch API line (bench/batch).
    image_url: a placeholder the streamed path splices each frame's data URL into (built once per run)."""
    s = request.sampling
    params: dict[str, Any] = {
        "model": model,
        "messages": build_messages(request, image_url),
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
        self.timeout_s = timeout_s
        # The base URL as the SDK resolves it: the argument, else OPENAI_BASE_URL, else OpenAI's.
        if base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL")
        self.base_url = base_url if base_url is not None else DEFAULT_BASE_URL
        self._url = self.base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key  # sent as a header only, never stored anywhere
        self._extra_headers = dict(extra_headers or {})
        # The SDK serves non-streamed requests (model.stream=false) only; it is imported and made on
        # first use, so a streamed run does not pay its ~0.5 s import (issue 12).
        self._client: openai.AsyncOpenAI | None = None
        self._http: aiohttp.ClientSession | None = None
        self._body_parts: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}  # see _body

    @property
    def client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0,
                                              timeout=self.timeout_s, default_headers=self._extra_headers)
        return self._client

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._client is not None:
            await self._client.close()

    def _params(self, request: CaptionRequest, image_url: str | None = None) -> dict[str, Any]:
        return build_params(self.model, request, max_tokens_field=self.max_tokens_field, extra_body=self.extra_body,
                            image_url=image_url)

    async def generate(self, request: CaptionRequest) -> CaptionResponse:
        if self.stream:
            return await self._streamed(request)
        import openai

        try:
            return await self._whole(self._params(request))
        except Exception as exc:
            raise from_stainless_sdk(self.name, exc, openai) from exc

    def _body(self, request: CaptionRequest) -> bytes:
        """The streamed request's JSON bytes: the image's base64 text (made once per image, off the event
        loop) spliced between the bytes before and after it, which are the same for every frame of a run
        (same prompt, sampling, schema) and so are built once, not per frame and attempt."""
        if request.image is None or request.images or request.video is not None:
            # several images (a window) or none (a summary): built whole, the one-image splice does not apply
            params = self._params(request)
            extra = params.pop("extra_body", None) or {}
            body = {**params, "stream": True, "stream_options": {"include_usage": True}, **extra}
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        schema = request.schema if request.sampling.response_format == "json_schema" else None
        key = (request.system, request.user, request.sampling, request.reasoning, request.image.mime, self.model,
               self.max_tokens_field, _canonical(schema), _canonical(self.extra_body))
        parts = self._body_parts.get(key)
        if parts is None:
            params = self._params(request, image_url=_IMAGE_SLOT)
            extra = params.pop("extra_body", None) or {}
            body = {**params, "stream": True, "stream_options": {"include_usage": True}, **extra}
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            head, slot, tail = text.partition(json.dumps(_IMAGE_SLOT))
            if not slot:  # extra_body replaced the messages: send what it says
                return text.encode()
            parts = (head.encode() + f'"data:{request.image.mime};base64,'.encode(), b'"' + tail.encode())
            if len(self._body_parts) >= 8:  # one entry per run in practice; never grows without bound
                self._body_parts.clear()
            self._body_parts[key] = parts
        return b"".join((parts[0], request.image.base64.encode("ascii"), parts[1]))

    def _session(self) -> aiohttp.ClientSession:
        """One connection pool for the run, made in the running loop (aiohttp needs one)."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),  # the runner bounds concurrency
                timeout=aiohttp.ClientTimeout(total=self.timeout_s), read_bufsize=2**20, auto_decompress=True,
                headers={"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json",
                         "Accept": "application/json", "User-Agent": f"capbench/{__version__}",
                         **self._extra_headers})
        return self._http

    async def _streamed(self, request: CaptionRequest) -> CaptionResponse:
        """POST prebuilt bytes with aiohttp and read the SSE lines ourselves (bench.backends.chat_sse).

        Why not the SDK here: its request building and per-chunk objects made capbench's client, not
        the server, the bottleneck at concurrency 32+ (issue 12). Errors go through the same
        bench.backends.errors mapping as the SDK's (statuses, retry-after, transport failures).
        """
        body = self._body(request)
        clock = StreamClock()
        try:
            async with self._session().post(self._url, data=body, allow_redirects=False) as response:
                if response.status >= 400:
                    raise await _status_error(self.name, response)
                simulated = says_simulated(response.headers)
                if is_json_body(response.headers):  # the server ignored stream=true and sent the whole answer
                    return self._from_json_body(await response.read(), clock, simulated)
                reader = ChatStreamReader(self.name, clock, max(100_000, 40 * request.sampling.max_tokens))
                content = response.content
                while True:  # one await per network read: chat_sse splits the lines (and stamps the tokens)
                    data = await content.readany()
                    if not data:
                        reader.end()
                        break
                    if reader.feed_bytes(data):
                        break
                t_end = clock.done()  # the answer's end: not the drain below, nor releasing the connection
                reader.check_complete(response.headers.get("content-type", "?"))
                if not content.is_eof():
                    await _drain(content)
        except BackendError:
            raise
        except ValueError as exc:  # aiohttp: a line longer than its buffer
            raise BackendError("protocol", f"{self.name}: unreadable stream ({exc})") from exc
        except Exception as exc:
            raise from_transport(self.name, exc) from exc
        finish = reader.finish_reason
        return CaptionResponse(text=reader.text, finish_reason=normalize_finish_reason(finish),
                               usage=reader.usage, t_sent=clock.t_sent, t_first_token=clock.t_first_token,
                               t_last_token=t_end, response_id=reader.response_id, model=reader.model,
                               raw_finish_reason=finish, simulated=simulated, t_first_any=clock.first_any)

    def _from_json_body(self, body: bytes, clock: StreamClock, simulated: bool) -> CaptionResponse:
        """A chat.completion sent as one JSON body: the answer it is, with its usage. Anything else in
        JSON is an endpoint that is not an OpenAI chat API: every frame would get the same (fatal)."""
        t_end = clock.done()
        data = json_body(self.name, body)
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


async def _drain(content: aiohttp.StreamReader) -> None:
    """Read the body's last bytes after `data: [DONE]` (the chunked encoding's terminator, usually a moment
    behind), so that aiohttp keeps the connection for the next request: a body left unread closes it, and
    a new connection per request cost client and server a connect each (issue 12). A server that keeps
    the stream open after [DONE] gets DRAIN_S, then the connection is closed as before; one that drops the
    connection after [DONE] has sent a whole answer, which stands."""
    try:
        async with asyncio.timeout(DRAIN_S):
            while await content.readany():
                pass
    except (TimeoutError, aiohttp.ClientError, OSError):
        pass


async def _status_error(provider: str, response: aiohttp.ClientResponse) -> BackendError:
    """An HTTP error answer as the BackendError the SDK path would give (same message shape, same kinds)."""
    raw = await response.content.read(_ERROR_BODY_MAX)
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("message"):
        message = f"{err['type']}: {err['message']}" if err.get("type") else str(err["message"])
    else:
        message = f"Error code: {response.status} - {str(body)[:500]}"
    return from_status(provider, response.status, message, response.headers, body)


_usage = usage_of


def _canonical(value: Any) -> str | None:
    return None if not value else json.dumps(value, sort_keys=True, default=str)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
