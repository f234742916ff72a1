"""Run folders as pandas tables: `bench.load_runs(paths)` (one row per run) and per frame.

    import bench
    runs = bench.load_runs(["runs/sample/*/*"])                # one row per run
    frames = bench.load_runs(["runs/sample/*/*"], level="frame")  # one row per (run, frame)

Paths may be run folders, globs, or any folder holding run folders (a runs/
tree, a dataset or model folder). A Hydra multirun folder
(`runs/multirun/<time>/`, which holds only `multirun.yaml`) stands for the run
folders its sweep wrote: those under the sweep's `runs_dir` whose first session
started between the sweep's start and the next sweep's.

Everything here only reads. Scores are optional: their columns are empty
(NaN) when a run has not been scored. A run scored several times (against
the dataset and a teacher run, by two judges) keeps every scoring
(bench.scorings); one is used per run: the latest, or the latest matching
`reference=` / `judge=`, or exactly `scoring=KEY`; `RunData.scoring_notes`
name the choice when there was one to make.
"""

from __future__ import annotations

import glob
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench import pairwise_results
from bench.scorings import ScoringSelectError, describe_judge, read_rows, select
from bench.shards import ShardSetError, combine, group_runs, shard_info
from bench.store import iter_records, load_records, parse_record_line

FIELDS = ("description", "objects", "actions", "environment", "content_type", "specific_style",
          "production_quality", "summary", "logos")
OVERLAP = ("rouge1", "rouge2", "rougeL", "bleu")

# The judge's "all" view, shared by the scorer's headline, bench.score.compare, the gate and the report:
# a frame the model gave no caption for (so the judge was not asked) scores the rubric's minimum, as
# invalid outputs score 0 on overlap: a model that fails often must not look better for it. A frame
# not judged for any other reason (the judge failed, the run was not judged) has no score.
NO_CAPTION_SCORE = 1.0
NO_CAPTION_CATEGORIES = frozenset({"transport_error", "bad_input", "refused", "not_json", "truncated"})


def judge_score_all(judge: Any, category: Any) -> float | None:
    """A frame's judge score in the "all" view: the verdict's score, NO_CAPTION_SCORE for a frame with no
    caption (no verdict, category in NO_CAPTION_CATEGORIES), else None. Only for runs that were judged."""
    if isinstance(judge, dict):
        score = judge.get("score")
        return None if score is None else float(score)
    return NO_CAPTION_SCORE if category in NO_CAPTION_CATEGORIES else None


class RunLoadError(Exception):
    """A path that is not a usable run folder (the message says which and why)."""


@dataclass
class RunData:
    path: Path
    config: dict[str, Any]
    meta: dict[str, Any]
    metrics: dict[str, Any]
    records: list[dict[str, Any]]
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # frame_id -> the scoring's per-frame record
    label: str = ""  # unique display name among the runs loaded together
    scoring: dict[str, Any] | None = None  # the scoring used: {"key", "reference_id", "judge"} (None: unscored)
    scoring_notes: list[str] = field(default_factory=list)  # which scoring was picked, when there was a choice
    scores_path: Path | None = None  # the scoring's per-frame rows (read from here when `scores` was not loaded)

    @property
    def model(self) -> str:
        run = self.metrics.get("run") or {}
        return str(run.get("model") or self.meta.get("model") or _get(self.config, "model.label")
                   or _get(self.config, "model.name") or self.path.parent.name)

    @property
    def dataset(self) -> str:
        return str((self.metrics.get("run") or {}).get("dataset") or self.meta.get("dataset")
                   or _get(self.config, "dataset.name") or "")

    @property
    def simulated(self) -> bool:
        return bool(self.metrics.get("simulated", self.meta.get("simulated", _get(self.config, "model.simulated"))))

    @property
    def run_id(self) -> str:
        return f"{self.dataset}/{self.model}/{self.path.name}"


def _get(node: Any, dotted: str, default: Any = None) -> Any:
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise RunLoadError(f"{path}: unreadable ({exc})") from exc
    return value if isinstance(value, dict) else {}


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "run.json").is_file() and (
        (path / "metrics.json").is_file() or (path / "generations.jsonl").is_file())


def scoring_identity(summary: dict[str, Any]) -> dict[str, Any] | None:
    """What a scoring was scored against; for an older run folder, rebuilt from its single scores slot."""
    if not summary:
        return None
    if isinstance(summary.get("scoring"), dict):
        return summary["scoring"]
    ref = summary.get("reference") or {}
    j = summary.get("judge") or None
    ref_id = ref.get("id") or (f"dataset:{ref.get('source')}" if ref.get("kind") == "dataset" else
                               f"run:{ref.get('source')}" if ref.get("kind") else None)
    judge = None if not j else {"label": j.get("model"), "backend": j.get("backend"), "model": j.get("model_name"),
                                "endpoint": j.get("endpoint"), "rubric": j.get("rubric"),
                                "with_reference": j.get("with_reference"), "simulated": j.get("simulated")}
    return {"key": "legacy", "reference_id": ref_id, "judge": judge}


def _identity_from_rows(rows: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """A scores.jsonl without a summary (very old, or hand-made): the reference its rows name, judge unknown."""
    if not rows:
        return None
    ref = next(iter(rows.values())).get("reference") or {}
    return {"key": "legacy", "reference_id": ref.get("id") or f"{ref.get('kind')}:{ref.get('source')}",
            "judge": None}


def load_run(path: str | Path, *, scoring: str | None = None, reference: str | None = None,
             judge: str | None = None, records: bool = True) -> RunData:
    """One run folder, with one of its scorings (see bench.scorings.select for scoring=, reference=, judge=).
    records=False reads neither generations.jsonl nor the scoring's rows (unless the scoring has no summary):
    for readers that stream them (the report, bench.report.stream)."""
    path = Path(path)
    if not is_run_dir(path):
        raise RunLoadError(f"{path}: not a run folder (no run.json with metrics.json or generations.jsonl)")
    config: dict[str, Any] = {}
    if (path / "config.yaml").is_file():
        try:
            config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RunLoadError(f"{path / 'config.yaml'}: not YAML ({exc})") from exc
    run = RunData(path=path, config=config, meta=_read_json(path / "run.json"),
                  metrics=_read_json(path / "metrics.json"), records=load_records(path) if records else [])
    if not run.metrics and not run.records and (records or not (path / "generations.jsonl").stat().st_size):
        raise RunLoadError(f"{path}: the run has neither metrics.json nor any recorded frame")
    legacy = run.metrics.get("scores")
    try:
        chosen = select(path, legacy if isinstance(legacy, dict) else None, key=scoring, reference=reference,
                        judge=judge, with_rows=records)
    except ScoringSelectError as exc:
        raise RunLoadError(str(exc)) from exc
    if not records and not chosen.summary and chosen.rows_path:  # no summary: score_summary needs the rows
        chosen.rows = read_rows(chosen.rows_path)
    run.scores_path = chosen.rows_path
    if chosen.summary:
        run.metrics["scores"] = chosen.summary
    else:
        run.metrics.pop("scores", None)
    run.scores, run.scoring_notes = chosen.rows, chosen.notes
    run.scoring = scoring_identity(chosen.summary) or _identity_from_rows(chosen.rows)
    return run


# ---- finding run folders ------------------------------------------------------------------------
def find_run_dirs(paths: list[str | Path] | str | Path) -> list[Path]:
    """Expand globs, folders of runs and multirun folders into run folders (in order, no repeats)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    found: list[Path] = []
    for raw in paths:
        matches = sorted(glob.glob(str(raw))) if glob.has_magic(str(raw)) else [str(raw)]
        if not matches:
            raise RunLoadError(f"{raw}: no such file or folder")
        for m in matches:
            found.extend(_runs_under(Path(m)))
    out, seen = [], set()
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _runs_under(path: Path) -> list[Path]:
    if not path.exists():
        raise RunLoadError(f"{path}: no such file or folder")
    if is_run_dir(path):
        return [path]
    if not path.is_dir():
        raise RunLoadError(f"{path}: not a run folder")
    runs = sorted({p.parent for p in path.rglob("run.json") if is_run_dir(p.parent)})
    if runs:
        return runs
    if (path / "multirun.yaml").is_file():
        return _multirun_runs(path)
    raise RunLoadError(f"{path}: holds no run folders")


def _multirun_runs(sweep: Path) -> list[Path]:
    """The runs a Hydra sweep wrote: each job folder (0/, 1/, ...) names its run in capbench_run.json."""
    out: list[Path] = []
    for job in sorted((p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)):
        pointer = job / "capbench_run.json"
        if pointer.is_file():
            run_dir = Path(_read_json(pointer).get("run_dir", ""))
            if is_run_dir(run_dir):
                out.append(run_dir)
    if not out:
        raise RunLoadError(f"{sweep}: its job folders name no run folders (capbench_run.json); "
                           "pass the run folders themselves")
    return out


def load_logical_run(dirs: list[str | Path], **selection: str | None) -> RunData:
    """The shard folders of one sharded run as one run: every frame once, throughput over the union of the
    shards' time spans (bench.shards). Refused (RunLoadError) unless they are exactly one partition."""
    paths = [Path(d) for d in dirs]
    infos = [shard_info(d) for d in paths]
    plain = next((d for d, i in zip(paths, infos, strict=True) if i is None), None)
    if plain is not None:
        raise RunLoadError(f"{plain}: not a shard run (run.json has no shard block); pass only the folders of "
                           "one sharded run")
    try:
        fields = combine([load_run(d, **selection) for d in paths], infos)
    except ShardSetError as exc:
        raise RunLoadError(str(exc)) from exc
    return RunData(**fields)


def shard_set(path: str | Path) -> list[Path] | None:
    """The shard folders of the one sharded run a folder holds (a multirun sweep, a model's runs folder), or
    None when the folder is a run itself or holds anything else."""
    p = Path(path)
    if not p.is_dir() or is_run_dir(p):
        return None
    try:
        groups = group_runs(find_run_dirs(p))
    except RunLoadError:
        return None
    return groups[0] if len(groups) == 1 and isinstance(groups[0], list) else None


def load_run_data(paths: list[str | Path] | str | Path, *, records: bool = True,
                  **selection: str | None) -> list[RunData]:
    """Load every run the paths name, with unique labels (the model, plus the folder when repeated).
    selection: scoring=, reference=, judge= (which scoring of each run; default the latest); records: see
    load_run (the shards of one sharded run are one run, bench.shards, and always come with their records:
    their union has no single generations.jsonl to stream from)."""
    runs = [load_logical_run(p, **selection) if isinstance(p, list) else load_run(p, records=records, **selection)
            for p in group_runs(find_run_dirs(paths))]
    return label_runs(runs)


def label_runs(runs: list[RunData]) -> list[RunData]:
    """Give the runs unique labels among themselves (again after some are left out: bench.report.choose)."""
    from bench.sweep import sweep_label, varied

    # runs made by sweeps (-m) are named by what their sweeps varied: "sim · runner.concurrency=8"
    swept = [r for r in runs if isinstance((r.meta.get("sweep") or {}).get("overrides"), list)]
    names = {id(r): sweep_label(r.model, v) for r, v in zip(swept, varied(
        [r.meta["sweep"]["overrides"] for r in swept], all_if_none=False), strict=True)}
    for r in runs:
        r.label = names.get(id(r), r.model)
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.label] = counts.get(r.label, 0) + 1
    for r in runs:
        if counts[r.label] > 1:
            r.label = f"{r.label} @ {r.path.name}"
    return runs


# ---- tables -------------------------------------------------------------------------------------
def _num(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    return math.nan


def score_summary(run: RunData) -> dict[str, Any]:
    """Headline scores: metrics.json["scores"] when the scorer wrote it, else means of scores.jsonl."""
    s = run.metrics.get("scores") or {}
    ident = run.scoring or {}
    out: dict[str, Any] = {"reference_kind": _get(s, "reference.kind"),
                           "reference_source": _get(s, "reference.source"),
                           "judge_model": _get(s, "judge.model"),
                           "scoring": ident.get("key"), "reference_id": ident.get("reference_id"),
                           "judge_id": describe_judge(ident.get("judge")) if ident.get("judge") else None,
                           "judge_simulated": bool(_get(s, "judge.simulated")) if s.get("judge") else None}
    judge = s.get("judge") or {}
    out["judge_mean"] = _num(judge.get("mean"))
    ci = judge.get("ci95") or [None, None]
    out["judge_ci_low"], out["judge_ci_high"] = _num(ci[0]), _num(ci[1])
    out["judge_n"] = _num(judge.get("n"))
    overlap_all = _get(s, "overlap.all", {}) or {}
    for m in OVERLAP + ("corpus_bleu",):
        v = overlap_all.get(m)
        out[m] = _num(v.get("mean") if isinstance(v, dict) else v)
    out.update(temporal_columns(s.get("temporal")))
    out.update(judge_panel_columns(judge))
    if run.scores and (math.isnan(out["judge_mean"]) or math.isnan(out["rougeL"])):
        frames = frame_scores(run)
        import numpy as np

        judge_vals = [f["judge_score"] for f in frames.values() if not math.isnan(f["judge_score"])]
        if math.isnan(out["judge_mean"]) and judge_vals:
            out["judge_mean"], out["judge_n"] = float(np.mean(judge_vals)), float(len(judge_vals))
            if len(judge_vals) > 1:  # normal-approximation interval (the scorer's metrics carry a bootstrap one)
                half = 1.959963984540054 * float(np.std(judge_vals, ddof=1)) / math.sqrt(len(judge_vals))
                out["judge_ci_low"], out["judge_ci_high"] = out["judge_mean"] - half, out["judge_mean"] + half
        for m in OVERLAP:
            vals = [f[m] for f in frames.values() if not math.isnan(f[m])]
            if math.isnan(out[m]) and vals:
                out[m] = float(np.mean(vals))
        if out["reference_kind"] is None:
            first = next(iter(run.scores.values()))
            out["reference_kind"] = _get(first, "reference.kind")
            out["reference_source"] = _get(first, "reference.source")
    return out


def judge_panel_columns(judge: dict[str, Any]) -> dict[str, Any]:
    """A judge panel's columns (bench.score.panel): members, agreement, each judge's mean; and self-preference
    (judges of the model's own family, "label (vendor)"), for one judge as for a panel."""
    pref = judge.get("self_preference") or []
    out: dict[str, Any] = {"judge_self_preference": ", ".join(f"{p.get('judge')} ({p.get('vendor')})" for p in pref)
                           or None}
    panel = judge.get("panel")
    if not isinstance(panel, dict):
        return out
    agreement = panel.get("agreement") or {}
    pooled = agreement.get("pooled") or {}
    out.update(panel_judges=",".join(panel.get("judges") or {}), panel_excluded=",".join(panel.get("excluded") or [])
               or None, panel_alpha=_num(agreement.get("krippendorff_alpha_interval")),
               panel_within_1=_num((pooled.get("within_1") or {}).get("rate")),
               panel_exact=_num((pooled.get("exact") or {}).get("rate")))
    for label, member in (panel.get("judges") or {}).items():
        out[f"judge_mean.{label}"] = _num((member or {}).get("mean"))
    return out


TEMPORAL_COLUMNS = ("temporal_stability", "object_persistence", "flicker_rate", "boundary_f1", "boundary_k",
                    "boundary_best_k", "boundary_best_f1", "boundary_chance_f1", "boundary_auc")


def temporal_columns(t: Any) -> dict[str, float]:
    """The run's temporal scores (bench.score.temporal) as flat columns; NaN when the run has none."""
    t = t if isinstance(t, dict) and t.get("applicable") else {}
    b = t.get("boundaries") or {}
    return {"temporal_stability": _num(t.get("stability")),
            "object_persistence": _num((t.get("object_persistence") or {}).get("value")),
            "flicker_rate": _num((t.get("flicker") or {}).get("rate")), "boundary_f1": _num(b.get("f1")),
            "boundary_k": _num(b.get("k")), "boundary_best_k": _num(b.get("best_k")),
            "boundary_best_f1": _num(b.get("best_f1")), "boundary_chance_f1": _num(b.get("chance_f1")),
            "boundary_auc": _num(b.get("auc"))}


def is_judged(run: RunData) -> bool:
    """The run's last scoring ran (or carried over) an LLM judge."""
    return bool(_get(run.metrics, "scores.judge")) or any(rec.get("judge") for rec in run.scores.values())


def iter_run_records(run: RunData) -> Iterator[dict[str, Any]]:
    """The run's records: the ones in memory (a sharded run's, or loaded with records=True), else streamed
    from its generations.jsonl one at a time (bench.store.iter_records)."""
    return iter(run.records) if run.records else iter_records(run.path)


def iter_score_rows(run: RunData) -> Iterator[tuple[str, dict[str, Any]]]:
    """(frame_id, row) of the run's scoring: from memory when loaded, else streamed from its rows file (a frame
    with two rows gives both, in file order: collect into a dict and the last wins, as read_rows does). For a
    whole run loaded with load_run(records=False), e.g. by the gate."""
    if run.scores or run.scores_path is None or not run.scores_path.is_file():
        yield from run.scores.items()
        return
    with run.scores_path.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break  # torn last line
            rec = parse_record_line(line)
            if rec is not None:
                yield rec["frame_id"], rec


def frame_scores(run: RunData) -> dict[str, dict[str, Any]]:
    """frame_id -> flat scores (NaN where absent). judge_score is the "all" view (see judge_score_all);
    judge_no_caption marks the frames scored NO_CAPTION_SCORE without a verdict."""
    judged = is_judged(run)
    categories = {str(r.get("frame_id")): (r.get("validity") or {}).get("category") for r in run.records}
    return {fid: flat_score_row(rec, judged, categories.get(fid)) for fid, rec in run.scores.items()}


def flat_score_row(rec: dict[str, Any], judged: bool, record_category: Any = None) -> dict[str, Any]:
    """One scoring row as frame_scores gives it (record_category: the record's, for rows that lack theirs)."""
    overlap = rec.get("overlap") or {}
    judge = rec.get("judge") or {}
    score = judge_score_all(rec.get("judge"), rec.get("category") or record_category) if judged else None
    row = {"judge_score": _num(score), "judge_no_caption": judged and not judge and score is not None,
           "judge_rationale": judge.get("rationale"),
           "judge_failure": judge.get("failure"), "scored_valid": rec.get("valid"),
           "reference_kind": _get(rec, "reference.kind")}
    for m in OVERLAP:
        row[m] = _num(overlap.get(m))
    for fname, vals in (overlap.get("per_field") or {}).items():
        if isinstance(vals, dict):
            row[f"rougeL.{fname}"] = _num(vals.get("rougeL"))
    return row


def run_row(run: RunData) -> dict[str, Any]:
    m, c = run.metrics, run.config
    ladder = _get(m, "validity.ladder", {}) or {}
    sv = ladder.get("schema_valid") or {}
    ci = sv.get("ci95") or [None, None]
    status = run.meta.get("status")
    row: dict[str, Any] = {
        "run": run.label or run.model, "run_id": run.run_id, "run_dir": str(run.path), "model": run.model,
        "model_name": _get(c, "model.name") or _get(m, "run.model_name"), "dataset": run.dataset,
        "prompt": _get(m, "run.prompt") or f"{_get(c, 'prompt.name', '')}@{_get(c, 'prompt.version', '')}",
        "precision": (_get(c, "model.precision") or _get(m, "run.precision") or "").upper() or None,
        "hosting": _get(c, "model.hosting") or _get(m, "run.hosting"), "simulated": run.simulated,
        "gpu": _get(c, "model.gpu.name") or None, "status": status, "created": run.meta.get("created"),
        "fingerprint": run.meta.get("fingerprint"),
        "frames": _num(m.get("frames", len(run.records))), "completed": _num(m.get("completed")),
        "failed": _num(m.get("failed")), "bad_inputs": _num(_get(m, "bad_inputs.count")),
        # rates are over the frames sent; this one counts bad inputs as failures (older runs: the only view)
        "schema_valid_rate_all_frames": _num(m.get("schema_valid_rate_all_frames", m.get("schema_valid_rate"))),
        "schema_valid_rate": _num(m.get("schema_valid_rate")), "schema_valid_ci_low": _num(ci[0]),
        "schema_valid_ci_high": _num(ci[1]), "json_parse_rate": _num(m.get("json_parse_rate")),
        "json_lenient_rate": _num(m.get("json_lenient_rate")), "rules_ok_rate": _num(m.get("rules_ok_rate")),
        "ttft_p50_s": _num(m.get("ttft_p50_s")), "e2el_p50_s": _num(m.get("e2el_p50_s")),
        "e2el_p95_s": _num(m.get("e2el_p95_s")), "requests_per_s": _num(m.get("requests_per_s")),
        "output_tokens_per_s": _num(m.get("output_tokens_per_s")),
        "mean_input_tokens": _num(m.get("mean_input_tokens")), "mean_output_tokens": _num(m.get("mean_output_tokens")),
        "cost_per_million_usd": _num(m.get("cost_per_million_usd")), "cost_basis": _get(m, "cost.basis"),
        "temperature": _num(_get(c, "model.sampling.temperature")),
        "response_format": _get(c, "model.sampling.response_format"),
        "runner_mode": _get(m, "throughput.mode") or _get(c, "runner.mode"),
        "concurrency": _num(_get(c, "runner.concurrency")), "rate": _num(_get(c, "runner.rate")),
        # open loop: the send rate asked for, scheduled (the Poisson draw) and achieved; latency from schedule
        "target_rate": _num(_get(m, "throughput.target_rate")),
        "scheduled_rate": _num(_get(m, "throughput.scheduled_rate")),
        "achieved_rate": _num(_get(m, "throughput.achieved_rate")),
        "saturated": _get(m, "throughput.saturated"),
        "ttft_from_scheduled_p50_s": _num(_get(m, "latency.ttft_from_scheduled_s.p50")),
        "e2el_from_scheduled_p50_s": _num(_get(m, "latency.e2el_from_scheduled_s.p50")),
        "e2el_from_scheduled_p95_s": _num(_get(m, "latency.e2el_from_scheduled_s.p95")),
        # reasoning models: tokens spent thinking (inside mean_output_tokens, priced as output) and thinking time
        "mean_reasoning_tokens": _num(m.get("mean_reasoning_tokens")),
        "reasoning_cost_per_million_usd": _num(_get(m, "reasoning.cost_per_million_usd")),
        "thinking_p50_s": _num(_get(m, "latency.thinking_s.p50")),
        "reasoning_effort": _get(c, "model.sampling.reasoning_effort"),
    }
    row.update(score_summary(run))
    row.update(pairwise_results.columns(run.path))  # its place in the latest pairwise ranking (RUN/pairwise.json)
    return row


def _int(value: Any) -> int | None:
    """A count: an int, or None when unknown (pandas then makes the column Int64, not float)."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        else None


_IMAGE_PATHS: dict[tuple[str, int, int], dict[str, str]] = {}  # (manifest, mtime, size) -> image_paths' answer


def image_paths(run: RunData) -> dict[str, str]:
    """frame id -> the image file the run read, from its dataset (manifest or folder; video frames have
    none: their `video` and `timestamp_s` say where they are); {} when the dataset is not here."""
    from bench.frames.base import resolve_dataset_dir

    section = run.config.get("dataset") if isinstance(run.config, dict) else None
    if not isinstance(section, dict) or not section.get("path"):
        return {}
    root, kind = resolve_dataset_dir(str(section["path"])), section.get("kind") or "manifest"
    out: dict[str, str] = {}
    try:
        if kind == "manifest":
            manifest = root / str(section.get("manifest") or "manifest.jsonl")
            st = manifest.stat()
            key = (str(manifest), st.st_mtime_ns, st.st_size)
            if key in _IMAGE_PATHS:  # the report asks once per batch of frames: read the manifest once
                return _IMAGE_PATHS[key]
            with open(manifest, encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    try:
                        entry = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        try:
                            entry = json.loads(line)
                        except json.JSONDecodeError:
                            continue
                    if isinstance(entry, dict) and entry.get("id") is not None and isinstance(entry.get("image"), str):
                        out[str(entry["id"])] = str(root / entry["image"])
            _IMAGE_PATHS.clear()  # one manifest kept: the runs of a report share their dataset, mostly
            _IMAGE_PATHS[key] = out
        elif kind == "folder":
            from bench.frames.folder import list_files, normalise_extensions, stable_id

            exts = normalise_extensions(section.get("extensions") or [".jpg", ".jpeg", ".png", ".webp"])
            out = {stable_id(p.relative_to(root).as_posix()): str(p) for p in list_files(root, exts)}
    except OSError:
        return {}
    return out


def frame_rows(run: RunData, images: Mapping[str, str | None] | None = None) -> list[dict[str, Any]]:
    """One row per record of the run. images: frame id -> image path, when the caller has them already (the
    report's DatasetIndex); else read from the dataset (image_paths)."""
    scores = frame_scores(run)
    images = image_paths(run) if images is None else images
    rows = []
    for r in run.records:
        v = r.get("validity") or {}
        t = r.get("timing") or {}
        u = r.get("usage") or {}
        fid = str(r.get("frame_id"))
        row: dict[str, Any] = {
            "run": run.label or run.model, "run_id": run.run_id, "model": run.model, "dataset": run.dataset,
            "frame_id": fid, "content_type": r.get("content_type") or "unknown", "status": r.get("status"),
            "image_path": images.get(fid),
            # where the frame sits in time (records since temporal scores; None before, or for stills)
            "video": r.get("video"), "shot": r.get("shot"), "timestamp_s": _num(r.get("timestamp_s")),
            "category": v.get("category"), "json_strict": bool(v.get("json_strict")),
            "json_lenient": bool(v.get("json_lenient")), "schema_valid": bool(v.get("schema_valid")),
            "rules_ok": bool(v.get("rules_ok")), "failed_fields": ";".join(v.get("failed_fields") or []),
            "reasons": " | ".join(v.get("reasons") or []), "finish_reason": r.get("finish_reason"),
            "error_kind": (r.get("error") or {}).get("kind"), "attempts": _int(r.get("n_attempts")),
            "input_tokens": _int(u.get("input_tokens")), "output_tokens": _int(u.get("output_tokens")),
            "reasoning_tokens": _int(u.get("reasoning_tokens")),
            "cost_usd": _num(r.get("cost_usd")),
        }
        for key in ("ttft_s", "e2el_s", "tpot_s", "queue_s", "ttft_from_scheduled_s", "e2el_from_scheduled_s",
                    "thinking_s"):
            row[key] = _num(t.get(key))
        s = scores.get(fid) or {}
        row["judge_score"] = s.get("judge_score", math.nan)  # "all" view: no caption scores NO_CAPTION_SCORE
        row["judge_no_caption"] = bool(s.get("judge_no_caption"))
        for m in OVERLAP:
            row[m] = s.get(m, math.nan)
        row["judge_failure"] = s.get("judge_failure")
        row.update({k: v for k, v in s.items() if k.startswith("rougeL.")})
        caption = r.get("caption")  # the parsed caption's fields as given (lists stay lists)
        row.update({f"caption.{k}": v for k, v in caption.items()} if isinstance(caption, dict) else {})
        rows.append(row)
    return rows


def load_runs(paths: list[str | Path] | str | Path, level: str = "run", *, scoring: str | None = None,
              reference: str | None = None, judge: str | None = None) -> Any:
    """A pandas DataFrame of the runs the paths name: one row per run (level="run") or per frame ("frame").
    scoring=KEY, reference= ("dataset", a teacher run's id or folder) and judge= (a judge label) pick which of a
    run's scorings is used; default the latest. The columns scoring, reference_id and judge_id say which."""

    runs = load_run_data(paths, scoring=scoring, reference=reference, judge=judge)
    return runs_frame(runs, level)


def runs_frame(runs: list[RunData], level: str = "run") -> Any:
    import pandas as pd

    if level == "run":
        return pd.DataFrame([run_row(r) for r in runs])
    if level == "frame":
        df = pd.DataFrame([row for r in runs for row in frame_rows(r)])
        for col in ("attempts", "input_tokens", "output_tokens", "reasoning_tokens"):  # counts stay integers
            if col in df:
                df[col] = df[col].astype("Int64")
        return df
    raise ValueError(f"level={level!r}: use 'run' or 'frame'")


def load_frames_df(paths: list[str | Path] | str | Path) -> Any:
    """One row per (run, frame): validity, timing, tokens, cost and scores."""
    return load_runs(paths, level="frame")


def export_tables(runs: list[RunData], folder: str | Path, formats: tuple[str, ...] = ("csv",)) -> list[Path]:
    """Write runs.<fmt> and frames.<fmt> (csv and/or parquet) into folder; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for level in ("run", "frame"):
        df = runs_frame(runs, level)
        for fmt in formats:
            path = folder / f"{level}s.{fmt}"
            if fmt == "csv":
                df.to_csv(path, index=False)
            elif fmt == "parquet":
                df.to_parquet(path, index=False)
            else:
                raise ValueError(f"format {fmt!r}: use csv or parquet")
            written.append(path)
    return written
