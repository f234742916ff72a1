"""bench.server_process: start, health, stop; clear failures; no orphans."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import openai
import pytest

from bench.config import SimConfig
from bench.server_process import (
    ManagedServer,
    ServerExitedError,
    ServerTimeoutError,
    free_port,
    redact,
    start_simulator,
)
from bench.sim.testing import openai_messages, sample_frames


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_start_simulator_serves_and_stops(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "sim.log"
    with start_simulator(SimConfig(ttft_s=0.0, per_token_s=0.0, seed=4), log) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:") and srv.healthy()
        pid = srv.pid
        c = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="sk-test", max_retries=0)
        r = c.chat.completions.create(model="cliptagger-12b", messages=openai_messages(sample_frames()["red"]))
        assert r.choices[0].finish_reason == "stop"
        config_path = Path(srv.config_path)  # type: ignore[attr-defined]
        assert config_path.name.startswith("capbench-sim-")
        assert not config_path.exists()  # the simulator deletes it once read (--delete-config)
    assert pid is not None and not _alive(pid)
    assert not config_path.exists()
    text = log.read_text()
    assert '"event": "ready"' in text and "POST /v1/chat/completions 200" in text and "sk-test" not in text


def test_process_exiting_during_startup_is_a_clear_error(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('error: unknown flag --bogus'); sys.exit(3)"]
    srv = ManagedServer(cmd, health_url=f"http://127.0.0.1:{free_port()}/health", log_path=tmp_path / "x.log")
    t0 = time.perf_counter()
    with pytest.raises(ServerExitedError) as e:
        srv.start()
    assert time.perf_counter() - t0 < 5
    msg = str(e.value)
    assert "exited with code 3" in msg and "unknown flag --bogus" in msg and "x.log" in msg
    assert srv.proc is None


def test_never_healthy_times_out_and_kills(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-c",
        "import os, time; print('loading weights, pid', os.getpid(), flush=True); time.sleep(60)",
    ]
    srv = ManagedServer(
        cmd,
        health_url=f"http://127.0.0.1:{free_port()}/health",
        log_path=tmp_path / "y.log",
        startup_timeout_s=1.0,
        poll_interval_s=0.1,
    )
    with pytest.raises(ServerTimeoutError) as e:
        srv.start()
    assert "within 1s" in str(e.value) and "loading weights" in str(e.value)
    pid = int(tmp_path.joinpath("y.log").read_text().split("pid")[-1].split()[0])
    assert srv.proc is None and not _alive(pid)


_SERVER = textwrap.dedent(
    """
    import http.server, signal, subprocess, sys
    port, mode = int(sys.argv[1]), sys.argv[2]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print("child", child.pid, flush=True)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
    """
)


@pytest.mark.parametrize("mode", ["polite", "stubborn"])
def test_stop_reaches_the_whole_process_group(tmp_path: Path, mode: str) -> None:
    port = free_port()
    script = tmp_path / "srv.py"
    script.write_text(_SERVER)
    log = tmp_path / "srv.log"
    srv = ManagedServer(
        [sys.executable, str(script), str(port), mode],
        health_url=f"http://127.0.0.1:{port}/health",
        log_path=log,
        stop_timeout_s=0.5,
    )
    with srv:
        assert httpx.get(srv.base_url + "/health").text == "ok"
        pid = srv.pid
        child = int(next(ln for ln in log.read_text().splitlines() if ln.startswith("child")).split()[1])
        assert _alive(child)
    assert pid is not None and not _alive(pid)
    deadline = time.monotonic() + 3
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)  # no orphan worker left behind


async def test_async_context_manager(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.sim", "--port", str(port)]
    async with ManagedServer(cmd, health_url=f"http://127.0.0.1:{port}/health", log_path=tmp_path / "a.log") as srv:
        async with httpx.AsyncClient() as c:
            assert (await c.get(srv.base_url + "/v1/models")).status_code == 200
        pid = srv.pid
    assert pid is not None and not _alive(pid)


def test_keyboard_interrupt_during_startup_stops_the_child(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    srv = ManagedServer(
        cmd,
        health_url=f"http://127.0.0.1:{free_port()}/health",
        log_path=tmp_path / "k.log",
        startup_timeout_s=30,
        poll_interval_s=0.05,
    )
    seen: list[int] = []
    real_healthy = srv.healthy

    def interrupting_healthy(timeout_s: float = 2.0) -> bool:
        assert srv.proc is not None
        seen.append(srv.proc.pid)
        if len(seen) >= 3:
            raise KeyboardInterrupt
        return real_healthy(timeout_s)

    srv.healthy = interrupting_healthy  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        srv.start()
    assert srv.proc is None and not _alive(seen[0])


def test_redact_hides_secrets() -> None:
    cmd = ["vllm", "serve", "m", "--api-key", "sk-1", "--hf-token=hf_2", "--port", "8000"]
    assert redact(cmd) == ["vllm", "serve", "m", "--api-key", "***", "--hf-token=***", "--port", "8000"]


def test_simulator_exits_when_its_launcher_is_killed(tmp_path: Path) -> None:
    """A harness killed with SIGKILL runs no cleanup; the simulator notices and stops by itself."""
    launcher = tmp_path / "launcher.py"
    launcher.write_text(
        textwrap.dedent(
            f"""
        import time
        from bench.config import SimConfig
        from bench.server_process import start_simulator
        srv = start_simulator(SimConfig(), {str(tmp_path / "sim.log")!r})
        print(srv.pid, flush=True)
        print(srv.config_path, flush=True)
        time.sleep(60)
        """
        )
    )
    proc = subprocess.Popen([sys.executable, str(launcher)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        sim_pid = int(proc.stdout.readline())
        config_path = Path(proc.stdout.readline().strip())
        assert _alive(sim_pid)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while _alive(sim_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(sim_pid)
        # PR_SET_PDEATHSIG (Linux) or the simulator's own parent watch, whichever comes first.
        log = (tmp_path / "sim.log").read_text()
        assert "parent process exited" in log or "shutting down" in log
        assert not config_path.exists()  # no /tmp/capbench-sim-*.json left behind without stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
