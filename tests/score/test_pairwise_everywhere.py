"""Pairwise results everywhere (issue 15): `bench.score ... pairwise=true` ranks the runs and gives each its place
(RUN/pairwise.json), `ranking=FILE` picks up an existing ranking, the console and load_runs carry the
Bradley-Terry strength with its interval and W/T/L, and the gate fails a candidate that loses significantly
to its baseline. On copies of the shared simulator runs: sim, a re-run of sim, sim_noisy."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from bench import pairwise_results
from bench.gate.__main__ import main as gate_main
from bench.load import load_run_data, load_runs
from bench.report.data import assemble
from bench.score.__main__ import main as score_main
from tests.report.simruns import sim_runs


@pytest.fixture(scope="module")
def ranked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    shared = sim_runs(tmp_path_factory.getbasetemp())
    root = tmp_path_factory.mktemp("pw-everywhere")
    runs = {name: Path(shutil.copytree(path, root / name)) for name, path in shared.items()}
    for path in runs.values():  # copies: the shared runs' own files stay as they were
        (path / pairwise_results.FILE).unlink(missing_ok=True)
    return {"root": root, **runs}


def junit_cases(path: Path) -> dict[str, tuple[str, str]]:
    suite = ET.parse(path).getroot().find("testsuite")
    out = {}
    for case in suite.findall("testcase"):
        status = "fail" if case.find("failure") is not None else "skip" if case.find("skipped") is not None else "pass"
        out[case.get("name")] = (status, case.findtext("system-out") or "")
    return out


def test_score_pairwise_true_ranks_the_runs_and_gives_each_its_place(ranked: dict[str, Any],
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = ranked["root"] / "ranking"
    runs = [str(ranked[n]) for n in ("sim", "sim_noisy", "sim_rerun")]
    assert score_main([*runs, "pairwise=true", "pairwise.judge=sim_v2", f"pairwise.out={out}",
                       "replicates=300"]) == 0
    text = capsys.readouterr().out
    assert "pairwise ranking (all pairs), judge sim-judge-v2" in text and "position consistency: " in text
    entries = {n: pairwise_results.read(ranked[n]) for n in ("sim", "sim_noisy", "sim_rerun")}
    assert all(e and e["ranking_file"] == str(out / "ranking.json") for e in entries.values())
    for name, e in entries.items():
        assert f"{ranked[name]}: pairwise: rank {e['rank']} of 3, Bradley-Terry strength {e['theta']:+.2f}" in text
    sim, noisy, rerun = entries["sim"], entries["sim_noisy"], entries["sim_rerun"]
    # sim beats sim_noisy: a positive difference whose interval excludes 0 (a tie)
    vs = next(o for o in sim["vs"].values() if o["path"] == str(ranked["sim_noisy"]))
    assert vs["significant"] and vs["ci95"][0] > 0 and vs["theta_diff"] > 0 and vs["win"] > vs["loss"]
    back = next(o for o in noisy["vs"].values() if o["path"] == str(ranked["sim"]))
    assert back["theta_diff"] == pytest.approx(-vs["theta_diff"]) and back["ci95"] == [-vs["ci95"][1], -vs["ci95"][0]]
    assert (back["win"], back["loss"]) == (vs["loss"], vs["win"])
    # sim vs its own re-run: a tie
    twin = next(o for o in sim["vs"].values() if o["path"] == str(ranked["sim_rerun"]))
    assert not twin["significant"] and twin["ci95"][0] <= 0 <= twin["ci95"][1]
    assert noisy["rank"] == 3 and {sim["rank"], rerun["rank"]} == {1, 2}
    assert sim["judge"]["simulated"] is True and 0 < sim["position_consistency"] <= 1
    # load_runs(level="run") carries the strength, its interval, the rank and W/T/L
    df = load_runs([ranked["sim"], ranked["sim_noisy"]]).set_index("run_dir")
    row = df.loc[str(ranked["sim"])]
    assert row["pairwise_theta"] == pytest.approx(sim["theta"]) and row["pairwise_rank"] == sim["rank"]
    assert (row["pairwise_ci_low"], row["pairwise_ci_high"]) == pytest.approx(tuple(sim["ci95"]))
    assert (row["pairwise_win"], row["pairwise_tie"], row["pairwise_loss"]) == (sim["win"], sim["tie"], sim["loss"])
    assert row["pairwise_judge"] == "sim-judge-v2" and bool(row["pairwise_judge_simulated"])
    assert df.loc[str(ranked["sim_noisy"]), "pairwise_theta"] < row["pairwise_theta"]
    # scoring a ranked run again prints its place
    assert score_main([str(ranked["sim"])]) == 0
    assert f"pairwise: rank {sim['rank']} of 3" in capsys.readouterr().out


def test_ranking_file_is_picked_up(ranked: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    ranking = ranked["root"] / "ranking" / "ranking.json"
    (ranked["sim_noisy"] / pairwise_results.FILE).unlink()
    (ranked["sim"] / pairwise_results.FILE).unlink()
    assert score_main([str(ranked["sim_noisy"]), f"ranking={ranking}"]) == 0
    assert "sim_noisy" in capsys.readouterr().out
    assert pairwise_results.read(ranked["sim_noisy"])["rank"] == 3
    assert pairwise_results.read(ranked["sim"]) is None  # only the runs named
    assert score_main([f"ranking={ranking}"]) == 0  # no run named: every run of the ranking
    assert pairwise_results.read(ranked["sim"])["rank"] in (1, 2)
    assert score_main([f"ranking={ranked['root']}/nothing.json"]) == 2
    assert "ranking=" in capsys.readouterr().err
    assert score_main([str(ranked["sim"]), "pairwise=maybe"]) == 2


def test_gate_fails_a_candidate_that_loses_significantly_to_its_baseline(ranked: dict[str, Any]) -> None:
    root = ranked["root"]
    # sim_noisy against sim: it lost every judged battle; the check fails (among other checks)
    assert gate_main([str(ranked["sim_noisy"]), "--baseline", str(ranked["sim"]), "--junit", str(root / "n.xml"),
                      "gate.schema_validity.enabled=false", "gate.rouge.enabled=false", "gate.judge.enabled=false",
                      "gate.latency_p95.enabled=false", "gate.cost.enabled=false"]) == 1
    status, text = junit_cases(root / "n.xml")["pairwise vs baseline"]
    assert status == "fail" and "Bradley-Terry strength difference -" in text and "SIMULATED judge" in text
    # a baseline JSON written from the sim run names its folder: the same check, the same verdict
    base = root / "sim-baseline.json"
    assert gate_main([str(ranked["sim"]), "--write-baseline", str(base)]) == 0
    assert gate_main([str(ranked["sim_noisy"]), "--baseline", str(base), "--junit", str(root / "n2.xml")]) == 1
    assert junit_cases(root / "n2.xml")["pairwise vs baseline"][0] == "fail"
    # the re-run against sim: a tie, not a loss
    gate_main([str(ranked["sim_rerun"]), "--baseline", str(ranked["sim"]), "--junit", str(root / "r.xml")])
    assert junit_cases(root / "r.xml")["pairwise vs baseline"][0] == "pass"
    # sim against sim_noisy: it won
    gate_main([str(ranked["sim"]), "--baseline", str(ranked["sim_noisy"]), "--junit", str(root / "w.xml")])
    assert junit_cases(root / "w.xml")["pairwise vs baseline"][0] == "pass"
    # a run never ranked against the baseline: skipped, or failed when required
    lone = Path(shutil.copytree(ranked["sim_rerun"], root / "lone"))
    (lone / pairwise_results.FILE).unlink()
    gate_main([str(lone), "--baseline", str(ranked["sim"]), "--junit", str(root / "l.xml")])
    assert junit_cases(root / "l.xml")["pairwise vs baseline"][0] == "skip"
    gate_main([str(lone), "--baseline", str(ranked["sim"]), "--junit", str(root / "l2.xml"),
               "gate.pairwise.required=true"])
    status, text = junit_cases(root / "l2.xml")["pairwise vs baseline"]
    assert status == "fail" and "pairwise=true" in text
    gate_main([str(lone), "--baseline", str(ranked["sim"]), "--junit", str(root / "l3.xml"),
               "gate.pairwise.enabled=false"])
    assert "pairwise vs baseline" not in junit_cases(root / "l3.xml")


def test_report_data_has_the_pairwise_section(ranked: dict[str, Any]) -> None:
    runs = load_run_data([ranked["sim"], ranked["sim_noisy"], ranked["sim_rerun"]])
    data = assemble(runs, thumbnails=False)
    pw = data["pairwise"]
    assert pw["judge"]["simulated"] and pw["position_consistency"]["rate"] is not None
    assert [m["label"] for m in pw["models"]][-1] == "sim_noisy" and all(m["in_report"] for m in pw["models"])
    assert {"matrix", "ranked"} == set(pw["figures"])
    heat = pw["figures"]["matrix"]["data"][0]
    noisy_row = [m["name"] for m in pw["models"]].index(pw["models"][-1]["name"])
    assert heat["z"][noisy_row][noisy_row] is None and max(v for v in heat["z"][noisy_row] if v is not None) < 0.5
    one = assemble(load_run_data([ranked["sim"]]), thumbnails=False)["pairwise"]
    assert any("(not in this report)" in m["label"] for m in one["models"])
    json.dumps(pw)  # JSON-ready
