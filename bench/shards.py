"""A set of shard runs read as one logical run (and merged into one ordinary run folder).

A sharded run (`dataset.shard=i dataset.num_shards=N`, bench/frames/shards.py) leaves N run
folders, each with `run.json["shard"]` = {index, count, group, partition, dataset_frames, frames}.
`group` is the config fingerprint without `dataset.shard`: the shards of one run share it.

`bench.load.load_logical_run(dirs)` (built on `combine` here) refuses a set that is not exactly one
partition (frames left out or counted twice: a missing or repeated shard index, shards of different
configs or partitions, a frame recorded by two shards, frame counts that do not add up to the
dataset) and otherwise gives a `bench.load.RunData` that score summaries, the report, the gate and
`load_runs` use like any run:

- records: the union of the shards' records, each frame exactly once;
- throughput: completed / the length of the *union* of the shards' time spans (shards that ran at
  the same time count their overlap once; a shard resumed later adds its own span). Each record's
  `session` becomes the index of the merged span it falls in (its shard and own session are kept
  in `shard_session`), so `bench.metrics.compute_metrics` measures exactly that union;
- latency, validity, tokens and cost over all records;
- scores: the union of the shards' per-frame scores when every shard was scored against the same
  reference and judge (means are recomputed from them; corpus BLEU does not add up across shards
  and is left out); a set scored differently is refused.

`write_merged(run, out)` writes the logical run as one ordinary run folder (`python -m bench.merge`).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.metrics import compute_metrics
from bench.store import fingerprint


class ShardSetError(Exception):
    """Run folders that are not exactly one partition of a dataset (the message names the fix)."""


def group_fingerprint(cfg: dict[str, Any]) -> str:
    """The fingerprint every shard of one run shares: the config's, without dataset.shard."""
    plain = json.loads(json.dumps(cfg, default=str))
    (plain.get("dataset") or {}).pop("shard", None)
    return fingerprint(plain)


def shard_info(run_dir: Path) -> dict[str, Any] | None:
    """run.json's shard block, or None for an ordinary run."""
    try:
        meta = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    info = meta.get("shard") if isinstance(meta, dict) else None
    return info if isinstance(info, dict) else None


def group_runs(run_dirs: list[Path]) -> list[Path | list[Path]]:
    """Ordinary runs as they are; the shards of one sharded run together (at the first shard's place)."""
    out: list[Path | list[Path]] = []
    groups: dict[str, list[Path]] = {}
    for d in run_dirs:
        info = shard_info(d)
        if info is None:
            out.append(d)
            continue
        if info.get("group") not in groups:
            groups[info.get("group")] = []
            out.append(groups[info.get("group")])
        groups[info.get("group")].append(d)
    return out


def check_partition(dirs: list[Path], infos: list[dict[str, Any]]) -> None:
    """Refuse shard folders that do not make exactly one partition of the dataset."""
    names = ", ".join(str(d) for d in dirs)
    for key in ("group", "count", "partition", "dataset_frames"):
        values = {json.dumps(i.get(key)) for i in infos}
        if len(values) > 1:
            raise ShardSetError(f"these shard runs are not one run: they differ in {key} ({', '.join(sorted(values))})"
                                f": {names}; pass the shards of one config and dataset")
    count = infos[0]["count"]
    by_index: dict[int, list[Path]] = {}
    for d, i in zip(dirs, infos, strict=True):
        by_index.setdefault(i["index"], []).append(d)
    repeated = {k: v for k, v in by_index.items() if len(v) > 1}
    if repeated:
        k, v = next(iter(repeated.items()))
        raise ShardSetError(f"shard {k} of {count} is given twice ({', '.join(map(str, v))}): its frames would be "
                            "counted twice; pass one folder per shard")
    missing = [k for k in range(count) if k not in by_index]
    if missing:
        raise ShardSetError(f"shard(s) {', '.join(map(str, missing))} of {count} missing from {names}: their frames "
                            f"would be left out; run them (dataset.shard={missing[0]} dataset.num_shards={count}) "
                            "and pass every shard's folder")
    total = sum(i.get("frames") or 0 for i in infos)
    if total != infos[0]["dataset_frames"]:
        raise ShardSetError(f"the {count} shards hold {total} frames but the dataset had "
                            f"{infos[0]['dataset_frames']} when they ran: {names}")


def _merged_spans(records: list[tuple[int, dict[str, Any]]]) -> list[tuple[float, float]]:
    """The union of the (shard, session) time spans, as sorted disjoint intervals."""
    spans: dict[tuple[int, Any], list[float]] = {}
    for index, r in records:
        start, end = _record_span(r)
        if start is None or end is None:
            continue
        span = spans.setdefault((index, r.get("session", 1)), [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    merged: list[list[float]] = []
    for lo, hi in sorted(spans.values()):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _record_span(r: dict[str, Any]) -> tuple[float | None, float | None]:
    # The same ends bench.metrics._wall_duration takes.
    start = r.get("t_scheduled")
    end = r.get("t_last_token") or (r["attempts"][-1]["t_sent"] + r["attempts"][-1]["duration_s"]
                                    if r.get("attempts") else start)
    return start, end


def combine(runs: list[Any], infos: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields of one `bench.load.RunData` for the loaded shard runs of one partition (checked first):
    path, config, meta, metrics, records, scores, scoring, scoring_notes. `bench.load.load_logical_run`
    loads the shards and builds the RunData; this module never imports bench.load (no import circle)."""
    check_partition([run.path for run in runs], infos)
    shards = sorted(zip(runs, infos, strict=True), key=lambda pair: pair[1]["index"])
    owner: dict[str, Path] = {}
    tagged: list[tuple[int, dict[str, Any]]] = []
    for run, info in shards:
        for r in run.records:
            fid = r["frame_id"]
            if fid in owner:
                raise ShardSetError(f"frame {fid!r} is recorded by two shards ({owner[fid]} and {run.path}): "
                                    "the shards are not one partition")
            owner[fid] = run.path
            tagged.append((info["index"], r))
    spans = _merged_spans(tagged)
    records = []
    for index, r in tagged:
        start, _ = _record_span(r)
        at = next((k for k, (lo, hi) in enumerate(spans, 1) if start is not None and lo <= start <= hi), 1)
        records.append({**r, "session": at, "shard_session": [index, r.get("session", 1)]})
    first = shards[0][0]
    config = json.loads(json.dumps(first.config))
    config.setdefault("dataset", {})["shard"] = None
    config["dataset"]["num_shards"] = 1
    model, runner = config.get("model") or {}, config.get("runner") or {}
    simulated = any(run.simulated for run, _ in shards) or any(r.get("served_by_simulator") for r in records)
    metrics = compute_metrics(records, frames_total=infos[0]["dataset_frames"], model=model, runner=runner,
                              simulated=simulated)
    statuses = [run.meta.get("status") for run, _ in shards]
    status = "complete" if all(s == "complete" for s in statuses) and not metrics["pending"] else \
        next((s for s in statuses if s != "complete"), "incomplete")
    metrics["orphan_records"] = 0
    metrics["run"] = {**(first.metrics.get("run") or {}), "dir": None, "sessions": len(spans)}
    metrics["shards"] = {"count": infos[0]["count"], "partition": infos[0]["partition"],
                         "dirs": [str(run.path) for run, _ in shards],
                         "frames": [info["frames"] for _, info in shards],
                         "time_spans": [[lo, hi] for lo, hi in spans]}
    meta = {"format": 1, "fingerprint": infos[0]["group"],
            "created": min(str(r.meta.get("created")) for r, _ in shards),
            "dataset": first.meta.get("dataset"), "model": first.meta.get("model"), "simulated": simulated,
            "status": status, "sessions": [{"started": _iso(lo), "ended": _iso(hi), "status": status}
                                           for lo, hi in spans],
            "merged_from": [{"dir": str(run.path), "index": info["index"], "status": run.meta.get("status"),
                             "sessions": run.meta.get("sessions", [])} for run, info in shards]}
    return {"path": _logical_path([run.path for run in runs], infos[0]), "config": config, "meta": meta,
            "metrics": metrics, "records": records, **_union_scores([run for run, _ in shards])}


def _logical_path(paths: list[Path], info: dict[str, Any]) -> Path:
    """A name for the set (not a folder on disk): beside the shards, named by the run's group fingerprint."""
    parent = Path(os.path.commonpath([str(p.resolve()) for p in paths]))
    return parent / f"shards-{info['count']}-{info['group']}"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def _union_scores(shards: list[Any]) -> dict[str, Any]:
    scored = [run for run in shards if run.scores]
    if not scored:
        return {}
    if len(scored) != len(shards):
        unscored = next(run for run in shards if not run.scores)
        raise ShardSetError(f"{unscored.path} has no scores but other shards do: score it the same way "
                            f"(python -m bench.score {unscored.path}), or read the set unscored")
    identities = {json.dumps(run.scoring, sort_keys=True, default=str) for run in shards}
    if len(identities) > 1:
        raise ShardSetError("the shards were scored against different references or judges; re-score them alike "
                            f"or pick one with scoring=/reference=/judge=: {', '.join(str(r.path) for r in shards)}")
    scores: dict[str, Any] = {}
    for run in shards:
        scores.update(run.scores)
    return {"scores": scores, "scoring": shards[0].scoring,
            "scoring_notes": [f"{run.path.name}: {note}" for run in shards for note in run.scoring_notes]}


def write_merged(run: Any, out: str | Path) -> Path:
    """The logical run as one ordinary run folder (config.yaml, run.json, generations.jsonl, metrics.json).

    Refuses a folder that already holds anything. Scores are not copied: score the merged folder
    with `python -m bench.score OUT` (ROUGE/BLEU are recomputed; judge verdicts come from the cache)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ShardSetError(f"{out} is not empty: choose a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(run.config, sort_keys=False, allow_unicode=True),
                                     encoding="utf-8")
    meta = {**run.meta, "fingerprint": fingerprint(run.config), "merged": datetime.now(UTC).isoformat()}
    (out / "run.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    with (out / "generations.jsonl").open("w", encoding="utf-8") as fh:
        for r in run.records:
            fh.write(json.dumps(r, ensure_ascii=False, default=str, separators=(",", ":")) + "\n")
    metrics = {**run.metrics, "run": {**(run.metrics.get("run") or {}), "dir": str(out)}}
    metrics.pop("scores", None)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
    return out
