"""report.frames.parquet: every frame of every run of a report, one row per (run, frame), written beside the
HTML while the runs are read (row groups of a few thousand rows, so memory stays flat).

The columns are bench.load.frame_rows' (as `python -m bench.report --parquet` exports them) plus the caption
(JSON text), the raw answer when there is no caption, the error message, the judge's rationale and its
hallucinated / missed items (JSON text), and the frame's image path. The schema is fixed, so that every batch
of every run has the same columns and types: a column a batch lacks is null there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench.load import FIELDS

STRINGS = ("run", "run_id", "model", "dataset", "frame_id", "content_type", "status", "category", "failed_fields",
           "reasons", "finish_reason", "error_kind", "judge_failure", "caption", "text", "error_message",
           "judge_rationale", "judge_hallucinated", "judge_missed", "image")
BOOLS = ("json_strict", "json_lenient", "schema_valid", "rules_ok", "judge_no_caption")
FLOATS = ("attempts", "input_tokens", "output_tokens", "reasoning_tokens", "cost_usd", "ttft_s", "e2el_s", "tpot_s",
          "queue_s", "ttft_from_scheduled_s", "e2el_from_scheduled_s", "thinking_s", "judge_score", "rouge1",
          "rouge2", "rougeL", "bleu", *(f"rougeL.{f}" for f in FIELDS))
ORDER = ("run", "run_id", "model", "dataset", "frame_id", "content_type", "image", "status", "category", *BOOLS,
         "failed_fields", "reasons", "finish_reason", "error_kind", "error_message", *FLOATS, "judge_failure",
         "judge_rationale", "judge_hallucinated", "judge_missed", "caption", "text")
SCHEMA = pa.schema([(name, pa.string() if name in STRINGS else pa.bool_() if name in BOOLS else pa.float64())
                    for name in ORDER])


def parquet_path_for(html: Path) -> Path:
    """report.html -> report.frames.parquet (beside it)."""
    return html.with_name(f"{html.stem}.frames.parquet")


class FramesParquet:
    """Appends batches (pandas DataFrames with frame_rows' columns and the extras) to one Parquet file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._writer = pq.ParquetWriter(self._tmp, SCHEMA, compression="zstd")
        self.rows = 0

    def write(self, df: Any) -> None:
        columns = []
        for fld in SCHEMA:
            if fld.name not in df:
                columns.append(pa.nulls(len(df), type=fld.type))
            elif fld.name in STRINGS:  # str or None by construction (frame_rows, the extras); anything else as text
                values = df[fld.name].tolist()
                if any(v is not None and not isinstance(v, str) for v in values):
                    values = [None if v is None or v != v else str(v) for v in values]
                columns.append(pa.array(values, type=pa.string()))
            elif fld.name in BOOLS:
                columns.append(pa.array(df[fld.name].fillna(False).astype(bool).to_numpy(), type=pa.bool_()))
            else:
                columns.append(pa.array(df[fld.name].astype(float).to_numpy(), type=pa.float64(), from_pandas=True))
        self._writer.write_table(pa.Table.from_arrays(columns, schema=SCHEMA))
        self.rows += len(df)

    def close(self) -> Path:
        """Finish the file (it appears under its name only when complete)."""
        self._writer.close()
        self._tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        self._writer.close()
        self._tmp.unlink(missing_ok=True)
