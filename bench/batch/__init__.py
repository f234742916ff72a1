"""Provider Batch APIs (runner=batch): one module per provider behind bench.batch.base.BatchProvider,
a crash-safe runner (bench.batch.runner) and the batch measurements (bench.batch.metrics)."""

from __future__ import annotations

from typing import Any

from bench.batch.base import BatchProvider

PROVIDERS = {"openai_chat": "openai", "anthropic": "anthropic", "gemini": "gemini"}


def make_provider(model: Any, *, base_url: str | None, api_key: str, headers: dict[str, str] | None = None,
                  timeout_s: float = 600.0) -> BatchProvider:
    """The Batch API of the model's wire protocol (model.backend), through its official SDK."""
    extra_headers = {**dict(model.extra_headers), **(headers or {})}
    if model.backend == "openai_chat":
        from bench.batch.openai_batch import OpenAIBatch

        return OpenAIBatch(model.name, base_url, api_key, timeout_s=timeout_s, extra_body=dict(model.extra_body),
                           extra_headers=extra_headers, max_tokens_field=model.sampling.max_tokens_field)
    if model.backend == "anthropic":
        from bench.batch.anthropic_batch import AnthropicBatch

        return AnthropicBatch(model.name, base_url, api_key, timeout_s=timeout_s, extra_body=dict(model.extra_body),
                              extra_headers=extra_headers)
    if model.backend == "gemini":
        from bench.batch.gemini_batch import GeminiBatch

        return GeminiBatch(model.name, base_url, api_key, timeout_s=timeout_s, extra_headers=extra_headers)
    raise ValueError(f"runner=batch: model.backend={model.backend!r} has no Batch API here "
                     f"(use one of {', '.join(PROVIDERS)})")


RESULT_FAULTS = ("unknown_id", "duplicate", "missing", "non_json")


def config_problems(cfg: Any) -> list[str]:
    """runner=batch settings that cannot work, each naming the key and the fix (bench.app.check_config)."""
    problems = []
    b, sim = cfg.runner.batch, cfg.model.sim
    if cfg.runner.mode == "batch" and cfg.model.backend not in PROVIDERS:
        problems.append(f"runner=batch: model.backend={cfg.model.backend!r} has no Batch API; use one of "
                        f"{', '.join(PROVIDERS)}")
    if not b.poll_interval_s > 0 or not b.timeout_s > 0:
        problems.append("runner.batch.poll_interval_s and runner.batch.timeout_s: seconds, more than 0")
    if not 0 < b.discount <= 1:
        problems.append(f"runner.batch.discount={b.discount}: the batch price's share of the list price, in (0, 1]")
    for key in ("max_requests", "max_bytes"):
        if b[key] is not None and b[key] < 1:
            problems.append(f"runner.batch.{key}={b[key]}: at least 1, or null for the provider's limit")
    for key in ("batch_error_rate", "batch_expire_rate"):
        if not 0.0 <= sim[key] <= 1.0:
            problems.append(f"model.sim.{key}={sim[key]}: a rate in [0, 1]")
    unknown = [f for f in sim.batch_result_faults if f not in RESULT_FAULTS]
    if unknown:
        problems.append(f"model.sim.batch_result_faults: {', '.join(map(str, unknown))} unknown; use "
                        f"{', '.join(RESULT_FAULTS)}")
    return problems
