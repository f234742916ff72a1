"""Start the server a model needs for the length of a run, and stop it after.

- `model.serve=""`: the server is already running at `model.base_url` (an API,
  an external vLLM).
- `model.serve=sim`: the embedded simulator (bench.sim) on a free port.
- `model.serve=vllm`: `vllm serve` with the flags of `model.vllm`, waited for on
  /health, stopped on success, failure and Ctrl-C. Its log goes to
  `server.log`; the vLLM version, GPU names and the (redacted) command go to
  `server.json` in the run folder.

Several replicas (`model.vllm.replicas`, `model.sim.replicas`, or a list in `model.base_url`)
yield several endpoints; the servers start side by side, each with its own port, log
(`server-<i>.log`) and, for vLLM, its own GPUs (CUDA_VISIBLE_DEVICES).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from bench.backends import BASE_URL_SUFFIX
from bench.config import ModelConfig, VllmConfig
from bench.frames import resolve_dataset_dir
from bench.server_process import ManagedServer, free_port, redact, start_simulator

NO_VLLM_HELP = ("To run ClipTagger without a local GPU use the hosted model (model=cliptagger_api, key in "
                "INFERENCE_API_KEY), or point at a vLLM running elsewhere: model=openai_compatible "
                "model.base_url=http://HOST:8000/v1 model.name=inference-net/ClipTagger-12b.")


class ServingError(Exception):
    """The model's server cannot be started here; the message says what to do instead."""


def vllm_command(model: ModelConfig | DictConfig, port: int) -> list[str]:
    """The `vllm serve` command line for a model config."""
    v: VllmConfig | DictConfig = model.vllm
    cmd = [*v.command, v.model, "--host", v.host, "--port", str(port),
           "--served-model-name", model.name, "--dtype", v.dtype, "--max-model-len", str(v.max_model_len),
           "--limit-mm-per-prompt", v.limit_mm_per_prompt,
           "--gpu-memory-utilization", str(v.gpu_memory_utilization),
           "--tensor-parallel-size", str(v.tensor_parallel_size)]
    if v.quantization:
        cmd += ["--quantization", v.quantization]
    if v.kv_cache_dtype:
        cmd += ["--kv-cache-dtype", v.kv_cache_dtype]
    if v.stream_interval != 1:  # only when asked: vLLM before 0.11 has no such flag
        cmd += ["--stream-interval", str(v.stream_interval)]
    if v.structured_outputs_backend:
        cmd += ["--structured-outputs-config.backend", v.structured_outputs_backend]
    return cmd + [str(a) for a in v.extra_args]


def _run(cmd: list[str]) -> str | None:
    """What a command prints, or None (not installed, fails or hangs)."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout or out.stderr).strip() if out.returncode == 0 else None


def gpu_names() -> list[str]:
    out = _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]) if shutil.which("nvidia-smi") else None
    return [line.strip() for line in (out or "").splitlines() if line.strip()]


def check_vllm_available(v: VllmConfig | DictConfig) -> tuple[str | None, list[str]]:
    """(vLLM version, GPU names), or ServingError naming the alternatives."""
    if shutil.which(v.command[0]) is None:
        raise ServingError(f"`{v.command[0]}` is not installed here (pip install 'capbench[vllm]' on a machine "
                           f"with an NVIDIA GPU). {NO_VLLM_HELP}")
    gpus = gpu_names()
    if v.require_gpu and not gpus:
        raise ServingError(f"vLLM needs an NVIDIA GPU and nvidia-smi finds none. {NO_VLLM_HELP}")
    # `vllm serve ...` -> `vllm --version`; a stand-in command takes --version itself.
    base = list(v.command[:-1]) if v.command[-1] == "serve" else list(v.command)
    version = _run([*base, "--version"])
    return (version.splitlines()[-1] if version else None), gpus


def gpu_assignment(v: VllmConfig | DictConfig) -> list[list[int]] | None:
    """The GPU indices each replica sees (CUDA_VISIBLE_DEVICES), or None to leave the environment as it is
    (one replica and no model.vllm.gpus: vLLM takes what it is given)."""
    per = max(1, int(v.tensor_parallel_size))
    if v.replicas <= 1 and not v.gpus:
        return None
    ids = [int(g) for g in v.gpus] if v.gpus else list(range(v.replicas * per))
    if len(ids) < v.replicas * per:
        raise ServingError(f"model.vllm.replicas={v.replicas} x tensor_parallel_size={per} needs "
                           f"{v.replicas * per} GPUs but model.vllm.gpus lists {len(ids)} ({ids}): list more GPUs "
                           "or start fewer replicas")
    if len(set(ids)) != len(ids):
        raise ServingError(f"model.vllm.gpus={ids} lists a GPU twice: each replica needs its own")
    return [ids[i * per:(i + 1) * per] for i in range(v.replicas)]


def check_serving(model: ModelConfig | DictConfig) -> None:
    """Fail before a run folder is made when the model's server cannot run here."""
    if model.serve == "vllm":
        v = model.vllm
        if v.replicas < 1:
            raise ServingError(f"model.vllm.replicas={v.replicas}: start at least 1 server")
        if v.stream_interval < 1:
            raise ServingError(f"model.vllm.stream_interval={v.stream_interval}: send at least 1 token per chunk")
        assignment = gpu_assignment(v)
        _, gpus = check_vllm_available(v)
        needed = max((max(g) + 1 for g in assignment), default=0) if assignment else 0
        if v.require_gpu and assignment and len(gpus) < needed:
            raise ServingError(f"model.vllm.replicas={v.replicas} uses GPUs {sorted(sum(assignment, []))} but "
                               f"nvidia-smi finds {len(gpus)}: start fewer replicas (model.vllm.replicas=N) or "
                               "list the GPUs to use (model.vllm.gpus=[0,1])")
    if model.serve == "sim" and model.sim.replicas < 1:
        raise ServingError(f"model.sim.replicas={model.sim.replicas}: start at least 1 simulator")
    if model.serve == "sim" and model.sim.stream_interval < 1:
        raise ServingError(f"model.sim.stream_interval={model.sim.stream_interval}: send at least 1 token per chunk")
    if not model.serve and isinstance(model.base_url, list | ListConfig):
        urls = [str(u) for u in model.base_url]
        if not urls or not all(u.strip() for u in urls):
            raise ServingError("model.base_url: a list of replicas needs at least one URL and no empty ones")
        if len(set(urls)) != len(urls):
            raise ServingError("model.base_url lists the same URL more than once: list each replica once")


@dataclass(frozen=True)
class Endpoint:
    """Where the backend sends requests, and the managed server behind it (None for an external one)."""

    base_url: str | None
    server: ManagedServer | None = None

    def gone(self) -> str | None:
        """Why our managed server is no longer running, or None (running, or not ours to watch)."""
        return self.server.exit_report() if self.server is not None else None


@dataclass(frozen=True)
class Endpoints:
    """What a run talks to: one endpoint, or several replicas of the same model (bench/backends/replicas.py)."""

    replicas: tuple[Endpoint, ...]


def base_urls(model: ModelConfig | DictConfig) -> list[str | None]:
    """model.base_url as a list: one URL, several replicas, or [None] (the SDK's default URL)."""
    url = model.base_url
    if isinstance(url, list | tuple | ListConfig):
        return [str(u) for u in url]
    return [url]


def _log_path(run_dir: Path, i: int, n: int) -> Path:
    return run_dir / ("server.log" if n == 1 else f"server-{i}.log")


def _start_all(servers: list[ManagedServer]) -> None:
    """Start the servers side by side (vLLM takes minutes to load; N in a row would take N times as long);
    if one fails, stop them all and raise its error."""
    if len(servers) == 1:
        servers[0].start()
        return
    try:
        for s in servers:
            s.launch()
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            futures = [pool.submit(s.wait_healthy) for s in servers]
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        if errors:
            raise errors[0]
    except BaseException:  # KeyboardInterrupt included: none is left running
        for s in servers:
            s.stop()
        raise


@contextlib.contextmanager
def serving(model: ModelConfig | DictConfig, run_dir: Path) -> Iterator[Endpoints]:
    """Yield the endpoints the backend should use, with their servers running if we manage them."""
    suffix = BASE_URL_SUFFIX[model.backend]
    if model.serve == "sim":
        sim = OmegaConf.to_object(model.sim) if isinstance(model.sim, DictConfig) else model.sim
        if sim.references:
            # A folder or video dataset has no manifest, so no references to derive captions from.
            path = resolve_dataset_dir(sim.references)
            sim.references = str(path) if path.is_file() else None
        n = max(1, sim.replicas)
        servers = [start_simulator(sim, _log_path(run_dir, i, n), start=False) for i in range(n)]
        try:
            _start_all(servers)
            yield Endpoints(tuple(Endpoint(s.base_url + suffix, s) for s in servers))
        finally:
            for s in servers:
                s.stop()
    elif model.serve == "vllm":
        with _vllm(model, run_dir) as endpoints:
            yield endpoints
    else:
        yield Endpoints(tuple(Endpoint(url) for url in base_urls(model)))


@contextlib.contextmanager
def _vllm(model: ModelConfig | DictConfig, run_dir: Path) -> Iterator[Endpoints]:
    v = model.vllm
    version, gpus = check_vllm_available(v)
    assignment = gpu_assignment(v)
    n = max(1, v.replicas)
    replicas: list[dict[str, Any]] = []
    servers = []
    for i in range(n):
        port = (v.port + i if v.port else 0) or free_port(v.host)
        cmd = vllm_command(model, port)
        env = None
        if assignment is not None:  # one GPU set per replica; the rest of the environment as it is
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in assignment[i])}
        replicas.append({"command": redact(cmd), "port": port,
                         "cuda_visible_devices": env["CUDA_VISIBLE_DEVICES"] if env else None,
                         "log": _log_path(run_dir, i, n).name})
        servers.append(ManagedServer(cmd, health_url=f"http://{v.host}:{port}/health",
                                     log_path=_log_path(run_dir, i, n), env=env,
                                     startup_timeout_s=v.startup_timeout_s,
                                     name="vllm serve" if n == 1 else f"vllm serve (replica {i}, port {port})"))
    info: dict[str, Any] = {"server": "vllm", "command": replicas[0]["command"], "vllm_version": version,
                            "gpus": gpus, "replicas": replicas, "started": datetime.now(UTC).isoformat()}
    info_path = run_dir / "server.json"
    info_path.write_text(json.dumps(info, indent=2))
    try:
        _start_all(servers)
        info["healthy_after_s"] = (datetime.now(UTC) - datetime.fromisoformat(info["started"])).total_seconds()
        info_path.write_text(json.dumps(info, indent=2))
        yield Endpoints(tuple(Endpoint(f"http://{v.host}:{r['port']}/v1", s) for r, s in zip(replicas, servers,
                                                                                              strict=True)))
    finally:
        for s in servers:
            s.stop()
        info["stopped"] = datetime.now(UTC).isoformat()
        info_path.write_text(json.dumps(info, indent=2))
