"""The judge cache: keyed by every input of a verdict, persistent, safe under concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from bench.score.cache import JudgeCache, cache_key, default_cache_path, normalise_base_url

PARTS = {"judge": "gemini:gemini-2.5-pro", "endpoint": "default", "rubric": "factual_accuracy@1:abc",
         "image_sha256": "i" * 64,
         "caption_sha256": "c" * 64, "reference_sha256": "", "sampling": {"temperature": 0.0, "max_tokens": 8192},
         "repeat": 0}


def test_every_component_changes_the_key() -> None:
    base = cache_key(PARTS)
    for name, other in [("judge", "openai:gpt-4.1"), ("endpoint", "http://127.0.0.1:8000/v1"),
                        ("rubric", "factual_accuracy@2:abc"), ("image_sha256", "j"),
                        ("caption_sha256", "d"), ("reference_sha256", "r"), ("repeat", 1),
                        ("sampling", {"temperature": 0.7, "max_tokens": 8192})]:
        assert cache_key({**PARTS, name: other}) != base, name
    assert cache_key(dict(reversed(list(PARTS.items())))) == base  # order-independent


def test_roundtrip_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with JudgeCache(path) as cache:
        assert cache.get("k") is None
        cache.put("k", PARTS, {"score": 4.0, "rationale": "ok"}, {"input_tokens": 10, "output_tokens": 2},
                  simulated=False)
        cache.put("k", PARTS, {"score": 1.0}, {}, simulated=False)  # first answer wins; no error
    with JudgeCache(path) as cache:
        assert cache.get("k") == {"verdict": {"score": 4.0, "rationale": "ok"},
                                  "usage": {"input_tokens": 10, "output_tokens": 2}, "simulated": False}
        assert len(cache) == 1


def _writer(path: str, worker: int, n: int) -> None:
    with JudgeCache(path, timeout_s=30) as cache:
        for i in range(n):
            key = f"w{worker}-{i}" if i % 2 else f"shared-{i}"  # half the keys are written by every process
            cache.put(key, {**PARTS, "repeat": i}, {"score": float(1 + i % 5), "worker": worker}, {}, simulated=False)


def test_concurrent_writers(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    with JudgeCache(path) as cache:
        assert len(cache) == 4 * 30 + 30  # every process's own keys, and each shared key once
        assert cache.get("shared-0")["verdict"]["score"] == 1.0


def test_simulated_verdict_is_never_served_to_a_real_judge(tmp_path: Path) -> None:
    with JudgeCache(tmp_path / "c.sqlite") as cache:
        cache.put("k", PARTS, {"score": 5.0}, {}, simulated=True)
        assert cache.get("k") is None  # a real judge asking: a miss, it must ask its own model
        assert cache.get("k", allow_simulated=True)["simulated"] is True
        cache.put("k", PARTS, {"score": 2.0}, {}, simulated=False)  # the real answer replaces the simulator's
        assert cache.get("k") == {"verdict": {"score": 2.0}, "usage": {}, "simulated": False}
        cache.put("k", PARTS, {"score": 5.0}, {}, simulated=True)  # and is never replaced by it
        assert cache.get("k")["verdict"] == {"score": 2.0}


def test_base_url_normalised_without_credentials() -> None:
    assert normalise_base_url(None) == "default"
    same = {normalise_base_url(u) for u in ("http://127.0.0.1:8000/v1", "HTTP://127.0.0.1:8000/v1/",
                                            "http://user:secret@127.0.0.1:8000/v1?key=x")}
    assert same == {"http://127.0.0.1:8000/v1"}
    assert normalise_base_url("https://api.example.com/v1") == "https://api.example.com:443/v1"
    assert normalise_base_url("http://127.0.0.1:8001/v1") != normalise_base_url("http://127.0.0.1:8000/v1")


def test_cache_location_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CAPBENCH_JUDGE_CACHE", raising=False)
    monkeypatch.setenv("CAPBENCH_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_path() == tmp_path / "c" / "judge_cache.sqlite"
    monkeypatch.setenv("CAPBENCH_JUDGE_CACHE", str(tmp_path / "old.sqlite"))  # the older setting still works
    assert default_cache_path() == tmp_path / "old.sqlite"
    monkeypatch.delenv("CAPBENCH_JUDGE_CACHE")
    monkeypatch.delenv("CAPBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "capbench" / "judge_cache.sqlite"


def test_claims_single_flight_across_processes(tmp_path: Path) -> None:
    with JudgeCache(tmp_path / "c.sqlite") as a, JudgeCache(tmp_path / "c.sqlite") as b:
        assert a.claim("k", "A", ttl_s=60)
        assert a.claim("k", "A", ttl_s=60)  # re-entrant for its owner
        assert not b.claim("k", "B", ttl_s=60)  # B must wait for A's verdict
        a.release("k", "A")
        assert b.claim("k", "B", ttl_s=60)
        assert a.claim("k", "A", ttl_s=0)  # a stale claim (its owner died) does not block forever
