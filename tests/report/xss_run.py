"""A run folder whose model output (and dataset text) is hostile HTML, for the escaping tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from omegaconf import OmegaConf
from PIL import Image

from bench.config import PromptConfig
from bench.metrics import compute_metrics
from bench.validity import assess

ROOT = Path(__file__).resolve().parents[2]
P1 = "<script>window.__xss=1</script>"
P2 = '<img src=x onerror="window.__xss=2">'
P3 = "</script><script>window.__xss=3</script>"
P4 = '"><svg onload="window.__xss=4">'
EVIL_LABEL = 'evil<img src=x onerror="window.__xss=7">'
PAYLOADS = (P1, P2, P3, P4)


def _prompt() -> PromptConfig:
    merged = OmegaConf.merge(OmegaConf.structured(PromptConfig), OmegaConf.load(ROOT / "conf/prompt/cliptagger.yaml"))
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def make_xss_run(base: Path) -> Path:
    ds = base / "ds"
    (ds / "images").mkdir(parents=True)
    Image.new("RGB", (320, 200), (30, 120, 200)).save(ds / "images" / "a.jpg")
    hostile_ct = f"<b>bold</b>{P2}"
    (ds / "manifest.jsonl").write_text("\n".join(json.dumps(e) for e in [
        {"id": "a", "image": "images/a.jpg", "content_type": hostile_ct,
         "reference": {"description": f"Reference {P1}", "objects": [P2], "actions": [], "environment": "x",
                       "content_type": "x", "specific_style": "x", "production_quality": "x", "summary": P4,
                       "logos": []}},
        {"id": "b", "image": "images/missing.jpg", "content_type": "photo"},
        {"id": "c", "image": "images/missing.jpg", "content_type": "photo"},
    ]) + "\n")
    prompt = _prompt()
    caption_a = {"description": f"A blue frame. {P1}", "objects": [P2, P3], "actions": [P4], "environment": P1,
                 "content_type": P2, "specific_style": P3, "production_quality": P4, "summary": f"Blue {P1}.",
                 "logos": [P2], P2: P1}
    texts = {"a": json.dumps(caption_a), "b": f"Sure! {P3}{P2} {{not json", "c": json.dumps({**caption_a, P2: None})}
    run_dir = base / "runs" / "evil" / "run1"
    run_dir.mkdir(parents=True)
    t0 = time.time() - 10
    records = []
    for i, (fid, text) in enumerate(texts.items()):
        validity, caption = assess(text, "stop", prompt.json_schema, prompt.rules)
        records.append({
            "frame_id": fid if fid != "c" else f"c{P2}", "session": 1,
            "content_type": hostile_ct if fid == "a" else "photo",
            "t_scheduled": t0 + i, "t_sent": t0 + i, "t_first_token": t0 + i + 0.1, "t_last_token": t0 + i + 0.6,
            "attempts": [{"n": 1, "t_sent": t0 + i, "duration_s": 0.6, "ok": True, "error_kind": None}],
            "n_attempts": 1, "usage": {"input_tokens": 900, "output_tokens": 200},
            "usage_all_attempts": {"input_tokens": 900, "output_tokens": 200}, "cost_usd": 0.00037, "status": "ok",
            "error": None, "text": text, "caption": caption if isinstance(caption, dict) else None,
            "finish_reason": "stop", "validity": validity.to_dict(), "image": {"sha256": fid},
            "timing": {"queue_s": 0.0, "ttft_s": 0.1, "e2el_s": 0.6, "tpot_s": 0.0025},
        })
    with (run_dir / "generations.jsonl").open("w") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    model = {"name": P1, "label": EVIL_LABEL, "precision": "fp8", "hosting": "api", "simulated": False,
             "price": {"input_per_million": 0.3, "output_per_million": 0.5}}
    config = {"model": {**model, "sampling": {"temperature": 0.1, "response_format": P2}},
              "dataset": {"name": "evil", "path": str(ds), "manifest": "manifest.jsonl"},
              "prompt": {"name": "cliptagger", "version": P4}, "runner": {"mode": "closed", "concurrency": 8}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    metrics = compute_metrics(records, frames_total=3, model=model, runner={"mode": "closed"}, simulated=False)
    metrics["run"] = {"model": EVIL_LABEL, "dataset": "evil", "prompt": f"cliptagger@{P4}", "precision": "fp8"}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "run.json").write_text(json.dumps({"format": 1, "fingerprint": "x", "model": EVIL_LABEL,
                                                   "dataset": "evil", "status": "complete", "sessions": []}))
    (run_dir / "scores.jsonl").write_text("".join(json.dumps({
        "frame_id": r["frame_id"], "reference": {"kind": "manifest", "source": P2}, "valid": True,
        "overlap": {"rouge1": 50, "rouge2": 20, "rougeL": 40, "bleu": 10, "per_field": {P2: {"rougeL": 3}}},
        "judge": {"score": 2, "scores": [2], "rationale": f"{P1} {P2}", "hallucinated": {P2: [P1]}, "missed": {},
                  "failure": None, "cached": False}}) + "\n" for r in records))
    return run_dir
