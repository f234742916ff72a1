"""Window modes in the simulator: a window, grid, sliding or summary caption derived from what was sent.

A request whose text carries a capbench mode prompt's first line (`[capbench prompt: window v1]`, conf/prompt/
window_v1.yaml and its siblings) is answered in that prompt's schema, deterministically, from the media it
got: each image (a window), each tile of the one grid image (its layout read from the prompt), each frame of
an mp4 video part (Gemini), the two frames of a sliding pair, or the captions in a summary's text. Every
per-frame caption comes from the same CaptionMaker as frame mode (pixels and the sample's references, never a
model). `window_answers=frame` (SimConfig) plays a model that ignores the window prompt and answers with the
first frame's single-frame caption, so that a test can see the window schema reject it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from typing import Any

from PIL import Image

from bench.sim import captions as cap
from bench.sim.protocols.base import SimRequest

_MARKER = re.compile(r"\[capbench prompt: (window|grid|sliding|summary) v(\d+)\]")
_TIMES = re.compile(r"at these times \(seconds from the first keyframe\): ([0-9., -]+)")
_GRID = re.compile(r"(\d+) rows x (\d+) columns of (\d+)x(\d+) tiles")
_LINE = re.compile(r"^t=([0-9.]+)s: (\{.*\})$", re.MULTILINE)


def prompt_kind(req: SimRequest) -> str | None:
    match = _MARKER.search(req.user)
    return match.group(1) if match else None


def media_count(req: SimRequest) -> int:
    """Images the request carried (a video part counts its frames once decoded; here: one per part)."""
    return len(req.images) + len(req.videos)


def _jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def frames_of(req: SimRequest, kind: str) -> list[bytes]:
    """The frames the request shows, as image bytes, in order."""
    if req.videos:
        from bench.frames.clip import decode_clip

        return [_jpeg(im) for _, data in req.videos for im in decode_clip(data)]
    if kind == "grid" and req.images:
        match = _GRID.search(req.user)
        if match:
            rows, cols, tw, th = (int(x) for x in match.groups())
            with Image.open(io.BytesIO(req.images[0][1])) as grid:
                grid = grid.convert("RGB")
                n = _count(req) or rows * cols
                return [_jpeg(grid.crop(((i % cols) * tw, (i // cols) * th, (i % cols + 1) * tw, (i // cols + 1) * th)))
                        for i in range(min(n, rows * cols))]
    return [data for _, data in req.images]


def _count(req: SimRequest) -> int | None:
    times = _times(req)
    return len(times) if times else None


def _times(req: SimRequest) -> list[float]:
    match = _TIMES.search(req.user)
    if not match:
        return []
    try:
        return [float(x) for x in match.group(1).replace(" ", "").strip(",.").split(",") if x]
    except ValueError:
        return []


def _captions(maker: cap.CaptionMaker, frames: list[bytes]) -> list[dict[str, Any]]:
    return [dict(maker.caption(data, hashlib.sha256(data).hexdigest())[0]) for data in frames]


def _clause(text: str) -> str:
    """A caption sentence as a clause: no full stops inside (the window summary stays one sentence)."""
    return re.sub(r"[.!?]+", ",", str(text)).strip(" ,")


def _window(caps: list[dict[str, Any]], times: list[float]) -> dict[str, Any]:
    times = times if len(times) == len(caps) else [float(i) for i in range(len(caps))]
    first: dict[str, tuple[float, float]] = {}
    for c, t in zip(caps, times, strict=True):
        for obj in c.get("objects") or []:
            lo, _ = first.get(obj, (t, t))
            first[obj] = (lo, t)
    events, changes = [], []
    for i, (c, t) in enumerate(zip(caps, times, strict=True)):
        prev = caps[i - 1] if i else None
        if prev is None or c.get("summary") != prev.get("summary"):
            events.append({"t_s": t, "event": _clause(c.get("summary", ""))})
        if prev is not None and (c.get("environment") != prev.get("environment")
                                 or c.get("specific_style") != prev.get("specific_style")):
            changes.append({"t_s": t, "change": f"the scene changes to {_clause(c.get('environment', ''))}"})
    summaries = [_clause(e["event"]) for e in events]
    summary = summaries[0] + (f", then {summaries[-1][:1].lower()}{summaries[-1][1:]}" if len(summaries) > 1 else "")
    descriptions = []
    for c in caps:
        sentence = cap._sentences(str(c.get("description", "")))[:1]
        if sentence and sentence[0] not in descriptions:
            descriptions.append(sentence[0])
    actions = list(dict.fromkeys(a for c in caps for a in c.get("actions") or []))
    content = Counter(str(c.get("content_type", "")) for c in caps).most_common(1)[0][0]
    return {
        "summary": summary + ".",
        "description": " ".join(descriptions[:4]),
        "objects_over_time": [{"name": k, "first_s": lo, "last_s": hi} for k, (lo, hi) in list(first.items())[:15]],
        "actions": actions[:8],
        "events": events[:10],
        "scene_changes": changes,
        "environment": str(caps[0].get("environment", "")),
        "content_type": content,
    }


def _sliding(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    before, after = set(a.get("objects") or []), set(b.get("objects") or [])
    fields = [k for k in ("description", "environment", "content_type", "specific_style", "production_quality")
              if a.get(k) != b.get(k)]
    changes = [f"{k.replace('_', ' ')} becomes: {_clause(b.get(k, ''))}" for k in fields][:8]
    entered, left = sorted(after - before), sorted(before - after)
    return {"changed": bool(changes or entered or left), "changes": changes, "objects_entered": entered,
            "objects_left": left,
            "scene_change": a.get("environment") != b.get("environment") or a.get("specific_style") != b.get(
                "specific_style"),
            "summary": _clause(b.get("summary", "")) + "."}


def _summary(text: str) -> dict[str, Any]:
    rows = []
    for t, body in _LINE.findall(text):
        try:
            rows.append((float(t), json.loads(body)))
        except ValueError:
            continue
    if not rows:
        return {"summary": "No captions were given.", "timeline": [], "main_objects": [], "scenes": 1,
                "content_type": "unknown"}
    timeline, scenes, objects, content = [], 1, Counter(), Counter()
    last = None
    for t, c in rows:
        line = _clause(c.get("summary", ""))
        if line and line != last:
            timeline.append({"t_s": t, "event": line})
            last = line
        if c.get("scene_change") is True:
            scenes += 1
        objects.update(c.get("objects") or c.get("objects_entered") or [])
        if c.get("content_type"):
            content[str(c["content_type"])] += 1
    if not any(c.get("scene_change") is not None for _, c in rows):  # frame captions: count environment changes
        envs = [c.get("environment") for _, c in rows]
        scenes = 1 + sum(1 for a, b in zip(envs, envs[1:], strict=False) if a != b)
    events = [e["event"] for e in timeline]
    summary = ". ".join(x[:1].upper() + x[1:] for x in (events[:1] + events[1:][-2:])) + "."
    return {"summary": summary, "timeline": timeline[:12], "main_objects": [o for o, _ in objects.most_common(10)],
            "scenes": scenes, "content_type": content.most_common(1)[0][0] if content else "real-world footage"}


def answer(req: SimRequest, maker: cap.CaptionMaker, window_answers: str = "window") -> tuple[dict[str, Any], str]:
    """The caption for a mode prompt and its source label. Raises cap.ImageDecodeError for unreadable media."""
    kind = prompt_kind(req)
    assert kind is not None
    if kind == "summary":
        return _summary(req.user), "summary:text"
    frames = frames_of(req, kind)
    if not frames:
        raise cap.ImageDecodeError(f"a {kind} prompt with no image or video part")
    caps = _captions(maker, frames)
    if window_answers == "frame":  # a model ignoring the window prompt: the first frame's single-frame caption
        return caps[0], f"{kind}:frame-caption"
    if kind == "sliding":
        return _sliding(caps[0], caps[-1]), f"sliding:{len(frames)}"
    return _window(caps, _times(req)), f"{kind}:{len(frames)}"
