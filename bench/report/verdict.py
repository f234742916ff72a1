"""The verdict at a glance: one sentence per decision (quality, validity, latency, cost) and the best value of each
leaderboard column.

Plain data in, plain data out (no HTML; the template escapes). Whether a lead is "significant":
- quality: the report's paired test (bench.report.data.significance: sign-flip permutation on the frames both runs
  share), leader vs every other run, p < 0.05;
- validity: the 95% Wilson intervals of the two rates do not overlap;
- latency (E2EL p95) and cost ($ per 1M generations): the 95% intervals of the two figures do not overlap
  (p95: the distribution-free order-statistic interval of a quantile; cost: a bootstrap of the mean cost per
  generation). Non-overlapping intervals is a conservative test: "no clear lead" may still hide a real one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.stats import finite_float as _v  # None unless a finite number

ALPHA = 0.05
Z95 = 1.959963984540054

# leaderboard column -> True when higher is better (each highlighted where it is best)
DIRECTIONS: dict[str, bool] = {
    "schema_valid_rate": True, "rules_ok_rate": True, "judge_mean": True, "rougeL": True, "bleu": True,
    "temporal_stability": True, "boundary_f1": True, "ttft_p50_s": False, "e2el_p50_s": False, "e2el_p95_s": False,
    "requests_per_s": True, "cost_per_million_usd": False,
}
QUALITY_COLUMNS = {"judge": ("judge_mean", "judge score"), "rougeL": ("rougeL", "ROUGE-L"),
                   "schema_valid": ("schema_valid_rate", "schema validity")}


def best_cells(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Leaderboard column -> the runs holding its best value (ties: all of them); a column is left out when fewer
    than two runs have a value or every run has the same one (nothing to single out)."""
    out: dict[str, list[str]] = {}
    for col, higher in DIRECTIONS.items():
        vals = {r["run"]: _v(r.get(col)) for r in rows}
        have = {k: v for k, v in vals.items() if v is not None}
        if len(have) < 2 or len(set(have.values())) == 1:
            continue
        best = max(have.values()) if higher else min(have.values())
        out[col] = [k for k, v in have.items() if math.isclose(v, best, rel_tol=1e-9, abs_tol=1e-12)]
    return out


# ---- intervals ---------------------------------------------------------------------------------
def quantile_interval(values: Any, q: float = 0.95) -> list[float] | None:
    """A distribution-free 95% interval of the q-quantile: the order statistics at ranks n*q -/+ 1.96*sqrt(n*q*(1-q))
    (binomial normal approximation; any n, no resampling). None with fewer than 20 values."""
    x = np.sort(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n < 20:
        return None
    half = Z95 * math.sqrt(n * q * (1 - q))
    lo, hi = max(0, math.floor(n * q - half) - 1), min(n - 1, math.ceil(n * q + half) - 1)
    return [float(x[lo]), float(x[hi])]


def decision_intervals(frames_df: Any, labels: list[str]) -> dict[str, dict[str, list[float] | None]]:
    """Per run: "e2el_p95" (quantile_interval of E2EL) and "cost" (bootstrap interval of the mean cost per
    generation x 1e6, when the records carry a per-request cost: API runs; self-hosted cost comes from GPU time)."""
    from bench.stats import mean_ci

    out: dict[str, dict[str, list[float] | None]] = {}
    for lab in labels:
        g = frames_df[frames_df["run"] == lab] if not frames_df.empty else frames_df
        e2el = g["e2el_s"].dropna().to_numpy(dtype=float) if "e2el_s" in g else np.array([])
        cost = g["cost_usd"].dropna().to_numpy(dtype=float) if "cost_usd" in g else np.array([])
        cost_ci = None
        if cost.size >= 2:
            ci = mean_ci(cost * 1e6, replicates=1000)["ci95"]
            cost_ci = None if ci is None or ci[0] is None else [float(ci[0]), float(ci[1])]
        out[lab] = {"e2el_p95": quantile_interval(e2el), "cost": cost_ci}
    return out


# ---- sentences ---------------------------------------------------------------------------------
def _name(row: dict[str, Any]) -> str:
    return f"{row['run']} (SIMULATED)" if row.get("simulated") else str(row["run"])


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.2g}"


def _ranked(rows: list[dict[str, Any]], col: str, higher: bool) -> tuple[list[dict[str, Any]], list[str]]:
    have = [r for r in rows if _v(r.get(col)) is not None]
    missing = [str(r["run"]) for r in rows if _v(r.get(col)) is None]
    have.sort(key=lambda r: -_v(r[col]) if higher else _v(r[col]))  # type: ignore[operator]
    return have, missing


def _missing_note(missing: list[str]) -> str:
    return f" ({', '.join(missing)}: no value)" if missing else ""


def _overlap(a: list[float] | None, b: list[float] | None) -> bool | None:
    if not a or not b or a[0] is None or b[0] is None:
        return None
    return not (a[1] < b[0] or b[1] < a[0])


def _fewer_than_two(decision: str, what: str, have: list[dict[str, Any]], missing: list[str],
                    fmt: Any) -> dict[str, Any]:
    if not have:
        return {"decision": decision, "leader": None, "significant": None,
                "text": f"{decision.capitalize()}: no run has {what}."}
    row = have[0]
    return {"decision": decision, "leader": row["run"], "significant": None,
            "text": f"{decision.capitalize()}: only {_name(row)} has {what} ({fmt(row)}): nothing to compare"
                    f"{_missing_note(missing)}."}


def quality_verdict(rows: list[dict[str, Any]], sig: dict[str, Any] | None, metric: str) -> dict[str, Any]:
    """The leader on the report's quality measure, and whether it is significantly ahead of every other run (the
    paired tests of the significance matrix)."""
    col, what = QUALITY_COLUMNS[metric]
    digits = 1 if metric == "rougeL" else 2

    def fmt(r: dict[str, Any]) -> str:
        v = _v(r[col])
        return f"{100 * v:.1f}%" if metric == "schema_valid" else f"{v:.{digits}f}"

    have, missing = _ranked(rows, col, True)
    if len(have) < 2:
        return _fewer_than_two("quality", f"a {what}", have, missing, fmt)
    lead, second = have[0], have[1]
    labels = list((sig or {}).get("labels") or [])
    cells = (sig or {}).get("cells") or []
    tests = []  # (other row, cell) for each other run: the leader - other paired test
    for other in have[1:]:
        cell = None
        if lead["run"] in labels and other["run"] in labels:
            cell = cells[labels.index(lead["run"])][labels.index(other["run"])]
        tests.append((other, cell))
    untested = [o for o, c in tests if not c or c.get("p") is None]
    behind = [(o, c) for o, c in tests if c and c.get("p") is not None]
    not_sig = [(o, c) for o, c in behind if not (c["p"] < ALPHA and (c.get("diff") or 0) > 0)]
    head = f"Quality ({what}): "
    if untested and not behind:
        return {"decision": "quality", "leader": lead["run"], "significant": None,
                "text": f"{head}{_name(lead)} leads, {fmt(lead)} vs {fmt(second)} for {_name(second)}; no paired "
                        f"test (no shared scored frames){_missing_note(missing)}."}
    first_cell = next(c for o, c in tests if o is second)
    if not not_sig and not untested:
        c = first_cell or {}
        extra = " and every other run" if len(have) > 2 else ""
        return {"decision": "quality", "leader": lead["run"], "significant": True,
                "text": f"{head}{_name(lead)} leads, {fmt(lead)} vs {fmt(second)} for {_name(second)} (next "
                        f"best){extra}; significant (paired p={_p(c.get('p'))}, n={c.get('n')})"
                        f"{_missing_note(missing)}."}
    tied = ", ".join(f"{_name(o)} {fmt(o)} (p={_p(c['p'])})" for o, c in not_sig)
    ahead = [(o, c) for o, c in behind if (o, c) not in not_sig]
    ahead_note = ("; it is significantly ahead of " + ", ".join(f"{_name(o)} {fmt(o)} (p={_p(c['p'])})"
                                                                 for o, c in ahead)) if ahead else ""
    untested_note = f"; untested: {', '.join(_name(o) for o in untested)}" if untested else ""
    return {"decision": "quality", "leader": lead["run"], "significant": False,
            "text": f"{head}tied: {_name(lead)} {fmt(lead)} is not significantly ahead of {tied} "
                    f"(paired, n={(not_sig[0][1] or {}).get('n')}){ahead_note}{untested_note}"
                    f"{_missing_note(missing)}."}


def _interval_verdict(decision: str, rows: list[dict[str, Any]], col: str, higher: bool, phrase: str,
                      what: str, fmt: Any, interval: Any, how: str) -> dict[str, Any]:
    have, missing = _ranked(rows, col, higher)
    if len(have) < 2:
        return _fewer_than_two(decision, what, have, missing, fmt)
    lead, second = have[0], have[1]

    def with_ci(r: dict[str, Any]) -> str:
        ci = interval(r)
        return fmt(r) + (f" [{fmt({**r, col: ci[0]})}, {fmt({**r, col: ci[1]})}]" if ci else "")

    head = f"{decision.capitalize()}: {_name(lead)} {phrase}: {with_ci(lead)} vs {with_ci(second)} for {_name(second)}"
    if math.isclose(_v(lead[col]), _v(second[col]), rel_tol=1e-9):  # type: ignore[arg-type]
        tied = [r for r in have if math.isclose(_v(r[col]), _v(lead[col]), rel_tol=1e-9)]  # type: ignore[arg-type]
        names = ", ".join(_name(r) for r in tied[:-1]) + f" and {_name(tied[-1])}"
        return {"decision": decision, "leader": None, "significant": False,
                "text": f"{decision.capitalize()}: tied: {names} {'both' if len(tied) == 2 else 'all'} "
                        f"{fmt(lead)}{_missing_note(missing)}."}
    overlap = _overlap(interval(lead), interval(second))
    if overlap is None:
        tail, significant = f"; no interval for {what}, so no test", None
    elif overlap:
        tail, significant = f"; the {how} overlap: no clear lead", False
    else:
        tail, significant = f"; the {how} do not overlap: a clear lead", True
    return {"decision": decision, "leader": lead["run"], "significant": significant,
            "text": f"{head}{tail}{_missing_note(missing)}."}


def verdicts(rows: list[dict[str, Any]], sig: dict[str, Any] | None, metric: str,
             intervals: dict[str, dict[str, list[float] | None]] | None = None) -> list[dict[str, Any]]:
    """One sentence per decision, in the order quality, validity, latency, cost: each {"decision", "leader" (a run
    or None), "significant" (True / False / None: untested), "text"}. A simulated run is named "NAME (SIMULATED)";
    when every run is, one sentence says so first instead."""
    intervals = intervals or {}
    if rows and all(r.get("simulated") for r in rows):  # said once, not after every name
        rows = [{**r, "simulated": False} for r in rows]
        lead_in = [{"decision": "simulated", "leader": None, "significant": None,
                    "text": "Every run here is SIMULATED (the embedded simulator, not a model): these verdicts test "
                            "the harness, not models."}]
    else:
        lead_in = []

    def ci_of(key: str) -> Any:
        return lambda r: (intervals.get(r["run"]) or {}).get(key)

    def wilson(r: dict[str, Any]) -> list[float] | None:
        lo, hi = _v(r.get("schema_valid_ci_low")), _v(r.get("schema_valid_ci_high"))
        return None if lo is None or hi is None else [lo, hi]

    def money(r: dict[str, Any]) -> str:
        v = _v(r["cost_per_million_usd"])
        return f"${v:,.0f}" if v is not None and v >= 100 else f"${v:,.2f}"

    return [
        *lead_in,
        quality_verdict(rows, sig, metric),
        _interval_verdict("validity", rows, "schema_valid_rate", True, "is the most often schema-valid",
                          "a schema validity rate", lambda r: f"{100 * _v(r['schema_valid_rate']):.1f}%", wilson,
                          "95% Wilson intervals"),
        _interval_verdict("latency", rows, "e2el_p95_s", False, "is fastest, E2EL p95", "an E2EL p95",
                          lambda r: f"{_v(r['e2el_p95_s']):.2f} s", ci_of("e2el_p95"), "95% intervals of the p95"),
        _interval_verdict("cost", rows, "cost_per_million_usd", False, "is cheapest per 1M generations",
                          "a cost per 1M generations", money, ci_of("cost"), "95% intervals (bootstrap)"),
    ]


def verdict_data(rows: list[dict[str, Any]], sig: dict[str, Any] | None, metric: str, frames_df: Any,
                 labels: list[str]) -> dict[str, Any]:
    """What the report shows above the leaderboard: {"sentences": verdicts(...), "best": best_cells(rows)}."""
    return {"sentences": verdicts(rows, sig, metric, decision_intervals(frames_df, labels)),
            "best": best_cells(rows)}
