"""Simulator runs shared by the report and gate tests (made once per test session)."""

from __future__ import annotations

import io
import json
import math
import random
import shutil
from pathlib import Path

from hydra import compose, initialize_config_dir
from rich.console import Console

from bench.__main__ import conf_dir
from bench.app import run
from bench.config import register
from bench.load import FIELDS

register()
_CACHE: dict[str, dict[str, Path]] = {}


def sim_run(run_dir: Path, model: str = "sim", *overrides: str) -> Path:
    """One run of the embedded simulator over the shipped 27-frame sample, into run_dir."""
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"model={model}", f"run_dir={run_dir}",
                                                       "runner.progress=false", "runner.concurrency=8", *overrides])
    code = run(cfg, Console(file=io.StringIO()), summary=False)
    assert code == 0, f"simulator run {model} exited {code}"
    return run_dir


def sim_runs(base: Path) -> dict[str, Path]:
    """sim, a re-run of sim, and sim_noisy, each over the whole sample (27 frames)."""
    if "runs" not in _CACHE:
        root = base / "simruns"
        _CACHE["runs"] = {"sim": sim_run(root / "sample" / "sim" / "first"),
                          "sim_rerun": sim_run(root / "sample" / "sim" / "rerun"),
                          "sim_noisy": sim_run(root / "sample" / "sim_noisy" / "first", "sim_noisy")}
    return _CACHE["runs"]


def write_scores(run_dir: Path, *, judge_mean: float, rouge_mean: float, seed: int = 0,
                 judge: bool = True) -> Path:
    """A plausible scores.jsonl (the scorer's format) with per-frame judge and overlap scores, for tests."""
    rng = random.Random(seed)
    lines = []
    for line in (run_dir / "generations.jsonl").read_text().splitlines():
        rec = json.loads(line)
        valid = bool(rec["validity"].get("schema_valid"))
        jitter = rng.gauss(0, 0.4)
        score = max(1.0, min(5.0, round(judge_mean + jitter))) if valid else 1.0
        r = max(0.0, min(100.0, rouge_mean + rng.gauss(0, 6))) if valid else 0.0
        per_field = {f: {"rouge1": r, "rouge2": r / 2, "rougeL": max(0.0, r + rng.gauss(0, 5)), "bleu": r / 3}
                     for f in FIELDS}
        lines.append(json.dumps({
            "frame_id": rec["frame_id"],
            "reference": {"kind": "dataset", "source": "datasets/sample", "id": "dataset:sample"},
            "valid": valid,
            "overlap": {"rouge1": r + 10, "rouge2": r / 2, "rougeL": r, "bleu": r / 3, "per_field": per_field}
            if valid else None,
            "judge": {"score": score, "scores": [score], "rationale": f"judged {score:.0f}/5", "hallucinated": {},
                      "missed": {}, "failure": None, "cached": False} if judge else None,
        }))
    path = run_dir / "scores.jsonl"
    path.write_text("\n".join(lines) + "\n")
    shutil.rmtree(run_dir / "scores", ignore_errors=True)  # as an older run folder: scores.jsonl is its one scoring
    assert not math.isnan(judge_mean)
    return path
