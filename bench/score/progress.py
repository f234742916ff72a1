"""The judge's live progress bar (rich, like the run's): requests answered, verdicts, failures."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class JudgeProgress:
    """Judge calls start(total) once it knows how many questions miss the cache, then advance(answer) per answer."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.verdicts = self.failures = 0
        self._progress = Progress(TextColumn("[bold]judge"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("verdicts {task.fields[verdicts]}"),
                                  TextColumn("failures {task.fields[failures]}"), TimeElapsedColumn(),
                                  TimeRemainingColumn(), console=console,
                                  disable=not (enabled and console.is_terminal))
        self._task: Any = None

    def start(self, total: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task("judge", total=total, verdicts=0, failures=0)

    def advance(self, answer: dict[str, Any]) -> None:
        self.verdicts += "verdict" in answer
        self.failures += "failure" in answer
        if self._task is not None:
            self._progress.update(self._task, advance=1, verdicts=self.verdicts, failures=self.failures)

    def close(self) -> None:
        self._progress.stop()
