"""Reading a run folder for scoring, and the two kinds of reference.

- `dataset`: the reference captions in the dataset manifest the run used
  (the sample set has hand-written ones);
- `run`: another run's outputs on the same frames, a teacher (distillation).
  Only its *valid* captions (schema-valid) serve as references; a teacher
  frame that failed or is invalid is a missing reference, with the reason.

Frames missing on either side are counted and reported, never silently
dropped. Everything that makes scoring impossible raises `ScoreError` with a
message saying what is wrong and what to do.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.config import DatasetConfig
from bench.frames import DatasetError, FrameSource, load_frames
from bench.score.lookup import HAS_REFERENCE, FrameLookup, RecordLookup
from bench.store import iter_records

REQUIRED_RECORD_KEYS = ("frame_id", "status", "caption")


class ScoreError(Exception):
    """The run or its reference cannot be scored; the message says why and how to fix it."""


@dataclass
class RunFolder:
    path: Path
    config: DictConfig
    meta: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    legacy: bool = False  # written by an older capbench: some fields were reconstructed
    _records: list[dict[str, Any]] | None = field(default=None, repr=False)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """The records slimmed to what scoring reads, streamed from generations.jsonl (one at a time)."""
        return (_for_scoring(rec) for rec in iter_records(self.path))

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every slimmed record in a list: for small callers (pairwise, tests); bench.score streams."""
        if self._records is None:
            self._records = list(self.iter_records())
        return self._records

    @property
    def dataset_name(self) -> str:
        return str(OmegaConf.select(self.config, "dataset.name", default="") or "")

    @property
    def status(self) -> str:
        return str(self.meta.get("status") or "unknown")

    @property
    def model_label(self) -> str:
        return str(self.meta.get("model") or OmegaConf.select(self.config, "model.label", default="")
                   or OmegaConf.select(self.config, "model.name", default="") or self.path.parent.name)

    def dataset_cfg(self) -> DatasetConfig:
        node = OmegaConf.select(self.config, "dataset")
        if node is None:
            raise ScoreError(f"{self.path}/config.yaml has no dataset section; cannot find the frames again")
        merged = OmegaConf.merge(OmegaConf.structured(DatasetConfig), node)
        return OmegaConf.to_object(merged)  # type: ignore[return-value]

    def frames(self) -> FrameSource:
        """The run's dataset frames, as the runner loaded them (same config, same limit); a manifest is read
        lazily (iterate it, or look frames up by id with bench.score.lookup.FrameLookup)."""
        try:
            return load_frames(self.dataset_cfg())
        except DatasetError as exc:
            raise ScoreError(f"cannot load the frames of {self.path}: {exc}") from exc


def is_valid(record: dict[str, Any]) -> bool:
    """A scorable caption: the server answered and the caption validates against the JSON Schema."""
    validity = record.get("validity")
    if isinstance(validity, dict):
        return bool(validity.get("schema_valid")) and isinstance(record.get("caption"), dict)
    return record.get("status") == "ok" and isinstance(record.get("caption"), dict)  # legacy record


def invalid_reason(record: dict[str, Any]) -> str:
    validity = record.get("validity") or {}
    return str(validity.get("category") or record.get("status") or "invalid")


# What scoring reads of a record (bench.score, and a teacher run as the reference).
_SCORING_KEYS = ("frame_id", "status", "caption", "content_type", "video", "shot", "timestamp_s")


def _for_scoring(rec: dict[str, Any]) -> dict[str, Any]:
    slim = {k: rec[k] for k in _SCORING_KEYS if k in rec}
    if "validity" in rec:
        validity = rec["validity"]
        slim["validity"] = {k: validity[k] for k in ("category", "schema_valid") if k in validity} \
            if isinstance(validity, dict) else validity
    if isinstance(rec.get("image"), dict) and "sha256" in rec["image"]:
        slim["image"] = {"sha256": rec["image"]["sha256"]}
    return slim


def load_run(path: str | Path) -> RunFolder:
    run_dir = Path(path).expanduser()
    if not run_dir.is_dir():
        raise ScoreError(f"{run_dir} is not a folder; pass a run folder (runs/<dataset>/<model>/<timestamp>)")
    gens, cfg_path = run_dir / "generations.jsonl", run_dir / "config.yaml"
    if not gens.is_file():
        raise ScoreError(f"{run_dir} has no generations.jsonl: not a capbench run folder, or a run that recorded "
                         "no frame yet")
    if not cfg_path.is_file():
        raise ScoreError(f"{run_dir} has no config.yaml: written by a capbench older than the run-folder format 1, "
                         "or copied without it; the config is needed to know the dataset and prompt")
    config = OmegaConf.load(cfg_path)
    assert isinstance(config, DictConfig)
    meta: dict[str, Any] = {}
    if (run_dir / "run.json").is_file():
        try:
            meta = json.loads((run_dir / "run.json").read_text())
        except json.JSONDecodeError:
            meta = {}
    # Checked in one streamed pass holding nothing: a scorer reads a few keys of each record, later, one at
    # a time (RunFolder.iter_records), not the raw text, attempts and timings (~12 KB a record in memory).
    missing: Counter[str] = Counter()
    legacy = False
    for rec in iter_records(run_dir):
        missing.update(k for k in REQUIRED_RECORD_KEYS if k not in rec)
        legacy = legacy or "validity" not in rec
    folder = RunFolder(run_dir, config, meta)
    if missing:
        lacking = ", ".join(f"{k!r} ({n}x)" for k, n in missing.items())
        raise ScoreError(f"{gens}: records lack {lacking}; this run folder comes from an older or a different tool "
                         f"(capbench {meta.get('capbench_version', '?')}, format {meta.get('format', '?')}); re-run it "
                         "with this version to score it")
    if legacy:
        folder.legacy = True
        folder.warnings.append("some records have no 'validity' (older capbench): a caption that parsed is taken "
                               "as valid")
    if not meta:
        folder.warnings.append(f"{run_dir} has no readable run.json: run status unknown")
    return folder


@dataclass
class ReferenceSet:
    """The reference side, looked up by frame id as the scored run's records stream past (bench.score.lookup
    keeps ~24 bytes a frame, not the captions). `get` marks what was asked for, so that afterwards
    `missing_candidates` names the reference frames the run has no output for."""
    kind: str  # "dataset" | "run"
    source: str  # dataset name or run folder
    lookup: FrameLookup | RecordLookup
    dataset: str
    warnings: list[str] = field(default_factory=list)

    run_id: str = ""  # a teacher run's id (model/folder name); "" for the dataset

    def describe(self) -> dict[str, str]:
        """kind, source and id: the id is what scorings are keyed and compared by ("dataset:NAME", or
        "run:MODEL/FOLDER" for a teacher run, which stays the same when the runs folder moves)."""
        ref_id = f"dataset:{self.dataset}" if self.kind == "dataset" else f"run:{self.run_id}"
        return {"kind": self.kind, "source": self.source, "id": ref_id}

    @property
    def count(self) -> int:
        """Frames with a usable reference caption."""
        return int(((self.lookup.index.tags & HAS_REFERENCE) > 0).sum())

    def get(self, frame_id: str) -> tuple[dict[str, Any] | None, str | None, dict[str, Any] | None]:
        """(reference caption, None) or (None, why there is none), and the teacher's record (a run reference)."""
        if self.kind == "dataset":
            frame = self.lookup.get(frame_id, mark=True)
            if frame is None:
                return None, "frame not in the reference", None
            if not isinstance(frame.reference, dict):
                return None, "no reference caption in the manifest", None
            return frame.reference, None, None
        rec = self.lookup.get(frame_id, mark=True)
        if rec is None:
            return None, "frame not in the reference", None
        if not is_valid(rec):
            return None, f"teacher output invalid ({invalid_reason(rec)})", rec
        return rec["caption"], None, rec

    def missing_candidates(self, first: int = 50) -> tuple[int, list[str]]:
        """How many reference frames (with a caption) were never asked for, and the first few ids, sorted."""
        idx = self.lookup.index
        count = int((((idx.tags & HAS_REFERENCE) > 0) & ~idx.marked).sum())
        return count, (heapq.nsmallest(first, self.lookup.unmarked_ids(HAS_REFERENCE)) if count else [])

    def looked_up(self) -> int:
        """Frames asked for that the reference knows (with or without a caption)."""
        return int(self.lookup.index.marked.sum())


def dataset_references(run: RunFolder) -> ReferenceSet:
    lookup = FrameLookup(run.frames())
    name = run.dataset_name
    refs = ReferenceSet("dataset", name, lookup, name)
    if not refs.count:
        refs.warnings.append(f"dataset {name!r} has no reference captions: overlap scores need reference=RUN_DIR "
                             "(a teacher run) or a manifest with 'reference' captions")
    return refs


def run_references(candidate: RunFolder, teacher_dir: str | Path) -> ReferenceSet:
    """A teacher run as the reference: same dataset, frames matched by id. (That the two share frames, and
    whether the teacher saw the same image bytes, is checked as the scoring streams: `finish_run_reference`.)"""
    teacher = load_run(teacher_dir)
    if teacher.path.resolve() == candidate.path.resolve():
        raise ScoreError(f"reference={teacher.path} is the run being scored; name another run (the teacher)")
    if teacher.dataset_name != candidate.dataset_name:
        raise ScoreError(f"reference run {teacher.path} is on dataset {teacher.dataset_name!r}, the scored run on "
                         f"{candidate.dataset_name!r}: a teacher must caption the same frames")
    lookup = RecordLookup(teacher.path, lambda rec: HAS_REFERENCE if is_valid(rec) else 0)
    refs = ReferenceSet("run", str(teacher.path), lookup, teacher.dataset_name, list(teacher.warnings),
                        run_id=f"{teacher.model_label}/{teacher.path.name}")
    if teacher.status not in ("complete", "unknown"):
        refs.warnings.append(f"reference run {teacher.path} is {teacher.status}: frames it lacks are counted as "
                             "missing references")
    return refs


def finish_run_reference(refs: ReferenceSet, candidate: RunFolder, candidates: int, differ: list[str],
                         differ_count: int) -> None:
    """After the scored run's records streamed past a teacher reference: no shared frame at all is an error (a
    different dataset or limit); frames sent to the teacher as other bytes are a warning."""
    if refs.kind != "run":
        return
    if isinstance(refs.lookup, RecordLookup):
        refs.lookup.close()
    if candidates and len(refs.lookup) and not refs.looked_up():
        raise ScoreError(f"reference run {refs.source} and {candidate.path} share no frame id: a different dataset "
                         "(or a different dataset.limit); score against a teacher run on the same frames")
    if differ_count:
        refs.warnings.append(f"{differ_count} frame(s) were sent to the teacher as different image bytes (another "
                             f"resize/JPEG setting or dataset build), e.g. {differ[0]!r}")


def resolve_references(run: RunFolder, reference: str | None) -> ReferenceSet:
    """reference=None or "dataset": the manifest's captions; anything else: a teacher run folder."""
    if reference in (None, "", "dataset"):
        return dataset_references(run)
    return run_references(run, reference)
