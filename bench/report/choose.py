"""Which runs go into a report: what a glob or a folder picked up, minus failed, unfinished and tiny attempts
(unless --include-all), and with --latest only the newest run per (model, config).

A run named directly (its own folder on the command line) and the baseline are always kept: only runs found by
expanding a glob, a folder of runs or a multirun folder are left out. Every run left out is named in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.load import RunData, RunLoadError, find_run_dirs, is_run_dir, label_runs, load_run_data

DEFAULT_MIN_FRAMES = 10
FINISHED = "complete"


@dataclass
class Choice:
    runs: list[RunData]
    notes: list[str] = field(default_factory=list)
    left_out: list[tuple[RunData, str]] = field(default_factory=list)  # (run, why)


def named_directly(args: list[str | Path]) -> set[Path]:
    """The run folders given as themselves (not through a glob or a folder of runs)."""
    return {Path(a).resolve() for a in args if is_run_dir(Path(a))}


def _frames(run: RunData) -> int:
    m = run.metrics
    n = m.get("recorded", m.get("frames"))
    if isinstance(n, int | float) and not isinstance(n, bool):
        return int(n)
    return len(run.records)


def why_left_out(run: RunData, min_frames: int) -> str | None:
    """Why a run found by a glob is not a fair entry: not finished (failed, interrupted, incomplete, still running)
    or fewer than min_frames frames; None when it is."""
    status = run.meta.get("status")
    reasons = []
    if status != FINISHED:
        reasons.append(f"status {status or 'unknown'}")
    frames = _frames(run)
    if frames < min_frames:
        reasons.append(f"{frames} frame{'s' * (frames != 1)} (< {min_frames})")
    return ", ".join(reasons) or None


def _group_key(run: RunData) -> tuple[str, str]:
    return run.model, str(run.meta.get("fingerprint") or run.path.resolve())


def _created(run: RunData) -> str:
    return str(run.meta.get("created") or "")


def choose_runs(runs: list[RunData], *, named: set[Path] = frozenset(), keep: set[Path] = frozenset(),
                latest: bool = False, include_all: bool = False, min_frames: int = DEFAULT_MIN_FRAMES) -> Choice:
    """The runs to report, relabelled among themselves, with a note naming each run left out and why. named: run
    folders given directly; keep: folders always kept (the baseline)."""
    keep = {p.resolve() for p in keep}
    protected = {p.resolve() for p in named} | keep
    choice = Choice(runs=[])
    for run in runs:
        why = None if include_all or run.path.resolve() in protected else why_left_out(run, min_frames)
        if why:
            choice.left_out.append((run, why))
        else:
            choice.runs.append(run)
    if choice.left_out:
        listed = "; ".join(f"{r.path} ({why})" for r, why in choice.left_out)
        choice.notes.append(f"Left out {len(choice.left_out)} run{'s' * (len(choice.left_out) != 1)} that a glob or "
                            f"folder picked up: failed, unfinished or under {min_frames} frames ({listed}). "
                            "--include-all keeps them; naming a run folder directly always does.")
    if latest:
        newest: dict[tuple[str, str], RunData] = {}
        for run in choice.runs:
            key = _group_key(run)
            if key not in newest or _created(run) > _created(newest[key]):
                newest[key] = run
        older = [r for r in choice.runs if newest[_group_key(r)] is not r and r.path.resolve() not in keep]
        if older:
            gone = {id(r) for r in older}
            choice.runs = [r for r in choice.runs if id(r) not in gone]
            choice.left_out += [(r, "an older run of the same model and config") for r in older]
            choice.notes.append(f"--latest: left out {len(older)} older run{'s' * (len(older) != 1)} of the same "
                                f"model and config ({'; '.join(str(r.path) for r in older)}).")
    if choice.left_out:
        label_runs(choice.runs)
    return choice


def load_report_runs(paths: list[str | Path], *, baseline: str | Path | None = None, latest: bool = False,
                     include_all: bool = False, min_frames: int = DEFAULT_MIN_FRAMES, records: bool = False,
                     **selection: str | None) -> tuple[list[RunData], int | None, list[str]]:
    """The runs of a report (choose_runs over what the paths name, the baseline first), the baseline's index among
    them (None without one) and the notes naming what was left out. RunLoadError for unusable input."""
    base_dir = None
    if baseline is not None:
        found = find_run_dirs(baseline)
        if len(found) != 1:
            raise RunLoadError(f"--baseline {baseline}: names {len(found)} run folders; give exactly one run folder")
        base_dir = found[0].resolve()
    runs = load_run_data(([baseline] if baseline is not None else []) + list(paths), records=records, **selection)
    choice = choose_runs(runs, named=named_directly(list(paths)), keep={base_dir} if base_dir else set(),
                         latest=latest, include_all=include_all, min_frames=min_frames)
    base_index = None
    if base_dir is not None:
        base_index = next(i for i, r in enumerate(choice.runs) if r.path.resolve() == base_dir)
        if len(choice.runs) < 2:
            raise RunLoadError(f"--baseline {baseline}: no other run to compare with it (the baseline is also the "
                               "only run given)")
    return choice.runs, base_index, choice.notes
