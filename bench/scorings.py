"""Every scoring of a run kept side by side: the `scores/` folder of a run folder.

A scoring is one `python -m bench.score` (or the scoring after a run): overlap
against one reference and, optionally, one judge's verdicts. It is keyed by
what it was scored against, so a re-scoring against the same things replaces
only itself, and a scoring against another reference or judge sits next to it:

    RUN/scores/index.json          {"format", "latest": KEY, "scorings": {KEY: identity}}
    RUN/scores/KEY.json            the scoring's summary (what metrics.json["scores"] holds)
    RUN/scores/KEY.jsonl           one line per frame (overlap, verdict)
    RUN/metrics.json["scores"]     a copy of the latest scoring, for older readers
    RUN/scores.jsonl               likewise (the old single slot; read when there is no index)

KEY = "ref-<reference>" plus "__judge-<judge>" when judged, made of the
identity: reference {"kind": "dataset"|"run", "id"} and judge {"label",
"backend", "model", "endpoint", "rubric" (name@version:text hash),
"with_reference", "simulated"}. Readers pick one (`select`): the latest
scoring by default, or the latest matching `reference=` / `judge=`; when other
scorings exist, or a choice matches several, a note names them.

Writers hold `RUN/scores/.lock` (`scoring_lock`): a second scorer of the same
run folder waits for the first, never last-writer-wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "capbench-scores/1"
FOLDER = "scores"
INDEX = "index.json"
LEGACY_ROWS = "scores.jsonl"
LEGACY_KEY = "legacy"


class ScoringSelectError(Exception):
    """No scoring of a run matches what was asked for (the message lists what there is)."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", text).strip("_")[:80] or "x"


def scoring_key(reference: dict[str, Any], judge: dict[str, Any] | None) -> str:
    ref = f"ref-{_slug(str(reference.get('id') or reference.get('kind') or 'unknown'))}"
    if not judge:
        return ref
    rubric = str(judge.get("rubric") or "")
    # label and rubric are readable; the hash keeps endpoint, model and the rest apart without long names
    digest = _digest(judge_identity_tuple(judge))
    return f"{ref}__judge-{_slug(str(judge.get('label') or judge.get('model')))}-{_slug(rubric.split(':')[0])}-{digest}"


def judge_identity_tuple(judge: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two judgings comparable: same model at the same kind of endpoint, same rubric text."""
    return (judge.get("backend"), judge.get("model"), judge.get("endpoint"), judge.get("rubric"),
            bool(judge.get("with_reference")), bool(judge.get("simulated")))


def endpoint_kind(endpoint: Any) -> str:
    """default (the SDK's own), simulator (embedded), or url (a base URL: the port may change between runs)."""
    text = str(endpoint or "default")
    return text if text in ("default",) else "simulator" if text.startswith("simulator") else "url"


def judge_comparison(judge: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """Two judge scores may be ranked against each other only when this is equal: same protocol and model at the
    same kind of endpoint, same rubric text and version, same reference shown or not, simulated or not."""
    if not judge:
        return None
    return (judge.get("backend"), judge.get("model"), endpoint_kind(judge.get("endpoint")), judge.get("rubric"),
            bool(judge.get("with_reference")), bool(judge.get("simulated")))


def comparison_problems(a: dict[str, Any] | None, b: dict[str, Any] | None, *, overlap: bool, judged: bool,
                        names: tuple[str, str] = ("run", "baseline")) -> list[str]:
    """Why the scores of two scorings (identities as in metrics.json["scores"]["scoring"]) cannot be compared:
    overlap against different references, or verdicts of different judges or rubrics. [] when they can."""
    a, b = a or {}, b or {}
    out = []
    if overlap and a.get("reference_id") != b.get("reference_id"):
        out.append(f"ROUGE/BLEU against different references: {names[0]} {a.get('reference_id') or 'unknown'}, "
                   f"{names[1]} {b.get('reference_id') or 'unknown'}")
    if judged and judge_comparison(a.get("judge")) != judge_comparison(b.get("judge")):
        out.append(f"judge scores from different judges or rubrics: {names[0]} {describe_judge(a.get('judge'))}; "
                   f"{names[1]} {describe_judge(b.get('judge'))}")
    return out


def _digest(value: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()[:8]


def describe_judge(j: dict[str, Any] | None) -> str:
    if not j:
        return "no judge"
    sim = ", SIMULATED" if j.get("simulated") else ""
    return f"judge {j.get('label') or j.get('model')} ({j.get('endpoint') or 'default endpoint'}{sim}), " \
           f"rubric {j.get('rubric')}"


def describe_reference(r: dict[str, Any] | None) -> str:
    return f"reference {(r or {}).get('id') or 'unknown'}"


@dataclass
class Scoring:
    key: str
    reference: dict[str, Any]
    judge: dict[str, Any] | None
    scored_at: str = ""

    def describe(self) -> str:
        return f"{self.key} ({describe_reference(self.reference)}; {describe_judge(self.judge)})"


@dataclass
class Selected:
    """The scoring a reader uses: its summary and rows, plus notes naming the choice when others exist."""

    scoring: Scoring | None
    summary: dict[str, Any]
    rows: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    available: list[Scoring] = field(default_factory=list)
    rows_path: Path | None = None  # the file the rows come from (with_rows=False: read them from here)


# ---- reading ------------------------------------------------------------------------------------
def read_index(run_dir: Path) -> dict[str, Any]:
    path = run_dir / FOLDER / INDEX
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == FORMAT else {}


def scorings(run_dir: Path) -> list[Scoring]:
    """Every scoring of the run, oldest first."""
    index = read_index(run_dir)
    out = [Scoring(k, v.get("reference") or {}, v.get("judge"), str(v.get("scored_at") or ""))
           for k, v in (index.get("scorings") or {}).items() if isinstance(v, dict)]
    return sorted(out, key=lambda s: s.scored_at)


def iter_rows(path: Path | None) -> Iterator[dict[str, Any]]:
    """A scoring's rows one at a time (a torn last line and unreadable lines left out)."""
    if path is None or not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # torn last line
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("frame_id") is not None:
                yield rec


def read_rows(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rec in iter_rows(path):
        out[str(rec["frame_id"])] = rec
    return out


def _matches(s: Scoring, reference: str | None, judge: str | None) -> bool:
    if reference is not None:
        ref = s.reference
        wanted = {str(ref.get("id")), str(ref.get("kind")), str(ref.get("source"))}
        if reference == "dataset":
            wanted = {"dataset"} if ref.get("kind") == "dataset" else set()
        if reference not in wanted and not (ref.get("source") and Path(reference).name == Path(
                str(ref["source"])).name and ref.get("kind") == "run"):
            return False
    if judge is not None:
        j = s.judge or {}
        if judge in ("none", "") and j:
            return False
        if judge not in ("none", "") and judge not in {str(j.get("label")), str(j.get("model"))}:
            return False
    return True


def select(run_dir: Path, legacy_summary: dict[str, Any] | None = None, *, key: str | None = None,
           reference: str | None = None, judge: str | None = None, with_rows: bool = True) -> Selected:
    """Pick one scoring: `key` exactly, else the latest matching reference= (dataset, a teacher run's id or
    folder) and judge= (a judge label or model; "none" for unjudged), else the latest. Old run folders (no
    index) have one scoring: metrics.json["scores"] and scores.jsonl. with_rows=False leaves the rows unread
    (a reader that streams them, e.g. the report, opens `rows_path`)."""
    run_dir = Path(run_dir)
    rows_of = read_rows if with_rows else (lambda path: {})
    available = scorings(run_dir)
    if not available:
        if key not in (None, LEGACY_KEY) or reference is not None or judge is not None:
            if legacy_summary or (run_dir / LEGACY_ROWS).is_file():
                return Selected(None, legacy_summary, rows_of(run_dir / LEGACY_ROWS),
                                [f"{run_dir}: an older run folder with a single scoring; the choice "
                                 f"(key={key}, reference={reference}, judge={judge}) was not checked"],
                                rows_path=run_dir / LEGACY_ROWS)
            raise ScoringSelectError(f"{run_dir} has not been scored: run python -m bench.score {run_dir}")
        return Selected(None, legacy_summary or {}, rows_of(run_dir / LEGACY_ROWS),
                        rows_path=run_dir / LEGACY_ROWS)
    legacy_rows = run_dir / LEGACY_ROWS
    if key is None and reference is None and judge is None and legacy_rows.is_file() \
            and legacy_rows.stat().st_mtime_ns > (run_dir / FOLDER / INDEX).stat().st_mtime_ns:
        # scores.jsonl rewritten after the index (an older capbench re-scored the folder, or a hand-made file)
        return Selected(None, legacy_summary or {}, rows_of(legacy_rows),
                        [f"{run_dir}: scores.jsonl is newer than scores/index.json (written by an older capbench?): "
                         "using it"], available, rows_path=legacy_rows)
    if key is not None:
        chosen = [s for s in available if s.key == key]
    else:
        chosen = [s for s in available if _matches(s, reference, judge)]
    if not chosen:
        asked = f"key={key}" if key is not None else f"reference={reference}, judge={judge}"
        raise ScoringSelectError(f"{run_dir}: no scoring matches {asked}; it has: "
                                 + "; ".join(s.describe() for s in available))
    pick = chosen[-1]
    notes = []
    if len(chosen) > 1:
        notes.append(f"{run_dir}: {len(chosen)} scorings match; using the latest, {pick.describe()}; also: "
                     + "; ".join(s.describe() for s in chosen[:-1]) + " (pick one with scoring=KEY)")
    elif len(available) > 1 and key is None and reference is None and judge is None:
        notes.append(f"{run_dir}: {len(available)} scorings; using the latest, {pick.describe()}")
    folder = run_dir / FOLDER
    try:
        summary = json.loads((folder / f"{pick.key}.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ScoringSelectError(f"{folder / (pick.key + '.json')}: unreadable ({exc})") from exc
    return Selected(pick, summary, rows_of(folder / f"{pick.key}.jsonl"), notes, available,
                    rows_path=folder / f"{pick.key}.jsonl")


# ---- writing ------------------------------------------------------------------------------------
def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_scoring(run_dir: Path, summary: dict[str, Any], rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Store one scoring under its key (replacing only a scoring against the same things), make it the latest,
    and copy it to metrics.json["scores"] / scores.jsonl. Call under scoring_lock. Returns the summary as stored
    (with "scoring": {"key", "reference_id", "judge"}). The rows are written as they come (any iterable: a
    million-frame scoring streams them)."""
    folder = run_dir / FOLDER
    folder.mkdir(exist_ok=True)
    reference = summary["reference"]
    judge = summary.get("judge")
    judge_id = None if not judge else {k: judge.get(k) for k in ("label", "backend", "model", "endpoint", "rubric",
                                                                  "rubric_version", "with_reference", "simulated")}
    key = scoring_key(reference, judge_id)
    scored_at = datetime.now(UTC).isoformat()
    summary = {**summary, "scoring": {"key": key, "reference_id": reference.get("id"), "judge": judge_id}}
    rows_tmp = folder / f".{key}.jsonl.{os.getpid()}.tmp"
    with rows_tmp.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
    legacy_tmp = run_dir / f".{LEGACY_ROWS}.{os.getpid()}.tmp"
    shutil.copyfile(rows_tmp, legacy_tmp)
    os.replace(rows_tmp, folder / f"{key}.jsonl")
    _atomic_write(folder / f"{key}.json", json.dumps(summary, indent=2, default=str))
    os.replace(legacy_tmp, run_dir / LEGACY_ROWS)  # the copy for readers of the old single slot (before the
    # index: a scores.jsonl newer than the index was written by something else, see select)
    index = read_index(run_dir) or {"format": FORMAT, "scorings": {}}
    index["scorings"][key] = {"reference": {k: reference.get(k) for k in ("kind", "id", "source")},
                              "judge": judge_id, "scored_at": scored_at}
    index["latest"] = key
    _atomic_write(folder / INDEX, json.dumps(index, indent=2, default=str))
    metrics_path = run_dir / "metrics.json"
    try:
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    except json.JSONDecodeError:
        metrics = {}
    metrics["scores"] = summary
    _atomic_write(metrics_path, json.dumps(metrics, indent=2, default=str))
    return summary


class ScoringInUse(Exception):
    """Another process is scoring this run folder (and did not finish within the wait)."""


@contextlib.contextmanager
def scoring_lock(run_dir: Path, *, wait_s: float = 600.0, on_wait: Any = None) -> Iterator[None]:
    """One scorer per run folder at a time: the second waits (up to wait_s) for the first to finish, then
    scores on top of what it wrote. A lock of its own (not the run's .lock), so a run that is scored right
    after it ran, while its process still holds the run lock, can take it."""
    folder = Path(run_dir) / FOLDER
    folder.mkdir(exist_ok=True)
    fh = (folder / ".lock").open("a+")
    try:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    fh.seek(0)
                    on_wait(fh.read().strip() or "?")
                    told = True
                if time.monotonic() > deadline:
                    fh.seek(0)
                    raise ScoringInUse(f"{run_dir} is being scored by another process (pid {fh.read().strip() or '?'}"
                                       f") for more than {wait_s:.0f} s; wait for it and run again") from None
                time.sleep(0.1)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()  # releases the lock
