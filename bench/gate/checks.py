"""The gate's checks: each compares the run with the baseline and passes, fails or is skipped.

- schema validity floor: the run's rate at the configured rung >= min_rate;
- schema validity drop: no significant drop vs the baseline (exact McNemar over
  shared frames; two-proportion z-test when frames cannot be paired);
- judge / overlap drop: no significant drop of the mean score (paired sign-flip
  permutation over shared frames; Welch z from summaries otherwise);
- p95 latency and cost per 1M generations: run / baseline <= max_ratio;
- pairwise: the run may not lose significantly to the baseline in its pairwise ranking (bench.gate.pairwise_check).

"Significant drop" = one-sided p < alpha AND the drop is larger than max_drop,
so that a large sample does not fail a gate on a negligible difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.config import GateConfig
from bench.gate.inputs import RUNGS, GateInputError, GateSide
from bench.gate.paired import mcnemar, paired_continuous, two_proportions, welch

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass
class CheckResult:
    name: str
    status: str
    measured: str  # the run's value
    baseline: str  # the baseline's value
    limit: str  # what had to hold
    detail: str = ""  # the test and its numbers, or why the check was skipped
    data: dict[str, Any] = field(default_factory=dict)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def run_checks(run: GateSide, base: GateSide, cfg: GateConfig) -> list[CheckResult]:
    if cfg.schema_validity.rung not in RUNGS:
        raise GateInputError(f"gate.schema_validity.rung={cfg.schema_validity.rung!r}: use one of {', '.join(RUNGS)}")
    if cfg.missing not in ("fail", "skip"):
        raise GateInputError(f"gate.missing={cfg.missing!r}: use fail or skip")
    if cfg.same_dataset and run.dataset and base.dataset and run.dataset != base.dataset:
        raise GateInputError(f"the run is on dataset {run.dataset!r} but the baseline on {base.dataset!r}; "
                             "gate against a baseline of the same dataset (or set gate.same_dataset=false)")
    if not run.validity.get(cfg.schema_validity.rung, {}).get("n"):
        raise GateInputError(f"{run.source}: the run recorded no frames")
    results: list[CheckResult] = []
    if cfg.schema_validity.enabled:
        results += [_validity_floor(run, cfg), _validity_drop(run, base, cfg)]
    if cfg.judge.enabled:
        results.append(_score_drop("judge", "judge score", run, base, cfg, cfg.judge.max_drop, digits=3))
    if cfg.rouge.enabled:
        metric = cfg.rouge.metric
        if metric not in ("rouge1", "rouge2", "rougeL", "bleu"):
            raise GateInputError(f"gate.rouge.metric={metric!r}: use rouge1, rouge2, rougeL or bleu")
        results.append(_score_drop(metric, metric, run, base, cfg, cfg.rouge.max_drop, digits=3))
    if cfg.latency_p95.enabled:
        results.append(_ratio("p95 latency", run.e2el_p95_s, base.e2el_p95_s, cfg.latency_p95.max_ratio, "s"))
    if cfg.cost.enabled:
        results.append(_ratio("cost per 1M", run.cost_per_million_usd, base.cost_per_million_usd,
                              cfg.cost.max_ratio, "$"))
    if cfg.pairwise.enabled:
        from bench.gate.pairwise_check import pairwise_check  # (it imports CheckResult from here)

        results.append(pairwise_check(run, base, cfg))
    return results


def _validity_floor(run: GateSide, cfg: GateConfig) -> CheckResult:
    rung, floor = cfg.schema_validity.rung, cfg.schema_validity.min_rate
    v = run.validity[rung]
    rate = v["k"] / v["n"]
    return CheckResult(f"{rung} floor", PASS if rate >= floor else FAIL, f"{_pct(rate)} ({v['k']}/{v['n']})", "",
                       f">= {_pct(floor)}", data={"rate": rate, "min_rate": floor})


def _validity_drop(run: GateSide, base: GateSide, cfg: GateConfig) -> CheckResult:
    rung = cfg.schema_validity.rung
    name = f"{rung} drop"
    r, b = run.validity[rung], base.validity.get(rung)
    limit = f"no significant drop (p<{cfg.alpha:g}) > {_pct(cfg.schema_validity.max_drop)}"
    if not b or not b.get("n"):
        return CheckResult(name, SKIP, _pct(r["k"] / r["n"]), "n/a", limit, "the baseline has no validity data")
    rate_r, rate_b = r["k"] / r["n"], b["k"] / b["n"]
    mine, theirs = run.frame_values(rung), base.frame_values(rung)
    shared = [fid for fid in mine if fid in theirs]
    if shared:
        test = mcnemar([bool(theirs[f]) for f in shared], [bool(mine[f]) for f in shared])
        detail = (f"McNemar exact over {len(shared)} shared frames: {test['lost']} lost, {test['gained']} gained, "
                  f"p={test['p_less']:.3g}")
        drop = -(test["mean_diff"] or 0.0)
    else:
        test = two_proportions(b["k"], b["n"], r["k"], r["n"])
        detail = f"two-proportion z (no shared frames): p={_fmt(test['p_less'])}"
        drop = rate_b - rate_r
    significant = test["p_less"] is not None and test["p_less"] < cfg.alpha
    failed = significant and drop > cfg.schema_validity.max_drop
    return CheckResult(name, FAIL if failed else PASS, f"{_pct(rate_r)} ({r['k']}/{r['n']})",
                       f"{_pct(rate_b)} ({b['k']}/{b['n']})", limit, detail, data={**test, "drop": drop})


def _score_drop(key: str, label: str, run: GateSide, base: GateSide, cfg: GateConfig, max_drop: float,
                digits: int) -> CheckResult:
    name = f"{label} drop"
    limit = f"no significant drop (p<{cfg.alpha:g}) > {max_drop:g}"
    r, b = run.scores.get(key), base.scores.get(key)
    if b is None:
        why = "neither run is scored" if r is None else "the baseline is not scored"
        return CheckResult(name, SKIP, _fmt(r and r["mean"], digits), "n/a", limit, why)
    if r is None:
        status = FAIL if cfg.missing == "fail" else SKIP
        return CheckResult(name, status, "n/a", _fmt(b["mean"], digits), limit,
                           f"the baseline has {label} scores but the run has none (score it first; gate.missing="
                           f"{cfg.missing})")
    mine, theirs = run.frame_values(key), base.frame_values(key)
    shared = [fid for fid in mine if fid in theirs]
    if shared:
        test = paired_continuous([theirs[f] for f in shared], [mine[f] for f in shared], resamples=cfg.resamples,
                                 seed=cfg.seed)
        lo, hi = test["ci95"]
        detail = (f"paired permutation over {len(shared)} shared frames: diff {test['mean_diff']:+.3g} "
                  f"[{lo:+.3g}, {hi:+.3g}], p={test['p_less']:.3g}")
    elif r.get("sd") is not None and b.get("sd") is not None:
        test = welch(b["mean"], b["sd"], int(b["n"]), r["mean"], r["sd"], int(r["n"]))
        detail = f"Welch z (no shared frames): diff {test['mean_diff']:+.3g}, p={_fmt(test['p_less'])}"
    else:
        test = {"mean_diff": r["mean"] - b["mean"], "p_less": None}
        detail = "no per-frame scores on one side: significance unknown, compared means only"
    drop = -(test["mean_diff"] or 0.0)
    if test["p_less"] is None:  # cannot test: be conservative, any drop past the tolerance fails
        failed = drop > max_drop
    else:
        failed = test["p_less"] < cfg.alpha and drop > max_drop
    return CheckResult(name, FAIL if failed else PASS, f"{_fmt(r['mean'], digits)} (n={int(r['n'])})",
                       f"{_fmt(b['mean'], digits)} (n={int(b['n'])})", limit, detail, data={**test, "drop": drop})


def _ratio(name: str, run_value: float | None, base_value: float | None, max_ratio: float, unit: str) -> CheckResult:
    def show(x: float | None) -> str:
        if x is None:
            return "n/a"
        return f"${x:,.2f}" if unit == "$" else f"{x:.3f} s"

    limit = f"ratio <= {max_ratio:g}"
    if base_value is None or base_value <= 0:
        return CheckResult(name, SKIP, show(run_value), show(base_value), limit, "the baseline has no value")
    if run_value is None:
        return CheckResult(name, FAIL, "n/a", show(base_value), limit, "the run has no value (no frame completed?)")
    ratio = run_value / base_value
    return CheckResult(name, PASS if ratio <= max_ratio else FAIL, show(run_value), show(base_value), limit,
                       f"ratio {ratio:.2f}", data={"ratio": ratio})
