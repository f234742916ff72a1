"""What a scoring keeps of each frame while the records stream past: a few numbers, not the captions.

Per frame: its id, content type and validity category (interned), valid flag, ROUGE-L, and the row of overlap
numbers the bootstrap resamples (ROUGE-1/2/L and BLEU of the whole caption, again for valid outputs only, and
per field: 4 x (2 + fields) floats, ~350 bytes). Corpus BLEU needs only summed statistics. Above
bench.stats.BOOTSTRAP_MAX_N scored frames the interval is the normal one (bench.stats says so), which needs
only each column's count, mean and sum of squared deviations: the rows are then folded into running moments
(Chan et al.'s pairwise update) instead of kept, so memory stops growing with the frames but for ids and a
few bytes each.
"""

from __future__ import annotations

from array import array
from collections import Counter
from typing import Any

import numpy as np

from bench.score.overlap import METRICS
from bench.stats import _Z95, BOOTSTRAP_MAX_N, bootstrap_means


class _Moments:
    """Per column: count, mean and M2 (sum of squared deviations), merged batch by batch; NaN = no value."""

    def __init__(self, k: int) -> None:
        self.count = np.zeros(k)
        self.mean = np.zeros(k)
        self.m2 = np.zeros(k)

    def add(self, block: Any) -> None:
        for j in range(block.shape[1]):
            col = block[:, j]
            col = col[~np.isnan(col)]
            nb = col.size
            if not nb:
                continue
            mb = float(col.mean())
            m2b = float(((col - mb) ** 2).sum())
            na = self.count[j]
            n = na + nb
            delta = mb - self.mean[j]
            self.mean[j] += delta * nb / n
            self.m2[j] += m2b + delta * delta * na * nb / n
            self.count[j] = n

    def stats(self) -> list[dict[str, Any]]:
        """bench.stats.bootstrap_means' answer for more than BOOTSTRAP_MAX_N rows (the normal interval)."""
        out = []
        for j in range(self.count.size):
            n = int(self.count[j])
            entry: dict[str, Any] = {"mean": float(self.mean[j]) if n else None, "ci95": None, "n": n,
                                     "method": None}
            if n > 1:
                half = _Z95 * float(np.sqrt(self.m2[j] / (n - 1))) / np.sqrt(n)
                entry.update(ci95=[entry["mean"] - half, entry["mean"] + half], method="normal")
            out.append(entry)
        return out


class Interned:
    """Strings seen many times (content types, categories) as small ints."""

    def __init__(self) -> None:
        self.names: list[Any] = []
        self._codes: dict[Any, int] = {}

    def code(self, value: Any) -> int:
        c = self._codes.get(value)
        if c is None:
            c = self._codes[value] = len(self.names)
            self.names.append(value)
        return c


class FrameTable:
    """The scoring's per-frame state, appended one frame at a time (see the module docstring)."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.ids: list[str] = []
        self.content_types = Interned()
        self.categories = Interned()
        self._ct = array("i")
        self._cat = array("i")
        self._valid = array("b")
        self._rouge_l = array("d")  # NaN: no reference
        self.missing_reference: Counter[str] = Counter()
        # overlap rows of scored frames, with their frame index; folded into moments past BOOTSTRAP_MAX_N
        self._rows: list[Any] = []
        self._row_frames = array("q")
        self._pending: list[list[float]] = []
        self.moments: _Moments | None = None
        self.scored = 0
        self.bleu_all = [0] * 10
        self.bleu_valid = [0] * 10
        self.bleu_valid_n = 0

    @property
    def width(self) -> int:
        return len(METRICS) * (2 + len(self.fields))

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, frame_id: str, content_type: Any, category: Any, valid: bool, overlap: dict[str, Any] | None,
            bleu_stats: Any = None, missing_reference: str | None = None) -> None:
        self.ids.append(frame_id)
        self._ct.append(self.content_types.code(content_type))
        self._cat.append(self.categories.code(category))
        self._valid.append(valid)
        if overlap is None:
            self._rouge_l.append(float("nan"))
            self.missing_reference[str(missing_reference)] += 1
            return
        self._rouge_l.append(overlap["rougeL"])
        nan = float("nan")
        row = [overlap[m] for m in METRICS] + [overlap[m] if valid else nan for m in METRICS]
        for f in self.fields:
            pf = overlap["per_field"].get(f)
            row += [pf[m] if pf else nan for m in METRICS]
        self._pending.append(row)
        self._row_frames.append(len(self.ids) - 1)
        self.scored += 1
        for i, v in enumerate(bleu_stats):
            self.bleu_all[i] += v
        if valid:
            self.bleu_valid_n += 1
            for i, v in enumerate(bleu_stats):
                self.bleu_valid[i] += v

    def flush(self) -> None:
        """End of a batch: the pending rows as one float array (or folded into the moments)."""
        if not self._pending:
            return
        block = np.array(self._pending, dtype=float)
        self._pending = []
        if self.moments is None and self.scored > BOOTSTRAP_MAX_N:
            self.moments = _Moments(self.width)
            for b in self._rows:
                self.moments.add(b)
            self._rows = []
            self._row_frames = array("q")
        if self.moments is not None:
            self.moments.add(block)
        else:
            self._rows.append(block)

    # ---- reading, in frame-id order (two runs of the same frames then resample identically) ----------
    def id_order(self) -> list[int]:
        return sorted(range(len(self.ids)), key=self.ids.__getitem__)

    def valid(self, i: int) -> bool:
        return bool(self._valid[i])

    def category(self, i: int) -> Any:
        return self.categories.names[self._cat[i]]

    def content_type(self, i: int) -> Any:
        return self.content_types.names[self._ct[i]]

    def rouge_l(self, i: int) -> float | None:
        v = self._rouge_l[i]
        return None if v != v else v

    def valid_count(self) -> int:
        return sum(self._valid)

    def overlap_stats(self, seed: int, replicates: int) -> list[dict[str, Any]]:
        """bench.stats.bootstrap_means over the scored frames' rows in frame-id order (normal past MAX_N)."""
        self.flush()
        if self.moments is not None:
            return self.moments.stats()
        matrix = np.concatenate(self._rows) if self._rows else np.empty((0, self.width))
        frames = np.frombuffer(self._row_frames.tobytes(), dtype=np.int64) if len(self._row_frames) else \
            np.empty(0, dtype=np.int64)
        rank = np.empty(len(self.ids), dtype=np.int64)
        rank[np.array(self.id_order(), dtype=np.int64)] = np.arange(len(self.ids))
        return bootstrap_means(matrix[np.argsort(rank[frames])], replicates=replicates, seed=seed)
