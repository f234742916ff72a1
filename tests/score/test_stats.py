"""Bootstrap intervals, the paired test and judge agreement (bench/stats.py additions)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.stats import bootstrap_means, judge_agreement, mean_ci, paired_test, rankdata, spearman


def test_bootstrap_interval_covers_mean_and_matches_normal_width() -> None:
    x = np.random.default_rng(0).normal(50, 10, 400)
    ci = mean_ci(x)
    assert ci["n"] == 400 and ci["method"] == "bootstrap"
    lo, hi = ci["ci95"]
    assert lo < x.mean() < hi
    normal_half = 1.96 * x.std(ddof=1) / np.sqrt(400)
    assert (hi - lo) / 2 == pytest.approx(normal_half, rel=0.15)
    assert mean_ci(x) == ci  # fixed seed: idempotent


def test_bootstrap_columns_with_missing_values() -> None:
    m = np.array([[1.0, np.nan], [2.0, 4.0], [3.0, np.nan], [4.0, 6.0]])
    a, b = bootstrap_means(m)
    assert a["mean"] == 2.5 and a["n"] == 4
    assert b["mean"] == 5.0 and b["n"] == 2 and 4.0 <= b["ci95"][0] <= b["ci95"][1] <= 6.0
    empty = bootstrap_means(np.empty((0, 1)))[0]
    assert empty["mean"] is None and empty["n"] == 0 and empty["ci95"] is None


def test_paired_test_identical_runs_are_not_different() -> None:
    x = np.random.default_rng(1).uniform(0, 100, 50)
    t = paired_test(x, x.copy())
    assert t["diff"] == 0 and t["p_value"] == 1.0 and t["ci95"] == [0.0, 0.0]


def test_paired_test_detects_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(2)
    base = rng.uniform(20, 80, 60)
    shifted = paired_test(base + 5 + rng.normal(0, 2, 60), base, permutations=4000)
    assert shifted["p_value"] < 0.001 and shifted["ci95"][0] > 0 and shifted["diff"] == pytest.approx(5, abs=1)
    noise = paired_test(base + rng.normal(0, 2, 60), base + rng.normal(0, 2, 60), permutations=4000)
    assert noise["p_value"] > 0.05 and noise["ci95"][0] < 0 < noise["ci95"][1]


def test_paired_test_drops_nan_pairs_and_checks_lengths() -> None:
    t = paired_test([1.0, float("nan"), 3.0], [1.0, 2.0, 2.0])
    assert t["n"] == 2 and t["dropped_nan"] == 1
    with pytest.raises(ValueError):
        paired_test([1.0], [1.0, 2.0])


def test_rank_and_spearman() -> None:
    assert list(rankdata([10, 20, 20, 5])) == [2.0, 3.5, 3.5, 1.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1, 2], [1, 2]) is None


def test_judge_agreement() -> None:
    a = judge_agreement([[4, 4], [3, 3], [5, 5], [2, 2]])
    assert a["identical_share"] == 1.0 and a["krippendorff_alpha_interval"] == pytest.approx(1.0)
    b = judge_agreement([[4, 2], [3, 5], [5, 1], [2, 4]])
    assert b["identical_share"] == 0.0 and b["krippendorff_alpha_interval"] < 0
    assert judge_agreement([[4], [3]]) is None  # no repeats
    assert judge_agreement([[3, 3], [3, 3]])["krippendorff_alpha_interval"] is None  # undefined, not an error
