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

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.config import DatasetConfig
from bench.frames import DatasetError, Frame, load_frames
from bench.store import iter_records

REQUIRED_RECORD_KEYS = ("frame_id", "status", "caption")


class ScoreError(Exception):
    """The run or its reference cannot be scored; the message says why and how to fix it."""


@dataclass
class RunFolder:
    path: Path
    config: DictConfig
    meta: dict[str, Any]
    records: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    legacy: bool = False  # written by an older capbench: some fields were reconstructed

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

    def frames(self) -> list[Frame]:
        """The run's dataset frames, as the runner loaded them (same config, same limit)."""
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
_SCORING_KEYS = ("frame_id", "status", "caption", "content_type")


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
    # Streamed and slimmed: a scorer needs a few keys of each record, not the raw text, attempts and
    # timings that make a record ~12 KB in memory (100k records would be over a GB).
    records = []
    missing: Counter[str] = Counter()
    for rec in iter_records(run_dir):
        missing.update(k for k in REQUIRED_RECORD_KEYS if k not in rec)
        records.append(_for_scoring(rec))
    folder = RunFolder(run_dir, config, meta, records)
    if missing:
        lacking = ", ".join(f"{k!r} ({n}x)" for k, n in missing.items())
        raise ScoreError(f"{gens}: records lack {lacking}; this run folder comes from an older or a different tool "
                         f"(capbench {meta.get('capbench_version', '?')}, format {meta.get('format', '?')}); re-run it "
                         "with this version to score it")
    if any("validity" not in r for r in records):
        folder.legacy = True
        folder.warnings.append("some records have no 'validity' (older capbench): a caption that parsed is taken "
                               "as valid")
    if not meta:
        folder.warnings.append(f"{run_dir} has no readable run.json: run status unknown")
    return folder


@dataclass
class ReferenceSet:
    kind: str  # "dataset" | "run"
    source: str  # dataset name or run folder
    captions: dict[str, dict[str, Any]]  # frame id -> reference caption
    unusable: dict[str, str]  # frame id -> why the reference side has no caption for it
    dataset: str
    warnings: list[str] = field(default_factory=list)

    run_id: str = ""  # a teacher run's id (model/folder name); "" for the dataset

    def describe(self) -> dict[str, str]:
        """kind, source and id: the id is what scorings are keyed and compared by ("dataset:NAME", or
        "run:MODEL/FOLDER" for a teacher run, which stays the same when the runs folder moves)."""
        ref_id = f"dataset:{self.dataset}" if self.kind == "dataset" else f"run:{self.run_id}"
        return {"kind": self.kind, "source": self.source, "id": ref_id}


def dataset_references(run: RunFolder) -> ReferenceSet:
    frames = run.frames()
    captions = {f.id: f.reference for f in frames if isinstance(f.reference, dict)}
    unusable = {f.id: "no reference caption in the manifest" for f in frames if not isinstance(f.reference, dict)}
    name = run.dataset_name
    refs = ReferenceSet("dataset", name, captions, unusable, name)
    if not captions:
        refs.warnings.append(f"dataset {name!r} has no reference captions: overlap scores need reference=RUN_DIR "
                             "(a teacher run) or a manifest with 'reference' captions")
    return refs


def run_references(candidate: RunFolder, teacher_dir: str | Path) -> ReferenceSet:
    """A teacher run as the reference: same dataset, frames matched by id."""
    teacher = load_run(teacher_dir)
    if teacher.path.resolve() == candidate.path.resolve():
        raise ScoreError(f"reference={teacher.path} is the run being scored; name another run (the teacher)")
    if teacher.dataset_name != candidate.dataset_name:
        raise ScoreError(f"reference run {teacher.path} is on dataset {teacher.dataset_name!r}, the scored run on "
                         f"{candidate.dataset_name!r}: a teacher must caption the same frames")
    captions, unusable = {}, {}
    for rec in teacher.records:
        if is_valid(rec):
            captions[rec["frame_id"]] = rec["caption"]
        else:
            unusable[rec["frame_id"]] = f"teacher output invalid ({invalid_reason(rec)})"
    shared = {r["frame_id"] for r in candidate.records} & (set(captions) | set(unusable))
    if candidate.records and teacher.records and not shared:
        raise ScoreError(f"reference run {teacher.path} and {candidate.path} share no frame id: a different dataset "
                         "(or a different dataset.limit); score against a teacher run on the same frames")
    refs = ReferenceSet("run", str(teacher.path), captions, unusable, teacher.dataset_name, list(teacher.warnings),
                        run_id=f"{teacher.model_label}/{teacher.path.name}")
    # Same ids but different pixels: another dataset build or another resize setting.
    teacher_sha = {r["frame_id"]: (r.get("image") or {}).get("sha256") for r in teacher.records}
    differ = [r["frame_id"] for r in candidate.records
              if (r.get("image") or {}).get("sha256") and teacher_sha.get(r["frame_id"])
              and r["image"]["sha256"] != teacher_sha[r["frame_id"]]]
    if differ:
        refs.warnings.append(f"{len(differ)} frame(s) were sent to the teacher as different image bytes (another "
                             f"resize/JPEG setting or dataset build), e.g. {differ[0]!r}")
    if teacher.status not in ("complete", "unknown"):
        refs.warnings.append(f"reference run {teacher.path} is {teacher.status}: frames it lacks are counted as "
                             "missing references")
    return refs


def resolve_references(run: RunFolder, reference: str | None) -> ReferenceSet:
    """reference=None or "dataset": the manifest's captions; anything else: a teacher run folder."""
    if reference in (None, "", "dataset"):
        return dataset_references(run)
    return run_references(run, reference)
