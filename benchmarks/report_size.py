"""Size and build time of an HTML report for 1,000 frames x 3 models.

    python benchmarks/report_size.py [--frames 1000] [--keep DIR] [--no-scores]

Builds a dataset of N distinct frames (the sample's images, each randomly
cropped and re-lit, so every thumbnail is different, as in a real dataset),
runs three simulator configurations over it through the whole harness
(sim, sim_noisy, and sim at caption quality 0.7), adds per-frame scores in the
scorer's format (judge score + a rationale, ROUGE/BLEU, per-field ROUGE) so
that the report carries everything a scored run has, then builds the report
and prints its size with a breakdown (plotly.js, thumbnails, frame data).
The simulator's latency is shortened so the runs take seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from PIL import Image, ImageEnhance
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.__main__ import conf_dir  # noqa: E402
from bench.app import run  # noqa: E402
from bench.config import register  # noqa: E402
from bench.load import FIELDS, load_run_data  # noqa: E402
from bench.report.data import assemble  # noqa: E402
from bench.report.render import plotly_js, render  # noqa: E402

MODELS = {"sim": ["model=sim"], "sim_noisy": ["model=sim_noisy"],
          "sim_q07": ["model=sim", "model.label=sim_q07", "model.sim.caption_quality=0.7", "model.sim.seed=7"]}


def build_dataset(folder: Path, n: int, seed: int = 0) -> Path:
    sample = ROOT / "datasets" / "sample"
    entries = [json.loads(line) for line in (sample / "manifest.jsonl").read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with (folder / "manifest.jsonl").open("w") as fh:
        for i in range(n):
            e = entries[i % len(entries)]
            with Image.open(sample / e["image"]) as src:
                img = src.convert("RGB")
            w, h = img.size
            dx, dy = int(w * rng.uniform(0, 0.04)), int(h * rng.uniform(0, 0.04))
            img = img.crop((dx, dy, w - int(w * rng.uniform(0, 0.04)), h - int(h * rng.uniform(0, 0.04))))
            img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.93, 1.07))
            name = f"images/f{i:05d}.jpg"
            img.save(folder / name, quality=85)
            fh.write(json.dumps({"id": f"f{i:05d}", "image": name, "content_type": e.get("content_type"),
                                 "reference": e.get("reference")}) + "\n")
    return folder


def one_run(ds: Path, runs: Path, label: str, extra: list[str]) -> Path:
    overrides = [*extra, f"dataset.path={ds}", "dataset.name=bench1k", f"run_dir={runs / label}",
                 "runner.progress=false", "runner.concurrency=64", "model.sim.ttft_s=0.005",
                 "model.sim.per_token_s=0.0002", "model.sim.per_token_jitter_s=0.0001"]
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    code = run(cfg, Console(stderr=True, quiet=True), summary=False)
    if code != 0:
        raise SystemExit(f"run {label} exited {code}")
    return runs / label


def add_scores(run_dir: Path, judge_mean: float, seed: int) -> None:
    """Scores in the scorer's format (scores.jsonl), drawn at random: only their size matters here."""
    rng = random.Random(seed)
    out = []
    for line in (run_dir / "generations.jsonl").read_text().splitlines():
        rec = json.loads(line)
        valid = bool(rec["validity"].get("schema_valid"))
        score = max(1, min(5, round(rng.gauss(judge_mean, 0.8)))) if valid else 1
        r = rng.uniform(30, 80)
        out.append(json.dumps({
            "frame_id": rec["frame_id"], "reference": {"kind": "manifest", "source": "bench1k"}, "valid": valid,
            "overlap": {"rouge1": r + 10, "rouge2": r / 2, "rougeL": r, "bleu": r / 3,
                        "per_field": {f: {"rouge1": r, "rouge2": r / 2, "rougeL": rng.uniform(20, 90), "bleu": r / 3}
                                      for f in FIELDS}} if valid else None,
            "judge": {"score": score, "scores": [score], "rationale": "The caption names the main objects and the "
                      "setting correctly but misses the text overlay and calls the lighting warm when it is cool.",
                      "hallucinated": {"objects": ["a red car"]} if score < 3 else {}, "missed": {},
                      "failure": None, "cached": False},
        }))
    (run_dir / "scores.jsonl").write_text("\n".join(out) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--keep", type=Path, help="keep the dataset, runs and report in this folder")
    ap.add_argument("--no-scores", action="store_true", help="report unscored runs (no judge/ROUGE data)")
    args = ap.parse_args()
    register()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        t0 = time.perf_counter()
        ds = build_dataset(base / "ds", args.frames)
        t_ds = time.perf_counter() - t0
        run_dirs = []
        for i, (label, extra) in enumerate(MODELS.items()):
            run_dirs.append(one_run(ds, base / "runs", label, extra))
            if not args.no_scores:
                add_scores(run_dirs[-1], judge_mean=(3.6, 2.8, 3.2)[i], seed=i)
        t_runs = time.perf_counter() - t0 - t_ds

        t1 = time.perf_counter()
        runs = load_run_data(run_dirs)
        data = assemble(runs)
        html = render(data)
        out = base / "report.html"
        out.write_text(html, encoding="utf-8")
        t_report = time.perf_counter() - t1

        size = len(html.encode())
        js = len(str(plotly_js()).encode())
        thumbs = sum(len(f["thumb"] or "") for f in data["frames"])
        frames_json = len(json.dumps(data["frames"], separators=(",", ":")).encode()) - thumbs
        figs = len(json.dumps(data["figures"], separators=(",", ":")).encode())
        print(f"report for {len(data['frames'])} frames x {len(runs)} models "
              f"({'scored' if not args.no_scores else 'unscored'}): {size / 1e6:.2f} MB ({size:,} bytes)")
        print(f"  plotly.js {js / 1e6:.2f} MB · thumbnails {thumbs / 1e6:.2f} MB "
              f"({thumbs / max(1, len(data['frames'])) / 1e3:.1f} kB each) · frame data {frames_json / 1e6:.2f} MB"
              f" · figures {figs / 1e6:.2f} MB · rest {(size - js - thumbs - frames_json - figs) / 1e6:.2f} MB")
        print(f"  build: report {t_report:.1f} s (load + assemble + render); dataset {t_ds:.1f} s, "
              f"3 simulator runs {t_runs:.1f} s")
        if args.keep:
            print(f"  kept: {out}")
        assert re.search(r"<script", html)


if __name__ == "__main__":
    main()
