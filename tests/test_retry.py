import random

from bench.backends.base import BackendError, CaptionResponse, Usage
from bench.config import RetryConfig
from bench.retry import backoff_delay, call_with_retry


def _ok(tokens_in=700, tokens_out=250):
    return CaptionResponse(text="{}", finish_reason="stop", usage=Usage(tokens_in, tokens_out), t_sent=1.0,
                           t_first_token=1.1, t_last_token=1.5)


class Scripted:
    """Answers with the scripted outcomes in order; records each call."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        out = self.outcomes.pop(0)
        if isinstance(out, BaseException):
            raise out
        if out == "hang":
            import asyncio
            await asyncio.sleep(30)
        return out


async def test_retry_after_is_honoured_and_every_attempt_recorded():
    slept = []

    async def sleep(s):
        slept.append(s)

    err = BackendError("rate_limit", "slow down", status=429, retry_after=1.25,
                       usage=Usage(input_tokens=700, output_tokens=0))
    call = Scripted(err, BackendError("server", "boom", status=500), _ok())
    out = await call_with_retry(call, RetryConfig(max_attempts=4, base_delay_s=0.1), 5.0, random.Random(0), sleep)
    assert out.response is not None and call.calls == 3
    assert [a.ok for a in out.attempts] == [False, False, True]
    assert [a.error_kind for a in out.attempts] == ["rate_limit", "server", None]
    assert slept[0] == 1.25  # the server's retry-after, not the backoff
    assert out.attempts[0].input_tokens == 700  # a failed attempt's tokens are kept for cost
    assert out.attempts[1].waited_s == 1.25


async def test_non_retryable_error_stops_at_once():
    call = Scripted(BackendError("bad_request", "no image", status=400), _ok())
    out = await call_with_retry(call, RetryConfig(), 5.0, random.Random(0), _nosleep)
    assert out.response is None and call.calls == 1 and out.error.kind == "bad_request"


async def test_attempt_cap_and_hang_hits_timeout():
    call = Scripted("hang", "hang", "hang")
    out = await call_with_retry(call, RetryConfig(max_attempts=2), 0.05, random.Random(0), _nosleep)
    assert out.response is None and call.calls == 2
    assert [a.error_kind for a in out.attempts] == ["timeout", "timeout"]


async def test_total_time_cap_gives_up_before_a_long_retry_after():
    call = Scripted(BackendError("rate_limit", "later", retry_after=100.0), _ok())
    cfg = RetryConfig(max_attempts=5, max_delay_s=200.0, max_total_s=10.0)
    out = await call_with_retry(call, cfg, 5.0, random.Random(0), _nosleep)
    assert out.response is None and call.calls == 1


def test_backoff_is_capped_exponential_with_jitter():
    cfg = RetryConfig(base_delay_s=0.5, max_delay_s=4.0)
    rng = random.Random(1)
    delays = [backoff_delay(n, cfg, rng, None) for n in range(1, 8) for _ in range(50)]
    assert max(delays) <= 4.0 and min(delays) >= 0.0
    assert backoff_delay(1, cfg, rng, 9.0) == 4.0  # retry-after is capped by max_delay_s


async def _nosleep(_s):
    return None
