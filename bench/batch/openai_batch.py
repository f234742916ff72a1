"""OpenAI Batch API with the official `openai` SDK: a JSONL file uploaded (files.create, purpose=batch),
batches.create(endpoint=/v1/chat/completions, completion_window=24h), polled with batches.retrieve,
results read from the output and error files (files.content).

Control-plane calls (upload, create, retrieve) keep the SDK's own retries: they are not generations,
so nothing is counted or billed per attempt, and a transient 5xx while polling must not stop a run.
"""

from __future__ import annotations

import json
from typing import Any

import openai

from bench.backends.base import CaptionRequest, normalize_finish_reason, says_simulated
from bench.backends.openai_chat import _usage, build_params
from bench.batch.base import BatchLimits, BatchResults, BatchStatus, ResultItem

ENDPOINT = "/v1/chat/completions"
# "The file can contain up to 50,000 requests, and can be up to 200 MB in size" (OpenAI API reference,
# batches.create input_file_id; mirrored in learn.microsoft.com Foundry "Create a batch" and async-openai
# PR #475), read 2026-11-30.
LIMITS = BatchLimits(50_000, 200 * 1_000_000, "OpenAI API reference, batches.create input_file_id (read 2026-11-30)")
DISCOUNT_SOURCE = ("OpenAI Batch API: 50% cost discount compared to synchronous APIs "
                   "(platform.openai.com/docs/guides/batch, read 2026-11-30)")

_PHASE = {"validating": "pending", "in_progress": "in_progress", "finalizing": "in_progress",
          "cancelling": "in_progress", "completed": "ended", "expired": "ended", "cancelled": "ended",
          "failed": "failed"}


class OpenAIBatch:
    name = "openai"
    limits = LIMITS
    discount_source = DISCOUNT_SOURCE

    def __init__(self, model: str, base_url: str | None, api_key: str, *, timeout_s: float = 600.0,
                 extra_body: dict[str, Any] | None = None, extra_headers: dict[str, str] | None = None,
                 max_tokens_field: str = "max_completion_tokens") -> None:
        self.model = model
        self.extra_body = dict(extra_body or {})
        self.max_tokens_field = max_tokens_field
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s,
                                         default_headers=dict(extra_headers or {}))

    def entry(self, custom_id: str, request: CaptionRequest) -> dict[str, Any]:
        body = build_params(self.model, request, max_tokens_field=self.max_tokens_field)
        body.update(self.extra_body)  # extra_body's fields go into the JSON body, as the SDK would send them
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    def entry_bytes(self, entry: dict[str, Any]) -> int:
        return len(_line(entry))

    async def submit(self, entries: list[dict[str, Any]], label: str) -> str:
        data = b"".join(_line(e) for e in entries)
        uploaded = await self.client.files.create(file=(f"{label}.jsonl", data, "application/jsonl"), purpose="batch")
        batch = await self.client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT,
                                                 completion_window="24h", metadata={"capbench_label": label})
        return batch.id

    async def find(self, label: str, since: float) -> str | None:
        """The batch this run submitted under `label` (metadata capbench_label), if the provider has one: a run
        killed between submit and journalling the id finds it instead of submitting it again."""
        async for b in self.client.batches.list(limit=100):
            if (b.metadata or {}).get("capbench_label") == label:
                return b.id
            if b.created_at < since - 3600:  # newest first: older than the prepared line, with clock slack
                return None
        return None

    async def status(self, batch_id: str) -> BatchStatus:
        raw = await self.client.batches.with_raw_response.retrieve(batch_id)
        b = raw.parse()
        counts = b.request_counts.model_dump() if b.request_counts else {}
        ended = b.completed_at or b.expired_at or b.cancelled_at or b.failed_at
        errors = "; ".join(f"{e.code}: {e.message}" for e in (b.errors.data or [])) if b.errors else None
        return BatchStatus(phase=_PHASE.get(b.status, "in_progress"), provider_status=b.status, counts=counts,
                           created_at=b.created_at, in_progress_at=b.in_progress_at, ended_at=ended,
                           error=errors, simulated=says_simulated(raw.headers))

    async def results(self, batch_id: str, status: BatchStatus) -> BatchResults:
        b = await self.client.batches.retrieve(batch_id)
        out = BatchResults(items=[])
        for file_id in (b.output_file_id, b.error_file_id):
            if not file_id:
                continue
            content = await self.client.files.content(file_id)
            for line in content.content.splitlines():
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    out.items.append(_item(obj))
                except (ValueError, TypeError, KeyError, AttributeError, IndexError):
                    out.unreadable.append(line[:200].decode("utf-8", "replace"))
        return out

    async def cancel(self, batch_id: str) -> None:
        await self.client.batches.cancel(batch_id)

    async def aclose(self) -> None:
        await self.client.close()


def _line(entry: dict[str, Any]) -> bytes:
    return (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _item(obj: dict[str, Any]) -> ResultItem:
    custom_id = obj["custom_id"]
    if not isinstance(custom_id, str):
        raise TypeError("custom_id is not a string")
    response, error = obj.get("response"), obj.get("error")
    if isinstance(response, dict) and response.get("status_code") == 200:
        body = response["body"]
        choice = body["choices"][0]
        finish = choice.get("finish_reason")
        return ResultItem(custom_id, "ok", text=(choice.get("message") or {}).get("content") or "",
                          finish_reason=normalize_finish_reason(finish), raw_finish_reason=finish,
                          usage=_usage(body["usage"]) if isinstance(body.get("usage"), dict) else _usage({}),
                          response_id=body.get("id"), model=body.get("model"))
    code = (error or {}).get("code") if isinstance(error, dict) else None
    kind = {"batch_expired": "expired", "batch_cancelled": "cancelled"}.get(code or "", "errored")
    if isinstance(error, dict):
        message = f"{code}: {error.get('message')}"
    elif isinstance(response, dict):
        err = (response.get("body") or {}).get("error") or {}
        message = f"HTTP {response.get('status_code')}: {err.get('message', err) if isinstance(err, dict) else err}"
    else:
        message = "no response and no error in the result line"
    return ResultItem(custom_id, kind, error=message)
