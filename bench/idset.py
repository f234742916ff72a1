"""A compact set of frame ids, for a million frames and more.

A Python set of 1M short str ids costs about 100 MB and a dict of records many GB; this holds
each id as a 16-byte digest (blake2b, 120 bits, plus a constant 0x01 byte so numpy's fixed-width
bytes never lose a trailing NUL) in a sorted numpy array, with the ids added since the last
merge in a small Python set. 1M ids take about 16 MB. Two different ids share a digest with
probability about n^2 / 2^121 (1e-24 at 1M ids): the set is exact for any dataset we will see.

Why not a library: pybloom-style filters are approximate by design (a false "already recorded"
would skip a frame), and a sorted digest array is twenty lines of numpy.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator

import numpy as np

_DTYPE = "S16"
MERGE_AT = 65_536  # recent ids kept in a Python set before they are merged into the sorted array


def id_key(frame_id: str) -> bytes:
    # surrogatepass: a file name that is not UTF-8 is held by Python with lone surrogates.
    return hashlib.blake2b(frame_id.encode("utf-8", "surrogatepass"), digest_size=15).digest() + b"\x01"


class IdSet:
    """add / discard / `in` / len over frame ids, about 16 bytes an id."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._sorted = np.empty(0, dtype=_DTYPE)
        self._recent: set[bytes] = set()
        for frame_id in ids:
            self.add(frame_id)

    def _in_sorted(self, key: bytes) -> bool:
        pos = self._sorted.searchsorted(key)  # the method: a third of np.searchsorted's call overhead
        return pos < self._sorted.size and self._sorted[pos] == key

    def __contains__(self, frame_id: object) -> bool:
        if not isinstance(frame_id, str):
            return False
        key = id_key(frame_id)
        return key in self._recent or self._in_sorted(key)

    def add(self, frame_id: str) -> bool:
        """Add an id; False if it was already there."""
        key = id_key(frame_id)
        if key in self._recent or self._in_sorted(key):
            return False
        self._recent.add(key)
        if len(self._recent) >= MERGE_AT:
            self._merge()
        return True

    def discard(self, frame_id: str) -> None:
        key = id_key(frame_id)
        if key in self._recent:
            self._recent.discard(key)
        elif self._in_sorted(key):
            self._sorted = self._sorted[self._sorted != np.bytes_(key)]

    def _merge(self) -> None:
        fresh = np.sort(np.fromiter(self._recent, dtype=_DTYPE, count=len(self._recent)))
        # one new array of the merged size (concatenate-then-sort made two: a 1M-id set peaked at 3x its size)
        self._sorted = np.insert(self._sorted, self._sorted.searchsorted(fresh), fresh)
        self._recent = set()

    def _digests(self) -> np.ndarray:
        if self._recent:
            self._merge()
        return self._sorted

    def count_common(self, other: IdSet) -> int:
        """How many ids are in both sets (vectorised: no per-id Python work)."""
        return int(np.intersect1d(self._digests(), other._digests(), assume_unique=True).size)

    def __len__(self) -> int:
        return int(self._sorted.size) + len(self._recent)

    def __iter__(self) -> Iterator[bytes]:
        """The digests (not the ids: they are not kept)."""
        yield from self._sorted.tolist()
        yield from self._recent

    def nbytes(self) -> int:
        return int(self._sorted.nbytes) + len(self._recent) * 90


class IdMap:
    """frame id -> a 64-bit integer (a dataset position, a byte offset), built once from (id, value) pairs in any
    order, the last value of a repeated id winning: about 24 bytes an id (a digest, as IdSet's, and the value),
    where a dict of str -> int took ~130. Lookups are vectorised (`get_many`)."""

    _CHUNK = 65_536

    def __init__(self, pairs: Iterable[tuple[str, int]]) -> None:
        keys: list[np.ndarray] = []
        values: list[np.ndarray] = []
        chunk_keys: list[bytes] = []
        chunk_values: list[int] = []
        for frame_id, value in pairs:
            chunk_keys.append(id_key(frame_id))
            chunk_values.append(value)
            if len(chunk_keys) >= self._CHUNK:
                keys.append(np.array(chunk_keys, dtype=_DTYPE))
                values.append(np.array(chunk_values, dtype=np.int64))
                chunk_keys, chunk_values = [], []
        keys.append(np.array(chunk_keys, dtype=_DTYPE))
        values.append(np.array(chunk_values, dtype=np.int64))
        all_keys, all_values = np.concatenate(keys), np.concatenate(values)
        order = np.argsort(all_keys, kind="stable")  # stable: a repeated id's pairs stay in the order given
        all_keys, all_values = all_keys[order], all_values[order]
        last = np.ones(all_keys.size, dtype=bool)
        last[:-1] = all_keys[1:] != all_keys[:-1]  # keep the last pair of each run of equal digests
        self._keys, self._values = all_keys[last], all_values[last]

    def __len__(self) -> int:
        return int(self._keys.size)

    def _find(self, frame_ids: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found, index into the sorted arrays) per id, digested _CHUNK ids at a time: a million ids at once
        were a million str and bytes objects alive together (~100 MB the allocator then kept)."""
        found: list[np.ndarray] = []
        where: list[np.ndarray] = []
        ids = iter(frame_ids)
        while chunk := list(itertools.islice(ids, self._CHUNK)):
            wanted = np.array([id_key(f) for f in chunk], dtype=_DTYPE)
            del chunk
            if not self._keys.size:
                found.append(np.zeros(wanted.size, dtype=bool))
                where.append(np.zeros(wanted.size, dtype=np.int64))
                continue
            pos = np.minimum(self._keys.searchsorted(wanted), self._keys.size - 1)
            found.append(self._keys[pos] == wanted)
            where.append(pos)
        if not found:
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
        return np.concatenate(found), np.concatenate(where)

    def get_many(self, frame_ids: Iterable[str], missing: int = -1) -> np.ndarray:
        """The value of each id (int64), `missing` for ids not in the map."""
        found, pos = self._find(frame_ids)
        return np.where(found, self._values[pos] if self._values.size else missing, missing).astype(np.int64)

    def get(self, frame_id: str) -> int | None:
        found, pos = self._find([frame_id])
        return int(self._values[pos[0]]) if found[0] else None

    def __contains__(self, frame_id: object) -> bool:
        return isinstance(frame_id, str) and bool(self._find([frame_id])[0][0])
