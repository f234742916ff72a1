"""Judge panels (bench.score.panel): several simulated judges on one run, their scores side by side, the panel
score, agreement (Krippendorff's alpha and per-pair within-1 / exact), and self-preference warnings, with
panel.exclude_self leaving the judge of the model's own family out of that model's panel score."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest
from omegaconf import OmegaConf
from rich.console import Console

from bench.backends.families import vendor_of
from bench.load import load_runs
from bench.score import ScoreError, score_run
from bench.score.__main__ import compose_judge, parse_args, print_scores
from bench.score.__main__ import main as score_main
from tests.score.conftest import make_run, reference_for

PANEL = ("sim-judge-v2", "sim-gpt", "sim-claude")


def outputs() -> dict[str, Any]:
    """Captions the three simulated judges grade differently (sim-gpt is blind to logos, counts, lead-ins)."""
    out: dict[str, Any] = {f"f{i}": reference_for(i) for i in range(6)}
    out["f1"] = {**reference_for(1), "logos": ["Coca-Cola", "Pepsi"], "content_type": "animation"}
    out["f2"] = {**reference_for(2), "description": "This image shows " + reference_for(2)["description"],
                 "objects": ["three cats", "a red umbrella", "a tuba"]}
    out["f3"] = {**reference_for(3), "objects": reference_for(3)["objects"][:1], "summary": "A quiet street."}
    out["f5"] = "bad"  # no caption: no judge is asked, the frame scores 1 in the "all" view
    return out


def rows_of(path: Path) -> dict[str, dict[str, Any]]:
    return {r["frame_id"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.fixture
def scored(tiny: Path, tmp_path: Path) -> dict[str, Any]:
    run = make_run(tmp_path, tiny, "gpt-4.1", outputs())
    s = score_run(run, judge=compose_judge("panel_sim", []), judge_cache=tmp_path / "cache.sqlite")
    return {"run": run, "summary": s, "cache": tmp_path / "cache.sqlite"}


def test_vendor_of_names_and_protocols() -> None:
    assert vendor_of("openai_chat", "gpt-4.1") == vendor_of("openai_chat", "o3-mini") == "openai"
    assert vendor_of("openai_chat", "anthropic/claude-sonnet-4") == "anthropic"  # behind an OpenAI-style proxy
    assert vendor_of("gemini", "anything") == "google" and vendor_of("openai_chat", "gemini-2.5-pro") == "google"
    assert vendor_of("openai_chat", "inference-net/cliptagger-12b") is None
    assert vendor_of("openai_chat", "capbench-sim") is None and vendor_of("openai_chat", "Qwen/Qwen2.5-VL-7B") is None


def test_panel_keeps_each_judge_side_by_side_and_scores_their_mean(scored: dict[str, Any]) -> None:
    run, s = scored["run"], scored["summary"]
    j = s["judge"]
    assert j["backend"] == "panel" and j["label"] == "panel_sim" and j["simulated"] is True
    assert list(j["panel"]["judges"]) == list(PANEL)
    assert j["requests_sent"] == 3 * 5  # five captions, three judges
    # each judge's own scoring sits next to the panel's; the panel's is the latest
    index = json.loads((run / "scores" / "index.json").read_text())
    labels = [(v["judge"] or {}).get("label") for v in index["scorings"].values()]
    assert sorted(labels) == sorted([*PANEL, "panel_sim"]) and index["latest"] == s["scoring"]["key"]
    per_judge = {}
    for key, ident in index["scorings"].items():
        if ident["judge"]["label"] in PANEL:
            per_judge[ident["judge"]["label"]] = rows_of(run / "scores" / f"{key}.jsonl")
    panel_rows = rows_of(run / "scores.jsonl")
    for fid in ("f0", "f1", "f2", "f3", "f4"):
        got = panel_rows[fid]["judge"]
        scores = [per_judge[lab][fid]["judge"]["score"] for lab in PANEL]
        assert got["per_judge"] == {lab: {"score": sc, "failure": None,
                                          "rationale": per_judge[lab][fid]["judge"]["rationale"]}
                                    for lab, sc in zip(PANEL, scores, strict=True)}
        assert got["score"] == pytest.approx(sum(scores) / 3)
    assert panel_rows["f5"]["judge"] is None  # no caption: nobody asked
    # the judges really behave differently on these captions (else agreement would test nothing)
    assert len({tuple(per_judge[lab][f]["judge"]["score"] for f in ("f1", "f2", "f3")) for lab in PANEL}) > 1
    # headline: the "all" view of the panel scores, as for one judge
    expected = np.mean([panel_rows[f]["judge"]["score"] for f in ("f0", "f1", "f2", "f3", "f4")] + [1.0])
    assert j["mean"] == pytest.approx(expected) and j["n"] == 6
    for lab in PANEL:
        member = j["panel"]["judges"][lab]
        assert member["mean"] == pytest.approx(np.mean([per_judge[lab][f]["judge"]["score"]
                                                        for f in ("f0", "f1", "f2", "f3", "f4")] + [1.0]))


def test_panel_agreement_alpha_and_pairwise_shares(scored: dict[str, Any]) -> None:
    run, a = scored["run"], scored["summary"]["judge"]["panel"]["agreement"]
    panel_rows = rows_of(run / "scores.jsonl")
    frames = ["f0", "f1", "f2", "f3", "f4"]
    grid = [[panel_rows[f]["judge"]["per_judge"][lab]["score"] for f in frames] for lab in PANEL]
    assert a["frames"] == 5 and a["judges"] == list(PANEL)
    assert a["krippendorff_alpha_interval"] == pytest.approx(
        krippendorff.alpha(reliability_data=np.array(grid, dtype=float), level_of_measurement="interval"))
    total_within = total_exact = 0
    for pr, (x, y) in zip(a["pairs"], itertools.combinations(range(3), 2), strict=True):
        within = sum(abs(p - q) <= 1 for p, q in zip(grid[x], grid[y], strict=True))
        exact = sum(p == q for p, q in zip(grid[x], grid[y], strict=True))
        assert (pr["a"], pr["b"]) == (PANEL[x], PANEL[y]) and pr["n"] == 5
        assert pr["within_1"]["k"] == within and pr["exact"]["k"] == exact
        total_within, total_exact = total_within + within, total_exact + exact
    assert a["pooled"]["within_1"]["k"] == total_within and a["pooled"]["exact"]["rate"] == total_exact / 15


def test_self_preference_is_warned_and_printed(scored: dict[str, Any]) -> None:
    j = scored["summary"]["judge"]
    assert [(p["judge"], p["vendor"]) for p in j["self_preference"]] == [("sim-gpt", "openai")]
    assert any("self-preference: judge sim-gpt (gpt-4.1" in w for w in j["warnings"])
    console = Console(file=io.StringIO(), width=250)
    print_scores(console, str(scored["run"]), scored["summary"])
    text = console.file.getvalue()
    assert "self-preference" in text and "Krippendorff's alpha (interval)" in text
    for lab in PANEL:
        assert f"judge {lab} (" in text
    assert "left out" not in text  # exclude_self is off by default


def test_exclude_self_leaves_the_own_family_judge_out_and_says_so(tiny: Path, tmp_path: Path,
                                                                  scored: dict[str, Any]) -> None:
    run = scored["run"]
    s = score_run(run, judge=compose_judge("panel_sim", ["judge.panel.exclude_self=true"]),
                  judge_cache=scored["cache"])
    j = s["judge"]
    assert j["requests_sent"] == 0  # every member verdict came from the cache
    assert j["panel"]["excluded"] == ["sim-gpt"] and "sim-gpt, same family as the model" in j["panel"]["score"]
    assert s["scoring"]["key"] != scored["summary"]["scoring"]["key"]  # another number: another scoring
    for row in rows_of(run / "scores.jsonl").values():
        if row["judge"] is None:
            continue
        pj = row["judge"]["per_judge"]
        assert row["judge"]["excluded"] == ["sim-gpt"] and "sim-gpt" in pj  # kept, not counted
        assert row["judge"]["score"] == pytest.approx((pj["sim-judge-v2"]["score"] + pj["sim-claude"]["score"]) / 2)
    console = Console(file=io.StringIO(), width=250)
    print_scores(console, str(run), s)
    assert "sim-gpt (gpt-4.1, SIMULATED)" in console.file.getvalue()
    assert "(left out of the panel score: same family as the model)" in console.file.getvalue()
    assert "panel score: per frame, the mean of the scores its judges gave (left out for this run: sim-gpt" \
        in console.file.getvalue()
    # a panel whose every judge is of the model's family has nothing left to score with: refused, by name
    only = make_run(tmp_path / "o", tiny, "gpt-4.1", {"f0": reference_for(0)})
    with pytest.raises(ScoreError, match="exclude_self=true leaves no judge"):  # before gpt-4.1 needs its key
        score_run(only, judge=compose_judge("panel", ["judge.panel.judges=[sim_gpt,gpt-4.1]",
                                                      "judge.panel.exclude_self=true"]),
                  judge_cache=scored["cache"])


def test_load_runs_carries_the_panel(scored: dict[str, Any]) -> None:
    row = load_runs([scored["run"]]).iloc[0]
    j = scored["summary"]["judge"]
    assert row["panel_judges"] == ",".join(PANEL)
    assert row["panel_alpha"] == pytest.approx(j["panel"]["agreement"]["krippendorff_alpha_interval"])
    assert row["panel_within_1"] == pytest.approx(j["panel"]["agreement"]["pooled"]["within_1"]["rate"])
    assert row["panel_exact"] == pytest.approx(j["panel"]["agreement"]["pooled"]["exact"]["rate"])
    for lab in PANEL:
        assert row[f"judge_mean.{lab}"] == pytest.approx(j["panel"]["judges"][lab]["mean"])
    assert row["judge_self_preference"] == "sim-gpt (openai)"
    # one judge of the panel is still selectable by its label
    one = load_runs([scored["run"]], judge="sim-claude").iloc[0]
    assert one["judge_mean"] == pytest.approx(j["panel"]["judges"]["sim-claude"]["mean"])


def test_single_judge_warns_on_its_own_family_and_the_teacher(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    gem = make_run(tmp_path, tiny, "gemini-2.5-pro", {"f0": reference_for(0)})
    j = score_run(gem, judge=compose_judge("sim_v2", []), judge_cache=cache)["judge"]
    assert [p["candidate"] for p in j["self_preference"]] == ["model gemini-2.5-pro"]
    assert any(w.startswith("self-preference: judge sim-judge-v2 (gemini-2.5-pro") for w in j["warnings"])
    student = make_run(tmp_path, tiny, "cliptagger", {"f0": reference_for(0)})
    assert score_run(student, judge=compose_judge("sim_v2", []), judge_cache=cache)["judge"]["self_preference"] == []
    cfg = OmegaConf.load(student / "config.yaml")
    cfg.model.teacher = "gemini-2.5-pro"  # ClipTagger distilled from a Gemini teacher: the Gemini judge is warned
    (student / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    j = score_run(student, judge=compose_judge("sim_v2", []), judge_cache=cache)["judge"]
    assert [p["candidate"] for p in j["self_preference"]] == ["teacher gemini-2.5-pro (model.teacher)"]


def test_cli_judges_list_and_errors(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, opts, _ = parse_args(["RUN", "judges=[sim_v2,sim_claude]"])
    assert list(opts["judge"].panel.judges) == ["sim_v2", "sim_claude"]
    assert opts["judge"].label == "panel:sim_v2+sim_claude"
    run = make_run(tmp_path, tiny, "m", {"f0": reference_for(0), "f1": reference_for(1)})
    cache = tmp_path / "cache.sqlite"
    assert score_main([str(run), "judges=[sim_v2,sim_claude]", f"judge.cache={cache}"]) == 0
    out = capsys.readouterr().out
    assert "judge panel:sim_v2+sim_claude" in out and "panel agreement over 2 frames" in out
    assert score_main([str(run), "judges=[sim_v2]", f"judge.cache={cache}"]) == 2  # one judge is not a panel
    assert "name at least two judges" in capsys.readouterr().err
    assert score_main([str(run), "judges=[sim_v2,nosuchjudge]", f"judge.cache={cache}"]) == 2
    assert "member 'nosuchjudge'" in capsys.readouterr().err


def test_a_run_with_a_panel_checks_every_members_key_before_anything_is_sent(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra import compose, initialize_config_dir

    from bench.__main__ import conf_dir
    from bench.app import run as run_bench

    for key in ("GEMINI_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "set")  # the first member has its key: the second one is named
    with initialize_config_dir(version_base="1.3", config_dir=conf_dir()):
        cfg = compose("config", overrides=["model=sim", "judge=panel_frontier", f"run_dir={tmp_path / 'run'}",
                                           "runner.progress=false"])
    console = Console(file=io.StringIO(), width=250)
    assert run_bench(cfg, console, summary=False) == 2
    assert "judge 'gpt-4.1' needs an API key: set OPENAI_API_KEY" in console.file.getvalue()
    assert not (tmp_path / "run").exists()  # nothing was run


def test_pairwise_judging_warns_on_self_preference(tiny: Path, tmp_path: Path) -> None:
    from bench.score.pairwise import run_pairwise

    outs = {f"f{i}": reference_for(i) for i in range(3)}
    gem = make_run(tmp_path, tiny, "gemini-2.5-pro", outs)
    other = make_run(tmp_path, tiny, "cliptagger", {**outs, "f1": {**reference_for(1), "logos": ["Pepsi"]}})
    s = run_pairwise([gem, other], judge=compose_judge("sim_v2", []), judge_cache=tmp_path / "cache.sqlite",
                     out=tmp_path / "pw", replicates=20)
    assert [(p["run"], p["judge"], p["vendor"]) for p in s["self_preference"]] == [
        ("gemini-2.5-pro", "sim-judge-v2", "google")]
    assert any(w.startswith("gemini-2.5-pro: self-preference: judge sim-judge-v2") for w in s["warnings"])
