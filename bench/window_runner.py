"""The runner for window modes (mode=window | grid | sliding | summary; README "Window captioning").

Same retry policy, fault handling, store, records and validity ladder as frame mode (it is a `Runner`: the
request is sent and recorded by `Runner._send`); what differs is the unit of work (`bench.frames.windows.Unit`)
and the request built for it:

- window: the unit's frames as several images, in time order (or one mp4 clip when mode.video=true);
- grid: the frames tiled into one image (bench.frames.clip.tile_grid), its layout in the record and prompt;
- sliding: a video's adjacent pairs as a chain, one link at a time, each carrying the last good caption of
  the chain; videos run in parallel. A resumed run continues each chain from its last stored caption; a
  failed link is recorded, and the next one says which earlier caption it was given instead;
- summary: a text-only request per video with an earlier run's captions.

Closed loop only: `runner.concurrency` chains (units, or a sliding video's links) in flight at a time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.backends.base import CaptionRequest, ImageInput, StreamClock, VideoInput
from bench.frames.base import FrameError
from bench.frames.clip import encode_clip, tile_grid
from bench.frames.prepared import prepare
from bench.frames.windows import Unit
from bench.runner import Runner
from bench.tasks import gather_all

IMAGE_MODALITIES = ("IMAGE", "VIDEO")


@dataclass(frozen=True)
class Media:
    """What a unit's request carries, and what the record says about it."""

    images: tuple[ImageInput, ...] = ()
    video: VideoInput | None = None
    record_image: ImageInput | None = None  # described by the record's `image` field
    fields: dict[str, Any] | None = None  # grid layout, media hashes, frames left out
    error: str | None = None  # nothing usable: a bad input


def fill(template: str, values: dict[str, Any]) -> str:
    """`{{name}}` placeholders of a mode prompt filled in (plain replace: captions may hold braces)."""
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", str(value))
    return template


def image_tokens_of(raw_usage: dict[str, Any] | None) -> int | None:
    """Image (and video) tokens as the server reported them: Gemini's prompt_tokens_details by modality.
    None when the server does not split them (OpenAI and Anthropic usage carry no image count)."""
    if not isinstance(raw_usage, dict):
        return None
    details = raw_usage.get("prompt_tokens_details")
    if not isinstance(details, list):
        return None
    counts = [d.get("token_count") for d in details if isinstance(d, dict) and d.get("modality") in IMAGE_MODALITIES]
    counts = [c for c in counts if isinstance(c, int)]
    return sum(counts) if counts else None


class WindowRunner(Runner):
    def __init__(self, *, mode: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self.prompt_label = f"{self.prompt.name}@{self.prompt.version}"

    async def run_units(self, units: Iterable[Unit]) -> None:
        """Send every unit not recorded yet (sliding: in chain order, from the last stored caption)."""
        if self.cfg.mode != "closed":
            raise ValueError("window modes run closed loop (runner.mode=closed)")
        chains = _chains(list(units), self.mode.kind)
        stored = self._stored_captions() if self.mode.kind == "sliding" else {}
        queue: asyncio.Queue[list[Unit]] = asyncio.Queue()
        for chain in chains:
            if not all(self.store.has(u.id) for u in chain):
                queue.put_nowait(chain)

        async def worker() -> None:
            while self._fatal is None and not queue.empty():
                await self._chain(queue.get_nowait(), stored)

        async with self._watched():
            await gather_all(worker() for _ in range(max(1, self.cfg.concurrency)))

    def _stored_captions(self) -> dict[str, dict[str, Any] | None]:
        """Sliding: each recorded link's caption when it is a good one (ok, in its schema), else None."""
        out: dict[str, dict[str, Any] | None] = {}
        for r in self.store.iter_records():
            good = r.get("status") == "ok" and (r.get("validity") or {}).get("schema_valid")
            out[r["frame_id"]] = r.get("caption") if good and isinstance(r.get("caption"), dict) else None
        return out

    async def _chain(self, chain: list[Unit], stored: dict[str, dict[str, Any] | None]) -> None:
        last_good: tuple[str, dict[str, Any]] | None = None
        previous_id: str | None = None
        for unit in chain:
            if self._fatal is not None or self._stopping.is_set():
                return
            if self.store.has(unit.id):
                caption = stored.get(unit.id)
                if caption is not None:
                    last_good = (unit.id, caption)
                previous_id = unit.id
                continue
            record = await self._unit(unit, last_good, previous_id)
            if record is None and self.mode.kind == "sliding":
                return  # not recorded (the run is stopping): the chain resumes from here next time
            if record is not None and record.get("status") == "ok" and (record.get("validity") or {}).get(
                    "schema_valid") and isinstance(record.get("caption"), dict):
                last_good = (unit.id, record["caption"])
            previous_id = unit.id

    async def _unit(self, unit: Unit, last_good: tuple[str, dict[str, Any]] | None,
                    previous_id: str | None) -> dict[str, Any] | None:
        scheduled = StreamClock.now()
        first = unit.frames[0] if unit.frames else None
        base: dict[str, Any] = {"frame_id": unit.id, "session": self.session,
                                "content_type": first.meta.get("content_type") if first else None,
                                "t_scheduled": scheduled, **unit.record_fields(),
                                "mode": {"kind": self.mode.kind, "prompt": self.prompt_label}}
        if unit.skip:
            base["prep_s"] = 0.0
            return self._bad_input(base, unit.skip)
        t0 = StreamClock.now()
        media = await asyncio.to_thread(self._media, unit) if unit.kind != "summary" else Media()
        base["prep_s"] = StreamClock.now() - t0
        if media.fields:
            base.update(media.fields)
        if media.error:
            return self._bad_input(base, media.error)
        values: dict[str, Any] = {"frames": len(unit.frames), "timestamps": _times(unit)}
        if unit.kind == "grid" and media.fields:
            values["grid"] = media.fields["grid"]["describe"]
        if unit.kind == "sliding":
            values["gap_s"] = (f"{unit.video_s:g}" if unit.video_s is not None else "an unknown number of")
            values["previous_caption"] = json.dumps(last_good[1], ensure_ascii=False) if last_good else "none"
            base["previous_caption_from"] = last_good[0] if last_good else None
            if previous_id is not None and (last_good is None or last_good[0] != previous_id):
                base.setdefault("notes", []).append(
                    f"the previous link {previous_id} has no valid caption: "
                    + (f"sent with the caption of {last_good[0]}, the last valid one" if last_good
                       else "sent with none (no valid caption earlier in the chain)"))
        if unit.kind == "summary":
            values.update(captions=unit.text or "", count=(unit.text or "").count("\n") + 1)
        base["images_per_request"] = len(media.images)
        if media.video is not None:
            base["video_part"] = {"frames": media.video.frames, "duration_s": media.video.duration_s,
                                  "bytes": len(media.video.data), "sha256": media.video.sha256}
        request = CaptionRequest(images=media.images, video=media.video, system=self.prompt.system,
                                 user=fill(self.prompt.user, values), sampling=self.sampling, schema=self._schema,
                                 reasoning=self.reasoning)
        return await self._send(base, media.record_image, request)

    def _bad_input(self, base: dict[str, Any], reason: str) -> dict[str, Any]:
        record = self._failed(base, "bad_input", reason)
        self._record(record)
        return record

    def _record(self, record: dict[str, Any]) -> None:
        if "image_tokens" not in record:  # image tokens as the server counted them (never estimated)
            record["image_tokens"] = image_tokens_of((record.get("usage") or {}).get("raw"))
        super()._record(record)

    def _media(self, unit: Unit) -> Media:
        """Encode the unit's frames (in a worker thread); a frame that cannot be read is left out, named."""
        images, left_out, kept = [], [], []
        for frame in unit.frames:
            try:
                images.append(prepare(frame, self.encode))
                kept.append(frame)
            except FrameError as exc:
                left_out.append(f"frame {frame.id} left out: {exc}")
        fields: dict[str, Any] = {"left_out": left_out} if left_out else {}
        if not images:
            return Media(fields=fields, error="no frame of the window could be read: " + "; ".join(left_out))
        if unit.kind == "grid":
            grid, layout = tile_grid(images, cols=self.mode.grid_cols, tile_side=self.mode.tile_side,
                                     jpeg_quality=self.encode.jpeg_quality)
            fields["grid"] = {**layout.to_dict(), "describe": layout.describe(),
                              "frame_sha256": [i.sha256 for i in images]}
            return Media(images=(grid,), record_image=grid, fields=fields)
        if unit.kind == "window" and self.mode.video:
            times = [f.meta.get("timestamp_s") for f in kept]
            clip = encode_clip(images, [float(t) for t in times] if all(t is not None for t in times) else None)
            fields["media_sha256"] = [i.sha256 for i in images]
            return Media(video=clip, record_image=images[0], fields=fields)
        fields["media_sha256"] = [i.sha256 for i in images]
        return Media(images=tuple(images), record_image=images[0], fields=fields)


def _times(unit: Unit) -> str:
    times = [f.meta.get("timestamp_s") for f in unit.frames]
    if not times or any(t is None for t in times):
        return "unknown (the frames have no timestamp_s; they are in order)"
    t0 = float(times[0])
    return ", ".join(f"{float(t) - t0:g}" for t in times)


def _chains(units: list[Unit], kind: str) -> list[list[Unit]]:
    """Sliding: one chain per video, links in order; every other mode: each unit alone."""
    if kind != "sliding":
        return [[u] for u in units]
    chains: dict[str, list[Unit]] = {}
    for u in units:
        chains.setdefault(u.video, []).append(u)
    return [sorted(c, key=lambda u: u.index) for c in chains.values()]


def mode_problems(cfg: Any) -> list[str]:
    """What bench.app.check_config says about mode.* (each names the key and the fix)."""
    from bench.backends.families import image_count_problems
    from bench.frames.windows import KINDS

    mode = cfg.mode
    if mode.kind not in KINDS:
        return [f"mode.kind={mode.kind!r}: use {', '.join(KINDS)} (or choose mode=window, mode=grid...)"]
    problems = []
    if cfg.model.sim.window_answers not in ("window", "frame"):
        problems.append(f"model.sim.window_answers={cfg.model.sim.window_answers!r}: use window or frame")
    if mode.kind == "frame":
        return problems
    if mode.frames < 1:
        problems.append(f"mode.frames={mode.frames}: frames per window, at least 1")
    if mode.window_s is not None and not mode.window_s > 0:
        problems.append(f"mode.window_s={mode.window_s}: seconds per window, more than 0 (or null for mode.frames)")
    if mode.video and (mode.kind != "window" or cfg.model.backend != "gemini"):
        problems.append("mode.video=true sends the window as one mp4 video part, which only the Gemini protocol "
                        f"takes (this is mode={mode.kind}, model.backend={cfg.model.backend}): drop mode.video")
    if not 16 <= mode.tile_side <= 4096:
        problems.append(f"mode.tile_side={mode.tile_side}: pixels of a grid tile's long side, 16 to 4096")
    if mode.grid_cols is not None and mode.grid_cols < 1:
        problems.append(f"mode.grid_cols={mode.grid_cols}: at least 1 (or null for a square-ish grid)")
    if mode.kind == "summary" and not mode.from_run:
        problems.append("mode.from_run needs a value: the frame or sliding run folder whose captions are "
                        "summarised (add mode.from_run=RUN_DIR)")
    if cfg.prompt.name == "cliptagger":
        problems.append(f"mode={mode.kind} with prompt=cliptagger, a one-frame prompt: leave prompt= out "
                        f"(mode={mode.kind} picks prompt={mode.kind}_v1) or give a prompt written for it")
    if cfg.runner.mode != "closed":
        problems.append(f"mode={mode.kind} runs closed loop only: drop runner={cfg.runner.mode}")
    if cfg.dataset.num_shards > 1:
        problems.append(f"mode={mode.kind} groups a video's frames, which sharding by frame would split: "
                        "drop dataset.num_shards")
    images = {"window": 0 if mode.video else mode.frames, "grid": 1, "sliding": 2, "summary": 0}[mode.kind]
    if mode.window_s is None:  # with window_s the count depends on the video: the server says
        problems += image_count_problems(cfg.model.backend, cfg.model.name, images, serve=cfg.model.serve,
                                         vllm_limit=cfg.model.vllm.limit_mm_per_prompt)
    return problems


def plan_work(cfg: Any, frames: Any) -> list[Unit]:
    """The units a window mode sends (bench.frames.windows); raises DatasetError for data it cannot use."""
    from bench.frames.windows import plan_units, summary_inputs

    units = plan_units(frames, cfg.mode)
    if cfg.mode.kind == "summary":
        units = summary_inputs(units, cfg.mode.from_run)
    return units
