"""A stable partition of a dataset's frames into N shards, by frame id.

    shard_of("news/0001", 4) -> 0..3      sha256 of the UTF-8 id, first 8 bytes big-endian, mod N

The partition depends on the id alone: not on the order of the manifest, the machine, the Python
hash seed or which other frames exist, so shard i of N holds the same frames wherever it runs, a
frame added to the dataset never moves the others, and the N shards together hold every frame
exactly once. `in_shard` is a plain predicate so that any frame source (a list, a lazy manifest
iterator) can filter with it. Stand-in ids of unreadable manifest lines (`line-12`) partition
like any other id, so a bad line is recorded by exactly one shard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

PARTITION = "sha256(frame_id utf-8)[:8] big-endian mod num_shards"


def shard_of(frame_id: str, num_shards: int) -> int:
    """Which of `num_shards` shards holds the frame (0-based)."""
    if num_shards < 1:
        raise ValueError(f"num_shards must be at least 1 (got {num_shards})")
    digest = hashlib.sha256(frame_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


def in_shard(frame_id: str, shard: int | None, num_shards: int) -> bool:
    """True when shard `shard` of `num_shards` holds the frame (always true when unsharded)."""
    return num_shards <= 1 or shard_of(frame_id, num_shards) == shard


def shard_predicate(shard: int | None, num_shards: int) -> Callable[[str], bool]:
    """A frame-id filter for one shard: `filter(lambda f: keep(f.id), frames)`."""
    return lambda frame_id: in_shard(frame_id, shard, num_shards)


def shard_spec_problems(shard: int | None, num_shards: int) -> list[str]:
    """Why `dataset.shard` / `dataset.num_shards` do not name one shard of a partition (empty: fine).

    A shard outside 0..N-1 would select no frame (frames left out), and a shard without N, or N
    without a shard, would run every frame in each job (frames counted twice): both are refused."""
    if type(num_shards) is not int or num_shards < 1:
        return [f"dataset.num_shards={num_shards!r}: the number of shards, 1 or more"]
    if num_shards == 1:
        if shard not in (None, 0):
            return [f"dataset.shard={shard} with dataset.num_shards=1: set dataset.num_shards=N as well "
                    "(shards are numbered 0..N-1)"]
        return []
    if shard is None:
        return [f"dataset.num_shards={num_shards} needs dataset.shard=i (0..{num_shards - 1}): without it every "
                "job would run every frame; sweep it with dataset.shard=range(0,N)"]
    if type(shard) is not int or not 0 <= shard < num_shards:
        return [f"dataset.shard={shard!r}: shards are numbered 0..{num_shards - 1} for dataset.num_shards="
                f"{num_shards}; a shard outside that holds no frame"]
    return []
