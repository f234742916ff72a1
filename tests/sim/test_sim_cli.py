"""`python -m bench.sim`: config loading, the ready line, clean shutdown on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bench.sim.__main__ import load_config
from bench.sim.testing import openai_messages, sample_frames


def test_load_config_file_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("name: x\nsim:\n  seed: 5\n  malformed_rate: 0.1\n  model_names: [a, b]\n")
    cfg = load_config(str(f), ["ttft_s=0.5", "require_api_key=k"])
    assert (cfg.seed, cfg.malformed_rate, cfg.ttft_s, cfg.require_api_key, cfg.model_names) == (
        5,
        0.1,
        0.5,
        "k",
        ["a", "b"],
    )
    j = tmp_path / "s.json"
    j.write_text(json.dumps({"block_rate": 0.2}))
    assert load_config(str(j), []).block_rate == 0.2
    with pytest.raises(Exception, match="temprature"):
        load_config(None, ["temprature=1"])
    with pytest.raises(ValueError, match="does not exist"):
        load_config(None, [f"references={tmp_path / 'none.jsonl'}"])


def test_cli_ready_line_serves_and_stops_on_sigterm_with_a_hung_request() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sim", "--port", "0", "--set", "hang_rate=1.0", "--set", "hang_s=60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready" and ready["host"] == "127.0.0.1" and ready["port"] > 0
        base = f"http://127.0.0.1:{ready['port']}"
        assert httpx.get(base + "/health").status_code == 200
        body = {"model": "m", "messages": openai_messages(sample_frames()["red"])}
        hung = threading.Thread(target=lambda: _post_quietly(base + "/v1/chat/completions", body), daemon=True)
        hung.start()
        time.sleep(0.3)  # the request is now hanging inside the server
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.perf_counter() - t0 < 3.0
        hung.join(timeout=5)
        assert "shutting down" in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _post_quietly(url: str, body: dict) -> None:
    try:
        httpx.post(url, json=body, timeout=10)
    except httpx.HTTPError:
        pass  # the server drops hung requests on shutdown


def test_cli_bad_config_exits_2() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "bench.sim", "--set", "malformed_rate=2"], capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 2 and "malformed_rate" in r.stderr


def test_cli_delete_config_removes_the_file_once_read(tmp_path: Path) -> None:
    cfg = tmp_path / "sim.json"
    cfg.write_text(json.dumps({"seed": 3}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sim", "--port", "0", "--config", str(cfg), "--delete-config"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["event"] == "ready"
        assert not cfg.exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    cfg.write_text(json.dumps({"malformed_rate": 2}))  # a bad config is deleted too
    r = subprocess.run(
        [sys.executable, "-m", "bench.sim", "--config", str(cfg), "--delete-config"],
        capture_output=True, text=True, timeout=30,
    )
    assert r.returncode == 2 and not cfg.exists()
    cfg.write_text(json.dumps({"seed": 3}))  # without the flag the file is left alone
    assert load_config(str(cfg), []).seed == 3 and cfg.exists()
