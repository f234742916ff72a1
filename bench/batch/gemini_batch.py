"""Gemini Batch Mode with the official `google-genai` SDK: client.aio.batches.create(model, src=[inline
requests]) with each frame's GenerateContentRequest (same contents and config as on demand) and its custom id
in the request's metadata; client.aio.batches.get polls; results are the job's inlined responses.
Inline requests only: a batch is kept under the 20 MB inline limit by splitting (file input, up to 2 GB, is
not implemented)."""

from __future__ import annotations

import base64
import json
from typing import Any

from google import genai
from google.genai import types

from bench.backends.base import CaptionRequest, Usage, normalize_finish_reason, says_simulated, token_count
from bench.backends.gemini import _output_tokens, _thoughts, build_config, build_contents
from bench.batch.base import BatchLimits, BatchResults, BatchStatus, ResultItem

# "Inline requests ... suitable for smaller batches that keep the total request size under 20MB"
# (ai.google.dev/gemini-api/docs/batch-api, "Creating a batch job", read 2026-11-30). No request-count
# limit is documented for inline requests.
LIMITS = BatchLimits(None, 20 * 1_000_000, "ai.google.dev/gemini-api/docs/batch-api, inline requests (read 2026-11-30)")
DISCOUNT_SOURCE = ("Gemini Batch API: 50% of the standard cost (ai.google.dev/gemini-api/docs/batch-api, "
                   "read 2026-11-30)")

_PHASE = {"JOB_STATE_PENDING": "pending", "JOB_STATE_QUEUED": "pending", "JOB_STATE_RUNNING": "in_progress",
          "JOB_STATE_SUCCEEDED": "ended", "JOB_STATE_CANCELLED": "ended", "JOB_STATE_EXPIRED": "ended",
          "JOB_STATE_PARTIALLY_SUCCEEDED": "ended", "JOB_STATE_FAILED": "failed"}


class GeminiBatch:
    name = "gemini"
    limits = LIMITS
    discount_source = DISCOUNT_SOURCE

    def __init__(self, model: str, base_url: str | None, api_key: str, *, timeout_s: float = 600.0,
                 extra_headers: dict[str, str] | None = None) -> None:
        self.model = model
        options = types.HttpOptions(base_url=base_url, timeout=int(timeout_s * 1000),
                                    headers=dict(extra_headers or {}) or None)
        self.client = genai.Client(api_key=api_key, http_options=options)
        self._simulated: bool | None = None

    def entry(self, custom_id: str, request: CaptionRequest) -> types.InlinedRequest:
        return types.InlinedRequest(model=self.model, contents=build_contents(request), config=build_config(request),
                                    metadata={"key": custom_id})

    def entry_bytes(self, entry: types.InlinedRequest) -> int:
        # The JSON the SDK sends: the image as base64 plus the texts and config (a little over, never under).
        image = sum(len(base64.b64encode(p.inline_data.data)) for c in entry.contents or [] for p in c.parts or []
                    if p.inline_data is not None and p.inline_data.data)
        rest = entry.model_dump(mode="json", exclude_none=True, exclude={"contents"})
        texts = sum(len((p.text or "").encode()) for c in entry.contents or [] for p in c.parts or [])
        return image + texts + len(json.dumps(rest).encode()) + 200

    async def submit(self, entries: list[types.InlinedRequest], label: str) -> str:
        job = await self.client.aio.batches.create(model=self.model, src=entries, config={"display_name": label})
        return job.name

    async def find(self, label: str, since: float) -> str | None:
        """The job this run created under display name `label`, if any (see OpenAIBatch.find)."""
        pager = await self.client.aio.batches.list(config={"page_size": 100})
        async for job in pager:
            if job.display_name == label:
                return job.name
            created = _ts(job.create_time)
            if created is not None and created < since - 3600:
                return None
        return None

    async def status(self, batch_id: str) -> BatchStatus:
        job = await self.client.aio.batches.get(name=batch_id)
        state = str(getattr(job.state, "value", job.state))
        if self._simulated is None:
            self._simulated = await self._served_by_simulator(batch_id)
        return BatchStatus(simulated=self._simulated, phase=_PHASE.get(state, "in_progress"), provider_status=state,
                           created_at=_ts(job.create_time), in_progress_at=_ts(job.start_time) or _ts(job.create_time),
                           ended_at=_ts(job.end_time), error=str(job.error) if job.error else None)

    async def _served_by_simulator(self, batch_id: str) -> bool:
        """google-genai's BatchJob keeps no HTTP headers: one raw GET through the SDK's own client reads
        x-capbench-simulated (a private SDK call, so any failure just means "not seen")."""
        try:
            resp = await self.client.aio._api_client.async_request("get", f"batches/{batch_id.split('/')[-1]}", {})
            return says_simulated(resp.headers)
        except Exception:
            return False

    async def results(self, batch_id: str, status: BatchStatus) -> BatchResults:
        job = await self.client.aio.batches.get(name=batch_id)
        out = BatchResults(items=[])
        for r in (job.dest.inlined_responses if job.dest and job.dest.inlined_responses else []):
            key = (r.metadata or {}).get("key")
            if not isinstance(key, str):
                out.unreadable.append(f"inlined response without metadata.key: {str(r)[:160]}")
                continue
            out.items.append(_item(key, r))
        return out

    async def cancel(self, batch_id: str) -> None:
        await self.client.aio.batches.cancel(name=batch_id)

    async def aclose(self) -> None:
        try:
            await self.client.aio.aclose()
        except AttributeError:
            pass


def _ts(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


def _item(key: str, r: types.InlinedResponse) -> ResultItem:
    if r.error is not None or r.response is None:
        err = r.error
        code = getattr(err, "code", None)
        kind = "expired" if code == 4 else "errored"
        return ResultItem(key, kind, error=f"{code}: {getattr(err, 'message', err)}")
    resp = r.response
    parts, finish = [], None
    for cand in resp.candidates or []:
        for part in (cand.content.parts if cand.content and cand.content.parts else []):
            if part.text and not part.thought:
                parts.append(part.text)
        if cand.finish_reason is not None:
            finish = str(getattr(cand.finish_reason, "value", cand.finish_reason))
    blocked = resp.prompt_feedback is not None and resp.prompt_feedback.block_reason
    raw = resp.usage_metadata.model_dump(exclude_none=True, mode="json") if resp.usage_metadata else {}
    return ResultItem(key, "ok", text="".join(parts),
                      finish_reason="content_filter" if blocked else normalize_finish_reason(finish),
                      raw_finish_reason=finish,
                      usage=Usage(token_count(raw.get("prompt_token_count")), _output_tokens(raw), raw,
                                  reasoning_tokens=_thoughts(raw)),
                      response_id=resp.response_id, model=resp.model_version)
