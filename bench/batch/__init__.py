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
