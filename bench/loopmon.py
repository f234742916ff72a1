"""The client's own distortion: how late its event loop ran, and how busy its CPU was, during a run.

Every timestamp capbench records (send, first token, last token) is taken by a callback on one event
loop. When that loop is busy (parsing other streams, writing records) or the process waits for a CPU
(a loaded machine), the callback runs late and the latency recorded grows by the delay: the
instrument bends. The monitor measures exactly that delay: a task asks to wake every `interval_s`
and records how much later than asked it woke (event-loop lag). It also samples the CPU time of the
loop's thread (busy fraction: near 100% means one core is the client's ceiling) and of the whole
process (image preparation threads included).

A run is `client_limited` when the lag's p99 reaches LAG_LIMIT_MS (timestamps may be late by that
much), or when the loop's thread was busy at least LOOP_BUSY_LIMIT of a second at a time in most
of the run; metrics.json `client` and the summary say so, as SATURATED says an open-loop run could
not hold its rate. Memory is bounded: lags go into a log-spaced histogram, not a list.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from typing import Any

INTERVAL_S = 0.01  # how often the monitor asks to wake: 100 samples a second, negligible cost
LAG_LIMIT_MS = 10.0  # issue 12 holds TTFT/E2EL p50 to within 10 ms of the truth; a p99 lag this large breaks it
LOOP_BUSY_LIMIT = 0.9  # share of a 1-s window the loop's thread was on a CPU: the loop is the bottleneck
BUSY_SHARE_LIMIT = 0.5  # ... in at least this share of the windows
WINDOW_S = 1.0

_BUCKET_BASE_S = 1e-5  # lags below 10 us are 0
_BUCKET_RATIO = 1.05  # 5% resolution


class LagHistogram:
    """Lags in log-spaced buckets (5% wide): percentiles to within 5% in constant memory."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.total_s = 0.0
        self.max_s = 0.0

    def add(self, lag_s: float) -> None:
        lag_s = max(0.0, lag_s)
        bucket = 0 if lag_s < _BUCKET_BASE_S else 1 + int(math.log(lag_s / _BUCKET_BASE_S, _BUCKET_RATIO))
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.n += 1
        self.total_s += lag_s
        self.max_s = max(self.max_s, lag_s)

    def quantile(self, q: float) -> float | None:
        """The upper edge of the bucket holding the q-quantile (never below the true value), capped at the max."""
        if not self.n:
            return None
        rank, seen = q * self.n, 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                upper = 0.0 if bucket == 0 else _BUCKET_BASE_S * _BUCKET_RATIO ** bucket
                return min(upper, self.max_s)
        return self.max_s


class LoopMonitor:
    """Start it on the running loop, stop it after the run, read `stats()`."""

    def __init__(self, interval_s: float = INTERVAL_S, lag_limit_ms: float = LAG_LIMIT_MS) -> None:
        self.interval_s = interval_s
        self.lag_limit_ms = lag_limit_ms
        self.lags = LagHistogram()
        self.windows = 0
        self.busy_windows = 0  # windows with the loop's thread busy >= LOOP_BUSY_LIMIT
        self.busiest = 0.0
        self._task: asyncio.Task[None] | None = None
        self._wall = self._proc = self._loop_cpu = 0.0  # totals over the monitored spans
        self._t0 = self._p0 = self._l0 = 0.0

    def start(self) -> None:
        """Call from the loop's thread (in a coroutine): thread_time() here is the loop thread's CPU."""
        if self._task is not None:
            return
        self._t0, self._p0, self._l0 = time.perf_counter(), time.process_time(), time.thread_time()
        self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        self._wall += time.perf_counter() - self._t0
        self._proc += time.process_time() - self._p0
        self._loop_cpu += time.thread_time() - self._l0

    async def _watch(self) -> None:
        window_t, window_cpu = time.perf_counter(), time.thread_time()
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            woke = time.perf_counter()
            self.lags.add(woke - asked - self.interval_s)
            if woke - window_t >= WINDOW_S:
                cpu = time.thread_time()
                busy = (cpu - window_cpu) / (woke - window_t)
                self.windows += 1
                self.busy_windows += busy >= LOOP_BUSY_LIMIT
                self.busiest = max(self.busiest, busy)
                window_t, window_cpu = woke, cpu

    def stats(self, requests: int | None = None) -> dict[str, Any]:
        """What metrics.json `client` holds (times in ms; CPU shares of one core)."""
        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1e3, 3)

        lag_p99 = self.lags.quantile(0.99)
        reasons = []
        if lag_p99 is not None and lag_p99 * 1e3 >= self.lag_limit_ms:
            reasons.append(f"event-loop lag p99 {lag_p99 * 1e3:.1f} ms >= {self.lag_limit_ms:g} ms: recorded "
                           "latencies may be inflated by up to that")
        if self.windows and self.busy_windows / self.windows >= BUSY_SHARE_LIMIT:
            reasons.append(f"the client's event loop kept a CPU core >= {LOOP_BUSY_LIMIT:.0%} busy in "
                           f"{self.busy_windows}/{self.windows} one-second windows: the client, not the server, "
                           "may have set the pace")
        wall = self._wall or None
        return {
            "lag_ms": {"mean": ms(self.lags.total_s / self.lags.n) if self.lags.n else None,
                       "p50": ms(self.lags.quantile(0.5)), "p90": ms(self.lags.quantile(0.9)),
                       "p99": ms(lag_p99), "max": ms(self.lags.max_s) if self.lags.n else None},
            "lag_samples": self.lags.n,
            "lag_interval_ms": self.interval_s * 1e3,
            "loop_cpu_share": round(self._loop_cpu / wall, 4) if wall else None,  # of one core, whole run
            "loop_cpu_share_busiest_s": round(self.busiest, 4) if self.windows else None,
            "busy_windows": self.busy_windows,
            "windows": self.windows,
            "process_cpu_share": round(self._proc / wall, 4) if wall else None,  # may exceed 1: prep threads
            "process_cpu_s": round(self._proc, 4),
            "cpu_ms_per_request": round(self._proc * 1e3 / requests, 4) if requests else None,
            "cpus": os.cpu_count(),
            "wall_s": round(self._wall, 4),
            "client_limited": bool(reasons),
            "reasons": reasons,
            "limits": {"lag_p99_ms": self.lag_limit_ms, "loop_busy_share": LOOP_BUSY_LIMIT,
                       "busy_windows_share": BUSY_SHARE_LIMIT},
        }
