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

from array import array
from collections import Counter, defaultdict
from typing import Any

from bench.stats import describe


class EndpointStats:
    """Per-endpoint measurements accumulated one record at a time (bench.metrics.MetricsPass feeds it), so a
    run over replicas stays in bounded memory: counters and 8-byte latency values per endpoint."""

    def __init__(self) -> None:
        self.frames: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.failed: dict[str, Counter[str]] = defaultdict(Counter)
        self.latency: dict[str, dict[str, array[float]]] = defaultdict(lambda: {"ttft_s": array("d"),
                                                                                 "e2el_s": array("d")})
        self.named = False

    def add(self, r: dict[str, Any]) -> None:
        where = r.get("endpoint")
        if where:
            self.named = True
            self.frames[where] += 1
            if r.get("status") == "ok":
                self.completed[where] += 1
                for key in ("ttft_s", "e2el_s"):
                    value = (r.get("timing") or {}).get(key)
                    if value is not None:
                        self.latency[where][key].append(value)
        for a in r.get("attempts") or []:
            at = a.get("endpoint") or "(unknown)"
            self.attempts[at] += 1
            if not a.get("ok"):
                self.failed[at][a.get("error_kind") or "unknown"] += 1

    def result(self, wall_duration_s: float | None) -> dict[str, Any] | None:
        """{endpoint: measurements}, or None when no record names an endpoint (one server, not replicas)."""
        if not self.named:
            return None
        out: dict[str, Any] = {}
        for where in sorted(set(self.frames) | set(self.attempts)):
            lat = self.latency.get(where) or {"ttft_s": [], "e2el_s": []}
            out[where] = {
                "frames": self.frames[where],
                "completed": self.completed[where],
                "attempts": self.attempts[where],
                "failed_attempts": dict(self.failed[where]),
                "ttft_s": describe(list(lat["ttft_s"])),
                "e2el_s": describe(list(lat["e2el_s"])),
                "requests_per_s": self.completed[where] / wall_duration_s if wall_duration_s else None,
            }
        return out


def by_endpoint(records: list[dict[str, Any]], wall_duration_s: float | None) -> dict[str, Any] | None:
    """{endpoint: measurements} of a list of records (see EndpointStats)."""
    stats = EndpointStats()
    for r in records:
        stats.add(r)
    return stats.result(wall_duration_s)


def out_of_rotation(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Replicas taken out of rotation in any session (run.json `replicas`, written by bench.app)."""
    out = []
    for session, states in sorted((meta.get("replicas") or {}).items(), key=lambda kv: int(kv[0])):
        out += [{"session": int(session), "endpoint": s["endpoint"], "reason": s["reason"]}
                for s in states if s.get("out_of_rotation")]
    return out
