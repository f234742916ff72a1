"""Small window-mode datasets: a manifest of two videos' frames with known shots, and config composition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from PIL import Image

from bench.__main__ import conf_dir
from bench.config import ModeConfig, register
from bench.frames.base import Frame

from ..conftest import write_manifest

register()

# video "a": shot s0 (red) at 0-2 s, cut, shot s1 (blue) at 3-5 s; video "b": one shot (green) at 0-2 s.
SHOT_COLOUR = {"s0": (200, 30, 30), "s1": (30, 30, 200), "s2": (30, 200, 30)}
CLIPS = [("a.mp4", "a", t, "s0" if t < 3 else "s1") for t in range(6)] + [("b.mp4", "b", t, "s2") for t in range(3)]


def frame(fid: str, video: str | None, t: float | None, shot: str | None = None) -> Frame:
    meta: dict[str, Any] = {"video": video, "shot": shot}
    if t is not None:
        meta["timestamp_s"] = t
    return Frame(id=fid, image_path=None, meta=meta)


def mode(kind: str, **kw: Any) -> ModeConfig:
    return ModeConfig(kind=kind, **kw)


def clip_dataset(folder: Path, rows: list[tuple[str, str, float | None, str]] | None = None) -> Path:
    """A manifest dataset of video frames (video, stem, timestamp, shot): each shot one colour with a white
    square, so the frames of a shot look alike (the simulator's captions hold) and a cut changes everything."""
    entries = []
    for i, (video, stem, t, shot) in enumerate(rows or CLIPS):
        img = Image.new("RGB", (96, 64), SHOT_COLOUR[shot])
        img.paste((240, 240, 240), (10, 10, 30, 30))
        fid = f"{stem}-t{t:05.1f}" if t is not None else f"{stem}-{i}"
        path = folder / "images" / f"{fid}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        entry: dict[str, Any] = {"id": fid, "image": f"images/{fid}.jpg", "video": video, "shot": shot}
        if t is not None:
            entry["timestamp_s"] = t
        entries.append(entry)
    return write_manifest(folder, entries)


def overrides(tmp_path: Path, ds: Path, *extra: str) -> list[str]:
    return [f"dataset.path={ds}", "dataset.name=t", f"runs_dir={tmp_path / 'runs'}", "runner.progress=false",
            "model.sim.ttft_s=0.01", "model.sim.per_token_s=0.0002", "model.sim.ttft_jitter_s=0",
            "model.sim.per_token_jitter_s=0", *extra]


def compose_cfg(*ovr: str) -> Any:
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="config", overrides=list(ovr))
