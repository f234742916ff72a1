"""Temporal scoring speed (bench.score.temporal) on frames1k-sized input: must stay under 1 s per 1,000 frames.

    python benchmarks/temporal_speed.py [--frames 1000] [--repeats 5] [--no-previews]

The frames are frames1k's own (datasets/frames1k/manifest.jsonl: video, shot, timestamp_s; the images are not
needed), repeated under new video names when --frames asks for more than 1,000. Each frame gets a caption of real
length: one of the sample's hand-written references, chosen per shot and paraphrased per frame by the simulator's
degrade() (bench.sim.captions), so fields change within shots and across cuts as a model's would. Timed: the
records -> TemporalItems -> temporal_scores path the scorer runs, bootstrap intervals included (2,000 replicates).
Reported: the best of --repeats runs, in seconds per 1,000 frames; exits 1 over the 1 s budget.

Also timed (no budget): the report's animated WebP previews (bench.report.previews, one per shot of the frames in
videos, 1 fps, 240 px high, quality 50), first build into an empty cache and again from the cache, per 1,000
frames previewed. The images are frames1k's when built (python -m bench.datasets build frames1k), else 640x360
JPEGs made here (a gradient and a moving square per frame), said in the output.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import zlib
from pathlib import Path

from bench.report.previews import build_preview
from bench.score.temporal import run_items, temporal_scores
from bench.sim.captions import degrade

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S_PER_1000 = 1.0


def make_records(n: int, seed: int = 0) -> list[dict]:
    refs = [r["reference"] for r in map(json.loads, (ROOT / "datasets/sample/manifest.jsonl").open())
            if r.get("reference")]
    frames = [json.loads(line) for line in (ROOT / "datasets/frames1k/manifest.jsonl").open()]
    rng = random.Random(seed)
    records = []
    for i in range(n):
        f = frames[i % len(frames)]
        copy = i // len(frames)
        video = f.get("video") and f"{f['video']}#{copy}"
        shot_ref = refs[zlib.crc32(f"{video}|{f.get('shot')}".encode()) % len(refs)]
        caption = degrade(shot_ref, rng.uniform(0.6, 1.0), random.Random(f"{seed}:{i}"))
        records.append({"frame_id": f"{f['id']}#{copy}", "video": video, "shot": f.get("shot"),
                        "timestamp_s": f.get("timestamp_s"), "caption": caption,
                        "validity": {"schema_valid": True}})
    return records


def shot_images(records: list[dict], folder: Path) -> tuple[list[list[tuple[Path, float]]], str]:
    """The frames of each (video, shot) in time order as (image, timestamp_s), and where the images came from."""
    built = ROOT / "datasets/frames1k/images"
    source = "frames1k's images" if built.is_dir() else "640x360 JPEGs made here (frames1k's images are not built)"
    shots: dict[tuple[str, str], list[tuple[Path, float]]] = {}
    for n, rec in enumerate(records):
        if not rec["video"] or rec["timestamp_s"] is None:
            continue
        fid = rec["frame_id"].rsplit("#", 1)[0]
        path = built / f"{fid}.jpg"
        if not built.is_dir():
            from PIL import Image, ImageDraw

            path = folder / f"{n}.jpg"
            img = Image.linear_gradient("L").resize((640, 360)).convert("RGB")
            ImageDraw.Draw(img).rectangle([(n * 37) % 560, 120, (n * 37) % 560 + 80, 200], fill=(200, 40, 40))
            img.save(path, quality=85)
        shots.setdefault((rec["video"], str(rec["shot"])), []).append((path, float(rec["timestamp_s"])))
    return [sorted(v, key=lambda f: f[1]) for v in shots.values()], source


def time_previews(records: list[dict]) -> dict:
    with tempfile.TemporaryDirectory(prefix="capbench-previews-") as tmp:
        shots, source = shot_images(records, Path(tmp))
        frames = sum(len(s) for s in shots)
        cache = Path(tmp) / "cache"
        out = {"shots": len(shots), "frames": frames, "source": source}
        for name in ("first", "cached"):
            t0, c0 = time.perf_counter(), time.process_time()
            made = [build_preview(s, folder=cache) for s in shots]
            out[name], out[f"{name}_cpu"] = time.perf_counter() - t0, time.process_time() - c0
            assert all(p is not None for p in made) and (name == "first" or all(p.cached for p in made))
            out[f"{name}_from_cache"] = sum(p.cached for p in made)  # first: shots whose frames repeat an earlier
        out["bytes"] = sum(p.bytes for p in made if p is not None)
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-previews", action="store_true", help="time the temporal scoring only")
    args = ap.parse_args(argv)
    records = make_records(args.frames)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        summary = temporal_scores(run_items(records))
        times.append(time.perf_counter() - t0)
    best = min(times)
    per_1000 = best / args.frames * 1000
    print(f"temporal scoring of {args.frames} frames ({summary['frames_in_sequences']} in sequences, "
          f"{summary['within_shot_pairs']} within-shot pairs, {summary['true_cuts']} cuts): best of {args.repeats} "
          f"{best:.3f} s = {per_1000:.3f} s per 1,000 frames (budget {BUDGET_S_PER_1000:.1f} s)")
    if not args.no_previews:
        pv = time_previews(records)
        k = 1000 / pv["frames"]
        print(f"previews of {pv['shots']} shots ({pv['frames']} frames in videos; {pv['source']}): first build "
              f"{pv['first']:.2f} s = {pv['first'] * k:.2f} s per 1,000 frames (CPU {pv['first_cpu'] * k:.2f} s); "
              f"from the cache {pv['cached']:.3f} s = {pv['cached'] * k:.3f} s per 1,000 frames "
              f"(CPU {pv['cached_cpu'] * k:.3f} s); {pv['bytes'] / 1e6:.1f} MB of WebP"
              + (f" ({pv['first_from_cache']} shots repeat another's frames)" if pv["first_from_cache"] else ""))
    if per_1000 > BUDGET_S_PER_1000:
        print("OVER BUDGET", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
