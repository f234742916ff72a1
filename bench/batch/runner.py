"""runner=batch: frames through a provider's Batch API, crash-safe and resumable.

1. Frames not yet recorded and not in an open batch are encoded and built into entries with the
   on-demand request builders, and cut into batches by the provider's limits (count and bytes).
2. Each batch is written to batches.jsonl ("prepared": its frames) before it is submitted, and its id
   ("submitted") as soon as the provider accepts it.
3. Open batches are polled; a status change is journalled (turnaround: submitted, in progress, ended).
4. An ended batch's results are recorded frame by frame through RunStore.append. Unknown custom ids,
   repeated ones and unreadable lines are counted (never recorded); a frame with no result, or one the
   provider errored, expired or cancelled, is recorded as failed with the provider's reason and is sent
   again by `retry_failed=true` (by batch, or on demand with runner.batch.retry_on_demand=true).
A killed run re-run with the same command reads the journal: open batches are polled again, never
re-submitted; a batch prepared but never acknowledged is abandoned (named in the journal) and its frames
go into a new batch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.backends.base import CaptionRequest, Reasoning, Sampling
from bench.batch.base import BatchProvider, BatchStatus, ResultItem, custom_id_for
from bench.batch.journal import BatchEntry, Journal
from bench.batch.prices import BatchPrice
from bench.config import BatchConfig, PromptConfig
from bench.cost import cost_of_generation
from bench.frames import Frame, FrameError, encode_frame
from bench.runner import EncodeSettings, FatalRunError
from bench.store import RunStore
from bench.validity import assess

PROBLEMS_LISTED = 20  # unknown ids / unreadable lines named per batch in the journal (all are counted)
FAILED_KINDS = {"errored": "batch_errored", "expired": "batch_expired", "cancelled": "batch_cancelled"}


class BatchTimeout(FatalRunError):
    """Batches still running when runner.batch.timeout_s ran out: the run stops, resumable."""


class BatchRunner:
    def __init__(self, *, provider: BatchProvider, prompt: PromptConfig, sampling: Sampling, reasoning: Reasoning,
                 encode: EncodeSettings, price: BatchPrice, store: RunStore, session: int, settings: BatchConfig,
                 on_record: Callable[[dict[str, Any]], None] | None = None, simulated: bool = False,
                 log: Callable[[str], None] | None = None) -> None:
        self.provider, self.prompt, self.sampling, self.reasoning = provider, prompt, sampling, reasoning
        self.encode, self.price, self.store, self.session, self.settings = encode, price, store, session, settings
        self.on_record = on_record or (lambda rec: None)
        self.simulated = simulated
        self.log = log or (lambda msg: None)
        self.journal = Journal(store.path)
        self.frames: dict[str, Frame] = {}
        self._schema = dict(prompt.json_schema) or None

    @property
    def max_requests(self) -> int | None:
        return self.settings.max_requests or self.provider.limits.max_requests

    @property
    def max_bytes(self) -> int | None:
        return self.settings.max_bytes or self.provider.limits.max_bytes

    async def run(self, frames: list[Frame]) -> None:
        self.frames = {f.id: f for f in frames}
        for entry in self.journal.unsubmitted():
            found = await self._find(entry)
            if found:  # the provider accepted it before the kill: poll it, do not submit it again
                self.journal.write("submitted", label=entry.label, batch_id=found, recovered=True)
                self.log(f"batch {entry.label}: found at the provider as {found}; polled, not submitted again")
                continue
            self.journal.write("abandoned", label=entry.label, reason="prepared but no batch id was recorded "
                               "(killed while submitting) and the provider lists none under its label; its frames "
                               "go into a new batch")
            self.log(f"batch {entry.label}: never acknowledged by the provider; its frames are sent again")
        busy = self.journal.frames_in_open_batches()
        pending = [f for f in frames if not self.store.has(f.id) and f.id not in busy]
        if busy:
            self.log(f"resuming: {sum(e.open for e in self.journal.entries.values())} batches already submitted "
                     f"({len(busy)} frames) are polled, not submitted again")
        if pending:
            await self.submit(pending)
        await self.poll_all()

    async def _find(self, entry: BatchEntry) -> str | None:
        """Providers that can list batches by a label of ours (OpenAI metadata, Gemini display name)."""
        find = getattr(self.provider, "find", None)
        if find is None:
            return None
        try:
            return await find(entry.label, entry.prepared_at or 0.0)
        except Exception as exc:
            raise FatalRunError(f"{self.provider.name}: looking up batch {entry.label} (prepared, id not recorded) "
                                f"failed: {type(exc).__name__}: {exc}; re-run to try again") from exc

    # ---- submitting --------------------------------------------------------------------------
    async def submit(self, pending: list[Frame]) -> None:
        chunk: list[tuple[str, str, Any]] = []  # (custom_id, frame_id, entry)
        size = 0
        for frame in pending:
            try:
                image = await asyncio.to_thread(encode_frame, frame, self.encode.max_side, self.encode.jpeg_quality,
                                                self.encode.max_pixels)
            except FrameError as exc:
                self._failed(frame.id, None, "bad_input", str(exc))
                continue
            request = CaptionRequest(image=image, system=self.prompt.system, user=self.prompt.user,
                                     sampling=self.sampling, schema=self._schema, reasoning=self.reasoning)
            cid = custom_id_for(frame.id)
            entry = self.provider.entry(cid, request)
            n_bytes = self.provider.entry_bytes(entry)
            if self.max_bytes is not None and n_bytes > self.max_bytes:
                self._failed(frame.id, None, "bad_input", f"one request is {n_bytes:,} bytes, over the provider's "
                             f"{self.max_bytes:,}-byte batch limit: lower dataset.max_side or dataset.jpeg_quality")
                continue
            if chunk and ((self.max_requests and len(chunk) >= self.max_requests)
                          or (self.max_bytes and size + n_bytes > self.max_bytes)):
                await self._submit_one(chunk, size)
                chunk, size = [], 0
            chunk.append((cid, frame.id, entry))
            size += n_bytes
        if chunk:
            await self._submit_one(chunk, size)

    async def _submit_one(self, chunk: list[tuple[str, str, Any]], size: int) -> None:
        label = f"capbench-s{self.session}-{uuid.uuid4().hex[:12]}"
        self.journal.write("prepared", label=label, frames={cid: fid for cid, fid, _ in chunk}, requests=len(chunk),
                           bytes=size)
        try:
            batch_id = await self.provider.submit([e for _, _, e in chunk], label)
        except Exception as exc:
            self.journal.write("abandoned", label=label, reason=f"submit failed: {type(exc).__name__}: {exc}")
            raise FatalRunError(f"{self.provider.name}: submitting a batch of {len(chunk)} requests failed: "
                                f"{type(exc).__name__}: {exc}") from exc
        self.journal.write("submitted", label=label, batch_id=batch_id)
        self.log(f"submitted batch {batch_id}: {len(chunk)} frames, {size / 1e6:.1f} MB")

    # ---- polling -----------------------------------------------------------------------------
    async def poll_all(self) -> None:
        started = time.monotonic()
        last: dict[str, str] = {}
        while True:
            open_entries = [e for e in self.journal.entries.values() if e.open]
            if not open_entries:
                return
            for entry in open_entries:
                status = await self._status(entry)
                if last.get(entry.label) != status.provider_status:
                    last[entry.label] = status.provider_status
                    self.journal.write("status", label=entry.label, batch_id=entry.batch_id,
                                       provider_status=status.provider_status, phase=status.phase,
                                       counts=status.counts, created_at=status.created_at,
                                       in_progress_at=status.in_progress_at, ended_at=status.ended_at)
                if status.done:
                    await self.fetch(entry, status)
            if not any(e.open for e in self.journal.entries.values()):
                return
            if time.monotonic() - started >= self.settings.timeout_s:
                still = [e.batch_id for e in self.journal.entries.values() if e.open]
                raise BatchTimeout(f"{len(still)} batch(es) still running at {self.provider.name} after "
                                   f"runner.batch.timeout_s={self.settings.timeout_s:g} s: "
                                   f"{', '.join(map(str, still))}. "
                                   "Nothing is lost: they keep running; re-run the same command to resume polling")
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _status(self, entry: BatchEntry) -> BatchStatus:
        try:
            return await self.provider.status(str(entry.batch_id))
        except Exception as exc:  # the SDK already retried: a bad key, a gone endpoint, an unknown batch
            raise FatalRunError(f"{self.provider.name}: polling batch {entry.batch_id} failed: "
                                f"{type(exc).__name__}: {exc}") from exc

    async def fetch(self, entry: BatchEntry, status: BatchStatus) -> None:
        problems: Counter[str] = Counter()
        unknown: list[str] = []
        unreadable: list[str] = []
        seen: set[str] = set()
        recorded = 0
        if status.phase != "failed":
            try:
                results = await self.provider.results(str(entry.batch_id), status)
            except Exception as exc:
                raise FatalRunError(f"{self.provider.name}: reading the results of batch {entry.batch_id} failed: "
                                    f"{type(exc).__name__}: {exc}") from exc
            unreadable = results.unreadable
            problems["unreadable_lines"] = len(unreadable)
            for item in results.items:
                frame_id = entry.frames.get(item.custom_id)
                if frame_id is None:
                    problems["unknown_custom_id"] += 1
                    unknown.append(item.custom_id)
                    continue
                if item.custom_id in seen:
                    problems["duplicate_custom_id"] += 1
                    continue
                seen.add(item.custom_id)
                if self.store.has(frame_id):
                    problems["recorded_before"] += 1  # a fetch cut short by a kill: not recorded twice
                    continue
                self._record_item(entry, status, frame_id, item)
                recorded += 1
        ended = status.provider_status.lower()
        for cid, frame_id in entry.frames.items():
            if cid in seen or self.store.has(frame_id):
                continue
            if status.phase == "failed":
                kind, why = "batch_failed", f"the provider refused batch {entry.batch_id}: {status.error or ended}"
            elif "cancel" in ended:
                kind, why = "batch_cancelled", f"batch {entry.batch_id} was cancelled ({status.provider_status})"
            elif "expire" in ended:
                kind, why = "batch_expired", f"batch {entry.batch_id} expired ({status.provider_status})"
            else:
                kind = "batch_missing"
                why = f"no result line for this request in batch {entry.batch_id} ({status.provider_status})"
                problems["missing_results"] += 1
            self._failed(frame_id, entry, kind, why, status)
            recorded += 1
        self.journal.write("fetched", label=entry.label, batch_id=entry.batch_id, recorded=recorded,
                           problems={k: v for k, v in problems.items() if v},
                           unknown_custom_ids=unknown[:PROBLEMS_LISTED], unreadable=unreadable[:PROBLEMS_LISTED])
        if any(problems[k] for k in ("unknown_custom_id", "duplicate_custom_id", "unreadable_lines",
                                     "missing_results")):
            self.log(f"batch {entry.batch_id}: result file problems {dict(problems)} (batches.jsonl)")

    # ---- records -----------------------------------------------------------------------------
    def _base(self, frame_id: str, entry: BatchEntry | None, status: BatchStatus | None) -> dict[str, Any]:
        frame = self.frames.get(frame_id)
        submitted = entry.submitted_at if entry else None
        return {"frame_id": frame_id, "session": self.session, "prep_s": None,
                "content_type": frame.meta.get("content_type") if frame else None, "t_scheduled": submitted,
                "batch": {"id": entry.batch_id, "label": entry.label, "custom_id": custom_id_for(frame_id),
                          "provider": self.provider.name} if entry else None,
                "attempts": [], "n_attempts": 1 if entry else 0, "timing": {}}

    def _failed(self, frame_id: str, entry: BatchEntry | None, kind: str, message: str,
                status: BatchStatus | None = None) -> None:
        verdict, _ = assess(None, None, self.prompt.json_schema, self.prompt.rules, error_kind=kind)
        self._append({**self._base(frame_id, entry, status), "status": "failed",
                      "error": {"kind": kind, "message": message}, "validity": verdict.to_dict(),
                      "text": None, "caption": None})

    def _record_item(self, entry: BatchEntry, status: BatchStatus, frame_id: str, item: ResultItem) -> None:
        if item.kind != "ok":
            self._failed(frame_id, entry, FAILED_KINDS.get(item.kind, "batch_errored"),
                         item.error or item.kind, status)
            return
        record = self._base(frame_id, entry, status)
        usage = item.usage
        if usage.input_tokens is not None and usage.output_tokens is not None:
            record["usage_all_attempts"] = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                                            "reasoning_tokens": usage.reasoning_tokens or 0}
            if self.price.input_per_million is not None and self.price.output_per_million is not None:
                record["cost_usd"] = cost_of_generation(usage.input_tokens, usage.output_tokens,
                                                        self.price.input_per_million, self.price.output_per_million)
                record["price_basis"] = "batch"
        else:
            record["usage_all_attempts"] = None
            record["usage_missing"] = True
        verdict, caption = assess(item.text, item.finish_reason, self.prompt.json_schema, self.prompt.rules)
        record.update({
            "status": "ok", "error": None, "text": item.text,
            "caption": caption if isinstance(caption, dict) else None, "validity": verdict.to_dict(),
            "finish_reason": item.finish_reason, "raw_finish_reason": item.raw_finish_reason,
            "response_id": item.response_id, "served_model": item.model,
            "served_by_simulator": bool(status.simulated or self.simulated),
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                      "reasoning_tokens": usage.reasoning_tokens, "visible_output_tokens": usage.visible_output_tokens,
                      "raw": usage.raw},
            "streamed": False,
            # No per-request clock in batch mode: the batch's submit and end times, not a TTFT/E2EL.
            "t_first_sent": entry.submitted_at, "t_sent": entry.submitted_at, "t_first_token": None,
            "t_last_token": status.ended_at or time.time(),
        })
        self._append(record)

    def _append(self, record: dict[str, Any]) -> None:
        self.store.append(record)
        self.on_record(record)
