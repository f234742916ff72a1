"""The one retry policy for every backend.

Exponential backoff with full jitter, `retry-after` honoured, caps on attempts
and on total time per frame, a timeout per attempt. Every attempt is returned
so the runner can record it and count the tokens it consumed.

Why not tenacity: we need each attempt's outcome (status, wait, tokens) as
data and the server's retry-after as the wait, which is more code to bend
tenacity to than these few lines.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.backends.base import BackendError, CaptionResponse, StreamClock, Usage
from bench.config import RetryConfig


@dataclass
class Attempt:
    n: int
    t_sent: float
    duration_s: float
    ok: bool
    error_kind: str | None = None
    status: int | None = None
    message: str | None = None
    retry_after_s: float | None = None
    waited_s: float = 0.0  # backoff slept *before* this attempt
    input_tokens: int | None = None
    output_tokens: int | None = None  # reasoning included (billed as output)
    reasoning_tokens: int | None = None  # of output_tokens, spent reasoning (None: not reported)
    endpoint: str | None = None  # the replica tried, when the model has several (bench/backends/replicas.py)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # = asdict (scalar fields only) without its deep copy: once per attempt


@dataclass
class RetryOutcome:
    response: CaptionResponse | None
    attempts: list[Attempt]
    error: BackendError | None  # the last error when no attempt succeeded


def backoff_delay(attempt: int, cfg: RetryConfig, rng: random.Random, retry_after: float | None) -> float:
    """Wait before attempt `attempt + 1`: the server's retry-after if given, else full-jitter exponential."""
    if retry_after is not None and cfg.respect_retry_after:
        return min(retry_after, cfg.max_delay_s)
    ceiling = min(cfg.max_delay_s, cfg.base_delay_s * (2 ** (attempt - 1)))
    return rng.uniform(0, ceiling)


async def call_with_retry(
    call: Callable[[], Awaitable[CaptionResponse]],
    cfg: RetryConfig,
    timeout_s: float,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> RetryOutcome:
    attempts: list[Attempt] = []
    started = StreamClock.now()
    waited = 0.0
    last_error: BackendError | None = None
    for n in range(1, cfg.max_attempts + 1):
        t0 = StreamClock.now()
        try:
            async with asyncio.timeout(timeout_s):
                response = await call()
        except TimeoutError:
            last_error = BackendError("timeout", f"no complete answer within runner.request_timeout_s={timeout_s:g}s")
        except BackendError as exc:
            last_error = exc
        else:
            attempts.append(Attempt(n=n, t_sent=response.t_sent, duration_s=response.t_last_token - response.t_sent,
                                    ok=True, waited_s=waited, input_tokens=response.usage.input_tokens,
                                    output_tokens=response.usage.output_tokens,
                                    reasoning_tokens=response.usage.reasoning_tokens, endpoint=response.endpoint))
            return RetryOutcome(response, attempts, None)
        usage = last_error.usage or Usage()
        attempts.append(Attempt(n=n, t_sent=t0, duration_s=StreamClock.now() - t0, ok=False,
                                error_kind=last_error.kind, status=last_error.status, message=last_error.message,
                                retry_after_s=last_error.retry_after, waited_s=waited,
                                input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                                reasoning_tokens=usage.reasoning_tokens, endpoint=last_error.endpoint))
        if not last_error.retryable or n == cfg.max_attempts:
            break
        waited = backoff_delay(n, cfg, rng, last_error.retry_after)
        if StreamClock.now() + waited - started > cfg.max_total_s:
            break
        await sleep(waited)
    return RetryOutcome(None, attempts, last_error)
