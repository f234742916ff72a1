"""The live progress bar: frames done, rate, validity so far, errors."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

FIELDS_EVERY_S = 0.25


class RunProgress:
    def __init__(self, total: int, already: Iterable[dict[str, Any]], *, enabled: bool, console: Console) -> None:
        self.valid = self.errors = self.done = 0
        for rec in already:
            self._count(rec)
        self._progress = Progress(
            TextColumn("[bold]frames"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("valid {task.fields[valid]}"), TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, disable=not (enabled and console.is_terminal), transient=False,
        )
        self._task = self._progress.add_task("run", total=total, completed=self.done, **self._fields())
        self._shown = 0.0

    def _final(self) -> None:
        if not self._progress.disable:
            self._progress.update(self._task, completed=self.done, **self._fields())

    def _count(self, rec: dict[str, Any]) -> None:
        self.done += 1
        self.valid += bool(rec["validity"].get("schema_valid"))
        self.errors += rec["status"] != "ok"

    def _fields(self) -> dict[str, str]:
        speed = self._progress.tasks[0].speed if hasattr(self, "_progress") and self._progress.tasks else None
        return {"valid": f"{self.valid / self.done:.0%}" if self.done else "-", "errors": str(self.errors),
                "rate": f"{speed:.1f}/s" if speed else "-/s"}

    def update(self, rec: dict[str, Any]) -> None:
        self._count(rec)
        if self._progress.disable:  # nothing is shown: no work per record on the client's event loop
            return
        self._progress.update(self._task, advance=1)
        now = time.monotonic()
        if now - self._shown >= FIELDS_EVERY_S:  # the rate's computation walks every sample: not per record
            self._shown = now
            self._progress.update(self._task, **self._fields())

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._final()
        self._progress.__exit__(*exc)
