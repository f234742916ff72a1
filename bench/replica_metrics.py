"""Per-endpoint measurements of a run over several replicas (pure: records in, dict out).

Every record carries `endpoint` (the replica its last attempt went to) and every attempt its own
`endpoint` (bench/backends/replicas.py), so each replica's load, errors and latency come from the
records alone:
- `frames`: frames whose answering (or last) attempt went to it; `completed` those answered;
- `attempts` and `failed_attempts` by error kind: every attempt sent to it, retries included (a dead
  replica shows here as connection failures whose frames were answered elsewhere);
- latency (TTFT, E2EL: the answering attempt's, as in bench.metrics) of the frames it answered;
- `requests_per_s`: its answers over the run's wall duration (the replicas share the clock).
An attempt that timed out was cancelled before the replica could be named on it: such attempts
have `endpoint: null` and are counted under "(unknown)".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bench.stats import describe


def by_endpoint(records: list[dict[str, Any]], wall_duration_s: float | None) -> dict[str, Any] | None:
    """{endpoint: measurements}, or None when no record names an endpoint (one server, not replicas)."""
    if not any(r.get("endpoint") for r in records):
        return None
    frames: dict[str, list[dict[str, Any]]] = defaultdict(list)
    attempts: Counter[str] = Counter()
    failed: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        if r.get("endpoint"):
            frames[r["endpoint"]].append(r)
        for a in r.get("attempts") or []:
            where = a.get("endpoint") or "(unknown)"
            attempts[where] += 1
            if not a.get("ok"):
                failed[where][a.get("error_kind") or "unknown"] += 1
    out: dict[str, Any] = {}
    for where in sorted(set(frames) | set(attempts)):
        rs = frames.get(where, [])
        ok = [r for r in rs if r.get("status") == "ok"]
        out[where] = {
            "frames": len(rs),
            "completed": len(ok),
            "attempts": attempts[where],
            "failed_attempts": dict(failed[where]),
            "ttft_s": describe(_timings(ok, "ttft_s")),
            "e2el_s": describe(_timings(ok, "e2el_s")),
            "requests_per_s": len(ok) / wall_duration_s if wall_duration_s else None,
        }
    return out


def _timings(records: list[dict[str, Any]], key: str) -> list[float]:
    return [r["timing"][key] for r in records if (r.get("timing") or {}).get(key) is not None]


def out_of_rotation(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Replicas taken out of rotation in any session (run.json `replicas`, written by bench.app)."""
    out = []
    for session, states in sorted((meta.get("replicas") or {}).items(), key=lambda kv: int(kv[0])):
        out += [{"session": int(session), "endpoint": s["endpoint"], "reason": s["reason"]}
                for s in states if s.get("out_of_rotation")]
    return out
