"""Done shows (issue 10): a current reasoning model's config pointed at the simulator completes with its
reasoning tokens counted and priced; the old request shape fails as the real API fails."""

import json

import pytest

from bench.app import EXIT_FATAL, EXIT_OK, EXIT_USAGE
from bench.config import SimConfig
from bench.sim.server import SimServer
from bench.store import load_records

from .test_e2e_sim import make_dataset, overrides, run_bench

# reasoning_tokens 400 at the simulator; each config's effort: gpt-5.6-sol low (x0.5), Opus 4.8 low (x0.5),
# Sonnet 4.6 a 1024 budget (400 < 1024), Gemini 3.8 Flash level low (x0.5).
CASES = [("gpt-5.6-sol", "OPENAI_API_KEY", "/v1", 200), ("claude-sonnet-4-6", "ANTHROPIC_API_KEY", "", 400),
         ("claude-opus-4-8", "ANTHROPIC_API_KEY", "", 200), ("gemini-3.8-flash", "GEMINI_API_KEY", "", 200)]


@pytest.fixture(scope="module")
def server():
    with SimServer(SimConfig(ttft_s=0.01, ttft_jitter_s=0, per_token_s=0.0002, per_token_jitter_s=0,
                             reasoning_tokens=400, thinking_s=0.05)).in_thread() as sim:
        yield sim


@pytest.mark.parametrize("model, key, suffix, spent", CASES)
def test_real_config_at_the_simulator_counts_and_prices_reasoning(tmp_path, monkeypatch, server, model, key, suffix,
                                                                   spent):
    monkeypatch.setenv(key, "sk-test-not-a-real-key")
    ds = make_dataset(tmp_path / "ds", 3)
    code, run_dir = run_bench(*overrides(tmp_path, ds, f"model={model}", f"model.base_url={server.base_url}{suffix}"))
    assert code == EXIT_OK
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["simulated"] is True and m["completed"] == 3  # the simulator's header labels it, whatever the config
    assert m["mean_reasoning_tokens"] == spent and m["reasoning"]["share_of_output"] > 0.5
    price_out = m["cost"]["price"]["output_per_million"]
    assert m["reasoning"]["cost_per_million_usd"] == pytest.approx(spent * price_out)
    assert m["cost_per_million_usd"] == pytest.approx(m["mean_input_tokens"] * m["cost"]["price"]["input_per_million"]
                                                      + m["mean_output_tokens"] * price_out)
    for r in load_records(run_dir / "generations.jsonl"):
        u = r["usage"]
        assert u["reasoning_tokens"] == spent and u["visible_output_tokens"] == u["output_tokens"] - spent
        # TPOT over the visible tokens only; thinking time where the stream shows the thinking.
        t = r["timing"]
        assert t["tpot_s"] == pytest.approx((t["e2el_s"] - t["ttft_s"]) / (u["visible_output_tokens"] - 1))
        assert (t["thinking_s"] is None) == (model == "gpt-5.6-sol")  # OpenAI never streams its reasoning
        if t["thinking_s"] is not None:
            assert 0.04 < t["thinking_s"] < t["ttft_s"]
    assert "sk-test-not-a-real-key" not in (run_dir / "config.yaml").read_text()


def test_serve_sim_runs_a_real_config_without_a_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ds = make_dataset(tmp_path / "ds", 2)
    code, run_dir = run_bench(*overrides(tmp_path, ds, "model=gpt-5.4-mini", "model.serve=sim",
                                         "model.sim.reasoning_tokens=64"))
    assert code == EXIT_OK
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["simulated"] and m["mean_reasoning_tokens"] == 32  # effort low
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "reasoning tokens" in out


def test_old_request_shape_is_refused_before_sending(tmp_path, monkeypatch, server, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    ds = make_dataset(tmp_path / "ds", 2)
    from hydra import compose, initialize_config_dir

    from bench.__main__ import conf_dir
    from bench.app import run

    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides(
            tmp_path, ds, "model=gpt-5.6-sol", f"model.base_url={server.base_url}/v1",
            "model.sampling.max_tokens_field=max_tokens", "model.sampling.temperature=0.1"))
    code = run(cfg)
    err = " ".join(capsys.readouterr().err.split())
    assert code == EXIT_USAGE and "refuses max_tokens" in err and "model.sampling.temperature=0.1" in err
    assert not (tmp_path / "runs").exists()  # nothing was sent, no run folder


def test_old_request_shape_sent_anyway_fails_like_the_real_api(tmp_path, monkeypatch, server, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    ds = make_dataset(tmp_path / "ds", 4)
    code, run_dir = run_bench(*overrides(tmp_path, ds, "model=gpt-5.6-sol", f"model.base_url={server.base_url}/v1",
                                         "model.sampling.max_tokens_field=max_tokens", "model.check_request=false"))
    err = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert code == EXIT_FATAL  # systemic: stopped at the first frame, not recorded as the model's answers
    assert "HTTP 400" in err and "Unsupported parameter: 'max_tokens' is not supported with this model" in err
    assert load_records(run_dir / "generations.jsonl") == []
