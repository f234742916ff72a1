"""Small statistics shared by metrics, scorers and gates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def as_float(x: Any) -> float | None:
    """x as a float (NaN and infinities included), or None for None, booleans and text that is not a number."""
    if x is None or isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def finite_float(x: Any) -> float | None:
    """as_float, and None for NaN and infinities too (the report, the verdicts and the card read numbers from JSON
    written by several versions)."""
    v = as_float(x)
    return v if v is not None and math.isfinite(v) else None


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval for a rate.

    Written out (5 lines) rather than pulling in statsmodels for one formula.
    """
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Rounded: float noise must not print a bound of 1.4e-17 where the answer is 0.
    return (round(max(0.0, centre - half), 12), round(min(1.0, centre + half), 12))


def rate(successes: int, n: int) -> dict[str, float | int | None]:
    lo, hi = wilson_interval(successes, n)
    return {"rate": (successes / n) if n else None, "ci95": [lo, hi], "n": n, "k": successes}


def describe(values: list[float]) -> dict[str, float | int | None]:
    """mean, p50, p90, p95, p99 of a latency-like sample (None when empty)."""
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "p95": None, "p99": None, "max": None}
    arr = np.asarray(values, dtype=float)
    p50, p90, p95, p99 = np.percentile(arr, [50, 90, 95, 99])
    return {
        "n": int(arr.size),
        "mean": float(arr.mean()),
        "p50": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(arr.max()),
    }


# --------------------------------------------------------------------------- scores (bench.score)
# Bootstrap intervals for mean scores, a paired test for two runs on the same
# frames, and judge-agreement statistics. Resampling is vectorised as count
# matrices (a replicate = how often each frame was drawn), so every metric of a
# run shares the same replicates and a 100k-frame run still takes seconds.

BOOTSTRAP_REPLICATES = 2000
BOOTSTRAP_MAX_N = 200_000  # above this the bootstrap interval is replaced by the normal one (CLT; said so)
PERMUTATIONS = 10_000
_Z95 = 1.959963984540054


def _resampled_sums(rows: Any, replicates: int, rng: np.random.Generator) -> Any:
    """Yield (chunk x k) column sums of rows (n x k) resampled with replacement, one replicate per row.

    One column (a complete sample: the report's paired tests and cost intervals) gathers the drawn values
    (int32 indices), ~3x faster than counting draws; several columns count how often each row was drawn (one
    bincount) and share that matrix across columns, which is faster from two columns on (measured at 50k rows)."""
    n, k = rows.shape
    chunk = max(1, min(replicates, 4_000_000 // max(n, 1)))  # ~32 MB of draws at a time
    done = 0
    while done < replicates:
        size = min(chunk, replicates - done)
        if k == 1:
            yield rows[rng.integers(0, n, size=(size, n), dtype=np.int32 if n < 2**31 else np.int64)].sum(axis=1)
        else:
            idx = rng.integers(0, n, size=(size, n)) + (np.arange(size)[:, None] * n)
            yield np.bincount(idx.ravel(), minlength=size * n).reshape(size, n).astype(float) @ rows
        done += size


def bootstrap_means(matrix: Any, *, replicates: int = BOOTSTRAP_REPLICATES, seed: int = 0,
                    level: float = 0.95) -> list[dict[str, Any]]:
    """Mean and percentile-bootstrap interval of each column of an (n x k) array; NaN = no value.

    Frames are resampled as units (one replicate draws n frames with
    replacement, the same draw for every column), so per-field and overall
    intervals come from the same resamples. Each entry: {"mean", "ci95", "n", "method"}.
    """
    values = np.asarray(matrix, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    n, k = values.shape
    mask = ~np.isnan(values)
    filled = np.where(mask, values, 0.0)
    counts = mask.sum(axis=0)
    means = [float(filled[:, j].sum() / counts[j]) if counts[j] else None for j in range(k)]
    out = [{"mean": means[j], "ci95": None, "n": int(counts[j]), "method": None} for j in range(k)]
    if n == 0:
        return out
    alpha = (1 - level) / 2
    if n > BOOTSTRAP_MAX_N:
        for j in range(k):
            if counts[j] > 1:
                col = values[mask[:, j], j]
                half = _Z95 * float(col.std(ddof=1)) / np.sqrt(counts[j])
                out[j].update(ci95=[means[j] - half, means[j] + half], method="normal")
        return out
    rng = np.random.default_rng(seed)
    reps: list[Any] = []
    complete = bool(mask.all())  # no missing value: every replicate's count is n
    rows = filled if complete else np.concatenate([filled, mask.astype(float)], axis=1)
    for sums in _resampled_sums(rows, replicates, rng):
        with np.errstate(invalid="ignore", divide="ignore"):
            reps.append(sums / n if complete else sums[:, :k] / sums[:, k:])
    dist = np.vstack(reps)
    for j in range(k):
        if counts[j]:
            col = dist[:, j][~np.isnan(dist[:, j])]
            lo, hi = np.quantile(col, [alpha, 1 - alpha])
            out[j].update(ci95=[float(lo), float(hi)], method="bootstrap")
    return out


def mean_ci(values: list[float] | Any, *, replicates: int = BOOTSTRAP_REPLICATES, seed: int = 0) -> dict[str, Any]:
    """{"mean", "ci95", "n", "method"} of one sample (percentile bootstrap)."""
    return bootstrap_means(np.asarray(values, dtype=float).reshape(-1, 1), replicates=replicates, seed=seed)[0]


def paired_test(a: list[float] | Any, b: list[float] | Any, *, replicates: int = BOOTSTRAP_REPLICATES,
                permutations: int = PERMUTATIONS, seed: int = 0) -> dict[str, Any]:
    """Paired comparison of two runs scored on the same frames (a[i] and b[i] are one frame).

    diff = mean(a - b); its 95% interval is a paired bootstrap (frames
    resampled); the two-sided p-value is a sign-flip permutation test (under
    "no difference" each frame's a/b labels are exchangeable), with the +1
    correction so p is never 0. All-equal pairs give diff 0 and p 1.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length ({x.size} vs {y.size})")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    d = x - y
    n = int(d.size)
    result: dict[str, Any] = {"n": n, "mean_a": float(x.mean()) if n else None,
                              "mean_b": float(y.mean()) if n else None, "diff": float(d.mean()) if n else None,
                              "ci95": None, "p_value": None, "method": None, "dropped_nan": int((~keep).sum())}
    if n == 0:
        return result
    result["ci95"] = mean_ci(d, replicates=replicates, seed=seed)["ci95"]
    observed = abs(float(d.mean()))
    if not np.any(d):
        result.update(p_value=1.0, method="sign-flip permutation")
        return result
    if n > BOOTSTRAP_MAX_N:  # the permutation distribution is normal here; paired z-test
        se = float(d.std(ddof=1)) / np.sqrt(n)
        p = math.erfc(observed / se / math.sqrt(2)) if se > 0 else 0.0
        result.update(p_value=p, method="paired z (normal approximation)")
        return result
    rng = np.random.default_rng(seed + 1)
    hits, done = 0, 0
    chunk = max(1, min(permutations, 4_000_000 // n))
    tol = 1e-12 * max(1.0, observed)  # floating sums of the same values in another order
    total = float(d.sum())
    while done < permutations:
        size = min(chunk, permutations - done)
        # a sign per frame from one random bit (8 frames a random byte): sum(s * d) = 2 * sum(d where +) - sum(d)
        plus = np.unpackbits(rng.integers(0, 256, size=(size, (n + 7) // 8), dtype=np.uint8), axis=1, count=n)
        hits += int(np.sum(np.abs(2.0 * (plus @ d) - total) / n >= observed - tol))
        done += size
    result.update(p_value=(hits + 1) / (permutations + 1), method="sign-flip permutation")
    return result


def rankdata(values: Any) -> Any:
    """Average ranks (ties share the mean rank), 1-based, as scipy.stats.rankdata does."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(v.size, dtype=float)
    sorted_v = v[order]
    i = 0
    while i < v.size:
        j = i
        while j + 1 < v.size and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: Any, b: Any) -> float | None:
    """Spearman rank correlation (None with fewer than 3 pairs or a constant side)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return None
    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])


def judge_agreement(repeats: list[list[float]]) -> dict[str, Any] | None:
    """Agreement of repeated judge scores: items x repeats (ragged rows allowed; failed repeats left out).

    identical_share: items whose repeats all gave the same score; alpha:
    Krippendorff's alpha (interval level) with the `krippendorff` package,
    None when undefined (fewer than 2 distinct values in all the data).
    """
    items = [r for r in repeats if len(r) >= 2]
    if not items:
        return None
    width = max(len(r) for r in items)
    data = np.full((width, len(items)), np.nan)
    for j, r in enumerate(items):
        data[: len(r), j] = r
    identical = sum(1 for r in items if len(set(r)) == 1)
    alpha = interval_alpha(data)
    return {"items": len(items), "repeats": width, "identical_share": identical / len(items),
            "identical": rate(identical, len(items)), "krippendorff_alpha_interval": alpha}


def interval_alpha(data: Any) -> float | None:
    """Krippendorff's alpha, interval level (the `krippendorff` package), of a raters x items array (NaN = no
    rating); None when undefined (fewer than 2 distinct values in all the data)."""
    data = np.asarray(data, dtype=float)
    if len(np.unique(data[~np.isnan(data)])) <= 1:
        return None
    import krippendorff

    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))
