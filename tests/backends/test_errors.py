from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bench.backends.errors import from_status, from_transport, parse_retry_after


def test_retry_after_in_seconds_ms_and_http_date():
    assert parse_retry_after({"Retry-After": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after-ms": "150", "retry-after": "9"}) == 0.15
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < parse_retry_after({"retry-after": later}) <= 31
    assert parse_retry_after({}) is None and parse_retry_after({"retry-after": "soon"}) is None


@pytest.mark.parametrize("status, body, kind, fatal", [
    (429, {"error": {"message": "slow down"}}, "rate_limit", False),
    (429, {"error": {"code": "insufficient_quota", "message": "You exceeded your current quota"}}, "quota", True),
    (401, None, "auth", True),
    (403, None, "auth", True),
    (404, None, "not_found", True),
    (400, None, "bad_request", False),
    (500, None, "server", False),
    (529, None, "server", False),
    (200, {"type": "overloaded_error"}, "server", False),
])
def test_status_mapping(status, body, kind, fatal):
    err = from_status("openai", status, "msg", {}, body)
    assert err.kind == kind and err.fatal == fatal and "openai HTTP" in str(err)


def test_our_own_bugs_are_fatal_not_retried():
    err = from_transport("openai", TypeError("create() got an unexpected keyword argument"))
    assert err.kind == "internal" and err.fatal and not err.retryable
    assert from_transport("openai", ConnectionResetError()).kind == "connection"
    assert from_transport("openai", TimeoutError()).kind == "timeout"
