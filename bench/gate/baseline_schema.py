"""The baseline file's typed shape (pydantic), so that a damaged or hand-edited baseline is refused
with the field named instead of surfacing as a traceback or a silent pass.

What is checked: counts are non-negative integers (k <= n), means and limits are finite numbers (no
"NaN" string, no JSON NaN), and the per-frame columns are one value per frame id (no ragged or
duplicate columns), rungs 0/1 and scores numbers or null. Keys this model does not know are left
alone (a newer writer may add some); `bench.gate.inputs.from_json` keeps only GateSide's fields.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench.metrics import LADDER

RUNG_COLUMNS = LADDER  # the validity ladder's rungs, one 0/1 column each

Count = Annotated[int, Field(strict=True, ge=0)]
Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # strict: "1.0" (a string) is refused
NonNegative = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]


class RungCount(BaseModel):
    model_config = ConfigDict(strict=True)
    k: Count
    n: Count

    @model_validator(mode="after")
    def _k_within_n(self) -> RungCount:
        if self.k > self.n:
            raise ValueError(f"k={self.k} is more than n={self.n}")
        return self


class ScoreSummary(BaseModel):
    model_config = ConfigDict(strict=True)
    mean: Finite
    sd: NonNegative | None = None
    n: Count


class BaselineFile(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    format: str
    source: str = ""
    model: str = ""
    dataset: str = ""
    prompt: str = ""
    simulated: bool = False
    fingerprint: str | None = None
    frames: Count = 0
    validity: dict[str, RungCount] = Field(default_factory=dict)
    scores: dict[str, ScoreSummary] = Field(default_factory=dict)
    e2el_p95_s: NonNegative | None = None
    cost_per_million_usd: NonNegative | None = None
    per_frame: dict[str, list[Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _columns(self) -> BaselineFile:
        cols = self.per_frame
        if not cols:
            return self
        ids = cols.get("frame_id")
        if ids is None:
            raise ValueError(f"per_frame has columns {', '.join(sorted(cols))} but no frame_id column")
        if not all(isinstance(i, str) and i for i in ids):
            raise ValueError("per_frame.frame_id: every frame id must be a non-empty string")
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"per_frame.frame_id: frame {dup!r} is listed more than once")
        for name, values in cols.items():
            if len(values) != len(ids):
                raise ValueError(f"per_frame.{name} has {len(values)} values for {len(ids)} frame ids "
                                 "(ragged columns: every column needs one value per frame)")
            if name in RUNG_COLUMNS:
                for fid, v in zip(ids, values, strict=True):
                    if type(v) not in (int, bool) or v not in (0, 1):
                        raise ValueError(f"per_frame.{name}: frame {fid!r} has {v!r}; rung values are 0 or 1")
            elif name != "frame_id":
                for fid, v in zip(ids, values, strict=True):
                    if v is not None and (type(v) not in (int, float) or not math.isfinite(v)):
                        raise ValueError(f"per_frame.{name}: frame {fid!r} has {v!r}, not a finite number or null")
        return self


def baseline_problem(data: dict[str, Any]) -> str | None:
    """None if the data is a well-formed baseline, else what is wrong, naming the field(s)."""
    try:
        BaselineFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "(the file)"
            given = err.get("input")
            shown = repr(given) if not isinstance(given, dict | list) else type(given).__name__
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')} (got {shown[:60]})")
        more = exc.error_count() - len(problems)
        return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
    return None
