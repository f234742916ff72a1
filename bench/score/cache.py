"""The persistent judge cache: one SQLite file, safe under concurrent writers.

A verdict is keyed by everything that determines it: the judge model (the id
sent and its label), the rubric (version *and* a hash of its text, so an
edited rubric never reuses old verdicts), the image bytes' hash, the caption
hash (of the exact JSON shown to the judge), the reference hash (when the
judge sees one), the sampling parameters and the repeat index. Re-judging
the same run therefore sends nothing; a second run with identical captions
(a re-run of a deterministic model) is judged for free too.

Concurrency: WAL journal (readers never block the writer), a busy timeout,
autocommit single-statement writes, and `INSERT OR IGNORE` (two processes
judging the same item store one verdict; both are valid answers to the same
question). Only successful verdicts are stored: a failure is retried on the
next scoring instead of being remembered.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    rubric TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    caption_sha256 TEXT NOT NULL,
    reference_sha256 TEXT NOT NULL,
    sampling TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    usage TEXT NOT NULL,
    created TEXT NOT NULL
)"""


def default_cache_path() -> Path:
    env = os.environ.get("CAPBENCH_JUDGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "capbench" / "judge_cache.sqlite"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    return sha256_text(json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str))


class JudgeCache:
    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 60.0) -> None:
        self.path = Path(path).expanduser() if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, each statement its own short transaction.
        self._db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        self._retry(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._retry(lambda: self._db.execute(_SCHEMA))

    @staticmethod
    def _retry(op: Any, attempts: int = 20) -> Any:
        """SQLite's busy handler covers most contention; schema/WAL switches can still report 'locked'."""
        for i in range(attempts):
            try:
                return op()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or i == attempts - 1:
                    raise
                time.sleep(0.05 * (i + 1))
        return None

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._retry(lambda: self._db.execute("SELECT verdict, usage FROM verdicts WHERE key = ?",
                                                   (key,)).fetchone())
        if row is None:
            return None
        return {"verdict": json.loads(row[0]), "usage": json.loads(row[1])}

    def put(self, key: str, parts: dict[str, Any], verdict: dict[str, Any], usage: dict[str, Any]) -> None:
        row = (key, str(parts.get("judge")), str(parts.get("rubric")), str(parts.get("image_sha256")),
               str(parts.get("caption_sha256")), str(parts.get("reference_sha256") or ""),
               json.dumps(parts.get("sampling"), sort_keys=True), int(parts.get("repeat", 0)),
               json.dumps(verdict, ensure_ascii=False), json.dumps(usage), datetime.now(UTC).isoformat())
        self._retry(lambda: self._db.execute("INSERT OR IGNORE INTO verdicts VALUES (?,?,?,?,?,?,?,?,?,?,?)", row))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
