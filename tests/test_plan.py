"""The cost planner (python -m bench.plan): the seeds' figures from the code, and each formula (issue 13)."""

import json
import os
import sys

import pytest
from hydra import compose, initialize_config_dir

from bench.__main__ import conf_dir
from bench.app import run
from bench.plan.__main__ import main
from bench.plan.costs import (
    BATCH_DISCOUNTS,
    HOURS_PER_MONTH,
    ModelInputs,
    breakeven_frames_per_month,
    implied_output_tokens,
    implied_requests_per_s,
    plan,
)
from bench.plan.figure import cost_figure
from bench.plan.inputs import PlanInputError, from_catalog, from_run
from bench.plan.seeds import seed_figures
from bench.prices import catalog_price

from .test_e2e_sim import make_dataset, overrides

STANDIN = os.path.join(os.path.dirname(__file__), "standins", "fake_vllm.py")


def _figure(claim_start):
    return next(f for f in seed_figures() if f.claim.startswith(claim_start))


# ----------------------------------------------------------------- the seeds' figures


def test_card_figures_per_million_generations():
    """Seed 001: "$335 per million generations versus $5,100 for GPT-4.1 or $5,850 for Claude 4 Sonnet"."""
    assert _figure("$335").computed_usd == pytest.approx(335.0, abs=1e-9)
    gpt = _figure("$5,100")
    assert gpt.computed_usd == pytest.approx(5100.0, abs=1e-9)
    # Not the card's own numbers: it implies the fine-tuned GPT-4.1 price, and says what list price gives.
    assert "$3 / $12" in gpt.implies and "fine-tuned" in gpt.implies and "$3,400" in gpt.implies
    assert _figure("$5,850").computed_usd == pytest.approx(5850.0, abs=1e-9)
    assert all(f.matches for f in seed_figures())


def test_over_186000_annually_for_100000_frames_a_day_on_gpt41():
    annual = _figure("over $186,000")
    assert annual.computed_usd == pytest.approx(100_000 * 365 * 5100 / 1e6)  # $186,150
    assert 186_000 < annual.computed_usd < 187_000
    assert "$124,100" in annual.implies  # at the GPT-4.1 list price it would not be "over $186,000"


def test_the_posts_11m_to_230k_for_one_billion_requests():
    big, small = _figure("$11M"), _figure("$230K")
    assert big.computed_usd == pytest.approx(11_000_000.0) and small.computed_usd == pytest.approx(230_000.0)
    # What each implies, since neither follows from the card's 700 + 250 tokens:
    assert implied_output_tokens(11_000.0, 700, 1.25, 10.0) == pytest.approx(1012.5)
    assert "1,012.5 output tokens" in big.implies and "none reaches $11M" in big.implies
    assert implied_requests_per_s(230.0, 2.49) == pytest.approx(3.007, abs=1e-3)
    assert "350 input tokens" in small.implies and "$335K" in small.implies and "3.01 requests/s" in small.implies


def test_seed_prices_agree_with_the_price_catalog():
    """The list prices the seed figures name are the ones genai-prices ships (no silent drift)."""
    assert catalog_price("google", "gemini-2.5-pro")[:2] == pytest.approx((1.25, 10.0))
    assert catalog_price("openai", "gpt-4.1")[:2] == pytest.approx((2.0, 8.0))
    assert catalog_price("anthropic", "claude-sonnet-4-0")[:2] == pytest.approx((3.0, 15.0))


def test_seed_figures_command(capsys):
    assert main(["--seed-figures"]) == 0
    out = capsys.readouterr().out
    for figure in ("$335.00", "$5,100.00", "$5,850.00", "$186,150.00", "$11,000,000.00", "$230,000.00"):
        assert figure in out


# ----------------------------------------------------------------- formulas

API = ModelInputs(model="gpt-4.1", hosting="api", input_tokens=700, output_tokens=250, price_in=2.0, price_out=8.0,
                  provider="openai")
GPU = ModelInputs(model="cliptagger", hosting="self-hosted", gpu_hourly_usd=2.0, requests_per_s_per_gpu=2.0,
                  startup_s=360.0)


def test_on_demand_and_batch_prices():
    p = plan(API, 2_000_000)
    assert p.on_demand_usd == pytest.approx(6800.0)  # 2 x $3,400
    assert p.batch_usd == pytest.approx(3400.0)  # half, with its source and date
    d = BATCH_DISCOUNTS["openai"]
    assert d.fraction == 0.5 and d.source and d.date
    hosted = ModelInputs(model="cliptagger_api", hosting="api", input_tokens=700, output_tokens=250,
                         price_in=0.3, price_out=0.5)  # an OpenAI-compatible host: no batch discount known
    assert plan(hosted, 1e6).batch_usd is None and plan(hosted, 1e6).on_demand_usd == pytest.approx(335.0)


def test_self_hosted_gpu_hours_wall_time_and_start_up():
    p = plan(GPU, 72_000, gpus=4)  # 72,000 frames at 2/s per GPU = 10 GPU-hours of serving
    assert p.gpu_hours == pytest.approx(10.0 + 4 * 0.1)  # plus 6 min of start-up on each of 4 GPUs
    assert p.self_hosted_usd == pytest.approx(10.4 * 2.0)
    assert p.wall_s_gpus == pytest.approx(72_000 / 8 + 360)
    assert p.on_demand_usd is None and p.missing == ()
    unmeasured = plan(ModelInputs(model="x", hosting="self-hosted", gpu_hourly_usd=2.0), 1000)
    assert unmeasured.self_hosted_usd is None and "throughput" in unmeasured.missing[0]


def test_wall_time_at_a_rate_limit_takes_the_binding_one():
    assert plan(API, 60_000, rpm=1000).wall_s_rate_limit == pytest.approx(3600.0)
    # 950 tokens a frame at 950,000 tokens/min = 1,000 frames/min too; at 475,000 the token limit binds.
    assert plan(API, 60_000, rpm=1000, tpm=475_000).wall_s_rate_limit == pytest.approx(7200.0)


def test_break_even_against_a_dedicated_gpu():
    per_frame = 3400 / 1e6
    assert breakeven_frames_per_month(per_frame, GPU) == pytest.approx(2.0 * HOURS_PER_MONTH / per_frame)
    assert plan(API, 1e6, dedicated=GPU).breakeven_frames_per_month == pytest.approx(429_411.76, rel=1e-6)
    slow = ModelInputs(model="slow", hosting="self-hosted", gpu_hourly_usd=2.0, requests_per_s_per_gpu=0.01)
    assert breakeven_frames_per_month(per_frame, slow) is None  # one GPU cannot serve that many a month


def test_chart_has_a_line_per_way_of_paying_and_escapes_names():
    evil = ModelInputs(model="<img src=x onerror=alert(1)>", hosting="simulator", simulated=True,
                       input_tokens=700, output_tokens=250, price_in=0.3, price_out=0.5,
                       gpu_hourly_usd=2.0, requests_per_s_per_gpu=2.0)
    fig = cost_figure([API, GPU, evil])
    names = [t.name for t in fig.data]
    assert "gpt-4.1: on demand" in names and "gpt-4.1: Batch API" in names and "cliptagger: self-hosted" in names
    assert not any("<img" in n for n in names) and any("&lt;img" in n and "SIMULATED" in n for n in names)
    assert "SIMULATED" in fig.layout.title.text
    on_demand = next(t for t in fig.data if t.name == "gpt-4.1: on demand")
    assert list(on_demand.y)[list(on_demand.x).index(1e6)] == pytest.approx(3400.0)


# ----------------------------------------------------------------- inputs


def test_catalog_prices_at_assumed_tokens():
    gpt, host = from_catalog(names=["gpt-4.1", "cliptagger"], rps_per_gpu=3.0)
    assert gpt.model == "gpt-4.1" and plan(gpt, 1e6).on_demand_usd == pytest.approx(3400.0)
    assert gpt.provider == "openai" and "seed 001" in gpt.tokens_source
    assert host.hosting == "self-hosted" and host.requests_per_s_per_gpu == 3.0 and host.gpu_hourly_usd == 2.49
    with pytest.raises(PlanInputError, match="no-such-model"):
        from_catalog(names=["no-such-model"])


def test_from_a_measured_self_hosted_run_with_two_replicas(tmp_path, capsys):
    ds = make_dataset(tmp_path / "ds", 8)
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "model=cliptagger", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
            "runner.progress=false", f"model.vllm.command=[{sys.executable},{STANDIN}]",
            "model.vllm.require_gpu=false", "model.simulated=true", "model.vllm.replicas=2"])
    assert run(cfg, summary=False) == 0
    run_dir = sorted((tmp_path / "runs").glob("t/*/*"))[-1]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    m = from_run(run_dir)
    assert m.hosting == "self-hosted" and m.simulated
    assert m.requests_per_s_per_gpu == pytest.approx(metrics["requests_per_s"] / 2)  # two replicas, two GPUs
    assert m.startup_s > 0 and m.gpu_hourly_usd == 2.49
    assert m.input_tokens == metrics["mean_input_tokens"] and "measured" in m.tokens_source
    capsys.readouterr()
    assert main([str(tmp_path / "runs"), "--frames", "1000000", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert row["self_hosted_usd"] == pytest.approx(plan(m, 1e6).self_hosted_usd)
    assert main([str(tmp_path / "runs"), "--frames", "1e6", "--chart", str(tmp_path / "plan.html")]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out and (tmp_path / "plan.html").stat().st_size > 1000


def test_from_a_simulated_api_run(tmp_path):
    ds = make_dataset(tmp_path / "ds", 5)
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["model=sim", *overrides(tmp_path, ds)])
    assert run(cfg, summary=False) == 0
    m = from_run(sorted((tmp_path / "runs").glob("t/*/*"))[-1])
    assert m.simulated and m.price_in == 0.30 and m.input_tokens and m.output_tokens
    assert m.requests_per_s_per_gpu is None  # a simulator's throughput is no GPU's
    assert plan(m, 1e6).on_demand_usd == pytest.approx(m.input_tokens * 0.30 + m.output_tokens * 0.50)


def test_a_folder_without_runs_is_refused_by_name(tmp_path, capsys):
    assert main([str(tmp_path), "--frames", "10"]) == 2
    assert "no run folder there" in capsys.readouterr().err
