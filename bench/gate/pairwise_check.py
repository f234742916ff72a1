"""The gate's pairwise check: the candidate may not lose significantly to its baseline in a pairwise ranking.

Reads the run's place in its latest pairwise ranking (RUN/pairwise.json, bench.pairwise_results: written by
`python -m bench.score RUN BASELINE_RUN pairwise=true`) and finds the baseline among its opponents, by run
folder (path, or folder name for a baseline JSON written from that folder). Fails when the Bradley-Terry
strength difference (run minus baseline) is below 0 AND its bootstrap p-value (two-sided, over frames;
bench.score.ranking) is below alpha (gate.pairwise.alpha, default the gate's alpha). A run never ranked against
this baseline is skipped, or failed with gate.pairwise.required=true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import pairwise_results
from bench.config import GateConfig
from bench.gate.checks import FAIL, PASS, SKIP, CheckResult
from bench.gate.inputs import GateSide

NAME = "pairwise vs baseline"


def _same_run(opponent: dict[str, Any], source: str) -> bool:
    path = Path(str(opponent.get("path") or ""))
    try:
        if path.resolve() == Path(source).resolve():
            return True
    except OSError:
        pass
    return bool(source) and opponent.get("run_id") == Path(source).name


def pairwise_check(run: GateSide, base: GateSide, cfg: GateConfig) -> CheckResult:
    pc = cfg.pairwise
    alpha = cfg.alpha if pc.alpha is None else pc.alpha
    limit = f"no significant loss (p<{alpha:g} and strength difference < 0)"
    entry = pairwise_results.read(run.source) if Path(run.source).is_dir() else None
    missing = SKIP if not pc.required else FAIL
    how = f"rank them: python -m bench.score {run.source} {base.source} pairwise=true"
    if entry is None:
        return CheckResult(NAME, missing, "n/a", "n/a", limit, f"the run has no pairwise ranking; {how}")
    found = [(name, o) for name, o in (entry.get("vs") or {}).items() if _same_run(o, base.source)]
    if not found:
        return CheckResult(NAME, missing, "n/a", "n/a", limit,
                           f"the run's latest ranking ({entry.get('ranking_file')}) has no battles against the "
                           f"baseline; {how}")
    name, o = found[0]
    lo, hi = o["ci95"]
    lost = o["theta_diff"] < 0 and o["p_value"] < alpha
    sim = ", SIMULATED judge" if (entry.get("judge") or {}).get("simulated") else ""
    pc = entry.get("position_consistency")
    detail = (f"Bradley-Terry strength difference {o['theta_diff']:+.2f} [{lo:+.2f}, {hi:+.2f}], p={o['p_value']:.3g} "
              f"(bootstrap over frames); judge {(entry.get('judge') or {}).get('label')}{sim}; position consistency "
              f"{'n/a' if pc is None else format(pc, '.0%')}; {entry.get('ranking_file')}")
    return CheckResult(NAME, FAIL if lost else PASS, f"W/T/L {o['win']}/{o['tie']}/{o['loss']} vs {name}",
                       f"{o['loss']}/{o['tie']}/{o['win']}", limit, detail,
                       data={"theta_diff": o["theta_diff"], "ci95": o["ci95"], "p_value": o["p_value"],
                             "alpha": alpha, "ranking": entry.get("ranking_file")})
