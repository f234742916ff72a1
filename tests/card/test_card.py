"""The model card reproduced by one command (bench.card): the sim experiment end to end on a small slice (the CI
slice), a model with no key skipped with its reason, the real experiment on a machine with no key or GPU, stand-in
configs, and the report's card section (published beside measured, SIMULATED, escaped)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from bench.__main__ import conf_dir
from bench.card.published import FIGURES, published
from bench.card.run import Member, member_config, run_card
from bench.config import register
from bench.cost import cost_per_million

register()
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "INFERENCE_API_KEY")


def card_cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="config", overrides=[
            "dataset=sample", f"runs_dir={tmp_path / 'runs'}", "runner.progress=false",
            f"experiment.dir={tmp_path / 'card'}", *overrides])


@pytest.fixture
def no_keys(monkeypatch):
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)


def _main_sections(html: str) -> list[str]:
    main = html.split("<main>", 1)[1]
    return re.findall(r'<h2 id="([a-z]+)"', main)


# Five runs, each with its simulator and its judge's simulator, and a pairwise judge: 11 processes started, ~15 s
# of CPU; the default 120 s timeout is too short when the machine's two cores are shared by a dozen jobs.
@pytest.mark.timeout(300)
def test_sim_card_slice_end_to_end(tmp_path, no_keys, capsys):
    """CI slice: experiment=cliptagger_card_sim on 3 frames; gpt-4.1 asked for for real with no key is skipped
    with the reason, everything else is measured, scored against the teacher's run, judged, ranked, reported."""
    cfg = card_cfg(tmp_path, "experiment=cliptagger_card_sim", "dataset.limit=3", "experiment.real=[gpt-4.1]")
    assert run_card(cfg) == 0
    folder = tmp_path / "card"
    card = json.loads((folder / "card.json").read_text())
    members = {m["name"]: m for m in card["members"]}
    assert [m["name"] for m in card["members"]] == ["gemini-2.5-pro", "cliptagger", "cliptagger_bf16", "gpt-4.1",
                                                    "claude-sonnet-4"]
    assert members["gemini-2.5-pro"]["role"] == "teacher"
    # the missing key skips that model only, with the reason naming the variable
    assert members["gpt-4.1"]["status"] == "skipped" and "OPENAI_API_KEY" in members["gpt-4.1"]["reason"]
    assert members["gpt-4.1"]["run_dir"] is None
    for name in ("gemini-2.5-pro", "cliptagger", "cliptagger_bf16", "claude-sonnet-4"):
        m = members[name]
        assert m["status"] == "measured" and m["simulated"] is True, m
        assert m["stands_for"] == name and m["label"] == f"{name} (sim)"  # the real model's name recorded
    assert members["claude-sonnet-4"]["model_config"] == "sim_anthropic"
    assert members["gemini-2.5-pro"]["model_config"] == "sim_gemini"
    teacher_dir = members["gemini-2.5-pro"]["run_dir"]
    metrics = json.loads((Path(members["cliptagger"]["run_dir"]) / "metrics.json").read_text())
    assert metrics["simulated"] is True
    assert metrics["scores"]["reference"]["kind"] == "run"  # ROUGE/BLEU against the teacher's run
    assert Path(metrics["scores"]["reference"]["source"]).resolve() == Path(teacher_dir).resolve()
    assert metrics["scores"]["judge"]["simulated"] is True

    rows = {r["name"]: r for r in card["rows"]}
    ct = rows["cliptagger"]["cells"]
    for metric, pub in (("judge", 3.53), ("rouge1", 67.4), ("rouge2", 40.4), ("rougeL", 52.0), ("bleu", 26.7),
                        ("e2el_s", 6.5), ("cost_per_million_usd", 335.0)):
        assert ct[metric]["published"]["value"] == pub
        assert ct[metric]["published"]["source"] and ct[metric]["published"]["date"] == "2025-08-14"
        assert ct[metric]["measured"] is not None, metric
    assert ct["rougeL"]["measured"]["value"] == pytest.approx(metrics["scores"]["overlap"]["all"]["rougeL"]["mean"])
    assert ct["e2el_s"]["measured"]["value"] == pytest.approx(metrics["latency"]["e2el_s"]["mean"])
    assert rows["gemini-2.5-pro"]["cells"]["e2el_s"]["published"]["value"] == 13.5  # the teacher's figure
    assert rows["gemini-2.5-pro"]["cells"]["rougeL"]["measured"] is None  # the teacher is the reference
    assert rows["gpt-4.1"]["cells"]["judge"]["published"]["value"] == 3.64
    assert rows["gpt-4.1"]["cells"]["judge"]["measured"] is None
    # the stand-in of an API model is priced like it: Claude Sonnet 4's list price, the simulator's tokens
    claude = json.loads((Path(members["claude-sonnet-4"]["run_dir"]) / "metrics.json").read_text())["cost"]
    assert (claude["price"]["input_per_million"], claude["price"]["output_per_million"]) == (3.0, 15.0)
    assert card["pairwise"]["status"] == "measured" and card["pairwise"]["judge_simulated"] is True
    assert {s["model"] for s in card["pairwise"]["strengths"]} == {"cliptagger (sim)", "cliptagger_bf16 (sim)",
                                                                   "claude-sonnet-4 (sim)"}

    html = (folder / "report.html").read_text()
    assert _main_sections(html)[0] == "card"  # the report's first section
    section = html.split('<h2 id="card">', 1)[1].split('<h2 id="leaderboard">', 1)[0]
    assert "SIMULATED" in section and 'data-card-simulated="1"' in section
    row = section.split('data-model="cliptagger"', 1)[1].split("</tr>", 1)[0]
    assert "data-measured=" in row and 'data-published="3.53"' in row and 'data-published="67.4"' in row
    assert 'data-published="335.0"' in row and "card: $335" in row
    skipped = section.split('data-model="gpt-4.1"', 1)[1].split("</tr>", 1)[0]
    assert 'data-status="skipped"' in skipped and "OPENAI_API_KEY" in skipped and 'data-published="5100.0"' in skipped
    for key in ("card_judge", "card_overlap", "card_latency", "card_cost"):
        assert f'data-card-fig="{key}"' in section
    for topic in ("teacher", "GPT-4.1 price", "evaluation frames", "SIMULATED"):
        assert f'data-topic="{topic}"' in section

    out = capsys.readouterr().out  # the card table closes the console output
    assert "ClipTagger-12B card, reproduced" in out and "(card 3.53)" in out and "(card 67.4)" in out
    assert "skipped" in out and "OPENAI_API_KEY" in out


def test_real_card_without_keys_or_gpu_skips_each_model_with_its_reason(tmp_path, no_keys):
    """experiment=cliptagger_card here (no key, no GPU): every model is skipped with its own reason, the judge too;
    nothing is recorded as a model's answer; the card and a card-only report still say why, exit 1."""
    cfg = card_cfg(tmp_path, "experiment=cliptagger_card", "dataset.limit=2")
    assert run_card(cfg) == 1
    card = json.loads((tmp_path / "card" / "card.json").read_text())
    reasons = {m["name"]: (m["status"], m["reason"]) for m in card["members"]}
    assert reasons["gemini-2.5-pro"][0] == "skipped" and "GEMINI_API_KEY" in reasons["gemini-2.5-pro"][1]
    assert "OPENAI_API_KEY" in reasons["gpt-4.1"][1] and "ANTHROPIC_API_KEY" in reasons["claude-sonnet-4"][1]
    assert "model.vllm.model" in reasons["cliptagger_bf16"][1]  # the BF16 weights are not named
    assert reasons["cliptagger"][0] == "skipped" and reasons["cliptagger"][1]  # no vLLM / GPU on this machine
    assert card["judge"]["skipped"] and "GEMINI_API_KEY" in card["judge"]["skipped"]
    assert card["simulated"] is False
    assert not list((tmp_path / "card").glob("runs/*/generations.jsonl"))
    html = (tmp_path / "card" / "report.html").read_text()
    assert "GEMINI_API_KEY" in html and "ANTHROPIC_API_KEY" in html and 'data-published="3.53"' in html
    assert "SIMULATED" not in html.split('<h2 id="card">', 1)[1]


def test_stand_in_configs(tmp_path):
    cfg = card_cfg(tmp_path, "experiment=cliptagger_card_sim")
    gpt = Member("gpt-4.1", "model")
    run = member_config(cfg, gpt, tmp_path, reference=str(tmp_path / "teacher"))
    assert run.model.simulated and run.model.serve == "sim" and run.model.label == "gpt-4.1 (sim)"
    assert run.model.price.catalog_model == "gpt-4.1"  # priced like GPT-4.1
    assert run.model.sim.caption_quality == 0.9 and run.model.sim.seed == 13  # experiment.stand_in_sim
    assert run.reference == str(tmp_path / "teacher") and run.experiment is None
    assert run.run_dir == str(tmp_path / "runs" / "gpt-4.1")
    clip = Member("cliptagger", "model")
    run = member_config(cfg, clip, tmp_path, reference=None)
    assert run.model.price.input_per_million == 0.30 and clip.notes  # a GPU model's stand-in: hosted price, said
    real = Member("gpt-4.1", "model")
    cfg_real = card_cfg(tmp_path, "experiment=cliptagger_card_sim", "experiment.real=[gpt-4.1]",
                        "experiment.model_overrides={gpt-4.1: ['model.sampling.temperature=0.3']}")
    run = member_config(cfg_real, real, tmp_path, reference=None)
    assert not run.model.simulated and run.model.api_key_env == "OPENAI_API_KEY" and real.model_config == "gpt-4.1"
    assert run.model.sampling.temperature == 0.3  # experiment.model_overrides reach the model's config


def test_published_figures_have_source_and_date_and_the_gpt41_price_note():
    assert FIGURES and all(f.source and re.fullmatch(r"\d{4}-\d{2}-\d{2}", f.date) for f in FIGURES)
    assert published("cost_per_million_usd", "cliptagger").value == cost_per_million(700, 250, 0.30, 0.50)
    assert published("cost_per_million_usd", "gpt-4.1").value == cost_per_million(700, 250, 3, 12)  # fine-tuned
    assert published("e2el_s", "whatever", teacher=True).value == 13.5
    assert published("judge", "cliptagger_api").value == 3.53  # hosted ClipTagger is the card's model too
    assert published("judge", "cliptagger_bf16") is None  # the card gives no BF16 figure
    from bench.card.table import method_notes

    notes = {n["topic"]: n["text"] for n in method_notes({
        "teacher": "gemini-2.5-pro", "judge": {"label": "gemini-2.5-pro", "rubric": "r@1"}, "simulated": False,
        "dataset": "frames1k", "frames": 1000, "runner": {"mode": "closed", "concurrency": 8}})}
    assert f"${cost_per_million(700, 250, 2, 8):,.0f}" in notes["GPT-4.1 price"]  # list price: $3,400
    assert "self-preference" in notes["judge"] and "SIMULATED" not in notes


def test_card_section_escapes_what_it_shows(tmp_path):
    """A skip reason can quote a server's answer: it reaches the page as text."""
    from bench.card.table import card_rows, method_notes
    from bench.report.card import render_card_only

    card = {"format": "capbench-card/1", "experiment": "x", "folder": str(tmp_path), "dataset": "sample", "frames": 1,
            "simulated": False, "teacher": "gemini-2.5-pro", "judge": {"label": None, "skipped": "none"},
            "members": [{"name": "gemini-2.5-pro", "role": "teacher", "model_config": "gemini-2.5-pro",
                         "label": "<b>t</b>", "simulated": False, "status": "skipped",
                         "reason": "<script>alert(1)</script>", "run_dir": None, "notes": []}],
            "pairwise": {"status": "skipped", "reason": "<img src=x>"}, "runner": {}, "config": {}}
    card["rows"] = card_rows(card)
    card["method_notes"] = method_notes(card)
    html = render_card_only(card)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x>" not in html and "<b>t</b>" not in html


@pytest.mark.timeout(240)
def test_cli_dispatches_the_experiment_and_prints_the_card(tmp_path, no_keys):
    """`python -m bench experiment=...` runs the card (not a single run) and ends with the card's table."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "experiment=cliptagger_card_sim", "dataset=sample", "dataset.limit=1",
         "experiment.models=[]", "experiment.pairwise=false", f"runs_dir={tmp_path / 'runs'}",
         f"experiment.dir={tmp_path / 'card'}", "runner.progress=false"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=230)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ClipTagger-12B card, reproduced" in proc.stdout and "(card ~13.50)" in proc.stdout
    card = json.loads((tmp_path / "card" / "card.json").read_text())
    assert [m["status"] for m in card["members"]] == ["measured"]
    assert card["pairwise"] == {"status": "skipped", "reason": "experiment.pairwise=false"}
    assert (tmp_path / "card" / "report.html").is_file()


def test_teacher_is_configurable_and_runs_once(tmp_path, no_keys):
    """experiment.teacher=gpt-4.1: the teacher runs first and once, even though gpt-4.1 is also a model."""
    cfg = card_cfg(tmp_path, "experiment=cliptagger_card", "dataset.limit=1", "experiment.teacher=gpt-4.1")
    assert run_card(cfg) == 1  # nothing can run here (no key, no GPU): each skipped with its reason
    card = json.loads((tmp_path / "card" / "card.json").read_text())
    assert [(m["name"], m["role"]) for m in card["members"]] == [
        ("gpt-4.1", "teacher"), ("cliptagger", "model"), ("cliptagger_bf16", "model"), ("claude-sonnet-4", "model")]
    assert "runs once, as the teacher" in card["members"][0]["notes"][0]
    assert card["teacher"] == "gpt-4.1"
    notes = {n["topic"]: n["text"] for n in card["method_notes"]}
    assert "uses gpt-4.1" in notes["teacher"] and "self-preference" not in notes["judge"]


def test_the_experiment_key_leaves_run_identity_alone():
    """Runs made before conf/ had an experiment key keep their fingerprint (resume=auto still finds them)."""
    from bench.store import fingerprint

    plain = {"model": {"name": "m"}, "dataset": {"name": "d"}}
    assert fingerprint({**plain, "experiment": None}) == fingerprint(plain)
    assert fingerprint({**plain, "experiment": {"card": True}}) == fingerprint(plain)
