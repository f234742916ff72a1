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
        fresh = np.fromiter(self._recent, dtype=_DTYPE, count=len(self._recent))
        self._sorted = np.sort(np.concatenate([self._sorted, fresh]), kind="stable")
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
