"""The report's per-frame data, read from run folders in one streaming pass per run, in bounded memory.

A run's records (about 12 KB each) and its scoring's rows are never all held
at once: records are read line by line, turned into the report's few columns
in batches, and the byte offset of each frame's record and score row is kept,
so that the frames the explorer embeds can be read again on their own
(`details`). The same pass writes every frame, with its caption, to the
Parquet file beside the report.

This is the report's own small streaming reader of generations.jsonl; it reads
the file as bench.store.load_records does (the first record of a frame wins;
torn and unreadable lines are skipped), and a scoring's rows as
bench.scorings.read_rows does (the last row of a frame wins; a torn last line
ends the file). Column definitions stay in bench.load.frame_rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pandas.api.types import union_categoricals

from bench.heap import collect_young, release_freed
from bench.idset import IdMap, IdSet
from bench.load import FIELDS, RunData, _get, frame_rows, frame_scores, is_judged
from bench.report.dataset_index import DatasetIndex

BATCH = 5000  # records turned into table rows at a time (about 60 MB of them in memory at once)
# the columns the report's tables, figures and sampling use (the Parquet file has all of frame_rows' and more)
REPORT_COLUMNS = ("frame_id", "content_type", "category", "json_strict", "json_lenient", "schema_valid", "rules_ok",
                  "ttft_s", "e2el_s", "e2el_from_scheduled_s", "cost_usd", "judge_score", "judge_no_caption", "rouge1",
                  "rouge2", "rougeL", "bleu",
                  "video", "shot", "timestamp_s")  # where a frame sits in time: the timeline (bench/report/timeline.py)
# A few distinct values each: kept as categoricals (a byte a frame, not a string)
CATEGORICAL = ("content_type", "category")
# ROUGE-L per caption field: the report shows each run's means only, so the pass keeps running sums
# (RunFrames.field_means), not nine columns of 8 bytes a frame
FIELD_COLUMNS = tuple(f"rougeL.{f}" for f in FIELDS)


def loads(line: bytes) -> Any:
    """json.loads, through orjson (about 2x faster on records); what orjson refuses (NaN, huge integers) goes to
    json.loads, so both accept the same lines and give the same values."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # e.g. an integer beyond 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(byte offset, record) of each frame's first readable record in a generations.jsonl, one at a time."""
    seen = IdSet()  # ~16 bytes a frame, where a set of ids took ~90
    if not path.is_file():
        return
    with path.open("rb") as fh:
        offset = 0
        for line in fh:
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                continue  # torn by a kill
            try:
                rec = loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("frame_id"), str) or not seen.add(rec["frame_id"]):
                continue
            yield start, rec


# the scorer writes each row as {"frame_id":"...",...} (bench.scorings.write_scoring): the id is read without parsing
# the row; any other line is parsed
_ROW_ID = re.compile(rb'\{"frame_id":\s*"([^"\\]*)"[,}]')


def score_offsets(path: Path | None) -> IdMap:
    """frame_id -> byte offset of the frame's (last) row in a scoring's jsonl (an IdMap: ~24 bytes a frame)."""
    return IdMap(_score_offsets(path))


def _score_offsets(path: Path | None) -> Iterator[tuple[str, int]]:
    if path is None or not path.is_file():
        return
    with path.open("rb") as fh:
        offset = 0
        for line in fh:
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                break
            m = _ROW_ID.match(line)
            if m:
                try:
                    yield m.group(1).decode("utf-8"), start
                    continue
                except UnicodeDecodeError:
                    continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(rec, dict) and rec.get("frame_id") is not None:
                yield str(rec["frame_id"]), start


def read_at(path: Path, offsets: list[int]) -> list[dict[str, Any]]:
    """The JSON lines that start at these byte offsets (in file order, so the reads go forward)."""
    out = []
    with path.open("rb") as fh:
        for off in sorted(offsets):
            fh.seek(off)
            try:
                rec = loads(fh.readline())
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a row that only looked whole (see score_offsets): as if absent
            if isinstance(rec, dict):
                out.append(rec)
    return out


class FieldScores:
    """Running sums of ROUGE-L per caption field over a run's batches (see FIELD_COLUMNS)."""

    def __init__(self) -> None:
        self._sums = np.zeros(len(FIELD_COLUMNS))
        self._counts = np.zeros(len(FIELD_COLUMNS), dtype=np.int64)

    def add(self, df: pd.DataFrame) -> None:
        for j, col in enumerate(FIELD_COLUMNS):
            if col in df:
                values = df[col].to_numpy(dtype=float, na_value=np.nan)
                scored = ~np.isnan(values)
                self._sums[j] += values[scored].sum()
                self._counts[j] += int(scored.sum())

    def means(self) -> dict[str, float | None]:
        return {f: (float(s / n) if n else None) for f, s, n in zip(FIELDS, self._sums, self._counts, strict=True)}


class RunFrames:
    """One run's rows of a scoring and records, read on demand by offset (see frame_table)."""

    def __init__(self, run: RunData) -> None:
        self.run = run
        self.generations = run.path / "generations.jsonl"
        # A run loaded with its records (a sharded run's union has no one file to stream): "offsets" are then
        # indices into run.records.
        self.in_memory = bool(run.records)
        # loaded already (a scoring without a summary, or a caller that loaded everything), else read by offset
        self._score_offsets = score_offsets(None if run.scores else run.scores_path)
        # whether the run was judged decides the "all" view of every frame (bench.load.judge_score_all): decided
        # once for the whole run (from the summary, or from rows loaded because there is none), not per batch
        self._metrics = run.metrics
        if is_judged(run) and not _get(run.metrics, "scores.judge"):
            self._metrics = {**run.metrics, "scores": {**(run.metrics.get("scores") or {}), "judge": {"rows": True}}}
        self.field_scores = FieldScores()  # filled by frame_table's pass

    def field_means(self) -> dict[str, float | None]:
        """Mean ROUGE-L of each caption field over the run's scored frames (None: none scored)."""
        return self.field_scores.means()

    def scores_for(self, frame_ids: list[str]) -> dict[str, dict[str, Any]]:
        if self.run.scores:
            return {fid: self.run.scores[fid] for fid in frame_ids if fid in self.run.scores}
        offs = [o for o in self._score_offsets.get_many(frame_ids).tolist() if o >= 0]
        if not offs or self.run.scores_path is None:
            return {}
        return {str(r["frame_id"]): r for r in read_at(self.run.scores_path, offs)}

    def part(self, records: list[dict[str, Any]]) -> RunData:
        """The run restricted to these records and their score rows (for bench.load's per-frame functions)."""
        fids = [str(r.get("frame_id")) for r in records]
        return replace(self.run, records=records, scores=self.scores_for(fids), metrics=self._metrics)

    def records_at(self, offsets: list[int]) -> list[dict[str, Any]]:
        if self.in_memory:
            return [self.run.records[i] for i in offsets]
        return read_at(self.generations, offsets)

    def iter_records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(offset or index, record) of each frame's record, one at a time."""
        if self.in_memory:
            return iter(enumerate(self.run.records))
        return iter_records(self.generations)

    def entries(self, offsets: list[int]) -> tuple[RunData, dict[str, dict[str, Any]]]:
        """The records at these offsets as a RunData part, and their flat scores (bench.load.frame_scores)."""
        part = self.part(self.records_at(offsets))
        return part, frame_scores(part)


def _extras(rec: dict[str, Any], score_row: dict[str, Any] | None) -> dict[str, Any]:
    """What the Parquet file holds beyond bench.load.frame_rows: the caption, the raw answer, the verdict."""
    caption = rec.get("caption")
    judge = (score_row or {}).get("judge") or {}
    text = rec.get("text")
    return {"caption": _dumps(caption) if isinstance(caption, dict) else None,
            "text": text if isinstance(text, str) and not isinstance(caption, dict) else None,
            "error_message": str((rec.get("error") or {}).get("message") or "") or None,
            "judge_rationale": str(judge["rationale"]) if judge.get("rationale") else None,
            "judge_hallucinated": _dumps(judge["hallucinated"]) if judge.get("hallucinated") else None,
            "judge_missed": _dumps(judge["missed"]) if judge.get("missed") else None}


def frame_table(source: RunFrames, label: str, *, sink: Any = None,
                images: DatasetIndex | None = None) -> pd.DataFrame:
    """The report's columns for every frame of the run (REPORT_COLUMNS plus run and the record's byte offset,
    `_off`), read in one pass; every frame's full row goes to `sink` (a FramesParquet) when given. A record without
    a content type takes the dataset's (`images`). The per-field ROUGE-L means go to source.field_means()."""
    parts: list[dict[str, pd.Series]] = []
    batch: list[tuple[int, dict[str, Any]]] = []
    source.field_scores = FieldScores()  # this pass's sums

    def flush() -> None:
        part = source.part([rec for _, rec in batch])
        ids = [str(rec.get("frame_id")) for _, rec in batch]
        paths = dict(zip(ids, images.images(ids), strict=True)) if images is not None else None
        rows = frame_rows(part, paths)
        df = pd.DataFrame(rows)
        if sink is not None:
            full = df.assign(**{k: v for k, v in _columns([_extras(rec, part.scores.get(str(rec.get("frame_id"))))
                                                           for _, rec in batch]).items()})
            full["image"] = [paths.get(fid) for fid in df["frame_id"]] if paths is not None else None
            sink.write(full)
        if images is not None and "content_type" in df:  # the record has none: the dataset's, as the explorer showed
            unknown = df["content_type"].eq("unknown").to_numpy(dtype=bool, na_value=False)
            if unknown.any():
                df.loc[unknown, "content_type"] = [ct or "unknown" for ct in
                                                   images.content_types(df.loc[unknown, "frame_id"].tolist())]
        source.field_scores.add(df)
        # copies, a column each: under copy-on-write a selection kept views of the whole batch's blocks (captions
        # included: ~1.2 KB a frame that stayed alive for the rest of the build)
        selected = df.reindex(columns=list(REPORT_COLUMNS))
        keep = {col: selected[col].astype("category") if col in CATEGORICAL else selected[col].copy(deep=True)
                for col in selected.columns}
        keep["_off"] = pd.Series(np.array([off for off, _ in batch], dtype=np.int64))
        parts.append(keep)
        batch.clear()

    for item in source.iter_records():
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
            collect_young()  # GC is paused over the build (bench.report.data.assemble): the batch's cycles, once
            # its objects are gone (called inside flush it walked the 5,000 records it still held)
    if batch:
        flush()
    if not parts:
        return pd.DataFrame(columns=["run", *REPORT_COLUMNS, "_off"])
    table = concat_columns(parts)
    release_freed()  # the batches' records and rows, and the table's pieces (bench.heap)
    table.insert(0, "run", pd.Categorical.from_codes(np.zeros(len(table), dtype=np.int8), categories=[label]))
    for col in ("json_strict", "json_lenient", "schema_valid", "rules_ok", "judge_no_caption"):
        table[col] = table[col].fillna(False).astype(bool)
    return table


def concat_columns(parts: list[dict[str, pd.Series]]) -> pd.DataFrame:
    """The table of parts held as {column: Series}, joined a column at a time, each column's pieces dropped as it is
    joined (parts is emptied): the peak is the table and one column. pd.concat of whole frames held the table
    twice at its end (300 MB more at a million frames). Categorical pieces stay one categorical (their categories'
    union), where pd.concat made differing categories a column of objects."""
    data = {col: _join([p.pop(col) for p in parts]) for col in list(parts[0])}
    parts.clear()
    return pd.DataFrame(data, copy=False)


def _join(pieces: list[pd.Series]) -> pd.Series:
    if all(isinstance(p.dtype, pd.CategoricalDtype) for p in pieces):
        return pd.Series(union_categoricals(pieces, ignore_order=True))
    return pd.concat(pieces, ignore_index=True)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
