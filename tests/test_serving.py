"""The managed vLLM lifecycle, with a stand-in for `vllm serve` (tests/standins/fake_vllm.py)."""

import json
import os
import sys
import time

from hydra import compose, initialize_config_dir

from bench.__main__ import conf_dir
from bench.app import run
from bench.config import register
from bench.serving import vllm_command
from bench.store import load_records

from .test_e2e_sim import make_dataset

register()
STANDIN = os.path.join(os.path.dirname(__file__), "standins", "fake_vllm.py")


def _cfg(tmp_path, *extra):
    ds = make_dataset(tmp_path / "ds", 4)
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="config", overrides=[
            "model=cliptagger", f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}",
            "runner.progress=false", f"model.vllm.command=[{sys.executable},{STANDIN}]",
            "model.vllm.require_gpu=false", "model.simulated=true", *extra])


def _run_dir(tmp_path):
    return sorted((tmp_path / "runs").glob("t/*/*"))[-1]


def _gone(pid: int) -> bool:
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_command_line_for_fp8_and_bf16():
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        fp8 = compose(config_name="config", overrides=["model=cliptagger"]).model
        bf16 = compose(config_name="config", overrides=["model=cliptagger_bf16", "model.vllm.model=/w/bf16"]).model
    cmd = vllm_command(fp8, 8123)
    assert cmd[:3] == ["vllm", "serve", "inference-net/ClipTagger-12b"]
    flags = _flags(cmd)
    assert flags["--port"] == "8123" and flags["--served-model-name"] == "inference-net/cliptagger-12b"
    assert flags["--kv-cache-dtype"] == "fp8" and flags["--limit-mm-per-prompt"] == '{"image": 1}'
    assert "--quantization" not in flags  # the checkpoint is pre-quantized FP8
    bcmd = vllm_command(bf16, 1)
    assert _flags(bcmd)["--dtype"] == "bfloat16" and bcmd[2] == "/w/bf16"
    assert "--stream-interval" not in flags  # vLLM's default, and older servers lack the flag
    fp8.vllm.stream_interval = 8
    assert _flags(vllm_command(fp8, 8123))["--stream-interval"] == "8"


def _flags(cmd):
    """--flag value pairs after `vllm serve MODEL`."""
    return dict(zip(cmd[3::2], cmd[4::2], strict=True))


def test_managed_server_runs_and_is_stopped(tmp_path, monkeypatch):
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("FAKE_VLLM_PIDFILE", str(pidfile))
    assert run(_cfg(tmp_path), summary=False) == 0
    run_dir = _run_dir(tmp_path)
    assert len(load_records(run_dir)) == 4
    info = json.loads((run_dir / "server.json").read_text())
    assert info["vllm_version"] == "0.0.0+capbench-standin" and "stopped" in info
    assert "--kv-cache-dtype fp8" in (run_dir / "server.log").read_text()
    assert _gone(int(pidfile.read_text())), "the server outlived the run"


def test_server_dying_at_start_is_a_clear_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_VLLM_MODE", "die")
    assert run(_cfg(tmp_path), summary=False) == 1
    err = capsys.readouterr().err
    assert "exited with code 3 during start-up" in err and "No CUDA GPUs" in err
    assert json.loads((_run_dir(tmp_path) / "run.json").read_text())["status"] == "failed"


def test_server_never_healthy_times_out_and_is_killed(tmp_path, monkeypatch, capsys):
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("FAKE_VLLM_MODE", "never_healthy")
    monkeypatch.setenv("FAKE_VLLM_PIDFILE", str(pidfile))
    assert run(_cfg(tmp_path, "model.vllm.startup_timeout_s=2"), summary=False) == 1
    assert "did not become healthy" in capsys.readouterr().err
    assert _gone(int(pidfile.read_text()))


def test_no_vllm_here_points_to_the_alternatives(tmp_path, capsys):
    code = run(_cfg(tmp_path, "model.vllm.command=[vllm-not-installed-here,serve]"), summary=False)
    assert code == 2
    err = capsys.readouterr().err
    assert "model=cliptagger_api" in err and "model=openai_compatible" in err
    assert not (tmp_path / "runs").exists()  # refused before a run folder was made
