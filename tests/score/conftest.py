"""Small synthetic datasets and run folders for scoring tests (no simulator, no network)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from bench.config import DatasetConfig
from bench.frames import encode_frame, load_frames
from tests.conftest import SEED_CAPTION, write_image

COLOURS = [(200, 80, 40), (40, 160, 60), (30, 60, 200), (220, 220, 40), (120, 20, 140), (10, 10, 10)]
SUBJECTS = ["boardwalk", "lighthouse", "tram", "market", "harbour", "glacier"]


def reference_for(i: int) -> dict[str, Any]:
    ref = copy.deepcopy(SEED_CAPTION)
    word = SUBJECTS[i % len(SUBJECTS)]
    ref["description"] = ref["description"].replace("boardwalk", word)
    ref["summary"] = ref["summary"].replace("boardwalk", word)
    ref["objects"] = [o.replace("boardwalk", word) for o in ref["objects"]]
    ref["logos"] = ["Acme"] if i % 3 == 0 else []
    return ref


def make_dataset(root: Path, n: int = 6, name: str = "tiny", with_refs: bool = True) -> Path:
    folder = root / name
    lines = []
    for i in range(n):
        write_image(folder / "images" / f"f{i}.jpg", color=COLOURS[i % len(COLOURS)])
        lines.append({"id": f"f{i}", "image": f"images/f{i}.jpg",
                      "content_type": "real-world footage" if i % 2 else "CGI",
                      "reference": reference_for(i) if with_refs else None})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


def valid(category: str = "valid") -> dict[str, Any]:
    return {"category": category, "json_strict": True, "json_lenient": True, "schema_valid": True,
            "rules_ok": category == "valid", "reasons": [], "failed_fields": []}


def invalid(category: str = "not_json") -> dict[str, Any]:
    return {"category": category, "json_strict": False, "json_lenient": False, "schema_valid": False,
            "rules_ok": False, "reasons": ["x"], "failed_fields": []}


def make_run(root: Path, dataset: Path, name: str, outputs: dict[str, Any], *, status: str = "complete",
             dataset_name: str | None = None, prompt: dict[str, Any] | None = None) -> Path:
    """outputs: frame id -> caption dict (valid), "bad" (not JSON), "fail" (transport error)."""
    run = root / "runs" / name
    run.mkdir(parents=True)
    ds = {"name": dataset_name or dataset.name, "path": str(dataset), "manifest": "manifest.jsonl", "max_side": 1024,
          "jpeg_quality": 90, "max_pixels": 50_000_000}
    cfg = {"model": {"name": name, "label": name}, "dataset": ds,
           "prompt": prompt or {"name": "cliptagger", "json_schema": {"properties": {k: {} for k in SEED_CAPTION}}}}
    (run / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
    (run / "run.json").write_text(json.dumps({"format": 1, "status": status, "sessions": []}))
    frames = {f.id: f for f in load_frames(OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(DatasetConfig),
                                                                               ds)))}
    lines = []
    for fid, out in outputs.items():
        img = encode_frame(frames[fid], 1024, 90, 50_000_000)
        rec: dict[str, Any] = {"frame_id": fid, "content_type": frames[fid].meta.get("content_type"),
                               "image": {"sha256": img.sha256}}
        if isinstance(out, dict):
            rec.update(status="ok", caption=out, text=json.dumps(out), validity=valid())
        elif out == "bad":
            rec.update(status="ok", caption=None, text="Here you go: {oops", validity=invalid("not_json"))
        else:
            rec.update(status="failed", caption=None, text=None, validity=invalid("transport_error"),
                       error={"kind": "server", "message": "500"})
        lines.append(json.dumps(rec) + "\n")
    (run / "generations.jsonl").write_text("".join(lines))
    (run / "metrics.json").write_text(json.dumps({"frames": len(frames), "completed": len(outputs)}))
    return run


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return make_dataset(tmp_path)
