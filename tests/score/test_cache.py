"""The judge cache: keyed by every input of a verdict, persistent, safe under concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from bench.score.cache import JudgeCache, cache_key

PARTS = {"judge": "gemini:gemini-2.5-pro", "rubric": "factual_accuracy@1:abc", "image_sha256": "i" * 64,
         "caption_sha256": "c" * 64, "reference_sha256": "", "sampling": {"temperature": 0.0, "max_tokens": 8192},
         "repeat": 0}


def test_every_component_changes_the_key() -> None:
    base = cache_key(PARTS)
    for name, other in [("judge", "openai:gpt-4.1"), ("rubric", "factual_accuracy@2:abc"), ("image_sha256", "j"),
                        ("caption_sha256", "d"), ("reference_sha256", "r"), ("repeat", 1),
                        ("sampling", {"temperature": 0.7, "max_tokens": 8192})]:
        assert cache_key({**PARTS, name: other}) != base, name
    assert cache_key(dict(reversed(list(PARTS.items())))) == base  # order-independent


def test_roundtrip_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with JudgeCache(path) as cache:
        assert cache.get("k") is None
        cache.put("k", PARTS, {"score": 4.0, "rationale": "ok"}, {"input_tokens": 10, "output_tokens": 2})
        cache.put("k", PARTS, {"score": 1.0}, {})  # first answer wins; no error
    with JudgeCache(path) as cache:
        assert cache.get("k") == {"verdict": {"score": 4.0, "rationale": "ok"},
                                  "usage": {"input_tokens": 10, "output_tokens": 2}}
        assert len(cache) == 1


def _writer(path: str, worker: int, n: int) -> None:
    with JudgeCache(path, timeout_s=30) as cache:
        for i in range(n):
            key = f"w{worker}-{i}" if i % 2 else f"shared-{i}"  # half the keys are written by every process
            cache.put(key, {**PARTS, "repeat": i}, {"score": float(1 + i % 5), "worker": worker}, {})


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
