"""A managed server process: start a command, wait for its health URL, stop it.

Command-agnostic on purpose: the same class launches `vllm serve` on a GPU box
and the simulator (`python -m bench.sim`) in tests, so the lifecycle (start,
wait for /health, run, stop, keep the log) is tested without a GPU.

    with ManagedServer(cmd, health_url=..., log_path=...) as srv: ...
    async with ManagedServer(...) as srv: ...

The child runs in its own process group, so stop() reaches every process it
spawned (vLLM starts engine workers): SIGTERM to the group, wait, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

_SECRET_FLAGS = ("key", "token", "secret", "password")
_LIVE: set[ManagedServer] = set()  # strong refs: a dropped, unstopped server is still stopped at exit


class ServerStartError(RuntimeError):
    """The server did not come up; the message carries the command and the log's last lines."""


class ServerExitedError(ServerStartError):
    """The process exited during start-up."""


class ServerTimeoutError(ServerStartError):
    """The health URL never answered 200 within the start-up timeout."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (the OS picks it); small race until the server binds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def redact(cmd: Sequence[str]) -> list[str]:
    """Hide values of flags like --api-key so they never reach logs or error messages."""
    out: list[str] = []
    hide_next = False
    for arg in cmd:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        flag, eq, _ = arg.partition("=")
        secret = flag.startswith("-") and any(s in flag.lower() for s in _SECRET_FLAGS)
        if secret and eq:
            out.append(flag + "=***")
        else:
            out.append(arg)
            hide_next = secret
    return out


class ManagedServer:
    def __init__(
        self,
        cmd: Sequence[str],
        *,
        health_url: str,
        log_path: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        startup_timeout_s: float = 60.0,
        poll_interval_s: float = 0.2,
        stop_timeout_s: float = 10.0,
        base_url: str | None = None,
        name: str = "server",
    ) -> None:
        self.cmd = [str(c) for c in cmd]
        self.health_url = health_url
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.startup_timeout_s = startup_timeout_s
        self.poll_interval_s = poll_interval_s
        self.stop_timeout_s = stop_timeout_s
        self.base_url = base_url or health_url.rsplit("/", 1)[0]
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_start = 0  # offset where this run's output begins in the log

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> ManagedServer:
        if self.proc is not None:  # idempotent, so `with start_simulator(...) as s:` works
            return self
        self.launch()
        return self.wait_healthy()

    def launch(self) -> None:
        """Start the process without waiting for it (several replicas start side by side, then
        `wait_healthy()` each; Popen stays in the calling thread, as preexec_fn needs)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"# capbench: starting {self.name}: {' '.join(redact(self.cmd))}\n".encode())
            self._log_start = log.tell()
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # own process group: stop() reaches the children too
                preexec_fn=_die_with_parent,
            )
        _LIVE.add(self)

    def wait_healthy(self) -> ManagedServer:
        try:
            self._wait_healthy()
        except BaseException:  # includes KeyboardInterrupt: never leave the child behind
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            code = self.proc.poll()
            if code is not None:
                raise ServerExitedError(
                    f"{self.name} exited with code {code} during start-up "
                    f"(command: {' '.join(redact(self.cmd))}; log: {self.log_path})\n{self.log_tail()}"
                )
            if self.healthy():
                return
            if time.monotonic() >= deadline:
                raise ServerTimeoutError(
                    f"{self.name} did not become healthy at {self.health_url} within "
                    f"{self.startup_timeout_s:g}s (log: {self.log_path})\n{self.log_tail()}"
                )
            time.sleep(self.poll_interval_s)

    def healthy(self, timeout_s: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=timeout_s) as resp:  # noqa: S310 (local URL)
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def stop(self) -> int | None:
        """SIGTERM the process group, wait, SIGKILL what is left; returns the exit code."""
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is None:
            return None
        pgid = proc.pid  # start_new_session: the group id is the child's pid
        if proc.poll() is None:
            _signal_group(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(pgid, signal.SIGKILL)  # stragglers (workers) and a main process that ignored TERM
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
            return None

    def exit_report(self) -> str | None:
        """Why the server is gone, if it exited after starting (exit code or signal, log tail); None while it runs.

        Cheap (a waitpid with WNOHANG), so a run can poll it often to notice a dead server within a second.
        """
        proc = self.proc
        code = proc.poll() if proc is not None else None
        if proc is None or code is None:
            return None
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"{self.name} (pid {proc.pid}) {how} mid-run (log: {self.log_path})\n{self.log_tail(15)}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(self._log_start)
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return "(no log)"
        tail = text.splitlines()[-lines:]
        return "--- last log lines ---\n" + "\n".join(tail) if tail else "(log is empty)"

    # ------------------------------------------------------- context managers

    def __enter__(self) -> ManagedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def astart(self) -> ManagedServer:
        return await asyncio.to_thread(self.start)

    async def astop(self) -> int | None:
        return await asyncio.to_thread(self.stop)

    async def __aenter__(self) -> ManagedServer:
        try:
            return await self.astart()
        except asyncio.CancelledError:
            self.stop()
            raise

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()


def _die_with_parent() -> None:
    """Linux: SIGTERM the server if the harness dies without cleaning up (SIGKILL skips atexit)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: stop() and atexit still cover normal exits
        pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _stop_leftovers() -> None:
    """Last line of defence: an interpreter exiting on an exception still stops its servers."""
    for srv in list(_LIVE):
        srv.stop()


def start_simulator(
    sim: object,
    log_path: str | os.PathLike[str],
    *,
    startup_timeout_s: float = 30.0,
    start: bool = True,
) -> ManagedServer:
    """Launch `python -m bench.sim` with this SimConfig (dataclass, DictConfig or dict) on a free port.

    Returns the running server (or, with start=False, one ready for `async with`).
    The config goes through a temporary JSON file that the simulator deletes once
    read (so it does not outlive a SIGKILLed harness) and stop() removes if still
    there; `.base_url` is "http://127.0.0.1:PORT".
    """
    port = free_port()
    data = _as_dict(sim)
    fd, cfg_path = tempfile.mkstemp(prefix="capbench-sim-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    server = _SimProcess(
        [sys.executable, "-m", "bench.sim", "--port", str(port), "--config", cfg_path, "--exit-with-parent",
         "--delete-config"],
        health_url=f"http://127.0.0.1:{port}/health",
        log_path=log_path,
        startup_timeout_s=startup_timeout_s,
        stop_timeout_s=5.0,
        name="simulator",
        config_path=cfg_path,
    )
    return server.start() if start else server


def _as_dict(sim: object) -> dict[str, object]:
    if dataclasses.is_dataclass(sim) and not isinstance(sim, type):
        return dataclasses.asdict(sim)
    try:  # the harness hands over cfg.model.sim, an OmegaConf DictConfig
        from omegaconf import DictConfig, OmegaConf

        if isinstance(sim, DictConfig):
            return OmegaConf.to_container(sim, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover
        pass
    return dict(sim)  # type: ignore[call-overload]


class _SimProcess(ManagedServer):
    """ManagedServer that also removes its temporary config file on stop (if the simulator did not)."""

    def __init__(self, *args: object, config_path: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.config_path = config_path

    def stop(self) -> int | None:
        try:
            return super().stop()
        finally:
            Path(self.config_path).unlink(missing_ok=True)
