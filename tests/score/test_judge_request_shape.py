"""A reasoning judge's request follows the rules the models are held to (bench.backends.families): refused before
anything is sent when its model would refuse it, and accepted by the simulator, which enforces each provider's
rules on its own (bench/sim/reasoning.py), when shaped right: OpenAI o-series / GPT-5 (max_completion_tokens,
reasoning_effort, no temperature), Claude with extended thinking (budget >= 1024 and below max_tokens,
temperature unset), Gemini 2.5 Pro (thinking_budget 128..32768, never 0)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from bench.score import NothingScored, ScoreError, score_run
from bench.score.__main__ import compose_judge
from bench.score.judge import JudgeStopped
from tests.score.conftest import make_run, reference_for

O3 = ["judge.model.name=o3", "judge.model.sampling.temperature=null"]


def run_of(tmp_path: Path, tiny: Path) -> Path:
    return make_run(tmp_path, tiny, "m", {f"f{i}": reference_for(i) for i in range(3)})


def test_openai_reasoning_judge_refused_before_sending_then_accepted_when_shaped_right(tiny: Path,
                                                                                       tmp_path: Path) -> None:
    run, cache = run_of(tmp_path, tiny), tmp_path / "cache.sqlite"
    # the sim_gpt judge's temperature 0 is what an o-series model refuses: named, with the fix, nothing sent
    with pytest.raises(ScoreError, match=r"judge\.model\.sampling\.temperature=0\.0: model 'o3' .*takes only the "
                                         r"default: add judge\.model\.sampling\.temperature=null"):
        score_run(run, judge=compose_judge("sim_gpt", ["judge.model.name=o3"]), judge_cache=cache)
    assert not (run / "judge_server.log").exists()  # no judge server was even started
    with pytest.raises(ScoreError, match="refuses max_tokens"):
        score_run(run, judge=compose_judge("sim_gpt", [*O3, "judge.model.sampling.max_tokens_field=max_tokens"]),
                  judge_cache=cache)
    # control: sent anyway, the simulator refuses it as OpenAI does (so the check above is not vacuous)
    with pytest.raises((JudgeStopped, NothingScored), match="temperature"):
        score_run(run, judge=compose_judge("sim_gpt", ["judge.model.name=o3", "judge.model.check_request=false"]),
                  judge_cache=cache)
    # shaped right: max_completion_tokens, no temperature, reasoning_effort passed through (more effort, more
    # reasoning tokens billed as output)
    low = score_run(run, judge=compose_judge("sim_gpt", [*O3, "judge.model.sampling.reasoning_effort=low"]),
                    judge_cache=cache)["judge"]
    high = score_run(run, judge=compose_judge("sim_gpt", [*O3, "judge.model.sampling.reasoning_effort=high"]),
                     judge_cache=cache)["judge"]
    assert low["failures"] == high["failures"] == 0 and low["n"] == high["n"] == 3
    assert high["requests_sent"] == 3  # a different effort is a different question: not served from the cache
    assert high["tokens"]["output"] > low["tokens"]["output"]
    with pytest.raises(ScoreError, match=r"reasoning_effort='max': model 'o3'"):
        score_run(run, judge=compose_judge("sim_gpt", [*O3, "judge.model.sampling.reasoning_effort=max"]),
                  judge_cache=cache)


def test_claude_judge_with_extended_thinking(tiny: Path, tmp_path: Path) -> None:
    run, cache = run_of(tmp_path, tiny), tmp_path / "cache.sqlite"
    thinking = ["judge.model.sampling.thinking_budget=2048", "judge.model.sampling.max_tokens=4096"]
    with pytest.raises(ScoreError, match=r"temperature=0\.0: with thinking Claude takes only 1 or unset"):
        score_run(run, judge=compose_judge("sim_claude", thinking), judge_cache=cache)
    with pytest.raises(ScoreError, match="1024 <= budget_tokens < max_tokens"):
        score_run(run, judge=compose_judge("sim_claude", ["judge.model.sampling.thinking_budget=512",
                                                          "judge.model.sampling.temperature=null"]), judge_cache=cache)
    j = score_run(run, judge=compose_judge("sim_claude", [*thinking, "judge.model.sampling.temperature=null"]),
                  judge_cache=cache)["judge"]
    assert j["failures"] == 0 and j["n"] == 3


def test_gemini_25_pro_judge_thinking_budget(tiny: Path, tmp_path: Path) -> None:
    run, cache = run_of(tmp_path, tiny), tmp_path / "cache.sqlite"
    with pytest.raises(ScoreError, match="thinking_budget=0: model 'gemini-2.5-pro' .*takes 128..32768"):
        score_run(run, judge=compose_judge("sim_v2", ["judge.model.sampling.thinking_budget=0"]), judge_cache=cache)
    with pytest.raises(ScoreError, match="thinking_level"):
        score_run(run, judge=compose_judge("sim_v2", ["judge.model.sampling.thinking_level=low"]), judge_cache=cache)
    j = score_run(run, judge=compose_judge("sim_v2", ["judge.model.sampling.thinking_budget=1024"]),
                  judge_cache=cache)["judge"]
    assert j["failures"] == 0 and j["n"] == 3


def test_the_shipped_judges_pass_their_own_request_check() -> None:
    from bench.score.judge import _typed, request_problems

    for name in ("gemini-2.5-pro", "gemini-2.5-pro_v2", "gpt-4.1", "claude-sonnet-4", "sim", "sim_v2", "sim_gpt",
                 "sim_claude"):
        assert request_problems(_typed(compose_judge(name, []))) == [], name


def test_a_run_refuses_a_misshapen_judge_before_it_starts(tmp_path: Path) -> None:
    from hydra import compose, initialize_config_dir

    from bench.__main__ import conf_dir
    from bench.app import run as run_bench

    with initialize_config_dir(version_base="1.3", config_dir=conf_dir()):
        cfg = compose("config", overrides=["model=sim", "judge=sim_gpt", "judge.model.name=o3",
                                           f"run_dir={tmp_path / 'run'}", "runner.progress=false"])
    console = Console(file=io.StringIO(), width=250)
    assert run_bench(cfg, console, summary=False) == 2
    assert "judge 'sim-gpt': the request would be refused: judge.model.sampling.temperature=0.0" \
        in console.file.getvalue()
    assert not (tmp_path / "run").exists()
