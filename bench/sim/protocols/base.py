"""What the three wire protocols share: the parsed request, the planned output,
token pacing and the small interface each protocol module implements."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from bench.sim.faults import Attempt

CHARS_PER_TOKEN = 4  # the simulator's tokenizer: one token = up to 4 characters


class BadRequest(Exception):
    """The body does not match the protocol: answered with 400 in the protocol's error shape
    (`param` and `code` where the protocol's errors carry them: OpenAI's)."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param, self.code = param, code


class Dropped(Exception):
    """The simulator closed the TCP connection on purpose (disconnect fault)."""


class MidstreamError(Exception):
    """A server error after the stream started: sent as the protocol's in-stream error event."""


@dataclass
class SimRequest:
    model: str
    system: str
    user: str
    image: bytes
    mime: str
    stream: bool
    max_tokens: int | None
    include_usage: bool = False  # OpenAI stream_options.include_usage
    extra: dict[str, Any] = field(default_factory=dict)
    think: Any = None  # bench.sim.reasoning.Think when a reasoning model was asked for, else None
    # Every image part in order (`image`/`mime` are the first); window modes send several, a summary none.
    images: list[tuple[str, bytes]] = field(default_factory=list)
    videos: list[tuple[str, bytes]] = field(default_factory=list)  # Gemini inline video parts (video/mp4)


@dataclass
class Generation:
    """The planned answer for one attempt: exactly what will be emitted, and its usage."""

    id: str
    model: str
    tokens: list[str]
    finish: str  # "stop" | "length" | "blocked"
    input_tokens: int
    attempt: Attempt
    drop_after: int | None = None  # close the connection after this many tokens
    error_after: int | None = None  # streaming server error after this many tokens
    image_tokens: int = 0
    media_modality: str = "IMAGE"  # Gemini's usage modality of image_tokens: VIDEO for a video part
    reasoning_model: bool = False  # a reasoning model was asked for: usage reports the reasoning split
    reasoning_tokens: int = 0  # spent thinking, before the answer; billed as output
    thinking_s: float = 0.0  # time they take, from TTFT to the first visible token
    thoughts: list[str] = field(default_factory=list)  # thinking text streamed first (when the protocol shows it)
    stream_interval: int = 1  # tokens per streamed chunk after the first (vLLM's --stream-interval)

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def output_tokens(self) -> int:
        """Billed output: the visible tokens and the reasoning."""
        return len(self.tokens) + self.reasoning_tokens

    @property
    def visible_tokens(self) -> int:
        return len(self.tokens)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Thought(str):
    """A chunk of streamed thinking (yielded by `paced` before the answer's tokens)."""


def tokenize(text: str) -> list[str]:
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


def count_input_tokens(image_tokens: int, *texts: str) -> int:
    return image_tokens + math.ceil(sum(len(t) for t in texts) / CHARS_PER_TOKEN)


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def decode_b64(data: Any, where: str, urlsafe_ok: bool = False) -> bytes:
    """Strict base64; Google's JSON mapping of `bytes` also accepts the URL-safe alphabet (google-genai sends it)."""
    if not isinstance(data, str) or not data:
        raise BadRequest(f"{where}: expected non-empty base64 string")
    if urlsafe_ok and ("-" in data or "_" in data):
        data = data.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"{where}: invalid base64 ({exc})") from exc


def text_of(content: Any, where: str) -> str:
    """A string, or a list of {"type": "text", "text": ...} blocks, joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise BadRequest(f"{where}: expected text blocks")
            parts.append(block["text"])
        return "\n".join(parts)
    raise BadRequest(f"{where}: expected a string or a list of text blocks")


async def paced(gen: Generation) -> AsyncIterator[str]:
    """Yield tokens on the attempt's schedule: TTFT, then one token per per-token delay.

    Deadline-based (sleep until t0 + cumulative delay) so sleep overshoot does
    not accumulate; never blocks the loop. Raises Dropped at the disconnect point.
    """
    a = gen.attempt
    loop = asyncio.get_running_loop()
    deadline = loop.time() + a.ttft_s
    if gen.thoughts:  # thinking streams from TTFT on, spread over the thinking time
        step = gen.thinking_s / len(gen.thoughts)
        for i, thought in enumerate(gen.thoughts):
            delay = deadline + i * step - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield Thought(thought)
    deadline += gen.thinking_s
    # vLLM's --stream-interval N: the first token goes alone, then one chunk per N tokens (and the rest
    # at the end); tokens still held when the stream breaks are never sent.
    interval, held = max(1, gen.stream_interval), []
    last = len(gen.tokens) - 1
    for i, tok in enumerate(gen.tokens):
        if gen.drop_after is not None and i >= gen.drop_after:
            raise Dropped()
        if gen.error_after is not None and i >= gen.error_after:
            raise MidstreamError()
        if i:
            deadline += a.token_delay()
        held.append(tok)
        if i and len(held) < interval and i != last:
            continue
        delay = deadline - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield held[0] if len(held) == 1 else "".join(held)
        held = []
    if gen.drop_after is not None:
        raise Dropped()
    if not gen.tokens:  # blocked: the refusal still takes the time to first token
        delay = deadline - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


async def wait_whole(gen: Generation) -> None:
    """Non-streaming: the answer arrives when the last token would have."""
    total = gen.attempt.ttft_s + gen.thinking_s + sum(gen.attempt.token_delay() for _ in gen.tokens[1:])
    if gen.drop_after is not None:
        total *= gen.attempt.cut
    if total > 0:
        await asyncio.sleep(total)
    if gen.drop_after is not None:
        raise Dropped()


def sse(data: Any, event: str | None = None) -> bytes:
    """One Server-Sent Event; `data` is JSON-encoded unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


async def open_sse(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(
        status=200,
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"},
    )
    await resp.prepare(request)
    return resp


def media_fields(images: list[tuple[str, bytes]]) -> dict[str, Any]:
    """SimRequest's image fields: the first image (empty bytes for a text-only request) and all of them."""
    mime, data = images[0] if images else ("", b"")
    return {"image": data, "mime": mime, "images": list(images)}


def now() -> int:
    return int(time.time())


class WireProtocol(Protocol):
    """One module per protocol implements this (openai_chat, anthropic_messages, gemini)."""

    name: str

    def api_key(self, request: web.Request) -> str | None: ...

    def parse(self, body: Any, request: web.Request) -> SimRequest: ...

    def error(self, status: int, message: str, headers: dict[str, str] | None = None, *,
              param: str | None = None, code: str | None = None) -> web.Response: ...

    def respond(self, req: SimRequest, gen: Generation) -> web.Response: ...

    async def stream(self, request: web.Request, req: SimRequest, gen: Generation) -> web.StreamResponse: ...
