"""End to end on the simulator: real runs of `sim` and `sim_noisy` on the sample frames, a judged re-scoring
against the simulator's Gemini endpoint (then the same command again sending nothing), and significance that
behaves (sim vs sim_noisy differ; sim vs a re-run of itself does not)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from rich.console import Console

from bench.__main__ import conf_dir
from bench.app import run as run_bench
from bench.score import score_run
from bench.score.__main__ import compose_judge
from bench.score.__main__ import main as score_main
from bench.score.compare import compare_runs

FAST = ["runner.progress=false", "runner.concurrency=16", "model.sim.ttft_s=0.01", "model.sim.per_token_s=0.0002",
        "model.sim.per_token_jitter_s=0.0001", "runner.retry.base_delay_s=0.02", "model.sim.retry_after_s=0.02"]


def bench_run(root: Path, name: str, model: str) -> Path:
    run_dir = root / name
    with initialize_config_dir(version_base="1.3", config_dir=conf_dir()):
        cfg = compose("config", overrides=[f"model={model}", f"run_dir={run_dir}", *FAST])
    assert run_bench(cfg, Console(file=io.StringIO()), summary=False) == 0
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("e2e")
    return {"root": root, "sim": bench_run(root, "sim", "sim"), "rerun": bench_run(root, "sim-rerun", "sim"),
            "noisy": bench_run(root, "noisy", "sim_noisy"), "cache": root / "judge.sqlite"}


def test_judged_run_then_zero_requests(runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    cache = runs["cache"]
    args = [str(runs["sim"]), "judge=sim", f"judge.cache={cache}"]
    assert score_main(args) == 0
    first = json.loads((runs["sim"] / "metrics.json").read_text())["scores"]["judge"]
    assert first["requests_sent"] == 27 and first["cache_hits"] == 0 and first["failures"] == 0
    assert first["tokens"]["input"] > 0 and first["cost_usd"] > 0 and first["simulated"] is True
    assert first["sent"] == {"requests": 27, "tokens": first["tokens"], "cost_usd": first["cost_usd"]}
    log = runs["sim"] / "judge_server.log"
    log_size = log.stat().st_size
    capsys.readouterr()
    assert score_main(args) == 0  # the same command again
    second = json.loads((runs["sim"] / "metrics.json").read_text())["scores"]["judge"]
    assert second["requests_sent"] == 0 and second["cache_hits"] == 27
    # nothing sent this time, but the verdicts used still cost what they cost when they were obtained
    assert second["sent"] == {"requests": 0, "tokens": {"input": 0, "output": 0}, "cost_usd": 0}
    assert second["tokens"] == first["tokens"] and second["cost_usd"] == pytest.approx(first["cost_usd"])
    assert log.stat().st_size == log_size  # no judge server was even started
    assert (second["mean"], second["ci95"]) == (first["mean"], first["ci95"])
    out = " ".join(capsys.readouterr().out.split())
    assert "sent this time: 0 requests (cache hits 27), 0 in / 0 out tokens, $0.0000" in out
    assert f"judge cost of these verdicts: {first['tokens']['input']} in / {first['tokens']['output']} out" in out
    rows = [json.loads(x) for x in (runs["sim"] / "scores.jsonl").read_text().splitlines()]
    assert all(r["judge"]["cached"] and 1 <= r["judge"]["score"] <= 5 for r in rows)


def test_sim_beats_sim_noisy_significantly(runs: dict[str, Any]) -> None:
    judge = compose_judge("sim", [])
    s_sim = score_run(runs["sim"], judge=judge, judge_cache=runs["cache"])
    s_noisy = score_run(runs["noisy"], judge=judge, judge_cache=runs["cache"])
    assert s_sim["overlap"]["all"]["rougeL"]["mean"] > s_noisy["overlap"]["all"]["rougeL"]["mean"] + 10
    assert s_sim["judge"]["mean"] > s_noisy["judge"]["mean"] + 1
    assert s_noisy["valid"] < s_noisy["frames"]  # sim_noisy produces invalid outputs, scored 0 in "all"
    c = compare_runs(runs["sim"], runs["noisy"], permutations=4000)
    for metric in ("rouge1", "rouge2", "rougeL", "bleu", "judge"):
        t = c["metrics"][metric]
        assert t["significant"] and t["p_value"] < 0.01 and t["ci95"][0] > 0, metric


def test_sim_vs_its_rerun_is_not_significant(runs: dict[str, Any]) -> None:
    judge = compose_judge("sim", [])
    score_run(runs["sim"], judge=judge, judge_cache=runs["cache"])
    rerun = score_run(runs["rerun"], judge=judge, judge_cache=runs["cache"])
    assert rerun["judge"]["requests_sent"] == 0  # identical captions: judged from the cache
    c = compare_runs(runs["sim"], runs["rerun"], permutations=4000)
    for metric, t in c["metrics"].items():
        assert not t["significant"] and t["p_value"] > 0.05, metric


def test_teacher_run_reference_keeps_earlier_verdicts(runs: dict[str, Any]) -> None:
    s = score_run(runs["noisy"], reference=str(runs["sim"]))
    ref = s["reference"]
    assert ref["kind"] == "run" and ref["frames_with_reference"] == 27 and ref["missing_candidate"] == 0
    assert s["judge"] is not None  # verdicts of the earlier judged scoring are kept when judge= is not given
    assert s["judge"]["sent"]["requests"] == 0 and s["judge"]["cost_usd"] > 0  # ... and what they cost
