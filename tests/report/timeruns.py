"""A small dataset of frames ordered in time (two videos, two shots each, plus stills) and simulator runs over it,
for the timeline and preview tests."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, ImageDraw

from tests.report.simruns import sim_run

# (video, shot, background colour, timestamps): frames within a shot differ (a square moves), shots differ in colour
SHOTS = (("clipA.mp4", "a0", (30, 60, 200), (0.0, 0.5, 1.0, 1.5)),
         ("clipA.mp4", "a1", (210, 40, 40), (2.0, 2.5, 3.0, 3.5)),
         ("clipB.mp4", "b0", (40, 170, 60), (0.0, 1.0, 2.0)),
         ("clipB.mp4", "b1", (230, 210, 40), (3.0, 4.0, 5.0)))


def make_time_dataset(root: Path) -> Path:
    """root/manifest.jsonl + images: 14 frames of two videos (ids `<video stem>-t<seconds>`) and 2 stills."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for video, shot, colour, times in SHOTS:
        for n, t in enumerate(times):
            fid = f"{Path(video).stem}-t{t:05.1f}"
            img = Image.new("RGB", (320, 180), colour)
            ImageDraw.Draw(img).rectangle([20 + 60 * n, 60, 70 + 60 * n, 110], fill=(255, 255, 255))
            img.save(root / "images" / f"{fid}.jpg", quality=90)
            lines.append({"id": fid, "image": f"images/{fid}.jpg", "content_type": "real-world footage",
                          "video": video, "shot": shot, "timestamp_s": t})
    for n in range(2):
        Image.new("RGB", (320, 180), (120, 120, 120 + 40 * n)).save(root / "images" / f"still{n}.jpg")
        lines.append({"id": f"still{n}", "image": f"images/still{n}.jpg", "content_type": "photo"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    return root


def time_runs(base: Path) -> dict[str, Path]:
    """sim and sim_noisy over the time-ordered dataset."""
    ds = make_time_dataset(base / "clips")
    over = ("dataset=sample", "dataset.name=clips", f"dataset.path={ds}")
    return {"sim": sim_run(base / "runs" / "sim", "sim", *over),
            "sim_noisy": sim_run(base / "runs" / "sim_noisy", "sim_noisy", *over)}
