"""The judge with a scripted backend: verdict parsing, retries of unparsable verdicts, failures, fatal errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.backends.base import BackendError, CaptionRequest, CaptionResponse, Usage
from bench.frames import encode_frame, load_frames
from bench.score import judge as judge_mod
from bench.score.__main__ import compose_judge
from bench.score.cache import JudgeCache
from bench.score.canonical import caption_json
from bench.score.judge import EncodeSettings, Judge, JudgeItem, JudgeStopped, VerdictError, parse_verdict, render_prompt
from bench.score.references import ScoreError
from tests.conftest import SEED_CAPTION

GOOD = json.dumps({"score": 4, "rationale": "Mostly right.", "hallucinated": {"objects": ["a car"]}, "missed": {}})


def test_parse_verdict() -> None:
    v = parse_verdict(GOOD)
    assert v == {"score": 4.0, "rationale": "Mostly right.", "hallucinated": {"objects": ["a car"]}, "missed": {}}
    assert parse_verdict("```json\n" + GOOD + "\n```")["score"] == 4.0
    for bad in ["Sure! " + GOOD, "{'score': 4}", '{"score": 6}', '{"score": "4"}', '{"score": true}', "[4]",
                '{"rationale": "no score"}', '{"score": 3, "missed": ["x"]}']:
        with pytest.raises(VerdictError):
            parse_verdict(bad)


def test_rubric_renders_candidate_and_optional_reference() -> None:
    cfg = compose_judge("sim", [])
    from omegaconf import OmegaConf

    from bench.config import JudgeConfig

    j: JudgeConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    text = render_prompt(j, "{CAND}", "{REF}")
    assert "{CAND}" in text and "{REF}" not in text and "{{" not in text and j.rubric.marker in text
    j.with_reference = True
    assert "{REF}" in render_prompt(j, "{CAND}", "{REF}")


class Scripted:
    """A backend answering from a script: strings are answers, BackendErrors are raised."""

    name = "scripted"

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.requests: list[CaptionRequest] = []

    async def generate(self, request: CaptionRequest) -> CaptionResponse:
        self.requests.append(request)
        item = self.script.pop(0) if self.script else GOOD
        if isinstance(item, BackendError):
            raise item
        return CaptionResponse(text=item, finish_reason="stop", usage=Usage(100, 20), t_sent=0.0, t_first_token=0.1,
                               t_last_token=0.2)

    async def aclose(self) -> None:
        pass


@pytest.fixture
def setup(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    from omegaconf import OmegaConf

    from bench.config import DatasetConfig

    frames = load_frames(OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(DatasetConfig),
                                                             {"name": "tiny", "path": str(tiny)})))
    items = [JudgeItem(f.id, f, encode_frame(f, 1024, 90, 50_000_000).sha256, caption_json(SEED_CAPTION))
             for f in list(frames)[:2]]

    def make(script: list[Any], **overrides: Any) -> tuple[Judge, Scripted, JudgeCache]:
        backend = Scripted(script)
        monkeypatch.setattr(judge_mod, "make_backend", lambda *a, **k: backend)
        cfg = compose_judge("gpt-4.1", [f"judge.{k}={v}" for k, v in overrides.items()] +
                            ["judge.retry.base_delay_s=0.001"])
        cache = JudgeCache(tmp_path / "cache.sqlite")
        return Judge(cfg, cache=cache, encode=EncodeSettings(1024, 90, 50_000_000), log_dir=tmp_path), backend, cache

    return items, make


def test_unparsable_verdicts_are_retried_then_recorded_as_failures(setup: Any) -> None:
    items, make = setup
    judge, backend, _ = make(["not json", GOOD, "nope", "nope", "nope"], concurrency=1)
    out = judge.judge(items)
    assert out["f0"]["score"] == 4.0 and out["f0"]["failure"] is None and out["f0"]["cached"] is False
    assert out["f1"]["score"] is None and "unparsable verdict after 3 requests" in out["f1"]["failure"]
    assert judge.stats.requests_sent == 5 == len(backend.requests)
    assert judge.stats.input_tokens == 500 and judge.stats.output_tokens == 100  # every attempt is paid for
    assert judge.stats.cost_usd == pytest.approx((500 * 2.0 + 100 * 8.0) / 1e6)  # gpt-4.1 prices
    assert backend.requests[0].image.sha256 == items[0].image_sha256  # the frame re-read as the run sent it
    assert "<candidate>" in backend.requests[0].user


def test_transport_errors_use_the_retry_policy(setup: Any) -> None:
    items, make = setup
    judge, backend, _ = make([BackendError("rate_limit", "slow down", status=429, retry_after=0.0), GOOD, GOOD],
                             concurrency=1)
    out = judge.judge(items)
    assert [out[i.frame_id]["score"] for i in items] == [4.0, 4.0]
    assert judge.stats.requests_sent == 3


def test_cache_makes_the_second_pass_free_and_repeats_are_separate(setup: Any) -> None:
    items, make = setup
    judge, backend, cache = make([], repeats=2)
    first = judge.judge(items)
    assert judge.stats.requests_sent == 4 and all(len(v["scores"]) == 2 for v in first.values())
    judge2, backend2, _ = make([], repeats=2)
    second = judge2.judge(items)
    assert judge2.stats.requests_sent == 0 and judge2.stats.cache_hits == 4 and backend2.requests == []
    assert all(v["cached"] for v in second.values())
    assert {k: v["scores"] for k, v in second.items()} == {k: v["scores"] for k, v in first.items()}


def test_fatal_error_stops_and_keeps_what_was_judged(setup: Any) -> None:
    items, make = setup
    judge, _, cache = make([GOOD, BackendError("auth", "invalid key", status=401)], concurrency=1)
    with pytest.raises(JudgeStopped, match="invalid key"):
        judge.judge(items)
    assert len(cache) == 1  # the verdict before the failure is kept: re-running continues


def test_missing_key_is_reported_before_sending(setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    items, make = setup
    judge, backend, _ = make([])
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ScoreError, match="OPENAI_API_KEY"):
        judge.judge(items)
    assert backend.requests == []


def test_verdict_cost_is_kept_apart_from_what_was_sent(setup: Any) -> None:
    """Re-scoring from the cache sends nothing, but the verdicts used still cost what they cost."""
    items, make = setup
    judge, _, _ = make(["not json", GOOD, "nope", "nope", "nope"], concurrency=1)
    judge.judge(items)  # f0: a verdict after one retry (2 requests); f1: no verdict after 3 requests
    st = judge.stats
    assert (st.input_tokens, st.output_tokens) == (500, 100)  # sent: every request
    assert (st.verdict_input_tokens, st.verdict_output_tokens) == (200, 40)  # the one verdict used
    assert st.verdict_cost_usd == pytest.approx((200 * 2.0 + 40 * 8.0) / 1e6)
    judge2, backend2, _ = make([], concurrency=1)
    judge2.judge(items)  # f0 from the cache (its stored usage), f1 asked again: one request
    st2 = judge2.stats
    assert st2.cache_hits == 1 and len(backend2.requests) == 1
    assert (st2.input_tokens, st2.output_tokens) == (100, 20)
    assert (st2.verdict_input_tokens, st2.verdict_output_tokens) == (300, 60)
    assert st2.verdict_cost_usd == pytest.approx((300 * 2.0 + 60 * 8.0) / 1e6)
