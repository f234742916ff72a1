"""The gate's significance tests against hand-checked values."""

from __future__ import annotations

import math

import pytest

from bench.gate.paired import mcnemar, paired_continuous, two_proportions, welch


def test_mcnemar_exact():
    # 5 frames lost, 0 gained: p = 0.5**5 one-sided
    res = mcnemar([True] * 20, [False] * 5 + [True] * 15)
    assert res["lost"] == 5 and res["gained"] == 0
    assert res["p_less"] == pytest.approx(1 / 32)
    assert res["p_two_sided"] == pytest.approx(2 / 32)
    same = mcnemar([True, False, True], [True, False, True])
    assert same["p_less"] == 1.0 and same["mean_diff"] == 0.0


def test_paired_permutation_exact_and_sampled():
    # 6 pairs all one unit worse: only the all-negative sign pattern is as extreme: p = 1/64
    res = paired_continuous([3.0] * 6, [2.0] * 6)
    assert res["mean_diff"] == -1.0 and res["p_less"] == pytest.approx(1 / 64)
    big = paired_continuous([3.0] * 200, [2.9] * 200, resamples=2000)
    assert big["p_less"] < 0.01 and big["ci95"][1] < 0
    null = paired_continuous([1, 2, 3, 4, 5] * 10, [2, 1, 4, 3, 5] * 10, resamples=2000)
    assert null["mean_diff"] == 0.0 and null["p_less"] > 0.4
    assert paired_continuous([], [])["p_less"] is None


def test_unpaired_fallbacks():
    res = two_proportions(100, 100, 90, 100)
    assert res["mean_diff"] == pytest.approx(-0.1) and res["p_less"] < 0.01
    w = welch(4.0, 0.5, 100, 3.8, 0.5, 100)
    z = -0.2 / math.sqrt(0.25 / 100 * 2)
    assert w["p_less"] == pytest.approx(0.5 * (1 + math.erf(z / math.sqrt(2))))
