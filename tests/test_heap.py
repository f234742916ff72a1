"""bench.heap: the GC pause and handing freed memory back (glibc)."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from bench.heap import _malloc_trim, gc_paused, release_freed


def test_gc_paused_restores_the_collector():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


# Frees 240 MB of 4 KB blocks (above pymalloc's limit: glibc's heap) while every 8th block stays alive, so nothing
# sits at the heap's top for free() to give back; prints RssAnon (MB) after the free and after release_freed.
_FRAGMENTED = """
import sys
from bench.heap import release_freed
def anon():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("RssAnon:")) // 1024
blocks = [bytearray(4000) for _ in range(60_000)]
kept = blocks[::8]
del blocks
before = anon()
assert release_freed()
print(before, anon())
"""


@pytest.mark.skipif(_malloc_trim() is None or not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_freed_hands_fragmented_free_memory_back():
    out = subprocess.run([sys.executable, "-c", _FRAGMENTED], capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert before - after > 120, (before, after)  # ~210 MB of the 240 freed were still resident before


def test_release_freed_does_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr("bench.heap._malloc_trim", lambda: None)
    assert release_freed() is False
