"""The client measures its own distortion (bench.loopmon): event-loop lag and CPU, and says when it limited a run."""

import asyncio
import time

import pytest

from bench.loopmon import LagHistogram, LoopMonitor


def test_histogram_percentiles_are_within_its_5_percent_buckets_and_never_below_the_truth():
    h = LagHistogram()
    lags = [i / 1000 for i in range(1, 1001)]  # 1 .. 1000 ms
    for lag in lags:
        h.add(lag)
    for q in (0.5, 0.9, 0.99):
        true = lags[int(q * len(lags)) - 1]
        assert true <= h.quantile(q) <= true * 1.06
    assert h.quantile(1.0) == h.max_s == 1.0 and h.n == 1000
    assert h.total_s / h.n == pytest.approx(0.5005)
    empty = LagHistogram()
    assert empty.quantile(0.5) is None
    h.add(-0.001)  # a clock that woke early counts as no lag
    assert 0 in h.counts


def test_histogram_memory_is_bounded_whatever_the_number_of_samples():
    h = LagHistogram()
    for i in range(200_000):
        h.add((i % 5000) * 1e-5)
    assert len(h.counts) < 200


async def test_a_blocked_loop_is_measured_and_flagged_client_limited():
    mon = LoopMonitor(interval_s=0.005)
    mon.start()
    for _ in range(6):  # the loop's thread spends 60 ms of CPU at a time: every callback is at least that late
        await asyncio.sleep(0.02)
        end = time.thread_time() + 0.06
        while time.thread_time() < end:
            pass
    await mon.stop()
    s = mon.stats(requests=6)
    assert s["lag_ms"]["max"] >= 40 and s["lag_ms"]["p99"] >= 40
    assert s["client_limited"] is True and any("lag p99" in r for r in s["reasons"])
    # 360 ms of the loop thread's CPU over 6 "requests" (its share of the wall depends on the machine's load)
    assert s["cpu_ms_per_request"] >= 59 and s["process_cpu_s"] >= 0.36 and s["loop_cpu_share"] > 0
    assert s["lag_samples"] >= 6


async def test_a_loop_that_sleeps_is_not_flagged_for_cpu_and_stop_is_idempotent():
    mon = LoopMonitor(interval_s=0.005)
    mon.start()
    await asyncio.sleep(0.3)
    await mon.stop()
    await mon.stop()
    s = mon.stats()
    assert s["lag_samples"] >= 10 and s["loop_cpu_share"] < 0.5
    assert not any("busy" in r for r in s["reasons"])  # lag may still be high on a loaded machine: that is real
    assert s["cpu_ms_per_request"] is None and 0.25 < s["wall_s"] < 5
