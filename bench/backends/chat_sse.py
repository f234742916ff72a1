"""OpenAI chat-completions server-sent events, read line by line into one answer.

Why not the SDK's stream: it builds a pydantic object per chunk (~150 us) and its request building
and line iteration took a quarter of a saturated client's loop (issue 12). This reads each `data:`
line with one json.loads into plain dicts, keeps only the text parts, and stamps the time of each
content chunk on the StreamClock as the line is handed over (the moment its bytes were read).
Parsing is orjson: the per-chunk json.loads was the largest single cost left on the loop.

The reader is transport-free (`feed_bytes(data)` for whatever arrived, `end()` at the end of the body;
`feed(line)` per line) so that it is tested on any chunking of the bytes; bench.backends.openai_chat
feeds it each network read from aiohttp. One read, not one line, per await: at low concurrency every
token is its own read of one `data:` line and a blank line, and a readline() per line was three loop
round trips per token.
"""

from __future__ import annotations

from typing import Any

import orjson  # ~4x faster than json.loads on small chunks; one parse per streamed token

from bench.backends.base import BackendError, StreamClock, Usage, token_count

MAX_LINE_BYTES = 2**20  # one SSE line (one chunk of JSON); a server sending more without a newline is broken


class ChatStreamReader:
    """One streamed chat completion. `feed` each line (bytes, without or with its line ending)."""

    def __init__(self, provider: str, clock: StreamClock, max_chars: int) -> None:
        self.provider = provider
        self.clock = clock
        self.max_chars = max_chars  # a runaway server must not fill the disk
        self.parts: list[str] = []
        self.received = 0
        self.chunks = 0
        self.done = False
        self.finish_reason: str | None = None
        self.response_id: str | None = None
        self.model: str | None = None
        self.usage = Usage()
        self._partial = b""  # the start of a line whose end has not arrived yet

    def feed_bytes(self, data: bytes) -> bool:
        """Read bytes as they arrived, split anywhere: whole lines are read now, a partial line waits for
        the rest. True once `data: [DONE]` arrived (nothing after it is read)."""
        if self._partial:
            data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            raise BackendError("protocol", f"{self.provider}: unreadable stream (a line longer than "
                               f"{MAX_LINE_BYTES:,} bytes)")
        for line in lines:
            if self.feed(line):
                return True
        return False

    def end(self) -> None:
        """The body ended: a last line without its newline is read too."""
        partial, self._partial = self._partial, b""
        if partial:
            self.feed(partial)

    def feed(self, line: bytes) -> bool:
        """Read one line; True once `data: [DONE]` arrived (nothing after it is read)."""
        if not line.startswith(b"data:"):
            return False  # comments (": ping"), event names, blank separators
        data = line[5:].strip()
        if data == b"[DONE]":
            self.done = True
            return True
        try:
            chunk = orjson.loads(data)
        except ValueError as exc:  # orjson.JSONDecodeError; not JSON or not UTF-8: recorded and retried
            raise BackendError("protocol", f"{self.provider}: a stream chunk is not JSON: {data[:80]!r}") from exc
        if not isinstance(chunk, dict):
            raise BackendError("protocol", f"{self.provider}: a stream chunk is not a JSON object: {data[:80]!r}")
        self.chunks += 1
        if chunk.get("error"):  # an error sent inside a 200 stream
            err = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
            raise BackendError("server", f"{self.provider}: stream error: {err.get('message', err)}")
        if self.response_id is None:
            self.response_id = _str(chunk.get("id"))
        if self.model is None:
            self.model = _str(chunk.get("model"))
        if isinstance(chunk.get("usage"), dict):
            self.usage = usage_of(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                raise BackendError("protocol", f"{self.provider}: a choice is not an object: {choice!r:.80}")
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise BackendError("protocol", f"{self.provider}: a delta is not an object: {delta!r:.80}")
            # vLLM's reasoning parsers stream the reasoning apart (reasoning_content, or reasoning in
            # newer releases); OpenAI's own chat completions never show it.
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if thought:
                self.clock.thought(thought if isinstance(thought, str) else None)
            text = delta.get("content")
            if text and isinstance(text, str):
                self.clock.chunk(text)
                self.parts.append(text)
                self.received += len(text)
                if self.received > self.max_chars:
                    raise BackendError("protocol", f"{self.provider}: answer longer than {self.max_chars:,} "
                                       "characters, far beyond max_tokens; cut off")
            reason = choice.get("finish_reason")
            if isinstance(reason, str):
                self.finish_reason = reason
        return False

    def check_complete(self, content_type: str) -> None:
        """Raise if the stream was not a whole answer (call when the body has ended)."""
        if not self.chunks:  # a 200 that is not an event stream (a proxy's HTML page, say)
            raise BackendError("protocol", f"{self.provider}: the answer is not an event stream ({content_type})")
        if not self.done and self.finish_reason is None:  # the stream stopped mid-answer
            raise BackendError("connection", f"{self.provider}: the stream ended without a finish reason or [DONE]")

    @property
    def text(self) -> str:
        return "".join(self.parts)


def usage_of(u: Any) -> Usage:
    """An OpenAI usage object (SDK model or dict) as Usage, the raw dict kept."""
    raw = u.model_dump(exclude_none=True) if hasattr(u, "model_dump") else {k: v for k, v in u.items() if v is not None}
    details = raw.get("completion_tokens_details")
    # completion_tokens includes the reasoning tokens (billed as output); the split is in the details.
    reasoning = token_count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    return Usage(input_tokens=token_count(raw.get("prompt_tokens")),
                 output_tokens=token_count(raw.get("completion_tokens")), raw=raw, reasoning_tokens=reasoning)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
