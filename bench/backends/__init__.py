"""Backends: one module per wire protocol, all behind `bench.backends.base.Backend`."""

from __future__ import annotations

from bench.backends.base import Backend
from bench.config import ModelConfig

PROTOCOLS = ("openai_chat", "anthropic", "gemini")
# What each protocol's SDK appends to a server's root URL itself.
BASE_URL_SUFFIX = {"openai_chat": "/v1", "anthropic": "", "gemini": ""}


def make_backend(model: ModelConfig, *, base_url: str | None, api_key: str, timeout_s: float = 120.0,
                 headers: dict[str, str] | None = None) -> Backend:
    """Build the backend a model config names. Imports lazily so one SDK's absence doesn't break the others.

    `timeout_s` is the SDK's HTTP timeout; the runner's own per-attempt timeout
    (runner.request_timeout_s) is the one that decides, so pass a little more.
    `headers` are sent with every request, on top of model.extra_headers.
    """
    extra_headers = {**dict(model.extra_headers), **(headers or {})}
    if model.backend == "openai_chat":
        from bench.backends.openai_chat import OpenAIChatBackend

        return OpenAIChatBackend(model.name, base_url, api_key, timeout_s=timeout_s, stream=model.stream,
                                 extra_body=dict(model.extra_body), extra_headers=extra_headers,
                                 max_tokens_field=model.sampling.max_tokens_field)
    if model.backend == "anthropic":
        from bench.backends.anthropic_messages import AnthropicMessagesBackend

        return AnthropicMessagesBackend(model.name, base_url, api_key, timeout_s=timeout_s,
                                        extra_headers=extra_headers,
                                        extra_body=dict(model.extra_body))
    if model.backend == "gemini":
        from bench.backends.gemini import GeminiBackend

        return GeminiBackend(model.name, base_url, api_key, timeout_s=timeout_s,
                             extra_headers=extra_headers)
    raise ValueError(f"model.backend={model.backend!r} is not one of {', '.join(PROTOCOLS)}")
