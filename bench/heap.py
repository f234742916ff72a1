"""Memory housekeeping for bulk passes through records: the cyclic GC paused, freed memory handed back.

A report or a scoring parses hundreds of thousands of JSON records into dicts and lists. Each is freed
by reference counting as soon as it is dropped (JSON has no cycles), but every allocation still counts
towards the collector's thresholds, and each full collection walks every live container: over the
50k-frame x 3-run report build that was 51 full collections and 23% of its CPU time. Pausing it for the
pass costs nothing that reference counting does not free; anything cyclic left is collected once after.

What a pass frees, glibc's malloc keeps for reuse, and only gives back what sits at the top of its heap.
After the report's first pass over a million frames ~200 MB of it sat idle, under the long-lived frame
table, and counted in the peak of every step after: `release_freed` hands it back between steps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache


@contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic GC off inside (also as a decorator: `@gc_paused()`), restored as it was, then one collection."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
            gc.collect()


def collect_young() -> None:
    """Inside gc_paused, after each batch: free the cycles the batch made (the young generations) without walking
    the long-lived objects again, so memory stays bounded however many batches the pass has."""
    gc.collect(1)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None (another libc: musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_freed() -> bool:
    """Give the memory freed so far back to the operating system: glibc's malloc_trim(0), which since glibc 2.8
    releases free pages anywhere in the heap, not only at its top. A few milliseconds; call it between the steps
    of a bulk job, not per record. False where there is no glibc (nothing to do: other allocators differ)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
