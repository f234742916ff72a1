"""bench.sim.faults: per-attempt decisions are seeded, exclusive and at the configured rates."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import pytest

from bench.config import SimConfig
from bench.sim.faults import FAULTS, MALFORMED_KINDS, FaultPlanner, malform, validate

RATES = dict(
    rate_limit_rate=0.05,
    server_error_rate=0.05,
    hang_rate=0.05,
    disconnect_rate=0.05,
    block_rate=0.05,
    truncation_rate=0.1,
    malformed_rate=0.2,
)
EXPECTED = dict(
    rate_limit=0.05, server_error=0.05, hang=0.05, disconnect=0.05, blocked=0.05, truncated=0.1, malformed=0.2
)


def test_rates_match_config() -> None:
    planner = FaultPlanner(SimConfig(**RATES))
    n = 4000
    counts = Counter(planner.decide(f"img{i % 50}").outcome for i in range(n))
    for outcome, p in EXPECTED.items():
        sd = math.sqrt(n * p * (1 - p))
        assert abs(counts[outcome] - n * p) < 4 * sd, (outcome, counts)
    assert counts["ok"] == n - sum(counts[o] for o in FAULTS)
    assert planner.outcomes == counts


def test_same_seed_same_sequence_and_retries_redraw() -> None:
    cfg = SimConfig(seed=7, rate_limit_rate=0.5, ttft_jitter_s=0.02)
    a = [FaultPlanner(cfg).decide("x") for _ in range(1)]
    p1, p2 = FaultPlanner(cfg), FaultPlanner(cfg)
    s1 = [(d.outcome, d.ttft_s) for d in (p1.decide("x") for _ in range(30))]
    s2 = [(d.outcome, d.ttft_s) for d in (p2.decide("x") for _ in range(30))]
    assert s1 == s2 and s1[0] == (a[0].outcome, a[0].ttft_s)
    assert {"ok", "rate_limit"} <= {o for o, _ in s1}  # a retry of a failed frame can succeed
    other = [d.outcome for d in (FaultPlanner(SimConfig(seed=8, rate_limit_rate=0.5)).decide("x") for _ in range(30))]
    assert other != [o for o, _ in s1]


def test_attempt_counter_is_per_image() -> None:
    planner = FaultPlanner(SimConfig())
    assert [planner.decide(k).n for k in ("a", "b", "a", "a", "b")] == [0, 0, 1, 2, 1]


def test_latency_jitter_bounds() -> None:
    planner = FaultPlanner(SimConfig(ttft_s=0.1, ttft_jitter_s=0.05, per_token_s=0.01, per_token_jitter_s=0.004))
    for i in range(200):
        a = planner.decide(str(i))
        assert 0.05 <= a.ttft_s <= 0.15
        assert all(0.006 <= a.token_delay() <= 0.014 for _ in range(20))


@pytest.mark.parametrize(
    "kw",
    [
        dict(malformed_rate=1.5),
        dict(hang_rate=-0.1),
        dict(malformed_rate=0.6, truncation_rate=0.6),
        dict(ttft_s=-1.0),
        dict(caption_quality=2.0),
    ],
)
def test_validate_rejects_impossible_knobs(kw: dict) -> None:
    with pytest.raises(ValueError):
        validate(SimConfig(**kw))


def _lenient(text: str) -> dict:
    """What a lenient extractor does: strip fences and prose around the outermost braces."""
    m = re.search(r"\{.*\}", text, re.S)
    if not m:
        raise ValueError("no object")
    return json.loads(m.group(0))


@pytest.mark.parametrize("kind", list(MALFORMED_KINDS))
def test_malformed_kinds(kind: str) -> None:
    caption = {"description": "A red card.", "objects": ["red card"], "actions": [], "logos": []}
    text = json.dumps(caption, indent=2)
    bad = malform(caption, text, kind)
    with pytest.raises(ValueError):
        json.loads(bad)  # strict parsing always fails
    if kind in ("prose", "fence", "prose_fence"):
        assert _lenient(bad) == caption
    else:
        with pytest.raises(ValueError):
            _lenient(bad)


def test_malformed_mix_has_both_recoverable_and_not() -> None:
    planner = FaultPlanner(SimConfig(malformed_rate=1.0))
    kinds = Counter(planner.decide(str(i)).malformed_kind for i in range(600))
    assert set(kinds) == set(MALFORMED_KINDS)
    recoverable = kinds["prose"] + kinds["fence"] + kinds["prose_fence"]
    assert 0.45 < recoverable / 600 < 0.75
