"""The baseline diff view (`python -m bench.report RUN --baseline BASE`, bench/report/baseline.py), and the gate
printing the command that builds it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.gate.__main__ import main as gate_main
from bench.report import build_report
from bench.report.__main__ import main as report_main
from bench.report.baseline import new_hallucinations
from tests.report.simruns import write_scores
from tests.report.test_report_xss import CHECK_INERT
from tests.report.xss_run import P1, P2, PAYLOADS, make_xss_run

READY = "document.body && document.body.getAttribute('data-ready') === '1'"


def records(run: Path) -> dict[str, dict]:
    return {r["frame_id"]: r for r in map(json.loads, (run / "generations.jsonl").read_text().splitlines())}


def judged_copies(sim_runs, tmp_path):
    """sim (baseline) and sim_noisy copied and judge-scored, one hallucination planted on each side."""
    base, cand = tmp_path / "runs" / "sim" / "base", tmp_path / "runs" / "sim_noisy" / "cand"
    shutil.copytree(sim_runs["sim"], base)
    shutil.copytree(sim_runs["sim_noisy"], cand)
    write_scores(base, judge_mean=4.6, rouge_mean=70, seed=1)
    write_scores(cand, judge_mean=3.4, rouge_mean=50, seed=2)
    ids = sorted(records(base))
    for run, plant in ((base, {ids[0]: {"objects": ["a red car"]}}),
                       (cand, {ids[0]: {"objects": ["A red car"]}, ids[1]: {"objects": ["a dog"], "logos": ["x"]}})):
        rows = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
        for row in rows:
            if row["frame_id"] in plant:
                row["judge"]["hallucinated"] = plant[row["frame_id"]]
        (run / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return base, cand, ids


def test_new_hallucinations_are_those_absent_from_the_baseline():
    base = {"hallucinated": {"objects": ["A dog", "a cat"]}}
    cand = {"hallucinated": {"objects": ["a dog", "a bird"], "logos": ["Nike"]}}
    assert new_hallucinations(base, cand) == {"objects": ["a bird"], "logos": ["Nike"]}
    assert new_hallucinations(cand, base) == {"objects": ["a cat"]}
    assert new_hallucinations(None, None) == {} and new_hallucinations(base, {"hallucinated": None}) == {}


def test_diff_view_against_a_baseline(sim_runs, tmp_path, browser):
    base, cand, ids = judged_copies(sim_runs, tmp_path)
    out = tmp_path / "diff.html"
    info = build_report([cand], out, baseline=base)
    view = info["data"]["baseline"]
    assert view["baseline"] == "sim" and [r["run"] for r in view["runs"]] == ["sim_noisy"]
    cmp = view["runs"][0]
    b_recs, c_recs = records(base), records(cand)
    assert cmp["frames"] == 27
    # frames that became invalid: exactly those valid in the baseline and not in the run
    lost = {f for f in b_recs if b_recs[f]["validity"]["schema_valid"] and not c_recs[f]["validity"]["schema_valid"]}
    assert {f["id"] for f in cmp["became_invalid"]} == lost and cmp["validity"]["lost"] == len(lost)
    assert all(f["cand"] == c_recs[f["id"]]["validity"]["category"] for f in cmp["became_invalid"])
    # the largest drops, largest first, each with both answers as recorded
    b_scores = {json.loads(x)["frame_id"]: json.loads(x)["judge"]["score"] for x in (base / "scores.jsonl").open()}
    c_scores = {json.loads(x)["frame_id"]: json.loads(x)["judge"]["score"] for x in (cand / "scores.jsonl").open()}
    diffs = sorted(c_scores[f] - b_scores[f] for f in b_scores)
    assert [d["diff"] for d in cmp["drops"]] == [d for d in diffs if d < 0][:len(cmp["drops"])] and cmp["drops"]
    first = cmp["drops"][0]
    assert first["base"]["cap"] == b_recs[first["id"]]["caption"]
    assert (first["cand"]["cap"] or None) == c_recs[first["id"]]["caption"]
    # new hallucinations: "A red car" was in the baseline too (case aside); ids[1]'s items are new
    assert cmp["hallucinations_total"] == 1
    assert cmp["hallucinations"] == [{"id": ids[1], "items": {"objects": ["a dog"], "logos": ["x"]}}]
    # deltas: quality (judge), E2EL, cost; the paired tests' numbers
    deltas = {d["what"]: d for d in cmp["deltas"]}
    judge = deltas["judge score (1-5)"]
    assert judge["n"] == 27 and judge["diff"] < 0 and judge["ci95"][1] < 0 and judge["p"] < 0.05
    cost = deltas["$ per 1M generations (mean cost per request x 1M)"]
    assert cost["base"] > 0 and cost["ci95"][0] <= cost["diff"] <= cost["ci95"][1]
    assert cmp["e2el_p95"]["base"]["ci95"][0] <= cmp["e2el_p95"]["base"]["value"] <= cmp["e2el_p95"]["base"]["ci95"][1]

    browser.open(out.as_uri(), ready=READY)
    state = browser.evaluate("""(() => ({
      nav: !!document.querySelector('nav a[href="#baseline"]'),
      rows: document.querySelectorAll('#baseline ~ section.basecmp table.basedelta tbody tr').length,
      pairs: document.querySelectorAll('.basepairs[data-kind=drops] details table.basepair').length,
      open: document.querySelectorAll('.basepairs[data-kind=drops] details[open]').length,
      changed: document.querySelectorAll('.basepairs table.basepair tr.chg').length,
      hall: document.querySelector('section.basecmp').innerText.includes('a dog'),
    }))()""")
    assert state["nav"] and state["rows"] == 5  # validity, judge, E2EL mean, cost, E2EL p95
    assert state["pairs"] == len(cmp["drops"]) and state["open"] == min(3, len(cmp["drops"]))
    assert state["changed"] > 0 and state["hall"]
    assert browser.errors() == []


def test_without_baseline_there_is_no_view(sim_runs, tmp_path):
    info = build_report([sim_runs["sim"]], tmp_path / "r.html")
    assert info["data"]["baseline"] is None and 'id="baseline"' not in (tmp_path / "r.html").read_text()


def test_hostile_captions_in_the_diff_view_stay_inert(tmp_path, browser):
    base_dir = make_xss_run(tmp_path / "a")
    base = base_dir.with_name("run0")
    base_dir.rename(base)
    rows = [json.loads(x) for x in (base / "scores.jsonl").read_text().splitlines()]
    for row in rows:  # the baseline judged 5 without hallucinations: every frame of the other run drops, P1 "new"
        row["judge"].update(score=5, scores=[5], hallucinated={})
    (base / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cand = make_xss_run(tmp_path / "b")
    out = tmp_path / "xss-diff.html"
    info = build_report([cand], out, baseline=base)
    cmp = info["data"]["baseline"]["runs"][0]
    assert cmp["drops"] and cmp["hallucinations_total"] == 3
    html = out.read_text()
    for payload in PAYLOADS:
        assert payload not in html
    browser.open(out.as_uri(), ready=READY)
    state = browser.evaluate(CHECK_INERT)
    assert state["xss"] is None and state["handlers"] == 0 and state["badimg"] == 0 and state["scripts"] == 3
    section = browser.evaluate("Array.from(document.querySelectorAll('section.basecmp')).map(s => s.innerText)"
                               ".join(' ')")
    assert P1 in section and P2 in section  # shown literally, as text
    assert browser.errors() == []


def test_cli_baseline_and_usage_errors(sim_runs, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert report_main([str(sim_runs["sim_noisy"]), "--baseline", str(sim_runs["sim"]), "--out", str(out),
                        "--no-thumbnails"]) == 0
    assert 'id="baseline"' in out.read_text()
    assert report_main([str(sim_runs["sim"]), "--baseline", str(sim_runs["sim"]), "--out", str(out)]) == 2
    assert "no other run to compare" in capsys.readouterr().err
    assert report_main([str(sim_runs["sim"]), "--baseline", str(tmp_path / "nope"), "--out", str(out)]) == 2


def test_a_failing_gate_prints_the_command_that_builds_the_diff_report(sim_runs, tmp_path, capsys):
    junit = tmp_path / "g.xml"
    code = gate_main([str(sim_runs["sim_noisy"]), "--baseline", str(sim_runs["sim"]), "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 1
    line = next(x for x in out.splitlines() if "python -m bench.report" in x)
    cmd = line.split(": ", 1)[1]
    assert cmd == (f"python -m bench.report {sim_runs['sim_noisy']} --baseline {sim_runs['sim']} "
                   "--out reports/gate-diff.html")
    # the printed command works as printed (into a temporary folder here)
    args = cmd.split()[3:-2] + ["--out", str(tmp_path / "gate-diff.html"), "--no-thumbnails"]
    assert report_main(args) == 0 and (tmp_path / "gate-diff.html").is_file()
    # a baseline JSON: its run folder (still here) is named in the command
    base_json = tmp_path / "base.json"
    assert gate_main([str(sim_runs["sim"]), "--write-baseline", str(base_json)]) == 0
    capsys.readouterr()
    assert gate_main([str(sim_runs["sim_noisy"]), "--baseline", str(base_json), "--junit", str(junit)]) == 1
    assert f"--baseline {sim_runs['sim']} " in capsys.readouterr().out
    # a passing gate prints no such line (latency not gated here: a loaded machine can slow a re-run several-fold)
    assert gate_main([str(sim_runs["sim_rerun"]), "--baseline", str(sim_runs["sim"]), "--junit", str(junit),
                      "gate.latency_p95.enabled=false"]) == 0
    assert "python -m bench.report" not in capsys.readouterr().out
