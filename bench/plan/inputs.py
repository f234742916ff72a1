"""The planner's inputs: measured run folders, or the model catalog with assumed token counts.

A run folder gives what it measured: mean input and output tokens per frame (the server's usage,
retries included), the prices it was charged at, and for a self-hosted run the requests/s it
reached, per GPU, and the server's start-up time (server.json). The catalog (bench.models) gives
prices only; tokens are then the assumption you pass (default: the seed's "typical usage" of
700 input and 250 output tokens per frame, seed 001), and a self-hosted model's throughput must be
given (--rps-per-gpu) until a run measures it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from bench.plan.costs import ModelInputs

# Seed 001: "For typical usage of 700 input tokens and 250 output tokens per frame".
ASSUMED_INPUT_TOKENS, ASSUMED_OUTPUT_TOKENS = 700.0, 250.0
TOKENS_SOURCE = "assumed: the seed's typical usage (seed 001, ClipTagger-12B model card, 2025-08-14)"


class PlanInputError(Exception):
    """A run folder the planner cannot use (the message names it and says why)."""


def provider_of(backend: str, catalog_provider: str | None = None, key_env: str | None = None) -> str:
    """Which provider's batch discount applies: the price catalog's provider, else the wire protocol's
    owner (an OpenAI-compatible endpoint that is not OpenAI gets none)."""
    if catalog_provider:
        return catalog_provider
    if backend == "anthropic":
        return "anthropic"
    if backend == "gemini":
        return "google"
    return "openai" if key_env == "OPENAI_API_KEY" else ""


def from_catalog(*, input_tokens: float = ASSUMED_INPUT_TOKENS, output_tokens: float = ASSUMED_OUTPUT_TOKENS,
                 tokens_source: str = TOKENS_SOURCE, rps_per_gpu: float | None = None,
                 names: list[str] | None = None) -> list[ModelInputs]:
    """One ModelInputs per conf/model/*.yaml (or those named), at the given token counts."""
    from bench.models import catalog

    out = []
    for e in catalog():
        if names and e.config not in names:
            continue
        if e.simulated and not names:
            continue  # simulator configs describe no real model unless asked for by name
        self_hosted = e.hosting == "self-hosted"
        out.append(ModelInputs(
            model=e.config, hosting=e.hosting, simulated=e.simulated,
            input_tokens=input_tokens, output_tokens=output_tokens, tokens_source=tokens_source,
            price_in=e.price_in, price_out=e.price_out,
            price_source="; ".join(x for x in (e.price_source, e.price_date) if x),
            provider=provider_of(e.backend, None, e.key_env) if not self_hosted else "",
            gpu_hourly_usd=e.gpu_hourly_usd, gpu_source="model config (conf/model)" if e.gpu_hourly_usd else "",
            requests_per_s_per_gpu=rps_per_gpu if self_hosted else None,
            throughput_source="given (--rps-per-gpu)" if self_hosted and rps_per_gpu else ""))
    if names:
        unknown = sorted(set(names) - {m.model for m in out})
        if unknown:
            raise PlanInputError(f"no model config named {', '.join(unknown)} (see python -m bench.models)")
        out.sort(key=lambda m: names.index(m.model))  # in the order asked for
    return out


def from_run(run_dir: Path) -> ModelInputs:
    """What a finished run folder measured (metrics.json, config.yaml, server.json)."""
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        raise PlanInputError(f"{run_dir}: no metrics.json (not a run folder, or the run never ended)")
    try:
        metrics: dict[str, Any] = json.loads(metrics_path.read_text())
        config = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").is_file() else {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise PlanInputError(f"{run_dir}: unreadable metrics.json or config.yaml ({exc})") from exc
    model: dict[str, Any] = (config or {}).get("model") or {}
    run = metrics.get("run") or {}
    cost = metrics.get("cost") or {}
    price = cost.get("price") or model.get("price") or {}
    gpu = model.get("gpu") or cost.get("gpu") or {}
    hosting = run.get("hosting") or model.get("hosting") or "api"
    completed = metrics.get("completed") or 0
    if not completed:
        raise PlanInputError(f"{run_dir}: no frame was answered, so nothing was measured")
    rps = (metrics.get("throughput") or {}).get("requests_per_s") or metrics.get("requests_per_s")
    gpus = _gpus(model, gpu)
    startup = 0.0
    server_json = run_dir / "server.json"
    if server_json.is_file():
        try:
            startup = float(json.loads(server_json.read_text()).get("healthy_after_s") or 0.0)
        except (OSError, ValueError):
            startup = 0.0
    label = run.get("model") or model.get("label") or model.get("name") or run_dir.name
    where = f"measured: {run_dir} ({completed} frames)"
    return ModelInputs(
        model=str(label), hosting=hosting, simulated=bool(metrics.get("simulated")),
        input_tokens=metrics.get("mean_input_tokens"), output_tokens=metrics.get("mean_output_tokens"),
        tokens_source=where,
        price_in=price.get("input_per_million"), price_out=price.get("output_per_million"),
        price_source="; ".join(str(x) for x in (price.get("source"), price.get("date")) if x),
        provider=provider_of(model.get("backend", ""), price.get("catalog_provider"), model.get("api_key_env"))
        if hosting == "api" else "",
        gpu_hourly_usd=gpu.get("hourly_usd"),
        gpu_source="; ".join(str(x) for x in (gpu.get("name"), gpu.get("source"), gpu.get("date")) if x),
        # Only a self-hosted run's throughput is a GPU's (an API's or the simulator's is not).
        requests_per_s_per_gpu=rps / gpus if rps and hosting == "self-hosted" else None,
        throughput_source=f"{where}: {rps:.3g} req/s on {gpus} GPU(s)" if rps and hosting == "self-hosted" else "",
        startup_s=startup)


def _gpus(model: dict[str, Any], gpu: dict[str, Any]) -> int:
    """GPUs the run used: model.gpu.count, or more when capbench started vLLM replicas on more."""
    count = int(gpu.get("count") or 1)
    vllm = model.get("vllm") or {}
    if model.get("serve") == "vllm":
        count = max(count, int(vllm.get("replicas") or 1) * int(vllm.get("tensor_parallel_size") or 1))
    return count
