"""What every provider's Batch API looks like to the batch runner: one small interface.

A provider module builds one batch entry per frame from the same request builders the on-demand
backends use (same prompt, image encoding and sampling), submits a list of entries, reports the
batch's status, and lists its results as `ResultItem`s. Splitting, the journal, recording and
accounting are the runner's (bench/batch/runner.py), the same for every provider.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.backends.base import CaptionRequest, Usage


@dataclass(frozen=True)
class BatchLimits:
    """Per batch; each provider module cites where and when its figures were read."""

    max_requests: int | None
    max_bytes: int | None
    source: str


@dataclass
class BatchStatus:
    phase: str  # pending | in_progress | ended (results can be read) | failed (the whole batch was refused)
    provider_status: str  # the provider's own word: validating, in_progress, ended, JOB_STATE_SUCCEEDED...
    counts: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None  # epoch seconds, the provider's clock where it gives them
    in_progress_at: float | None = None
    ended_at: float | None = None
    error: str | None = None  # why a failed batch failed
    simulated: bool = False  # the answer carried x-capbench-simulated

    @property
    def done(self) -> bool:
        return self.phase in ("ended", "failed")


@dataclass
class ResultItem:
    """One line of a batch's results: an answer, or the provider's reason that there is none."""

    custom_id: str
    kind: str  # ok | errored | expired | cancelled
    text: str | None = None
    finish_reason: str | None = None
    raw_finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    response_id: str | None = None
    model: str | None = None
    error: str | None = None


@dataclass
class BatchResults:
    items: list[ResultItem]
    unreadable: list[str] = field(default_factory=list)  # lines that are not JSON or name no custom_id


class BatchProvider(Protocol):
    name: str
    limits: BatchLimits
    discount_source: str  # where the provider documents its batch discount, and when it was read

    def entry(self, custom_id: str, request: CaptionRequest) -> Any:
        """One request of a batch in the provider's format (JSON-able, or an SDK type for Gemini)."""

    def entry_bytes(self, entry: Any) -> int:
        """What the entry adds to the batch's size, as the provider counts it."""

    async def submit(self, entries: list[Any], label: str) -> str:
        """Create the batch; its provider id."""

    async def status(self, batch_id: str) -> BatchStatus: ...

    async def results(self, batch_id: str, status: BatchStatus) -> BatchResults: ...

    async def cancel(self, batch_id: str) -> None: ...

    async def aclose(self) -> None: ...


def custom_id_for(frame_id: str) -> str:
    """A custom id every provider accepts (Anthropic: ^[a-zA-Z0-9_-]{1,64}$) for any frame id; the
    journal maps it back."""
    return "f" + hashlib.sha256(frame_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]
