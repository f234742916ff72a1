"""Turn HTTP statuses and transport exceptions into one `BackendError` vocabulary.

Shared by every backend so that a 429 from OpenAI, Anthropic or Gemini is the
same `rate_limit` with the same `retry_after` handling.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from bench.backends.base import BackendError

# A 400 about the request's shape (a parameter or value this model does not take) fails every frame alike:
# OpenAI's codes, and the parameters Anthropic and Gemini name in such refusals (bench/backends/families.py).
_SHAPE_MARKERS = ("unsupported_parameter", "unsupported_value", "thinking", "temperature", "top_p",
                  "budget_tokens", "reasoning_effort", "max_tokens", "output_config")
_QUOTA_MARKERS = ("insufficient_quota", "billing", "quota exceeded", "exceeded your current quota", "credit balance")


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` / `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lower:
        try:
            return max(0.0, float(lower["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unparsable: fall back to our own backoff
    return max(0.0, parsed.timestamp() - time.time())


def from_status(provider: str, status: int, message: str, headers: Mapping[str, str] | None = None,
                body: Any = None) -> BackendError:
    """Map an HTTP error status to a BackendError kind."""
    text = f"{message} {body!r}".lower()
    retry_after = parse_retry_after(headers)
    if status == 400 and ("api_key_invalid" in text or "api key not valid" in text):
        status = 401  # Gemini answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID
    if status < 400:  # an error event inside a 200 stream (Anthropic's overloaded_error, say)
        kind = "rate_limit" if "rate_limit" in text else "server"
    elif status == 429:
        kind = "quota" if any(m in text for m in _QUOTA_MARKERS) else "rate_limit"
    elif status in (401, 403):
        kind = "auth"
    elif status == 402:
        kind = "quota"
    elif status == 404:
        kind = "not_found"
    elif status in (408, 409, 425) or status >= 500:
        kind = "server"
    elif status == 400 and any(m in text for m in _SHAPE_MARKERS):
        kind = "unsupported_request"
    else:
        kind = "bad_request"
    hint = {
        "unsupported_request": " (the model does not take this request: see model.sampling, "
                               "docs/reasoning-models.md and `python -m bench.models`)",
        "auth": " (check the API key variable named in the model config's api_key_env)",
        "not_found": " (check model.name and model.base_url)",
        "quota": " (billing or quota: top up or raise the limit)",
    }.get(kind, "")
    return BackendError(kind, f"{provider} HTTP {status}: {message}{hint}", status=status, retry_after=retry_after)


_NETWORK_MODULES = ("httpx", "httpcore", "h11", "aiohttp", "ssl", "socket", "anyio", "openai", "anthropic", "google")


def from_transport(provider: str, exc: BaseException) -> BackendError:
    """Map a network-level exception (httpx/httpx2/aiohttp/ssl/socket) by what it is.

    Anything that is not from the network stack or an SDK (a TypeError from a
    wrong call, say) is `internal`: a bug that would hit every frame, so the
    run stops instead of retrying it.
    """
    names = " ".join(cls.__name__ for cls in type(exc).__mro__).lower()
    module = type(exc).__module__.split(".")[0]
    if not (module.startswith(_NETWORK_MODULES) or isinstance(exc, OSError | TimeoutError)):
        return BackendError("internal", f"{provider}: {type(exc).__name__}: {exc} (a capbench bug: please report)")
    if "timeout" in names:
        return BackendError("timeout", f"{provider}: request timed out ({type(exc).__name__})")
    if any(n in names for n in ("connect", "protocol", "readerror", "writeerror", "network", "oserror",
                                "incompleteread", "remote", "closed", "disconnect", "payload", "transfer")):
        return BackendError("connection", f"{provider}: connection failed or dropped ({type(exc).__name__}: {exc})")
    return BackendError("protocol", f"{provider}: unexpected answer ({type(exc).__name__}: {exc})")


def from_stainless_sdk(provider: str, exc: BaseException, sdk: ModuleType) -> BackendError:
    """Map an exception from the `openai` or `anthropic` SDK (same generated hierarchy)."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, sdk.APIStatusError):
        return from_status(provider, exc.status_code, _status_message(exc), exc.response.headers, exc.body)
    if isinstance(exc, sdk.APITimeoutError):
        return BackendError("timeout", f"{provider}: request timed out")
    if isinstance(exc, sdk.APIConnectionError):
        return from_transport(provider, exc.__cause__ or exc)
    if isinstance(exc, sdk.APIResponseValidationError | ValueError | TypeError | AttributeError | KeyError):
        # Raised while reading a malformed answer (a string where an object belongs, a missing
        # field): the server's fault, recorded and retried, not a reason to stop the run.
        return BackendError("protocol", f"{provider}: malformed response ({type(exc).__name__}: {exc})")
    return from_transport(provider, exc)  # raised mid-stream by the HTTP library, or a bug of ours


def _status_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and body["error"].get("message"):
        err = body["error"]
        return f"{err['type']}: {err['message']}" if err.get("type") else str(err["message"])
    return str(exc.message)
