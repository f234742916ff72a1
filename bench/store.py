"""The run folder: runs/<dataset>/<model>/<timestamp>/.

    config.yaml        the resolved config, secrets redacted
    run.json           identity: config fingerprint, versions, sessions, status
    generations.jsonl  one record per frame, appended and flushed as each completes
    metrics.json       the headline measurements (bench.metrics)
    server.log         the simulator's / managed server's log, when there is one

Resuming: re-running the same command finds the newest unfinished run whose
config fingerprint matches and continues it. Frames already recorded are
skipped; a torn last line (a kill mid-write) or a damaged line moves to
generations.corrupt.jsonl, a second record of a frame to
generations.duplicates.jsonl (both counted in run.json "set_aside"); a frame
is never recorded twice.

Memory stays flat at any run size: the store keeps only the set of recorded ids (bench.idset,
about 16 bytes a frame); records live on disk and are read back one at a time
(`iter_records`), never all at once by the harness.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from omegaconf import DictConfig, OmegaConf

from bench._version import __version__
from bench.idset import IdSet

# Key names that hold secrets: api_key, access_token, client_secret, password...
# but not max_tokens, image_tokens or per_token_s (counts and rates).
_SECRET_KEY = re.compile(r"(^|_)(api[_-]?key|apikey|token|secret|password|passwd|authorization|cookie|credentials?)$",
                         re.IGNORECASE)
# Settings that change how a run is displayed or where it goes, not what it measures.
# What may change between sessions of one run: display and placement, scoring choices (applied
# after the run, changeable on re-scoring), prices (cost is recomputed from tokens; a price
# looked up on another day must not start a new run) and the retry policy (e.g. more attempts
# or a longer timeout after an outage, with retry_failed=true).
_NOT_FINGERPRINTED = {("runner", "progress"), ("resume",), ("run_dir",), ("runs_dir",), ("judge",), ("reference",),
                      ("temporal",), ("retry_failed",), ("model", "price"), ("model", "gpu"), ("runner", "retry"),
                      ("runner", "request_timeout_s"), ("runner", "batch"),  # runner=batch: polling, limits, price
                      ("export",),  # where a finished run is also sent
                      ("experiment",)}  # the experiment that ran it (bench.card), not what the run is


def redact(node: Any, path: tuple[str, ...] = ()) -> Any:
    """Copy of a plain config with secret-looking values replaced.

    `api_key_env` holds the *name* of a variable, not a key, so it is kept;
    header values are always redacted (they often carry Authorization).
    """
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            key = str(k)
            if key.endswith("_env") and isinstance(v, str | None):
                out[k] = v
            elif (_SECRET_KEY.search(key) or (path and path[-1].endswith("headers"))) and v not in (None, "", {}):
                out[k] = "***redacted***"
            else:
                out[k] = redact(v, path + (key,))
        return out
    if isinstance(node, list):
        if all(isinstance(v, str) for v in node):  # command lines: --api-key VALUE, --token=VALUE
            from bench.server_process import redact as redact_args

            return [_redact_url(v) for v in redact_args(node)]
        return [redact(v, path) for v in node]
    if isinstance(node, str):
        return _redact_url(node)
    return node


_URL_SECRET = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]*@)?", re.IGNORECASE)
_QUERY_SECRET = re.compile(r"([?&](?:api[_-]?key|key|token|access_token|secret|password|sig|signature)=)[^&#\s]*",
                           re.IGNORECASE)


def _redact_url(value: str) -> str:
    """http://user:pass@host/?api_key=K -> http://***@host/?api_key=***"""
    match = _URL_SECRET.match(value)
    if not match:
        return value
    if match.group("userinfo"):
        value = match.group("scheme") + "***@" + value[match.end():]
    return _QUERY_SECRET.sub(r"\1***", value)


def fingerprint(cfg: dict[str, Any]) -> str:
    trimmed = json.loads(json.dumps(cfg, default=str))
    if (trimmed.get("mode") or {}).get("kind", "frame") == "frame":
        trimmed.pop("mode", None)  # frame mode (the default) keeps the fingerprints of runs made before modes
    for path in _NOT_FINGERPRINTED:
        node = trimmed
        for key in path[:-1]:
            node = node.get(key, {})
        node.pop(path[-1], None)
    blob = json.dumps(trimmed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unnamed"


class RunInUseError(Exception):
    """The run folder cannot be used: another process has it, or it holds another config's run."""


def _new_run_dir(parent: Path, tag: str = "") -> Path:
    """A fresh timestamped folder; mkdir(exist_ok=False) so two runs started together never share one."""
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S")
    for suffix in range(1, 1000):
        path = parent / ((stamp if suffix == 1 else f"{stamp}_{suffix}") + tag)
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunInUseError(f"could not make a new run folder under {parent}")


@dataclass
class RunStore:
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    recorded: IdSet = field(default_factory=IdSet)  # ids with a record in generations.jsonl
    resumed: bool = False
    set_aside: dict[str, int] = field(default_factory=dict)  # file -> lines moved there when this run was opened

    def _lock(self) -> None:
        """One process per run folder: a second `python -m bench` of the same command must not
        resume the same run at the same time (every frame would be sent and paid for twice)."""
        fh = (self.path / ".lock").open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise RunInUseError(f"{self.path} is in use by another capbench process (pid {holder}); wait for it, "
                                "or start a separate run with resume=never") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_handle = fh  # held (and the lock with it) until close() or the process exits

    def close(self) -> None:
        """Release the run folder: a second run of the same folder in this process (bench.app.run called
        twice, as tests and notebooks do) must not depend on when the garbage collector closes the file."""
        self._close_generations()
        handle = getattr(self, "_lock_handle", None)
        if handle is not None:
            handle.close()  # closing the file releases the flock
            self._lock_handle = None

    def _close_generations(self) -> None:
        """Close the append handle (before generations.jsonl is rewritten or replaced, and at the end)."""
        handle = getattr(self, "_generations_fh", None)
        if handle is not None:
            handle.close()
            self._generations_fh = None

    @property
    def generations_path(self) -> Path:
        return self.path / "generations.jsonl"

    # ---- opening -------------------------------------------------------
    @classmethod
    def open(cls, cfg: DictConfig, *, model_label: str, shard: dict[str, Any] | None = None) -> RunStore:
        plain = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(plain, dict)
        fp = fingerprint(plain)
        if cfg.run_dir:
            path = Path(cfg.run_dir)
        else:
            parent = Path(cfg.runs_dir) / _slug(cfg.dataset.name) / _slug(model_label)
            retry = bool(cfg.get("retry_failed"))
            path = _find_resumable(parent, fp, include_complete=retry) if cfg.resume == "auto" else None
            if path is None and retry:
                raise RunInUseError(f"retry_failed=true: no earlier run of this config under {parent} to retry; "
                                    "run without retry_failed, or name the run with run_dir=PATH")
            if path is None:
                path = _new_run_dir(parent, f"_shard-{shard['index']}-of-{shard['count']}" if shard else "")
        store = cls(path=path)
        store.path.mkdir(parents=True, exist_ok=True)
        store._lock()
        meta_path = store.path / "run.json"
        if meta_path.exists():
            store.meta = json.loads(meta_path.read_text())
            if store.meta.get("fingerprint") != fp:
                raise RunInUseError(f"{store.path} holds a run with a different config (fingerprint "
                                   f"{store.meta.get('fingerprint')} != {fp}); choose another run_dir")
            store.resumed = True
        else:
            store.meta = {
                "format": 1,
                "fingerprint": fp,
                "created": datetime.now(UTC).isoformat(),
                "capbench_version": __version__,
                "dataset": cfg.dataset.name,
                "model": model_label,
                "simulated": bool(cfg.model.simulated),
                "host": {"hostname": socket.gethostname(), "python": platform.python_version(),
                         "platform": platform.platform()},
                "sessions": [],
                "status": "running",
                **({"shard": shard} if shard else {}),  # one shard of a partition (bench.shards)
            }
            store.save_meta()
        (store.path / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(redact(plain))))
        store.recorded = store._load_recorded()
        return store

    # ---- reading -------------------------------------------------------
    def has(self, frame_id: str) -> bool:
        return frame_id in self.recorded

    def __len__(self) -> int:
        return len(self.recorded)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """The records, one at a time in file order (streamed from disk)."""
        return iter_records(self.path)

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """Every record by frame id, read from disk now: for tests and small tools only (it holds the
        whole run in memory; the harness streams with iter_records)."""
        return {r["frame_id"]: r for r in self.iter_records()}

    def _load_recorded(self) -> IdSet:
        """Read generations.jsonl: keep the first record per frame. A torn last line (a kill mid-write)
        and any unreadable line move to generations.corrupt.jsonl and their frames run again; a second
        record of an already recorded frame moves to generations.duplicates.jsonl. Nothing is silently
        dropped: what was set aside is counted in run.json ("set_aside") and in `self.set_aside`."""
        path = self.generations_path
        if not path.exists():
            return IdSet()
        # One streaming pass to find the ids (and whether anything must be set aside); a second,
        # only then, to rewrite the file without those lines. Never the whole file in memory.
        with path.open("rb") as fh:
            ids, counts = _classify(fh, None)
        if not any(counts.values()):
            return ids
        self._close_generations()
        tmp = path.with_suffix(path.suffix + ".tmp")
        with path.open("rb") as src, tmp.open("wb") as good, (self.path / CORRUPT_FILE).open("ab") as bad, \
                (self.path / DUPLICATES_FILE).open("ab") as dups:
            ids, counts = _classify(src, {"good": good, CORRUPT_FILE: bad, DUPLICATES_FILE: dups})
            good.flush()
            os.fsync(good.fileno())
        os.replace(tmp, path)
        for name, count in counts.items():
            if count:
                self.set_aside[name] = count
                totals = self.meta.setdefault("set_aside", {})
                totals[name] = totals.get(name, 0) + count
        for name in (CORRUPT_FILE, DUPLICATES_FILE):  # an empty file says nothing: leave none behind
            if not counts[name] and (self.path / name).stat().st_size == 0:
                (self.path / name).unlink()
        self.save_meta()
        return ids

    # ---- writing -------------------------------------------------------
    def start_session(self, info: dict[str, Any]) -> int:
        self.meta["sessions"].append({"started": datetime.now(UTC).isoformat(), **info})
        self.meta["status"] = "running"
        self.save_meta()
        return len(self.meta["sessions"])

    def end_session(self, status: str, **info: Any) -> None:
        self.meta["sessions"][-1].update({"ended": datetime.now(UTC).isoformat(), "status": status, **info})
        self.meta["status"] = status
        self.save_meta()

    def save_meta(self) -> None:
        _atomic_write(self.path / "run.json", json.dumps(self.meta, indent=2, default=str))

    def append(self, record: dict[str, Any]) -> None:
        frame_id = record["frame_id"]
        if frame_id in self.recorded:
            raise ValueError(f"frame {frame_id!r} is already recorded in {self.generations_path}")
        # orjson: a tenth of json.dumps's time on the client's event loop (issue 12); the same JSON for what a
        # record holds (it writes NaN, which records never hold, as null where json.dumps writes NaN).
        try:
            data = orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # orjson.JSONEncodeError: a lone surrogate, an int beyond 64 bits, a non-str key...
            line = json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")) + "\n"
            try:
                data = line.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate (a file name that is not UTF-8, as Python holds it): JSON's \\u
                # escapes write it as valid UTF-8 and read back the very same string.
                data = (json.dumps(record, ensure_ascii=True, default=str, separators=(",", ":")) + "\n").encode()
        fh = getattr(self, "_generations_fh", None)
        if fh is None:  # kept open for the run: opening the file per record was most of writing it
            fh = self._generations_fh = self.generations_path.open("ab", buffering=0)
        view = memoryview(data)  # unbuffered: each record is in the file (a kill loses none) once written
        while view:
            view = view[fh.write(view):]
        self.recorded.add(frame_id)

    def supersede(self, drop: Any) -> int:
        """Take the records whose frame_id is in `drop` (a set or IdSet) out of generations.jsonl so they
        run again (retry_failed=true). Streamed: the old records move to superseded.jsonl, nothing
        disappears, nothing is counted twice. Returns how many moved."""
        path = self.generations_path
        if not path.exists():
            return 0
        moved = 0
        self._close_generations()  # the file is replaced below: appends must go to the new one
        tmp = path.with_suffix(path.suffix + ".tmp")
        with path.open("rb") as src, tmp.open("wb") as keep, (self.path / "superseded.jsonl").open("ab") as gone:
            for line in src:
                frame_id = json.loads(line)["frame_id"]
                if frame_id in drop:
                    gone.write(line)
                    self.recorded.discard(frame_id)
                    moved += 1
                else:
                    keep.write(line)
        os.replace(tmp, path)
        return moved

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        _atomic_write(self.path / "metrics.json", json.dumps(metrics, indent=2, default=str))


CORRUPT_FILE = "generations.corrupt.jsonl"
DUPLICATES_FILE = "generations.duplicates.jsonl"


def _read_line(line: bytes) -> dict[str, Any] | None:
    """A usable record, or None (torn by a kill: no newline; not JSON; no frame_id). orjson first (3x faster,
    same values for what capbench writes); what it refuses and json takes (NaN, the escaped lone surrogates of
    non-UTF-8 file names) goes to json."""
    if not line.endswith(b"\n"):
        return None
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("frame_id"), str) else None


parse_record_line = _read_line  # the public name: one line of generations.jsonl as a record, or None


def _classify(lines: Any, sinks: dict[str, Any] | None) -> tuple[IdSet, dict[str, int]]:
    """Ids of the first record per frame, and how many lines are unusable / repeat a recorded frame;
    with `sinks`, each line is also written to its file ("good", CORRUPT_FILE, DUPLICATES_FILE)."""
    ids = IdSet()
    counts = {CORRUPT_FILE: 0, DUPLICATES_FILE: 0}
    for line in lines:
        rec = _read_line(line)
        if rec is None:
            kind = CORRUPT_FILE
        elif ids.add(rec["frame_id"]):
            kind = "good"
        else:
            kind = DUPLICATES_FILE
        if kind != "good":
            counts[kind] += 1
        if sinks is not None:
            sinks[kind].write(line if line.endswith(b"\n") else line + b"\n")
    return ids, counts


def iter_records(run_dir: Path) -> Iterator[dict[str, Any]]:
    """A run's records one at a time, in file order: the first record per frame (read-only; unreadable
    lines and repeats are skipped, as `RunStore.open` sets them aside). Memory: one record and the id
    set (bench.idset), whatever the run's size. The reader every consumer of records should use."""
    return (rec for _, rec in iter_records_located(run_dir))


def iter_records_located(run_dir: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """iter_records with each record's byte offset in generations.jsonl (to read it again later by offset)."""
    path = Path(run_dir) / "generations.jsonl"
    if not path.exists():
        return
    seen = IdSet()
    offset = 0
    with path.open("rb") as fh:
        for line in fh:
            at, offset = offset, offset + len(line)
            rec = _read_line(line)
            if rec is not None and seen.add(rec["frame_id"]):
                yield at, rec


def _find_resumable(parent: Path, fp: str, *, include_complete: bool = False) -> Path | None:
    if not parent.is_dir():
        return None
    for candidate in sorted(parent.iterdir(), reverse=True):
        meta_path = candidate / "run.json"
        if not meta_path.is_file():
            continue
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if meta.get("fingerprint") == fp:
            return candidate if include_complete or meta.get("status") != "complete" else None
    return None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """All records of a run folder in a list, in file order: for small runs and tests; anything that
    may meet a large run streams with `iter_records`."""
    return list(iter_records(run_dir))
