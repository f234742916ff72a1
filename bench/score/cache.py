"""The persistent judge cache: one SQLite file, safe under concurrent writers.

A verdict is keyed by everything that determines it: the judge's wire
protocol (backend), the model id sent, the endpoint (normalised base URL,
without credentials; "default" for the SDK's own, "simulator" for an embedded
one), the rubric (version *and* a hash of its text, so an edited rubric never
reuses old verdicts), the image bytes' hash, the caption hash (of the exact
JSON shown to the judge), the reference hash (when the judge sees one), the
sampling parameters and the repeat index. Re-judging the same run therefore
sends nothing; a second run with identical captions (a re-run of a
deterministic model) is judged for free too.

A verdict that came from capbench's simulator (the `x-capbench-simulated`
header) is stored with `simulated = 1` and is only ever served to a judge
configured as simulated: whatever the key, a simulator's verdict can never be
reported as a real judge's. (Verdicts of the older `verdicts` table, keyed
without the endpoint, are not read: they may be the simulator's.)

Location (`default_cache_path`): `judge.cache` (config) or
$CAPBENCH_JUDGE_CACHE (a file), else `$CAPBENCH_CACHE_DIR/judge_cache.sqlite`,
else `$XDG_CACHE_HOME/capbench/`, else `~/.cache/capbench/`.

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
from urllib.parse import urlsplit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_verdicts (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    rubric TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    caption_sha256 TEXT NOT NULL,
    reference_sha256 TEXT NOT NULL,
    sampling TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    simulated INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    usage TEXT NOT NULL,
    created TEXT NOT NULL
)"""
# Single-flight across processes: who is asking which question right now (rows live only while asking).
_CLAIMS = "CREATE TABLE IF NOT EXISTS judge_claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, since REAL NOT NULL)"


CACHE_FILE = "judge_cache.sqlite"


def default_cache_path() -> Path:
    env = os.environ.get("CAPBENCH_JUDGE_CACHE")  # older setting: the file itself
    if env:
        return Path(env).expanduser()
    folder = os.environ.get("CAPBENCH_CACHE_DIR")
    if folder:
        return Path(folder).expanduser() / CACHE_FILE
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "capbench" / CACHE_FILE


def normalise_base_url(url: str | None) -> str:
    """scheme://host:port/path, lower-cased host, no credentials, query or trailing slash ("default" if unset)."""
    if not url:
        return "default"
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{parts.scheme.lower()}://{host}:{port}{parts.path.rstrip('/')}"


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
        self._retry(lambda: self._db.execute(_CLAIMS))

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

    def get(self, key: str, *, allow_simulated: bool = False) -> dict[str, Any] | None:
        """The stored verdict, or None. A simulator's verdict is only returned when allow_simulated."""
        row = self._retry(lambda: self._db.execute(
            "SELECT verdict, usage, simulated FROM judge_verdicts WHERE key = ?", (key,)).fetchone())
        if row is None or (row[2] and not allow_simulated):
            return None
        return {"verdict": json.loads(row[0]), "usage": json.loads(row[1]), "simulated": bool(row[2])}

    def put(self, key: str, parts: dict[str, Any], verdict: dict[str, Any], usage: dict[str, Any], *,
            simulated: bool) -> None:
        row = (key, str(parts.get("judge")), str(parts.get("rubric")), str(parts.get("image_sha256")),
               str(parts.get("caption_sha256")), str(parts.get("reference_sha256") or ""),
               json.dumps(parts.get("sampling"), sort_keys=True), int(parts.get("repeat", 0)),
               str(parts.get("endpoint") or ""), int(bool(simulated)),
               json.dumps(verdict, ensure_ascii=False), json.dumps(usage), datetime.now(UTC).isoformat())
        # The first answer wins (two processes asking the same question), except that a real answer
        # replaces a simulator's stored under the same key.
        sql = ("INSERT INTO judge_verdicts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET "
               "simulated = excluded.simulated, verdict = excluded.verdict, usage = excluded.usage, "
               "created = excluded.created WHERE judge_verdicts.simulated = 1 AND excluded.simulated = 0")
        self._retry(lambda: self._db.execute(sql, row))

    def claim(self, key: str, owner: str, *, ttl_s: float) -> bool:
        """True when `owner` may ask the question `key` now: nobody else claimed it less than ttl_s ago."""
        now = time.time()
        self._retry(lambda: self._db.execute("DELETE FROM judge_claims WHERE key = ? AND since < ?",
                                             (key, now - ttl_s)))
        self._retry(lambda: self._db.execute("INSERT OR IGNORE INTO judge_claims VALUES (?,?,?)", (key, owner, now)))
        row = self._retry(lambda: self._db.execute("SELECT owner FROM judge_claims WHERE key = ?", (key,)).fetchone())
        return row is not None and row[0] == owner

    def release(self, key: str, owner: str) -> None:
        self._retry(lambda: self._db.execute("DELETE FROM judge_claims WHERE key = ? AND owner = ?", (key, owner)))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM judge_verdicts").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
