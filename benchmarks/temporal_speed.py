"""Temporal scoring speed (bench.score.temporal) on frames1k-sized input: must stay under 1 s per 1,000 frames.

    python benchmarks/temporal_speed.py [--frames 1000] [--repeats 5]

The frames are frames1k's own (datasets/frames1k/manifest.jsonl: video, shot, timestamp_s; the images are not
needed), repeated under new video names when --frames asks for more than 1,000. Each frame gets a caption of real
length: one of the sample's hand-written references, chosen per shot and paraphrased per frame by the simulator's
degrade() (bench.sim.captions), so fields change within shots and across cuts as a model's would. Timed: the
records -> TemporalItems -> temporal_scores path the scorer runs, bootstrap intervals included (2,000 replicates).
Reported: the best of --repeats runs, in seconds per 1,000 frames; exits 1 over the 1 s budget.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import zlib
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
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
    if per_1000 > BUDGET_S_PER_1000:
        print("OVER BUDGET", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
