"""Which frames the explorer embeds when a report has more than it can hold.

Up to `max_frames` frames (counted once however many runs have them) every
frame is embedded. Beyond it the explorer holds, in this order:
- the frames that failed or are disputed: not valid for some run (any validity
  category but "valid"), or scored far apart by the runs (judge scores
  DISPUTE_GAPS["judge"] or more apart on the 1-5 scale, ROUGE-L
  DISPUTE_GAPS["rougeL"] points or more), all of them while they take at most
  max_frames - max_frames // 4 places, else a stratified sample of them;
- a stratified sample of the other frames in the remaining places.
Strata are content type x outcome (every run valid / some not / none valid);
places are shared out in proportion to stratum size (largest remainders), at
least one per stratum while there are places, and drawn with numpy's
default_rng(seed), so the same runs and seed give the same report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_MAX_FRAMES = 1000
DISPUTE_GAPS = {"judge": 2.0, "rougeL": 30.0}
QUALITY_COLUMNS = {"judge": "judge_score", "rougeL": "rougeL"}
OUTCOMES = ("all valid", "some not valid", "none valid")


@dataclass
class Selection:
    keys: list[str]  # the embedded frames' keys (in the table's order)
    why: dict[str, str] = field(default_factory=dict)  # key -> "failed", "disputed" or "sample" (when sampled)
    info: dict[str, Any] = field(default_factory=dict)  # what the explorer holds, for the page


def frame_flags(table: pd.DataFrame, metric: str, order: np.ndarray | None = None) -> pd.DataFrame:
    """One row per frame key, in the order of each key's first row: content type, outcome, failed, disputed, gap.
    order: the table's rows in the order to follow (positions; default: as they are), so that the caller needs no
    sorted copy of the table.

    Keys are factorized once and counted with numpy; a groupby over a million string keys, and the outcome as a
    column of strings, held ~250 MB more at a million frames."""
    codes, uniques = pd.factorize(table["key"], sort=False)
    k, rows = len(uniques), len(codes)
    rank = np.arange(rows)  # each row's place in `order`
    if order is not None:
        rank[order] = np.arange(rows)
    first_rank = np.full(k, rows, dtype=np.int64)
    np.minimum.at(first_rank, codes, rank)
    by_first = np.argsort(first_rank, kind="stable")  # the keys in the order of their first rows
    first = first_rank[by_first] if order is None else np.asarray(order)[first_rank[by_first]]
    valid = table["category"].eq("valid").fillna(False).to_numpy(dtype=bool)
    n = np.bincount(codes, minlength=k)[by_first]
    n_valid = np.bincount(codes, weights=valid, minlength=k).astype(np.int64)[by_first]
    failed = n_valid < n
    outcome = np.where(~failed, 0, np.where(n_valid > 0, 1, 2))
    flags = pd.DataFrame({"ct": table["content_type"].array.take(first), "n_valid": n_valid, "n": n,
                          "failed": failed, "outcome": pd.Categorical.from_codes(outcome, categories=OUTCOMES),
                          "gap": 0.0, "disputed": False}, index=uniques.take(by_first))
    col = QUALITY_COLUMNS.get(metric)
    if col is not None and col in table and k < rows:  # some key has several rows (runs)
        q = pd.Series(table[col].to_numpy(dtype=float, na_value=np.nan)).groupby(codes, sort=True)
        gap = (q.max() - q.min()).where(q.count() >= 2).reindex(range(k)).fillna(0.0).to_numpy()[by_first]
        flags["gap"] = gap
        flags["disputed"] = flags["gap"] >= DISPUTE_GAPS[metric]
    return flags


def allocate(sizes: list[int], places: int) -> list[int]:
    """Places per stratum: proportional (largest remainders), at least one each while places last."""
    total = sum(sizes)
    if places >= total:
        return list(sizes)
    if places <= 0 or total == 0:
        return [0] * len(sizes)
    exact = [s * places / total for s in sizes]
    alloc = [int(x) for x in exact]
    for i in sorted(range(len(sizes)), key=lambda i: (-(exact[i] - alloc[i]), -sizes[i], i))[:places - sum(alloc)]:
        alloc[i] += 1
    # every stratum gets one place while there are places: taken from the strata with the most
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        if alloc[i] == 0 and sizes[i] > 0:
            donor = max(range(len(sizes)), key=lambda j: alloc[j])
            if alloc[donor] <= 1:
                break
            alloc[donor] -= 1
            alloc[i] = 1
    return alloc


def stratified(flags: pd.DataFrame, places: int, rng: np.random.Generator) -> tuple[list[str], list[dict]]:
    """A stratified sample of flags' keys (content type x outcome), and per stratum: frames and picked."""
    groups = sorted(flags.groupby(["ct", "outcome"], sort=True, observed=True).groups.items(), key=lambda kv: kv[0])
    alloc = allocate([len(keys) for _, keys in groups], places)
    picked: list[str] = []
    strata = []
    for ((ct, outcome), keys), k in zip(groups, alloc, strict=True):
        # the keys stay an Index: a stratum of a million frames is not made a million Python strings to pick a few
        chosen = keys if k >= len(keys) else keys[np.sort(rng.choice(len(keys), size=k, replace=False))]
        picked.extend(chosen.tolist())
        strata.append({"content_type": str(ct), "outcome": outcome, "frames": len(keys), "embedded": len(chosen)})
    return picked, strata


def select_frames(flags: pd.DataFrame, max_frames: int = DEFAULT_MAX_FRAMES, seed: int = 0,
                  metric: str = "schema_valid") -> Selection:
    total = len(flags)
    info: dict[str, Any] = {"total": total, "max_frames": max_frames, "seed": seed,
                            "failed": int(flags["failed"].sum()),
                            "disputed": int((flags["disputed"] & ~flags["failed"]).sum()),
                            "dispute_gap": DISPUTE_GAPS.get(metric), "metric": metric}
    if total <= max_frames:
        return Selection(list(flags.index), {}, {**info, "sampled": False, "embedded": total})
    rng = np.random.default_rng(seed)
    flagged = flags[flags["failed"] | flags["disputed"]]
    rest = flags[~(flags["failed"] | flags["disputed"])]
    sample_places = min(len(rest), max(max_frames // 4, max_frames - len(flagged)))
    flagged_places = max_frames - sample_places
    if len(flagged) <= flagged_places:
        flagged_keys, flagged_strata = list(flagged.index), []
    else:
        flagged_keys, flagged_strata = stratified(flagged, flagged_places, rng)
    sample_keys, sample_strata = stratified(rest, sample_places, rng)
    chosen = set(flagged_keys) | set(sample_keys)
    keys = flags.index[flags.index.isin(list(chosen))].tolist()  # the table's (dataset) order
    why = {k: ("failed" if flags.at[k, "failed"] else "disputed") for k in flagged_keys}
    why.update({k: "sample" for k in sample_keys})
    info.update(sampled=True, embedded=len(keys), flagged=len(flagged), flagged_embedded=len(flagged_keys),
                flagged_sampled=len(flagged_keys) < len(flagged), flagged_strata=flagged_strata,
                others=len(rest), sample=len(sample_keys), sample_strata=sample_strata)
    return Selection(keys, why, info)


def describe(info: dict[str, Any], parquet: str | None) -> str:
    """The sentence the page and the console show about what the explorer holds."""
    if not info.get("sampled"):
        return f"The explorer holds all {info['total']:,} frames."
    gap = info.get("dispute_gap")
    disputed = (f" or that the runs scored {gap:g}+ apart ({info['metric']})" if gap is not None else "")
    if info["flagged_sampled"]:
        flagged = (f"a stratified sample of {info['flagged_embedded']:,} of the {info['flagged']:,} frames that "
                   f"failed for some run{disputed}")
    else:
        flagged = f"all {info['flagged']:,} frames that failed for some run{disputed}"
    where = f"every frame of every run, with its captions and scores, is in {parquet} beside this file" \
        if parquet else "write the report with build_report or python -m bench.report to get every frame as Parquet"
    limit = f"at most {info['max_frames']:,}"
    if info.get("size_limited"):
        limit += f", fewer than the {info['asked_max_frames']:,} asked for, to keep the page under 25 MB"
    return (f"This report covers {info['total']:,} frames; its explorer holds {info['embedded']:,} of them ({limit}"
            f"): {flagged} ({info['failed']:,} failed, {info['disputed']:,} disputed), and a "
            f"stratified sample of {info['sample']:,} of the other {info['others']:,} (strata: content type x outcome, "
            f"places in proportion to stratum size, at least one per stratum while places last, numpy default_rng seed "
            f"{info['seed']}). The plots, tables and significance tests use every frame; {where}.")
