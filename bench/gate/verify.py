"""The gate checks what it gates: a run folder's metrics.json is verified against its own records.

`load_checked_side` is what `python -m bench.gate` (and `--write-baseline`) loads. For a run folder it
reads generations.jsonl once (the store's loader), recomputes the metrics with the function the run
used (bench.metrics.compute_metrics) and refuses the run (GateInputError, exit 2) when

- metrics.json or generations.jsonl is missing, generations.jsonl is empty or holds no readable record;
- the records and metrics.json disagree on what the gate gates or counts: frames recorded, completed
  and failed, every validity rung (k/n and rate), latency percentiles, throughput, mean tokens, cost
  per 1M, the simulated label;
- metrics.json carries scores that scores.jsonl (when present) does not reproduce (means and n), or
  carries scores with no scores.jsonl behind them.

A baseline JSON file is validated by its typed model (bench.gate.baseline_schema). `check_pairing`
refuses a baseline whose per-frame values share no frame with the run: its paired tests would
compare nothing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.gate.inputs import SCORES, GateInputError, GateSide, from_json, from_run
from bench.load import OVERLAP, RunData, RunLoadError, iter_run_records, load_run
from bench.metrics import LADDER, compute_metrics

# metrics.json's headline numbers the records must reproduce (the gate's inputs and the counts
# behind them). Dotted paths into metrics.json.
VERIFIED = ("recorded", "completed", "failed", "schema_valid_rate", "json_parse_rate", "json_lenient_rate",
            "rules_ok_rate", "ttft_p50_s", "e2el_p50_s", "e2el_p95_s", "requests_per_s", "output_tokens_per_s",
            "mean_input_tokens", "mean_output_tokens", "cost_per_million_usd",
            *(f"validity.ladder.{rung}.{part}" for rung in LADDER for part in ("k", "n")))
# JSON keeps floats exactly; the tolerance only absorbs summation order (scores summed elsewhere).
REL_TOL, ABS_TOL = 1e-9, 1e-9
REGENERATE = "re-run the same command on it (a finished run re-writes metrics.json from its records)"


def load_checked_side(path: str | Path | list[str | Path], *, scoring: str | None = None) -> GateSide:
    """A baseline JSON file (typed), or a run folder (with its latest scoring, or scoring=KEY) whose
    metrics.json its records confirm, or the shard folders of one sharded run (a list, or a folder
    holding exactly one such set)."""
    from bench.load import shard_set

    if isinstance(path, list) or shard_set(path):  # a sharded run: each shard checked, then gated as one
        return _load_checked_shards(shard_set(path) if not isinstance(path, list) else [Path(p) for p in path],
                                    scoring=scoring)
    p = Path(path)
    if p.is_file():
        return from_json(p)
    try:
        run = load_run(p, scoring=scoring, records=False)  # records and score rows are streamed, not held
    except RunLoadError as exc:
        raise GateInputError(str(exc)) from exc
    check_records(run)
    side = from_run(run)
    check_scores(run, side)
    return side


def _load_checked_shards(dirs: list[Path], *, scoring: str | None) -> GateSide:
    """Every shard's metrics.json verified against its own records, then the set gated as one run, its
    metrics recomputed from the union of the records (bench.shards)."""
    from bench.load import load_logical_run

    for d in dirs:
        try:
            shard = load_run(d, scoring=scoring, records=False)
        except RunLoadError as exc:
            raise GateInputError(str(exc)) from exc
        check_records(shard)
        check_scores(shard, from_run(shard))
    try:
        run = load_logical_run(dirs, scoring=scoring)
    except RunLoadError as exc:
        raise GateInputError(str(exc)) from exc
    return from_run(run)


def _get(node: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _same(a: Any, b: Any) -> bool:
    def numeric(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    if not (numeric(a) and numeric(b)):
        return a == b and type(a) is type(b)  # None/None; never "0.5" for 0.5 or True for 1
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def check_records(run: RunData) -> None:
    """Refuse the run unless metrics.json is what its generations.jsonl gives (see the module doc)."""
    where = run.path
    metrics_path, records_path = where / "metrics.json", where / "generations.jsonl"
    if not metrics_path.is_file():
        raise GateInputError(f"{where}: no metrics.json (the run never finished a session, or the file was "
                             f"removed); {REGENERATE}")
    if not run.metrics:
        raise GateInputError(f"{metrics_path}: not a JSON object of metrics; {REGENERATE}")
    if not records_path.is_file():
        raise GateInputError(f"{where}: no generations.jsonl: the gate checks metrics.json against the run's "
                             "records and has none to check it against; gate the complete run folder")
    size = records_path.stat().st_size
    # One streamed pass to count the records and see whether the simulator served any; a second computes the
    # metrics (bench.metrics.MetricsPass): one record in memory at a time, whatever the run's size.
    count, served_by_simulator = 0, False
    for r in iter_run_records(run):
        count += 1
        served_by_simulator = served_by_simulator or bool(r.get("served_by_simulator"))
    if not count:
        what = "is empty" if not records_path.read_bytes().strip() else f"holds no readable record ({size:,} bytes)"
        raise GateInputError(f"{records_path} {what}: nothing backs metrics.json's numbers; gate the run folder "
                             "the run wrote (or re-run it)")
    m = run.metrics
    orphans = m.get("orphan_records") or 0
    if orphans:
        raise GateInputError(f"{where}: {orphans} record(s) are of frames no longer in the dataset "
                             "(metrics.json orphan_records): the gate cannot tell which records metrics.json "
                             "counts; gate a fresh run of the current dataset (a new run_dir)")
    frames = m.get("frames")
    if type(frames) is not int or frames < count:
        raise GateInputError(f"{metrics_path}: frames={frames!r} but generations.jsonl holds {count} "
                             f"records; {REGENERATE}")
    model, runner = run.config.get("model"), run.config.get("runner")
    if not isinstance(model, dict) or not isinstance(runner, dict):
        raise GateInputError(f"{where}: no config.yaml with the model and runner settings (prices, mode): the "
                             "gate cannot recompute cost and throughput from the records")
    simulated = bool(model.get("simulated")) or served_by_simulator
    try:
        again = compute_metrics(iter_run_records(run), frames_total=frames, model=model, runner=runner,
                                simulated=simulated)
        if runner.get("mode") == "batch":  # batch prices, no request rate or TTFT (bench/batch/metrics.py)
            from bench.batch.metrics import headline

            again = headline(again, model, runner)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GateInputError(f"{records_path}: records the metrics cannot be computed from "
                             f"({type(exc).__name__}: {exc}); not a capbench run's records?") from exc
    wrong = [f"{key}: metrics.json says {_get(m, key)!r}, the records give {_get(again, key)!r}"
             for key in VERIFIED if not _same(_get(m, key), _get(again, key))]
    if m.get("simulated") is not simulated:
        wrong.append(f"simulated: metrics.json says {m.get('simulated')!r}, the records and config say {simulated}")
    if wrong:
        raise GateInputError(f"{where}: metrics.json disagrees with generations.jsonl ({count} "
                             f"records), so the gate will not trust it: {'; '.join(wrong[:4])}"
                             + (f"; and {len(wrong) - 4} more" if len(wrong) > 4 else "") + f". {REGENERATE}")


def check_scores(run: RunData, side: GateSide) -> None:
    """metrics.json's score means must be what scores.jsonl gives (the gate uses scores.jsonl's per-frame
    values where present, so a headline with nothing behind it would be gated unchecked)."""
    summary = run.metrics.get("scores")
    if not isinstance(summary, dict) or not summary:
        return
    headlines: dict[str, tuple[Any, Any]] = {}
    judge = summary.get("judge")
    if isinstance(judge, dict) and judge.get("mean") is not None:
        headlines["judge"] = (judge.get("mean"), judge.get("n"))
    for name in OVERLAP:
        value = _get(summary, f"overlap.all.{name}")
        if isinstance(value, dict) and value.get("mean") is not None:
            headlines[name] = (value.get("mean"), value.get("n"))
    if not headlines:
        return
    if not run.scores and not (run.scores_path and run.scores_path.is_file()):
        raise GateInputError(f"{run.path}: metrics.json has scores ({', '.join(headlines)}) but there is no "
                             "scores.jsonl behind them; re-score the run (python -m bench.score RUN_DIR ...)")
    wrong = []
    for name in SCORES:
        if name not in headlines:
            continue
        mean, n = headlines[name]
        column = [v for v in side.per_frame.get(name) or [] if v is not None]
        got_mean = sum(column) / len(column) if column else None
        if not _same(mean, got_mean) or (n is not None and not _same(n, len(column))):
            wrong.append(f"{name}: metrics.json says mean {mean!r} over {n!r} frames, scores.jsonl gives "
                         f"{got_mean!r} over {len(column)}")
    if wrong:
        raise GateInputError(f"{run.path}: metrics.json's scores disagree with scores.jsonl: {'; '.join(wrong)}. "
                             "Re-score the run (python -m bench.score RUN_DIR ...)")


def check_pairing(run: GateSide, base: GateSide) -> None:
    """Both sides have per-frame values but no frame in common: refuse, rather than fall back unpaired."""
    mine, theirs = run.per_frame.get("frame_id") or [], base.per_frame.get("frame_id") or []
    if mine and theirs and not set(mine) & set(theirs):
        raise GateInputError(
            f"the run ({len(mine)} frames, e.g. {mine[0]!r}) and the baseline {base.source} ({len(theirs)} frames, "
            f"e.g. {theirs[0]!r}) have no frame in common, so no paired test can compare them; gate against a "
            "baseline of the same frames (a summary-only baseline, --write-baseline --no-frames, is compared "
            "unpaired on purpose)")
