"""batches.jsonl: the run folder's record of every batch, written before anything else happens.

Events, one JSON line each, appended and flushed:
  prepared   {label, frames: {custom_id: frame_id}, requests, bytes}  before the batch is submitted
  submitted  {label, batch_id}                                        as soon as the provider accepted it
  status     {batch_id, provider_status, phase, counts, times}        when the provider's status changes
  fetched    {batch_id, recorded, problems}                           after its results were recorded
  abandoned  {label, reason}                                          prepared, never acknowledged
A re-run reads it back: a submitted batch whose results were not fetched is polled again, never
re-submitted. A torn last line (a kill mid-write) is skipped and counted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL_FILE = "batches.jsonl"


@dataclass
class BatchEntry:
    label: str
    frames: dict[str, str]  # custom_id -> frame_id
    requests: int = 0
    bytes: int = 0
    prepared_at: float | None = None
    batch_id: str | None = None
    submitted_at: float | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)
    fetched: dict[str, Any] | None = None

    @property
    def open(self) -> bool:
        return self.batch_id is not None and self.fetched is None


class Journal:
    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / JOURNAL_FILE
        self.entries: dict[str, BatchEntry] = {}  # label -> entry
        self.torn = 0
        if self.path.exists():
            for line in self.path.read_bytes().splitlines(keepends=True):
                try:
                    event = json.loads(line) if line.endswith(b"\n") else None
                except (ValueError, UnicodeDecodeError):
                    event = None
                if not isinstance(event, dict):
                    self.torn += 1
                    continue
                self._apply(event)

    def _apply(self, e: dict[str, Any]) -> None:
        kind = e.get("event")
        if kind == "prepared":
            self.entries[e["label"]] = BatchEntry(e["label"], dict(e["frames"]), e.get("requests", 0),
                                                  e.get("bytes", 0), e.get("t"))
            return
        entry = self.entries.get(e.get("label", "")) or self.by_batch_id(e.get("batch_id"))
        if entry is None:
            return
        if kind == "submitted":
            entry.batch_id, entry.submitted_at = e["batch_id"], e.get("t")
        elif kind == "status":
            entry.statuses.append(e)
        elif kind in ("fetched", "abandoned"):  # abandoned: prepared, never acknowledged; its frames go again
            entry.fetched = e

    def by_batch_id(self, batch_id: str | None) -> BatchEntry | None:
        return next((x for x in self.entries.values() if batch_id and x.batch_id == batch_id), None)

    def write(self, event: str, **fields: Any) -> None:
        record = {"event": event, "t": time.time(), **fields}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")) + "\n")
            fh.flush()
        self._apply(record)

    def frames_in_open_batches(self) -> set[str]:
        return {fid for e in self.entries.values() if e.open for fid in e.frames.values()}

    def unsubmitted(self) -> list[BatchEntry]:
        """Prepared but with no batch id: the run was killed between the two lines (see runner)."""
        return [e for e in self.entries.values() if e.batch_id is None and e.fetched is None]
