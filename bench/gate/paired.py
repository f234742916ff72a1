"""Small significance tests for comparing two runs (used by the gate and the report).

Paired when both runs scored the same frames (the usual case: every model sees
the same frames), otherwise from summary statistics:

- continuous scores (judge 1-5, ROUGE, BLEU): paired sign-flip permutation test
  on per-frame differences (exact up to 16 pairs, else `resamples` random sign
  flips with a fixed seed) and a percentile bootstrap interval of the mean
  difference; unpaired fallback: Welch's z on means and standard deviations;
- binary outcomes (schema valid or not): exact one-sided McNemar test on the
  discordant pairs; unpaired fallback: two-proportion z-test.

All differences are candidate - baseline; `p_less` is the one-sided p-value for
"the candidate is worse (lower)", `p_two_sided` for "they differ".
Written out (about a hundred lines of numpy) rather than adding scipy for four
textbook tests.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _norm_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def paired_continuous(baseline: list[float], candidate: list[float], *, resamples: int = 10000,
                      seed: int = 0) -> dict[str, Any]:
    """Paired test of mean(candidate - baseline) over frames both runs scored."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(candidate, dtype=float)
    d = b - a
    n = int(d.size)
    if n == 0:
        return {"test": "paired permutation", "n": 0, "mean_diff": None, "ci95": [None, None],
                "p_less": None, "p_two_sided": None}
    observed = float(d.mean())
    rng = np.random.default_rng(seed)
    if n <= 16:  # every sign pattern: exact
        signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        means = (signs * np.abs(d)).mean(axis=1)
    else:
        means = np.concatenate([(rng.choice((-1.0, 1.0), size=(m, n)) * np.abs(d)).mean(axis=1)
                                for m in _chunks(resamples, max(1, 2_000_000 // n))])
    eps = 1e-12
    p_less = float((np.sum(means <= observed + eps) + (0 if n <= 16 else 1)) / (means.size + (0 if n <= 16 else 1)))
    p_two = float((np.sum(np.abs(means) >= abs(observed) - eps) + (0 if n <= 16 else 1))
                  / (means.size + (0 if n <= 16 else 1)))
    boot = np.concatenate([d[rng.integers(0, n, size=(m, n))].mean(axis=1)
                           for m in _chunks(min(resamples, 5000), max(1, 2_000_000 // n))])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"test": "paired permutation", "n": n, "mean_diff": observed, "ci95": [float(lo), float(hi)],
            "p_less": min(1.0, p_less), "p_two_sided": min(1.0, p_two)}


def _chunks(total: int, size: int) -> list[int]:
    out = [size] * (total // size)
    if total % size:
        out.append(total % size)
    return out or [0]


def _binom_tail_ge(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2)."""
    if k <= 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n


def mcnemar(baseline: list[bool], candidate: list[bool]) -> dict[str, Any]:
    """Exact McNemar test on paired binary outcomes (e.g. schema valid per frame)."""
    pairs = list(zip(baseline, candidate, strict=True))
    lost = sum(1 for x, y in pairs if x and not y)  # valid in the baseline, not in the candidate
    gained = sum(1 for x, y in pairs if y and not x)
    n = len(pairs)
    discordant = lost + gained
    p_less = _binom_tail_ge(lost, discordant)
    p_two = min(1.0, 2 * min(p_less, _binom_tail_ge(gained, discordant)))
    return {"test": "McNemar exact", "n": n, "lost": lost, "gained": gained,
            "mean_diff": (gained - lost) / n if n else None, "p_less": p_less, "p_two_sided": p_two}


def two_proportions(k_base: int, n_base: int, k_cand: int, n_cand: int) -> dict[str, Any]:
    """Unpaired two-proportion z-test (pooled), candidate - baseline."""
    if not n_base or not n_cand:
        return {"test": "two-proportion z", "mean_diff": None, "p_less": None, "p_two_sided": None}
    p1, p2 = k_base / n_base, k_cand / n_cand
    pooled = (k_base + k_cand) / (n_base + n_cand)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_base + 1 / n_cand))
    if se == 0:
        p_less = 1.0 if p2 >= p1 else 0.0
        return {"test": "two-proportion z", "mean_diff": p2 - p1, "p_less": p_less, "p_two_sided": 1.0}
    z = (p2 - p1) / se
    return {"test": "two-proportion z", "mean_diff": p2 - p1, "z": z, "p_less": _norm_cdf(z),
            "p_two_sided": 2 * (1 - _norm_cdf(abs(z)))}


def welch(mean_base: float, sd_base: float, n_base: int, mean_cand: float, sd_cand: float,
          n_cand: int) -> dict[str, Any]:
    """Unpaired comparison of two means from summaries (normal approximation to Welch's t)."""
    if n_base < 2 or n_cand < 2:
        return {"test": "Welch z", "mean_diff": mean_cand - mean_base, "p_less": None, "p_two_sided": None}
    se = math.sqrt(sd_base ** 2 / n_base + sd_cand ** 2 / n_cand)
    diff = mean_cand - mean_base
    if se == 0:
        return {"test": "Welch z", "mean_diff": diff, "p_less": 1.0 if diff >= 0 else 0.0, "p_two_sided": 1.0}
    z = diff / se
    return {"test": "Welch z", "mean_diff": diff, "z": z, "ci95": [diff - 1.96 * se, diff + 1.96 * se],
            "p_less": _norm_cdf(z), "p_two_sided": 2 * (1 - _norm_cdf(abs(z)))}
