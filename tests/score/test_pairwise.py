"""Pairwise judging and Bradley-Terry rankings: the fit, both orders and position consistency, and end to end on
the simulator (sim beats sim_noisy significantly; sim vs its own re-run is a tie; a position-biased simulated
judge is caught by the consistency rate)."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from bench.score.__main__ import compose_judge
from bench.score.judge import JudgeStopped, VerdictError
from bench.score.pairwise import _outcome, main, parse_preference, plan, print_ranking, run_pairwise
from bench.score.ranking import PRIOR, Battle, fit, rank
from tests.score.test_sim_e2e import bench_run


def test_bradley_terry_fit_recovers_the_odds() -> None:
    wins = np.array([[0.0, 80.0], [20.0, 0.0]])
    theta = fit(wins)
    assert theta[0] - theta[1] == pytest.approx(math.log((80 + PRIOR) / (20 + PRIOR)), abs=1e-6)
    # three models, transitive: the order comes out; a clean sweep stays finite (the prior)
    sweep = fit(np.array([[0, 10, 10], [0, 0, 10], [0, 0, 0]], dtype=float))
    assert sweep[0] > sweep[1] > sweep[2] and np.isfinite(sweep).all()


def test_rank_intervals_and_significance() -> None:
    strong = [Battle(f"f{i}", "x", "y", "a" if i % 10 < 8 else "b") for i in range(60)]
    r = rank(strong, ["x", "y"], replicates=400)
    (pair,) = r["pairs"]
    assert pair["a"] == "x" and pair["significant"] and pair["ci95"][0] > 0 and pair["p_value"] < 0.01
    assert (pair["win"], pair["tie"], pair["loss"]) == (48, 0, 12) and r["matrix"]["y"]["x"]["win"] == 12
    ties = rank([Battle(f"f{i}", "x", "y", "tie") for i in range(30)], ["x", "y"], replicates=200)
    assert not ties["pairs"][0]["significant"] and ties["pairs"][0]["theta_diff"] == pytest.approx(0, abs=1e-9)


def test_both_orders_a_flip_is_a_tie() -> None:
    assert _outcome("A", "B") == ("a", True)  # x first: A (x); y first: B (x again)
    assert _outcome("B", "A") == ("b", True)
    assert _outcome("A", "A") == ("tie", False)  # prefers whatever is shown first: a flip
    assert _outcome("tie", "tie") == ("tie", True)
    assert _outcome("A", "tie") == ("tie", False)


def test_parse_preference_and_plan() -> None:
    assert parse_preference('{"reasons": "B invents a logo.", "better": "a"}') == {"reasons": "B invents a logo.",
                                                                                   "better": "A"}
    for bad in ['{"better": "C"}', "A is better", "[1]"]:
        with pytest.raises(VerdictError):
            parse_preference(bad)
    frames = [f"f{i}" for i in range(10)]
    assert len(plan(["p", "q", "r"], frames, [], None, 0)) == 30  # all pairs
    against = plan(["p", "q", "r"], frames, ["r"], None, 0)  # CapArena-Auto: each against the fixed baseline
    assert {(x, y) for _, x, y in against} == {("p", "r"), ("q", "r")}
    sampled = plan(["p", "q", "r"], frames, [], 7, 0)
    assert len(sampled) == 7 and sampled == plan(["p", "q", "r"], frames, [], 7, 0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("pairwise")
    return {"root": root, "sim": bench_run(root, "sim", "sim"), "rerun": bench_run(root, "sim-rerun", "sim"),
            "noisy": bench_run(root, "noisy", "sim_noisy"), "cache": root / "judge.sqlite"}


def test_sim_beats_sim_noisy_and_ties_its_rerun(runs: dict[str, Any]) -> None:
    judge = compose_judge("sim_v2", [])
    s = run_pairwise([runs["sim"], runs["noisy"], runs["rerun"]], judge=judge, judge_cache=runs["cache"],
                     out=runs["root"] / "out", replicates=500)
    assert s["judge"]["simulated"] and s["judge"]["requests_sent"] > 0 and s["judge"]["cost_usd"] > 0
    assert s["position_consistency"]["rate"] == 1.0
    pairs = {(p["a"], p["b"]): p for p in s["ranking"]["pairs"]}
    names = list(s["runs"])  # sim@sim, sim_noisy, sim@sim-rerun
    sim, noisy, rerun = names
    vs_noisy = pairs.get((sim, noisy)) or pairs[(rerun, noisy)]
    assert vs_noisy["significant"] and vs_noisy["ci95"][0] > 0 and vs_noisy["win"] > vs_noisy["loss"]
    twin = pairs.get((sim, rerun)) or pairs[(rerun, sim)]
    assert not twin["significant"] and twin["win"] == twin["loss"] == 0  # identical captions: every battle a tie
    assert s["ranking"]["strengths"][-1]["model"] == noisy
    lines = (runs["root"] / "out" / "battles.jsonl").read_text().splitlines()
    assert len(lines) == s["battles"] == 3 * s["frames"]
    assert json.loads((runs["root"] / "out" / "ranking.json").read_text())["judge"]["simulated"] is True
    assert (runs["root"] / "out" / "judge_server.log").stat().st_size > 0  # the simulator judge's log, kept
    console = Console(file=io.StringIO(), width=200)
    print_ranking(console, s)
    text = console.file.getvalue()
    assert "SIMULATED judge" in text and "position consistency: 100%" in text and "not significant" in text
    again = run_pairwise([runs["sim"], runs["noisy"]], judge=judge, judge_cache=runs["cache"],
                         out=runs["root"] / "out2", replicates=100)
    judged = again["position_consistency"]["judged"]
    assert again["judge"]["requests_sent"] == 0 and again["judge"]["cache_hits"] == 2 * judged > 0


def test_position_biased_judge_is_caught_by_the_consistency_rate(runs: dict[str, Any]) -> None:
    judge = compose_judge("sim_v2", ["judge.model.sim.judge_position_bias=0.5"])
    s = run_pairwise([runs["sim"], runs["noisy"]], judge=judge, judge_cache=runs["cache"], out=runs["root"] / "b",
                     replicates=200)
    assert s["position_consistency"]["rate"] < 0.8
    ranked = s["ranking"]["pairs"][0]
    pc = s["position_consistency"]
    assert ranked["tie"] >= pc["judged"] - pc["consistent"] > 0  # every flip counted as a tie


def test_a_judge_that_gives_no_verdict_stops_and_writes_nothing(runs: dict[str, Any]) -> None:
    """Every verdict unparsable (a systemic failure): no ranking is made of it and no output folder appears."""
    judge = compose_judge("sim_v2", ["judge.model.sim.malformed_rate=1.0", "judge.parse_retries=0"])
    out = runs["root"] / "stopped"
    with pytest.raises(JudgeStopped, match="no pairwise verdict"):
        run_pairwise([runs["sim"], runs["noisy"]], judge=judge, judge_cache=runs["cache"], out=out, replicates=10)
    assert not out.exists()


def test_cli_budget_baseline_and_errors(runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    out = runs["root"] / "cli"
    code = main([str(runs["sim"]), str(runs["noisy"]), str(runs["rerun"]), f"baseline={runs['noisy']}",
                 "judge=sim_v2", f"judge.cache={runs['cache']}", "max_battles=10", f"out={out}", "replicates=100"])
    assert code == 0
    s = json.loads((out / "ranking.json").read_text())
    assert s["battles"] == 10 and s["mode"] == "baselines" and s["battles_possible"] == 2 * s["frames"]
    assert "pairwise ranking" in capsys.readouterr().out
    assert main([str(runs["sim"]), "judge=sim_v2", f"out={out}"]) == 2  # one run is not a comparison
    assert main([str(runs["sim"]), str(runs["noisy"]), "bogus=1"]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err
