"""Shared fixtures: the ClipTagger prompt config, small images, a caption that obeys every rule."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from PIL import Image

from bench.config import PromptConfig

ROOT = Path(__file__).resolve().parent.parent

# The seed's example output (seed 000/001, the wooden boardwalk frame), keys in schema order.
SEED_CAPTION = {
    "description": "A wooden boardwalk path extends from the foreground into the distance, cutting through a field "
                   "of tall, vibrant green grass. The path is flanked on both sides by the dense grass. In the "
                   "background, a line of trees is visible on the horizon under a blue sky with scattered white "
                   "clouds.",
    "objects": ["Wooden boardwalk", "Tall green grass", "Blue sky", "White clouds", "Trees"],
    "actions": [],
    "environment": "An outdoor, natural landscape, likely a marsh or wetland, on a clear day. The scene is "
                   "characterized by a wooden boardwalk, lush green vegetation, and a bright blue sky with wispy "
                   "clouds.",
    "content_type": "real-world footage",
    "specific_style": "landscape photography",
    "production_quality": "professional photography",
    "summary": "A wooden boardwalk path winds through a lush green field under a bright blue sky with scattered "
               "clouds.",
    "logos": [],
}


@pytest.fixture(autouse=True)
def _private_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tests never touch the user's caches (~/.cache/capbench): every cache location points into a temporary
    folder, one per test, so a judge verdict cached by one test is not served to another."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("CAPBENCH_CACHE_DIR", str(folder / "capbench"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    monkeypatch.delenv("CAPBENCH_JUDGE_CACHE", raising=False)
    return folder


@pytest.fixture
def prompt() -> PromptConfig:
    loaded = OmegaConf.merge(OmegaConf.structured(PromptConfig), OmegaConf.load(ROOT / "conf/prompt/cliptagger.yaml"))
    return OmegaConf.to_object(loaded)


@pytest.fixture
def caption() -> dict:
    return copy.deepcopy(SEED_CAPTION)


def write_image(path: Path, size=(64, 48), color=(200, 80, 40), fmt="JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


def write_manifest(folder: Path, entries: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [e if isinstance(e, str) else json.dumps(e) for e in entries]
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def kill_run_after(cmd: list[str], runs: Path, lines: int, *, timeout_s: float, poll_s: float) -> Path | None:
    """Start `python -m bench` (cmd) in its own process group, wait until its generations.jsonl under `runs`
    (t/sim/*) holds `lines` records, then SIGKILL the group (the run and its simulator, as a dying machine
    would). The file, or None if the run ended or the time ran out first."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    gens, deadline = None, time.time() + timeout_s
    try:
        while time.time() < deadline and proc.poll() is None:
            found = list(runs.glob("t/sim/*/generations.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= lines:
                gens = found[0]
                break
            time.sleep(poll_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return gens
