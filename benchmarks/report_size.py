"""Size, build time and peak memory of the HTML report at 1k, 10k and 50k frames x 3 models; with --browser, how
fast the page is in headless Chromium.

    python benchmarks/report_size.py [--frames 1000 10000 50000] [--base-frames 1000] [--keep DIR]
                                     [--max-embedded-frames N] [--no-scores] [--runs 3..5] [--browser]
    python benchmarks/report_size.py --frames 1000 --runs 5 --browser      # issue 16: 1,000 frames x 5 models

For each size it prints one table row: HTML size (and how much of it the explorer's large images take,
bench/report/large.py), Parquet size, frames embedded
in the explorer, build time (load + assemble + render + write, in a fresh
process; wall clock, and the process's CPU time, which does not count the time
other processes took the CPU from it on a shared machine) and that process's
peak RSS.

--browser opens each report in headless Chromium (tests/report/cdp.py: a
temporary profile and home) and prints a second table, each a median of
--browser-repeats page loads (ms): first contentful paint and the explorer drawn
(the Performance API, from navigation start); a deep link (#frame=ID of a frame
in the middle) opened, from navigation start; a click on a thumbnail until the
large image is decoded and painted; a click on a grid tile until its detail card
is painted; switching to grid mode; a content-type filter; a search (without
its 150 ms debounce). "Painted" is measured to the second animation frame after
the change.

How the runs are made: a dataset of --base-frames distinct frames (the sample's
images, each randomly cropped and re-lit, so every thumbnail differs) is run
through the whole harness by three simulator configurations (sim, sim_noisy,
and sim at caption quality 0.7), with the simulator's latency shortened. Each
run is then tiled to N frames: record i is the base run's record i mod
base-frames under a new frame id, over a manifest of N frames whose images
cycle through the base images (metrics.json keeps the base run's rates, with
frame counts scaled). Running the simulator 150,000 times would measure the
runner, not the report. Per-frame scores (judge score + rationale, ROUGE/BLEU,
per-field ROUGE) are drawn at random in the scorer's format and stored as a
scoring (bench.scorings.write_scoring), so the report carries everything a
scored run has.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = {"sim": ["model=sim"], "sim_noisy": ["model=sim_noisy"],
          "sim_q07": ["model=sim", "model.label=sim_q07", "model.sim.caption_quality=0.7", "model.sim.seed=7"],
          "sim_anthropic": ["model=sim_anthropic"], "sim_gemini": ["model=sim_gemini"]}
JUDGE_MEANS = (3.6, 2.8, 3.2, 3.4, 3.0)


def build_images(folder: Path, n: int, seed: int = 0) -> list[dict]:
    """n distinct images (cropped, re-lit sample frames) and their manifest entries."""
    from PIL import Image, ImageEnhance

    sample = ROOT / "datasets" / "sample"
    entries = [json.loads(line) for line in (sample / "manifest.jsonl").read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        e = entries[i % len(entries)]
        with Image.open(sample / e["image"]) as src:
            img = src.convert("RGB")
        w, h = img.size
        dx, dy = int(w * rng.uniform(0, 0.04)), int(h * rng.uniform(0, 0.04))
        img = img.crop((dx, dy, w - int(w * rng.uniform(0, 0.04)), h - int(h * rng.uniform(0, 0.04))))
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.93, 1.07))
        name = f"images/b{i:05d}.jpg"
        img.save(folder / name, quality=85)
        out.append({"image": name, "content_type": e.get("content_type"), "reference": e.get("reference")})
    return out


def write_manifest(folder: Path, images: list[dict], n: int, image_dir: Path) -> Path:
    """A dataset of n frames whose images cycle through the base images (a symlink: paths stay inside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "images").exists():
        (folder / "images").symlink_to(image_dir / "images", target_is_directory=True)
    with (folder / "manifest.jsonl").open("w") as fh:
        for i in range(n):
            e = images[i % len(images)]
            fh.write(json.dumps({"id": f"f{i:06d}", "image": e["image"],
                                 "content_type": e["content_type"], "reference": e["reference"]}) + "\n")
    return folder


def one_run(ds: Path, runs: Path, label: str, extra: list[str]) -> Path:
    from hydra import compose, initialize_config_dir
    from rich.console import Console

    from bench.__main__ import conf_dir
    from bench.app import run

    overrides = [*extra, f"dataset.path={ds}", "dataset.name=benchN", f"run_dir={runs / label}",
                 "runner.progress=false", "runner.concurrency=64", "model.sim.ttft_s=0.005",
                 "model.sim.per_token_s=0.0002", "model.sim.per_token_jitter_s=0.0001"]
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    code = run(cfg, Console(stderr=True, quiet=True), summary=False)
    if code != 0:
        raise SystemExit(f"run {label} exited {code}")
    return runs / label


def tile_run(base: Path, out: Path, n: int, ds: Path) -> Path:
    """The base run folder as a run of n frames over dataset ds (see the module docstring)."""
    import shutil

    import yaml

    out.mkdir(parents=True, exist_ok=True)
    for name in ("run.json",):
        shutil.copy(base / name, out / name)
    cfg = yaml.safe_load((base / "config.yaml").read_text())
    cfg["dataset"]["path"] = str(ds)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg))
    recs = [json.loads(line) for line in (base / "generations.jsonl").read_text().splitlines() if line.strip()]
    recs.sort(key=lambda r: r["frame_id"])
    with (out / "generations.jsonl").open("w") as fh:
        for i in range(n):
            rec = dict(recs[i % len(recs)], frame_id=f"f{i:06d}")
            fh.write(json.dumps(rec) + "\n")
    metrics = json.loads((base / "metrics.json").read_text())
    scale = n / len(recs)
    for key in ("frames", "recorded", "completed", "failed"):
        if isinstance(metrics.get(key), int | float):
            metrics[key] = round(metrics[key] * scale)
    validity = metrics.get("validity") or {}
    for section in ("categories", "field_failures"):
        if isinstance(validity.get(section), dict):
            validity[section] = {k: round(v * scale) for k, v in validity[section].items()}
    (out / "metrics.json").write_text(json.dumps(metrics))
    return out


def add_scores(run_dir: Path, judge_mean: float, seed: int) -> None:
    """A scoring in the scorer's format, drawn at random (only its size and shape matter here)."""
    from bench.load import FIELDS
    from bench.scorings import write_scoring

    rng = random.Random(seed)
    rows, judged, rouge = [], [], []
    reference = {"kind": "dataset", "source": "benchN", "id": "dataset:benchN"}
    with (run_dir / "generations.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            valid = bool(rec["validity"].get("schema_valid"))
            score = max(1, min(5, round(rng.gauss(judge_mean, 0.8)))) if valid else None
            r = rng.uniform(30, 80)
            if valid:
                judged.append(score)
                rouge.append(r)
            rows.append({
                "frame_id": rec["frame_id"], "reference": reference, "valid": valid,
                "overlap": {"rouge1": r + 10, "rouge2": r / 2, "rougeL": r, "bleu": r / 3,
                            "per_field": {f: {"rouge1": r, "rouge2": r / 2, "rougeL": rng.uniform(20, 90),
                                              "bleu": r / 3} for f in FIELDS}} if valid else None,
                "judge": {"score": score, "scores": [score], "rationale": "The caption names the main objects and "
                          "the setting correctly but misses the text overlay and calls the lighting warm when it "
                          "is cool.", "hallucinated": {"objects": ["a red car"]} if score < 3 else {}, "missed": {},
                          "failure": None, "cached": False} if valid else None,
            })
    mean = sum(judged) / max(1, len(judged))
    summary = {"reference": reference,
               "judge": {"model": "sim-judge", "backend": "sim", "model_name": "sim-judge", "endpoint": "simulator",
                         "rubric": "factual_accuracy@1:bench", "with_reference": True, "simulated": True,
                         "label": "sim-judge", "mean": mean, "ci95": [mean - 0.05, mean + 0.05], "n": len(rows)},
               "overlap": {"all": {"rougeL": {"mean": sum(rouge) / max(1, len(rows))}}}}
    write_scoring(run_dir, summary, rows)


def build(run_dirs: list[str], out: str, max_embedded: int | None) -> dict:
    """Build the report in this (fresh) process: time and peak RSS."""
    from bench.report import build_report

    t0, c0 = time.perf_counter(), time.process_time()
    kwargs = {} if max_embedded is None else {"max_embedded_frames": max_embedded}
    info = build_report(run_dirs, out, **kwargs)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    data = info["data"]
    explorer = data.get("explorer") or {}
    return {"seconds": seconds, "cpu_s": cpu, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "bytes": info["bytes"], "frames": explorer.get("total", len(data["frames"])),
            "embedded": len(data["frames"]), "large_bytes": (explorer.get("large") or {}).get("bytes", 0),
            "large": {k: (explorer.get("large") or {}).get(k) for k in ("sent", "reduced", "reduced_side")},
            "parquet_bytes": Path(info["parquet"]).stat().st_size if info.get("parquet") else 0}


# each returns ms, measured in the page (a promise the CDP call awaits); ENDS waits for layout and paint
_PAINTED = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))"
BROWSER_STEPS = {
    "open_large_click": f"""(async () => {{ const t0 = performance.now();
        document.querySelector('#frames img.thumb').click();
        await document.getElementById('zoom-img').decode(); await {_PAINTED};
        const ms = performance.now() - t0; document.getElementById('zoom').click(); return ms; }})()""",
    "grid_switch": f"""(async () => {{ const s = document.getElementById('f-mode'), t0 = performance.now();
        s.value = 'grid'; s.dispatchEvent(new Event('input')); await {_PAINTED};
        return performance.now() - t0; }})()""",
    "grid_tile_click": f"""(async () => {{ const t0 = performance.now();
        document.querySelectorAll('#frames .tile')[7].click(); await {_PAINTED};
        return performance.now() - t0; }})()""",
    "filter_content_type": f"""(async () => {{ const s = document.getElementById('f-ct'), t0 = performance.now();
        s.value = s.options[1].value; s.dispatchEvent(new Event('input')); await {_PAINTED};
        const ms = performance.now() - t0; s.value = ''; s.dispatchEvent(new Event('input')); return ms; }})()""",
    "search": f"""(async () => {{ const s = document.getElementById('f-q');
        s.value = 'person'; s.dispatchEvent(new Event('input')); await new Promise(r => setTimeout(r, 150));
        const t0 = performance.now(); await new Promise(r => setTimeout(r, 0)); await {_PAINTED};
        return performance.now() - t0; }})()""",
}


def browser_times(html: Path, repeats: int) -> dict[str, float]:
    """Median ms of each measurement over `repeats` fresh page loads (see the module docstring)."""
    import statistics

    from tests.report.cdp import Browser

    ready = "document.body && document.body.getAttribute('data-ready') === '1'"
    runs: dict[str, list[float]] = {}
    with Browser(width=1400, height=1000) as b:
        for _ in range(repeats):
            b.call("Page.navigate", {"url": "about:blank"}, session=True)
            b.open(html.as_uri(), ready=ready, timeout=120)
            paint = b.evaluate("(() => { const p = performance.getEntriesByName('first-contentful-paint')[0];"
                               " const e = performance.getEntriesByName('capbench:explorer-ready')[0];"
                               " return [p ? p.startTime : null, e ? e.startTime : null]; })()")
            runs.setdefault("first_paint", []).append(paint[0])
            runs.setdefault("explorer_ready", []).append(paint[1])
            for name, expr in BROWSER_STEPS.items():
                res = b.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True, "returnByValue": True},
                             session=True, timeout=120)
                runs.setdefault(name, []).append(res["result"]["value"])
            middle = b.evaluate("(() => { const ids = window.capbenchExplorer.ids(); return ids[ids.length >> 1]; })()")
            b.call("Page.navigate", {"url": "about:blank"}, session=True)
            b.open(html.as_uri() + "#frame=" + quote(middle, safe=""), ready=ready, timeout=120)
            opened = b.evaluate("(() => { const m = performance.getEntriesByName('capbench:frame-open')[0];"
                                " return m ? m.startTime : null; })()")
            runs.setdefault("deep_link", []).append(opened)
        errors = b.errors()
    if errors:
        raise SystemExit(f"console errors in {html}: {errors[:3]}")
    return {k: statistics.median(v) for k, v in runs.items() if all(x is not None for x in v)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--base-frames", type=int, default=1000, help="distinct frames run through the harness")
    ap.add_argument("--keep", type=Path, help="keep the datasets, runs and reports in this folder")
    ap.add_argument("--max-embedded-frames", type=int, help="the report's threshold (default: the report's)")
    ap.add_argument("--no-scores", action="store_true", help="report unscored runs (no judge/ROUGE data)")
    ap.add_argument("--runs", type=int, default=3, choices=range(1, len(MODELS) + 1), metavar="N",
                    help=f"simulator configurations (models) per report, 1 to {len(MODELS)} (default 3)")
    ap.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    ap.add_argument("--browser-repeats", type=int, default=3, help="page loads per report, median (default 3)")
    ap.add_argument("--build", nargs="+", help=argparse.SUPPRESS)  # internal: OUT RUN... in a fresh process
    args = ap.parse_args()
    if args.build:
        print(json.dumps(build(args.build[1:], args.build[0], args.max_embedded_frames)))
        return

    from bench.config import register

    register()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        t0 = time.perf_counter()
        base_n = min(args.base_frames, max(args.frames))
        models = dict(list(MODELS.items())[:args.runs])
        made = root / "images" / "entries.json"  # --keep DIR: a second call reuses the images and base runs
        if not made.is_file():
            build_images_to = build_images(root / "images", base_n)
            made.write_text(json.dumps(build_images_to))
        images = json.loads(made.read_text())
        base_ds = write_manifest(root / f"ds{base_n}", images, base_n, root / "images")
        base_runs = [root / "base_runs" / label if (root / "base_runs" / label / "metrics.json").is_file()
                     else one_run(base_ds, root / "base_runs", label, extra) for label, extra in models.items()]
        print(f"harness: {base_n} frames x {len(models)} simulator runs in {time.perf_counter() - t0:.0f} s")
        print(f"{'frames':>7} x runs | {'HTML MB':>7} | {'of it large images MB':>21} | {'Parquet MB':>10} | "
              f"{'embedded':>8} | {'build s':>7} | {'CPU s':>6} | {'peak RSS MB':>11}")
        timings = {}
        for n in args.frames:
            ds = write_manifest(root / f"ds{n}", images, n, root / "images")
            runs = []
            for i, base in enumerate(base_runs):
                run = tile_run(base, root / f"runs{n}" / base.name, n, ds)
                if not args.no_scores:
                    add_scores(run, JUDGE_MEANS[i], seed=i)
                runs.append(str(run))
            cmd = [sys.executable, __file__, "--build", str(root / f"report{n}.html"), *runs]
            if args.max_embedded_frames is not None:
                cmd += ["--max-embedded-frames", str(args.max_embedded_frames)]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            lg = res["large"]
            large = (f"{res['large_bytes'] / 1e6:.2f} ({lg['sent']} sent size, {lg['reduced']} at "
                     f"{lg['reduced_side']} px)")
            print(f"{res['frames']:>7} x {len(runs):<4} | {res['bytes'] / 1e6:>7.2f} | {large:>21} | "
                  f"{res['parquet_bytes'] / 1e6:>10.2f} | {res['embedded']:>8} | {res['seconds']:>7.1f} | "
                  f"{res['cpu_s']:>6.1f} | "
                  f"{res['rss_mb']:>11.0f}", flush=True)
            if args.browser:
                timings[n] = browser_times(root / f"report{n}.html", args.browser_repeats)
        if timings:
            cols = list(next(iter(timings.values())))
            print(f"\nin headless Chromium, ms (median of {args.browser_repeats} page loads):")
            print(f"{'frames':>7} x runs | " + " | ".join(f"{c:>{max(8, len(c))}}" for c in cols))
            for n, t in timings.items():
                print(f"{n:>7} x {len(base_runs):<4} | " + " | ".join(f"{t.get(c, float('nan')):>{max(8, len(c))}.0f}"
                                                                    for c in cols), flush=True)
        if args.keep:
            print(f"kept in {root}")


if __name__ == "__main__":
    main()
