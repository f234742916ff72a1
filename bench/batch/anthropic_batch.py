"""Anthropic Message Batches with the official `anthropic` SDK: messages.batches.create(requests=[{custom_id,
params}]), retrieve, and the results JSONL (read whole, then parsed line by line so that one damaged
line is counted, not fatal). Control-plane calls keep the SDK's retries (see openai_batch.py)."""

from __future__ import annotations

import json
from typing import Any

import anthropic

from bench.backends.anthropic_messages import _thinking_tokens, build_params
from bench.backends.base import CaptionRequest, Usage, normalize_finish_reason, says_simulated, token_count
from bench.batch.base import BatchLimits, BatchResults, BatchStatus, ResultItem

# "A Message Batch is limited to either 100,000 Message requests or 256 MB in size, whichever is reached
# first" (docs.anthropic.com/en/docs/build-with-claude/batch-processing, "Batch limitations", read 2026-11-30).
LIMITS = BatchLimits(100_000, 256 * 1_000_000,
                     "docs.anthropic.com build-with-claude/batch-processing, Batch limitations (read 2026-11-30)")
DISCOUNT_SOURCE = ("Anthropic Message Batches: 50% of standard prices "
                   "(platform.claude.com/docs/en/build-with-claude/batch-processing#pricing, read 2026-11-30)")


class AnthropicBatch:
    name = "anthropic"
    limits = LIMITS
    discount_source = DISCOUNT_SOURCE

    def __init__(self, model: str, base_url: str | None, api_key: str, *, timeout_s: float = 600.0,
                 extra_body: dict[str, Any] | None = None, extra_headers: dict[str, str] | None = None) -> None:
        self.model = model
        self.extra_body = dict(extra_body or {})
        self.client = anthropic.AsyncAnthropic(base_url=base_url, api_key=api_key, timeout=timeout_s,
                                               default_headers=dict(extra_headers or {}))

    def entry(self, custom_id: str, request: CaptionRequest) -> dict[str, Any]:
        params = build_params(self.model, request)
        params.update(params.pop("extra_body", {}))  # temperature/top_p: plain body fields in a batch
        params.update(self.extra_body)
        return {"custom_id": custom_id, "params": params}

    def entry_bytes(self, entry: dict[str, Any]) -> int:
        return len(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1

    async def submit(self, entries: list[dict[str, Any]], label: str) -> str:
        batch = await self.client.messages.batches.create(requests=entries)
        return batch.id

    async def status(self, batch_id: str) -> BatchStatus:
        raw = await self.client.messages.batches.with_raw_response.retrieve(batch_id)
        b = await raw.parse()  # the async client's raw response parses asynchronously
        counts = b.request_counts.model_dump()
        phase = "ended" if b.processing_status == "ended" else "in_progress"
        return BatchStatus(phase=phase, provider_status=b.processing_status, counts=counts,
                           created_at=_ts(b.created_at), in_progress_at=_ts(b.created_at), ended_at=_ts(b.ended_at),
                           simulated=says_simulated(raw.headers))

    async def results(self, batch_id: str, status: BatchStatus) -> BatchResults:
        async with self.client.messages.batches.with_streaming_response.results(batch_id) as resp:
            data = await resp.read()
        out = BatchResults(items=[])
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                out.items.append(_item(json.loads(line)))
            except (ValueError, TypeError, KeyError, AttributeError):
                out.unreadable.append(line[:200].decode("utf-8", "replace"))
        return out

    async def cancel(self, batch_id: str) -> None:
        await self.client.messages.batches.cancel(batch_id)

    async def aclose(self) -> None:
        await self.client.close()


def _ts(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


def _item(obj: dict[str, Any]) -> ResultItem:
    custom_id = obj["custom_id"]
    if not isinstance(custom_id, str):
        raise TypeError("custom_id is not a string")
    result = obj["result"]
    kind = result["type"]
    if kind == "succeeded":
        msg = result["message"]
        text = "".join(b["text"] for b in msg.get("content") or [] if isinstance(b, dict) and b.get("type") == "text")
        usage = msg.get("usage") or {}
        stop = msg.get("stop_reason")
        return ResultItem(custom_id, "ok", text=text, finish_reason=normalize_finish_reason(stop),
                          raw_finish_reason=stop,
                          usage=Usage(token_count(usage.get("input_tokens")), token_count(usage.get("output_tokens")),
                                      dict(usage), reasoning_tokens=_thinking_tokens(usage)),
                          response_id=msg.get("id"), model=msg.get("model"))
    if kind == "errored":
        err = (result.get("error") or {}).get("error") or result.get("error") or {}
        return ResultItem(custom_id, "errored", error=f"{err.get('type', 'error')}: {err.get('message', '')}")
    if kind in ("expired", "canceled"):
        return ResultItem(custom_id, "expired" if kind == "expired" else "cancelled", error=f"batch request {kind}")
    raise ValueError(f"unknown result type {kind!r}")
