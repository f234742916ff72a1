"""Start the server a model needs for the length of a run, and stop it after.

- `model.serve=""`: the server is already running at `model.base_url` (an API,
  an external vLLM).
- `model.serve=sim`: the embedded simulator (bench.sim) on a free port.
- `model.serve=vllm`: `vllm serve` with the flags of `model.vllm`, waited for on
  /health, stopped on success, failure and Ctrl-C. Its log goes to
  `server.log`; the vLLM version, GPU names and the (redacted) command go to
  `server.json` in the run folder.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

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


def check_serving(model: ModelConfig | DictConfig) -> None:
    """Fail before a run folder is made when the model's server cannot run here."""
    if model.serve == "vllm":
        check_vllm_available(model.vllm)


@dataclass(frozen=True)
class Endpoint:
    """Where the backend sends requests, and the managed server behind it (None for an external one)."""

    base_url: str | None
    server: ManagedServer | None = None

    def gone(self) -> str | None:
        """Why our managed server is no longer running, or None (running, or not ours to watch)."""
        return self.server.exit_report() if self.server is not None else None


@contextlib.contextmanager
def serving(model: ModelConfig | DictConfig, run_dir: Path) -> Iterator[Endpoint]:
    """Yield the endpoint the backend should use, with its server running if we manage one."""
    suffix = BASE_URL_SUFFIX[model.backend]
    if model.serve == "sim":
        sim = OmegaConf.to_object(model.sim) if isinstance(model.sim, DictConfig) else model.sim
        if sim.references:
            # A folder or video dataset has no manifest, so no references to derive captions from.
            path = resolve_dataset_dir(sim.references)
            sim.references = str(path) if path.is_file() else None
        with start_simulator(sim, run_dir / "server.log") as server:
            yield Endpoint(server.base_url + suffix, server)
    elif model.serve == "vllm":
        with _vllm(model, run_dir) as endpoint:
            yield endpoint
    else:
        yield Endpoint(model.base_url)


@contextlib.contextmanager
def _vllm(model: ModelConfig | DictConfig, run_dir: Path) -> Iterator[Endpoint]:
    v = model.vllm
    version, gpus = check_vllm_available(v)
    port = v.port or free_port(v.host)
    cmd = vllm_command(model, port)
    info: dict[str, Any] = {"server": "vllm", "command": redact(cmd), "vllm_version": version, "gpus": gpus,
                            "started": datetime.now(UTC).isoformat()}
    info_path = run_dir / "server.json"
    info_path.write_text(json.dumps(info, indent=2))
    server = ManagedServer(cmd, health_url=f"http://{v.host}:{port}/health", log_path=run_dir / "server.log",
                           startup_timeout_s=v.startup_timeout_s, name="vllm serve")
    try:
        with server:
            info["healthy_after_s"] = (datetime.now(UTC)
                                       - datetime.fromisoformat(info["started"])).total_seconds()
            info_path.write_text(json.dumps(info, indent=2))
            yield Endpoint(f"http://{v.host}:{port}/v1", server)
    finally:
        info["stopped"] = datetime.now(UTC).isoformat()
        info_path.write_text(json.dumps(info, indent=2))
