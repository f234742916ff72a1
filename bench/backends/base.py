"""The one small interface every backend implements, and the types it speaks.

A backend turns one `CaptionRequest` (one frame, the prompt, sampling) into one
`CaptionResponse` (text, finish reason, server usage, timings) or raises
`BackendError`. It makes exactly one attempt: retries, timeouts and counting
live in the runner (`bench.retry`), so that every backend behaves the same and
every attempt is seen.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol


@dataclass(frozen=True)
class ImageInput:
    """An image read, resized and encoded once per run (never per attempt)."""

    data: bytes
    mime: str
    width: int
    height: int
    sha256: str  # of `data`, the bytes actually sent

    @cached_property
    def base64(self) -> str:
        """`data` as base64 text, made once per image (bench.frames.prepared makes it off the event loop)."""
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True)
class Sampling:
    temperature: float | None = 0.1
    max_tokens: int = 2000
    top_p: float | None = None
    seed: int | None = None
    # "json_object" (the seed's recommendation), "json_schema" (constrained
    # decoding with the prompt's schema) or "none".
    response_format: str = "json_object"
    image_detail: str = "high"


@dataclass(frozen=True)
class Reasoning:
    """How much a reasoning model thinks (model.sampling.*), each mapped per backend; None = the model's default.

    Kept apart from `Sampling` so that the judge cache, keyed on Sampling, is not invalidated.
    """

    effort: str | None = None  # OpenAI reasoning_effort; Claude adaptive thinking with output_config.effort
    budget: int | None = None  # Claude thinking.budget_tokens; Gemini 2.5 thinking_budget
    level: str | None = None  # Gemini 3.x thinking_level


@dataclass(frozen=True)
class VideoInput:
    """A short clip encoded in-process (bench.frames.clip) for a protocol that takes video natively (Gemini)."""

    data: bytes
    mime: str  # video/mp4
    frames: int
    duration_s: float
    sha256: str


@dataclass(frozen=True, kw_only=True)
class CaptionRequest:
    """One request: one frame (`image`), several (`images`: a window, sent in order), a clip (`video`),
    or text only (none of them: a clip summary from earlier captions)."""

    image: ImageInput | None = None
    system: str
    user: str
    sampling: Sampling
    schema: dict[str, Any] | None = None  # sent only when response_format == "json_schema"
    reasoning: Reasoning = Reasoning()
    images: tuple[ImageInput, ...] = ()
    video: VideoInput | None = None

    @property
    def all_images(self) -> tuple[ImageInput, ...]:
        """The images to send, in order (`image` first when both are given)."""
        return ((self.image,) if self.image is not None else ()) + tuple(self.images)


def token_count(value: Any) -> int | None:
    """A server's token count, or None when it is missing or not a count (never guessed)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def required_schema(request: CaptionRequest) -> dict[str, Any]:
    """The schema to constrain decoding with (response_format=json_schema); bench.app checks
    the prompt has one before a run starts, so this only guards direct callers."""
    if not request.schema:
        raise BackendError("bad_request", "response_format json_schema needs the prompt's json_schema")
    return request.schema


@dataclass
class Usage:
    """Token counts exactly as the server reported them (never re-tokenized)."""

    input_tokens: int | None = None
    output_tokens: int | None = None  # every billed output token, reasoning included
    raw: dict[str, Any] = field(default_factory=dict)
    # Of output_tokens, those spent reasoning (OpenAI completion_tokens_details.reasoning_tokens, Gemini
    # thoughts_token_count, Anthropic output_tokens_details.thinking_tokens); None = the server did not say.
    reasoning_tokens: int | None = None

    @property
    def visible_output_tokens(self) -> int | None:
        """Output tokens of the answer itself (output minus reasoning); None when the split is unknown."""
        if self.output_tokens is None or self.reasoning_tokens is None:
            return None
        return max(0, self.output_tokens - self.reasoning_tokens)


@dataclass
class CaptionResponse:
    text: str
    finish_reason: str | None  # one vocabulary: "stop", "length", "content_filter", "error", or provider's own
    usage: Usage
    t_sent: float  # epoch seconds (see StreamClock)
    t_first_token: float | None  # first non-empty content chunk
    t_last_token: float
    response_id: str | None = None
    model: str | None = None
    raw_finish_reason: str | None = None  # the provider's own word, kept for the record
    simulated: bool = False  # the server said it is capbench's simulator (SIMULATOR_HEADER)
    # False when the answer came as one JSON body (model.stream=false, or a server that ignored
    # stream=true): then t_first_token is when the whole body arrived, not a real first token.
    streamed: bool = True
    # First streamed token of any kind, reasoning included, where the stream shows reasoning (vLLM's
    # reasoning_content, Claude's thinking_delta, Gemini's thought parts); None when it shows none.
    t_first_any: float | None = None
    # The replica that answered, when the model has several (bench/backends/replicas.py); else None.
    endpoint: str | None = None


# Every simulator response carries this header, so a run pointed at the simulator
# through a real model's config is still labelled simulated.
SIMULATOR_HEADER = "x-capbench-simulated"
# Sent by the harness to the simulator it starts: the run's session number (the simulator keys
# its faults on it too, so a resumed run is a fresh draw, not the same failures replayed).
SESSION_HEADER = "x-capbench-session"


def json_body(provider: str, body: bytes) -> Any:
    """A 200 application/json answer parsed; one that is not JSON is a (retried) protocol failure."""
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BackendError("protocol", f"{provider}: application/json answer that is not JSON: {body[:80]!r}") from None


def is_json_body(headers: Any) -> bool:
    """The answer is one JSON document (application/json), not an event stream."""
    try:  # case-insensitive: google-genai hands over the headers as a plain dict, case as sent
        value = next((v for k, v in headers.items() if str(k).lower() == "content-type"), "")
    except AttributeError:
        return False
    return str(value).split(";")[0].strip().lower() == "application/json"


def says_simulated(headers: Any) -> bool:
    try:
        return str(headers.get(SIMULATOR_HEADER, "")).lower() == "true"
    except AttributeError:
        return False


# Every provider's finish reasons mapped onto one vocabulary.
_FINISH = {
    "stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "STOP": "stop",
    "length": "length", "max_tokens": "length", "MAX_TOKENS": "length", "model_context_window_exceeded": "length",
    "content_filter": "content_filter", "refusal": "content_filter", "SAFETY": "content_filter",
    "RECITATION": "content_filter", "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter", "IMAGE_SAFETY": "content_filter",
}


def normalize_finish_reason(raw: str | None) -> str | None:
    """stop | length | content_filter | other (None when the server gave none)."""
    if raw is None:
        return None
    return _FINISH.get(raw, "other")


class BackendError(Exception):
    """One failed attempt. `kind` is one vocabulary for every provider.

    kinds: rate_limit, server, timeout, connection, protocol (garbage answer),
    bad_request, auth, not_found, quota, misconfigured (the endpoint answers
    in a shape that is not this API's: every frame would get the same),
    internal (a bug of ours). `fatal` errors stop the run early instead of
    burning through every frame.
    """

    RETRYABLE = frozenset({"rate_limit", "server", "timeout", "connection", "protocol"})
    # unsupported_request: the model refuses the request's shape (a parameter or value it does not
    # take), so every frame would fail the same way.
    FATAL = frozenset({"auth", "not_found", "quota", "misconfigured", "internal", "unsupported_request"})

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.usage = usage  # tokens a failed attempt still consumed, if the server said
        self.endpoint: str | None = None  # the replica tried, when the model has several

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE

    @property
    def fatal(self) -> bool:
        return self.kind in self.FATAL


class Backend(Protocol):
    """One file per provider implements this (see bench/backends/*.py)."""

    name: str

    async def generate(self, request: CaptionRequest) -> CaptionResponse: ...

    async def aclose(self) -> None: ...


class StreamClock:
    """Stamps send, first-token and last-token times for one streamed attempt.

    Wall-clock epoch seconds derived from one perf_counter origin, so that
    differences are monotonic-precise and records from resumed sessions still
    sort on one time axis.
    """

    _origin_perf = time.perf_counter()
    _origin_epoch = time.time()

    @classmethod
    def now(cls) -> float:
        return cls._origin_epoch + (time.perf_counter() - cls._origin_perf)

    def __init__(self) -> None:
        self.t_sent = self.now()
        self.t_first_token: float | None = None
        self.t_first_any: float | None = None  # reasoning or content, whichever came first
        self.t_last_token: float | None = None

    def chunk(self, text: str | None) -> None:
        """Call for every streamed content chunk; empty chunks don't count as the first token."""
        if text:
            t = self.now()
            if self.t_first_token is None:
                self.t_first_token = t
            if self.t_first_any is None:
                self.t_first_any = t
            self.t_last_token = t

    def thought(self, text: str | None) -> None:
        """Call for every streamed reasoning chunk: it starts the thinking clock, not TTFT."""
        if text and self.t_first_any is None:
            self.t_first_any = self.now()

    @property
    def first_any(self) -> float | None:
        """t_first_any only when reasoning came before the answer (so thinking time is known)."""
        if self.t_first_any is None or self.t_first_any == self.t_first_token:
            return None
        return self.t_first_any

    def done(self) -> float:
        self.t_last_token = self.now()
        return self.t_last_token
