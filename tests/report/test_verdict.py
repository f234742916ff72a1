"""The verdict sentences and best-value highlighting (bench/report/verdict.py), on hand-made leaderboard rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.verdict import best_cells, decision_intervals, quantile_interval, verdicts


def row(run, **kw):
    base = {"run": run, "simulated": False, "judge_mean": None, "schema_valid_rate": None,
            "schema_valid_ci_low": None, "schema_valid_ci_high": None, "e2el_p95_s": None,
            "cost_per_million_usd": None}
    return {**base, **kw}


def sig_of(labels, pairs):
    """A significance matrix (as bench.report.data.significance gives) with (row, col) -> (diff, p, n)."""
    cells = [[None] * len(labels) for _ in labels]
    for (a, b), (diff, p, n) in pairs.items():
        i, j = labels.index(a), labels.index(b)
        cells[i][j] = {"diff": diff, "p": p, "n": n, "ci95": None}
        cells[j][i] = {"diff": -diff, "p": p, "n": n, "ci95": None}
    return {"metric": "judge", "labels": labels, "cells": cells}


def by_decision(out):
    return {v["decision"]: v for v in out}


def test_significant_quality_lead_names_leader_runner_up_and_p():
    rows = [row("a", judge_mean=3.9), row("b", judge_mean=3.5)]
    v = by_decision(verdicts(rows, sig_of(["a", "b"], {("a", "b"): (0.4, 0.002, 200)}), "judge"))["quality"]
    assert v["leader"] == "a" and v["significant"] is True
    assert "a leads, 3.90 vs 3.50 for b" in v["text"] and "p=0.002" in v["text"] and "n=200" in v["text"]


def test_quality_tie_says_tied_with_p_and_still_names_a_run_it_beats():
    rows = [row("a", judge_mean=3.9), row("b", judge_mean=3.85), row("c", judge_mean=2.0)]
    sig = sig_of(["a", "b", "c"], {("a", "b"): (0.05, 0.4, 200), ("a", "c"): (1.9, 0.0001, 200)})
    v = by_decision(verdicts(rows, sig, "judge"))["quality"]
    assert v["significant"] is False and v["text"].startswith("Quality (judge score): tied")
    assert "b 3.85 (p=0.4)" in v["text"] and "significantly ahead of c 2.00 (p=0.0001)" in v["text"]


def test_a_lower_scoring_run_is_never_called_the_leader_even_if_p_is_small():
    # the matrix says row a minus column b is negative: a small p must not make "a" a significant leader
    rows = [row("a", judge_mean=3.0), row("b", judge_mean=3.2)]
    v = by_decision(verdicts(rows, sig_of(["a", "b"], {("b", "a"): (0.2, 0.01, 50)}), "judge"))["quality"]
    assert v["leader"] == "b" and v["significant"] is True


def test_single_run_and_missing_values():
    out = by_decision(verdicts([row("solo", judge_mean=4.0, e2el_p95_s=1.2)], None, "judge"))
    assert out["quality"]["text"] == "Quality: only solo has a judge score (4.00): nothing to compare."
    assert out["cost"]["text"] == "Cost: no run has a cost per 1M generations."
    assert out["latency"]["leader"] == "solo" and out["latency"]["significant"] is None
    # one of two runs has no cost: it is named, and no comparison is claimed
    out = by_decision(verdicts([row("a", cost_per_million_usd=335.0), row("b")], None, "judge"))
    assert "only a has a cost" in out["cost"]["text"] and "(b: no value)" in out["cost"]["text"]


def test_validity_uses_wilson_intervals():
    clear = [row("a", schema_valid_rate=0.99, schema_valid_ci_low=0.97, schema_valid_ci_high=0.997),
             row("b", schema_valid_rate=0.80, schema_valid_ci_low=0.74, schema_valid_ci_high=0.85)]
    v = by_decision(verdicts(clear, None, "judge"))["validity"]
    assert v["leader"] == "a" and v["significant"] is True and "do not overlap" in v["text"]
    close = [row("a", schema_valid_rate=0.99, schema_valid_ci_low=0.93, schema_valid_ci_high=0.999),
             row("b", schema_valid_rate=0.96, schema_valid_ci_low=0.90, schema_valid_ci_high=0.98)]
    v = by_decision(verdicts(close, None, "judge"))["validity"]
    assert v["significant"] is False and "overlap: no clear lead" in v["text"]


def test_latency_and_cost_lower_is_better_with_intervals():
    rows = [row("slow", e2el_p95_s=1.46, cost_per_million_usd=335.0),
            row("fast", e2el_p95_s=0.81, cost_per_million_usd=5850.0)]
    ivs = {"slow": {"e2el_p95": [1.40, 1.52], "cost": [330.0, 340.0]},
           "fast": {"e2el_p95": [0.77, 0.85], "cost": None}}
    out = by_decision(verdicts(rows, None, "judge", ivs))
    assert out["latency"]["leader"] == "fast" and out["latency"]["significant"] is True
    assert "fast is fastest, E2EL p95: 0.81 s [0.77 s, 0.85 s] vs 1.46 s [1.40 s, 1.52 s] for slow" in \
        out["latency"]["text"]
    assert out["cost"]["leader"] == "slow" and out["cost"]["significant"] is None  # one side has no interval
    assert "$335 [$330, $340] vs $5,850 for fast; no interval" in out["cost"]["text"]


def test_simulated_runs_are_labelled():
    mixed = [row("sim", simulated=True, e2el_p95_s=0.5), row("gpt", e2el_p95_s=1.0)]
    out = verdicts(mixed, None, "judge")
    assert "sim (SIMULATED) is fastest" in by_decision(out)["latency"]["text"]
    every = verdicts([row("s1", simulated=True, e2el_p95_s=0.5), row("s2", simulated=True, e2el_p95_s=1.0)],
                     None, "judge")
    assert every[0]["decision"] == "simulated" and "SIMULATED" in every[0]["text"]


def test_best_cells_direction_ties_and_single_values():
    rows = [row("a", judge_mean=4.0, e2el_p95_s=2.0, cost_per_million_usd=335.0, schema_valid_rate=1.0),
            row("b", judge_mean=3.0, e2el_p95_s=1.0, cost_per_million_usd=None, schema_valid_rate=1.0),
            row("c", judge_mean=4.0, e2el_p95_s=3.0, cost_per_million_usd=None, schema_valid_rate=0.9)]
    best = best_cells(rows)
    assert best["judge_mean"] == ["a", "c"]  # a tie: both
    assert best["e2el_p95_s"] == ["b"]  # lower is better
    assert best["schema_valid_rate"] == ["a", "b"]
    assert "cost_per_million_usd" not in best  # one run only has a cost: nothing to single out
    assert "rougeL" not in best


def test_quantile_interval_covers_the_true_p95():
    rng = np.random.default_rng(1)
    x = rng.exponential(1.0, 2000)
    lo, hi = quantile_interval(x)
    true = -np.log(0.05)  # exponential(1) p95
    assert lo < true < hi and hi - lo < 0.6
    assert quantile_interval(x[:10]) is None  # too few values to say anything
    frames = pd.DataFrame({"run": ["a"] * 50, "e2el_s": np.linspace(0.1, 5, 50), "cost_usd": [4e-4] * 50})
    iv = decision_intervals(frames, ["a"])["a"]
    assert iv["e2el_p95"][0] <= np.percentile(frames["e2el_s"], 95) <= iv["e2el_p95"][1]
    assert iv["cost"] == [400.0, 400.0]


def test_a_tie_at_the_top_names_every_tied_run():
    rows = [row(n, schema_valid_rate=r, schema_valid_ci_low=r - 0.02, schema_valid_ci_high=min(1, r + 0.02))
            for n, r in (("a", 1.0), ("b", 1.0), ("c", 1.0), ("d", 0.9))]
    v = by_decision(verdicts(rows, None, "judge"))["validity"]
    assert v["text"] == "Validity: tied: a, b and c all 100.0%." and v["leader"] is None
