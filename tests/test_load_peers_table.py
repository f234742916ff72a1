"""benchmarks/load_peers.py's tables (issue 12): medians with their spread over repeats, and capbench's ratios
to each peer paired repeat by repeat (runs of one repeat are back to back, under about the same load)."""

import argparse
import importlib.util

import pytest

from .conftest import ROOT

pytest.importorskip("psutil")  # the benchmarks extra


@pytest.fixture(scope="module")
def lp():
    spec = importlib.util.spec_from_file_location("load_peers", ROOT / "benchmarks" / "load_peers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ARGS = argparse.Namespace(requests=500)
    return module


def _row(tool, rep, req_s, cpu, ttft=55.0, load=1.0):
    return {"tool": tool, "concurrency": 8, "rate": None, "repeat": rep, "req_s": req_s, "tok_s": req_s * 128,
            "ttft_p50_ms": ttft, "e2el_p50_ms": 310.0, "server": {"req_s": req_s, "e2el_p50_ms": 306.0},
            "cpu_ms_per_req": cpu, "cpu_ms_per_req_whole": 2 * cpu, "load_avg_1m": load, "load_avg_1m_end": load + 1}


def test_cells_show_the_median_and_the_spread_of_the_repeats(lp):
    assert lp.cell([3.0, 1.0, 2.0]) == "2.0 (1.0..3.0)"
    assert lp.cell([55.0, 57.0], minus=50.0) == "6.0 (5.0..7.0)"
    assert lp.cell([4.2]) == "4.2" and lp.cell([]) == "-"


def test_ratios_are_paired_by_repeat_and_the_cpu_target_is_judged(lp):
    # The machine got busier in repeat 1: both tools slowed. Paired ratios stay at 1.1; a ratio of
    # medians would mix repeats.
    rows = [_row("capbench", 0, 22.0, 3.0, load=0.5), _row("vllm", 0, 20.0, 6.0, load=0.5),
            _row("capbench", 1, 11.0, 3.5, load=7.0), _row("vllm", 1, 10.0, 7.0, load=7.0),
            _row("capbench", 2, 16.5, 3.4), _row("vllm", 2, 15.0, 6.8)]
    text = "\n".join(lp.ratio_table(rows))
    line = next(ln for ln in text.splitlines() if ln.startswith("| c=8 |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "1.10 (1.10..1.10)"  # capbench / vllm req/s
    assert cells[2] == "-" and cells[3] == "-"  # no guidellm, no lean in this run
    assert cells[4] == "3.4 (3.0..3.5)" and cells[5] == "6.8 (6.0..7.0)" and cells[6] == "0.50 (0.50..0.50)"
    assert cells[7] == "yes" and cells[9] == "0.5..8.0" and cells[10] == "-"  # no capbench-asyncio run
    slow = [{**r, "cpu_ms_per_req": 4.0} if r["tool"] == "capbench" else r for r in rows]
    assert "| NO |" in "\n".join(lp.ratio_table(slow))


def test_the_main_table_and_its_ratio_table_come_together(lp):
    rows = [_row("capbench", rep, 25.0 + rep, 3.0) for rep in range(3)] + \
           [_row("vllm", rep, 25.0, 6.0) for rep in range(3)]
    text = lp.table(rows, ["capbench", "vllm"], ["a note"])
    assert "| c=8 | capbench | 26.0 (25.0..27.0) |" in text
    assert "capbench against the peers" in text and text.rstrip().endswith("- a note")


def test_a_stopped_benchmark_leaves_its_runs_and_their_tables(lp, tmp_path, monkeypatch):
    monkeypatch.setattr(lp.ARGS, "out", str(tmp_path / "load.json"), raising=False)
    rows = [_row("capbench", 0, 25.0, 3.0), _row("vllm", 0, 24.0, 6.0)]
    lp.write_out(rows, ["a note"], None)  # what --out holds after each run
    text = lp.table_from(str(tmp_path / "load.json"))
    assert "| c=8 | capbench | 25.0 |" in text and "| c=8 | 1.04 |" in text
