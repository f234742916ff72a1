"""The streaming metrics pass (bench.metrics.MetricsPass, one pass, compact arrays) gives exactly the
numbers of the previous in-memory computation (tests/metrics_inmemory.py), on real simulator records
and on the rare shapes a run can hold (bad inputs, missing usage, reasoning, several sessions)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from bench.metrics import FloatColumn, compute_metrics
from bench.store import iter_records, load_records

from . import metrics_inmemory
from .report.simruns import sim_run

MODEL = {"price": {"input_per_million": 0.3, "output_per_million": 0.5}, "hosting": "api"}


def _odd_records(records: list[dict]) -> list[dict]:
    """The sample's records plus edited copies that exercise every branch of the metrics."""
    ok = next(r for r in records if r["status"] == "ok")
    extra = []
    bad = {"frame_id": "#line9", "session": 2, "prep_s": 0.001, "content_type": None, "t_scheduled": ok["t_scheduled"],
           "status": "failed", "error": {"kind": "bad_input", "message": "manifest.jsonl line 9: not valid JSON"},
           "validity": {"category": "bad_input", "json_strict": False, "json_lenient": False, "schema_valid": False,
                        "rules_ok": False, "reasons": [], "failed_fields": []},
           "attempts": [], "n_attempts": 0, "text": None, "caption": None}
    extra.append(bad)
    failed = copy.deepcopy(ok) | {"frame_id": "failed", "status": "failed", "text": None, "caption": None,
                                   "error": {"kind": "server_error", "message": "500", "status": 500},
                                   "validity": dict(bad["validity"], category="transport_error")}
    for key in ("timing", "usage", "t_first_token", "t_last_token"):
        failed.pop(key)
    extra.append(failed)
    no_usage = copy.deepcopy(ok) | {"frame_id": "no-usage", "usage_all_attempts": None, "usage_missing": True,
                                     "session": 2, "streamed": False}
    extra.append(no_usage)
    thinking = copy.deepcopy(ok) | {"frame_id": "thinker", "t_first_any": ok["t_first_token"] - 0.5, "session": 2}
    thinking["usage"] = dict(thinking["usage"], reasoning_tokens=None)
    thinking["timing"] = dict(thinking["timing"], thinking_s=0.5)
    thinking["usage_all_attempts"] = dict(thinking["usage_all_attempts"], reasoning_tokens=120)
    extra.append(thinking)
    for i in range(12):  # a second session, shifted in time, to pool rates and durations over sessions
        again = copy.deepcopy(records[i % len(records)]) | {"frame_id": f"s2-{i}", "session": 2}
        for key in ("t_scheduled", "t_first_sent", "t_sent", "t_first_token", "t_last_token"):
            if again.get(key) is not None:
                again[key] += 1000.0 + i * 0.01
        for a in again.get("attempts") or []:
            a["t_sent"] += 1000.0 + i * 0.01
        extra.append(again)
    return records + extra


@pytest.mark.parametrize("block", [FloatColumn.BLOCK, 4])  # 4: most values go through the spill file
def test_streaming_metrics_equal_the_in_memory_ones(tmp_path, monkeypatch, block):
    monkeypatch.setattr(FloatColumn, "BLOCK", block)
    run_dir = sim_run(tmp_path / "noisy", "sim_noisy", "runner.mode=open", "runner.rate=200")
    records = load_records(run_dir)
    assert len(records) == 27 and any(r["n_attempts"] > 1 for r in records)
    for runner in ({"mode": "open", "rate": 200.0, "concurrency": 8}, {"mode": "closed", "concurrency": 8}):
        for recs in (records, _odd_records(records)):
            old = metrics_inmemory.compute_metrics(recs, frames_total=len(recs) + 3, model=MODEL, runner=runner,
                                                   simulated=True)
            new = compute_metrics(iter(recs), frames_total=len(recs) + 3, model=MODEL, runner=runner,
                                  simulated=True)
            assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)
    # The run's own metrics.json came from the streaming pass over the file: the oracle agrees.
    written = json.loads((run_dir / "metrics.json").read_text())
    runner = {"mode": "open", "rate": 200.0, "concurrency": 8}
    old = metrics_inmemory.compute_metrics(records, frames_total=27, model=written["cost"] and MODEL, runner=runner,
                                           simulated=True)
    for key in ("latency", "validity", "errors", "bad_inputs", "retried_attempts"):
        assert json.dumps(written[key], sort_keys=True) == json.dumps(old[key], sort_keys=True), key
    assert written["throughput"]["achieved_rate"] == old["throughput"]["achieved_rate"]
    assert list(iter_records(run_dir)) == records


def test_empty_run_has_empty_metrics():
    m = compute_metrics(iter([]), frames_total=5, model={}, runner={"mode": "open", "rate": 5.0}, simulated=False)
    old = metrics_inmemory.compute_metrics([], frames_total=5, model={}, runner={"mode": "open", "rate": 5.0},
                                           simulated=False)
    assert m == old and m["pending"] == 5 and m["latency"]["e2el_s"]["n"] == 0


def test_a_float_column_spills_full_blocks_and_reads_back_every_value_in_order(monkeypatch):
    monkeypatch.setattr(FloatColumn, "BLOCK", 3)
    col = FloatColumn()
    assert len(col) == 0 and np.asarray(col).size == 0 and not col
    values = [0.1 * i for i in range(11)]
    for v in values:
        col.append(v)
    assert col._spilled == 3 and len(col._last) == 2  # 9 values in the file, 2 in memory
    assert len(col) == 11 and np.asarray(col).tolist() == values and list(col) == values
    col.append(7.0)  # appends go on after a read
    assert np.asarray(col, dtype=float).tolist() == [*values, 7.0]
