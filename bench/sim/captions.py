"""Deterministic captions for the simulator, derived from the frame itself.

No model is involved: the simulator decodes the image, measures a few visual
facts (dominant colours, brightness, saturation, edge density, aspect ratio)
and writes a ClipTagger-schema caption from them. When a reference manifest is
configured, the nearest reference frame (by 64-bit dHash) lends its caption
instead, so quality metrics against a teacher mean something. `caption_quality`
then degrades either kind of caption, deterministically, so that `sim` and
`sim_noisy` separate on ROUGE/BLEU/judge scores.
"""

from __future__ import annotations

import io
import json
import math
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CAPTION_KEYS = (
    "description",
    "objects",
    "actions",
    "environment",
    "content_type",
    "specific_style",
    "production_quality",
    "summary",
    "logos",
)
DHASH_MAX_DISTANCE = 10  # of 64 bits; re-encoding/resizing moves a dHash by a few bits only
# dHash only sees luma *differences*: all flat frames hash to 0. The mean colour
# (Euclidean, 0-255 RGB) must also be close, so a yellow card never borrows a red card's caption.
MEAN_RGB_MAX_DISTANCE = 48.0
Caption = dict[str, Any]


class ImageDecodeError(ValueError):
    """The request's image bytes are not an image Pillow can read."""


@dataclass(frozen=True)
class FrameStats:
    width: int
    height: int
    mean_rgb: tuple[int, int, int]
    colours: tuple[str, ...]  # 1-3 dominant colour names, most common first
    brightness: float  # mean HSV value, 0..1
    saturation: float  # mean HSV saturation, 0..1
    edge_density: float  # share of pixels on a noticeable luma edge, 0..1
    greyscale: bool
    gradient: tuple[str, str, str] | None  # (direction, from colour, to colour) for smooth ramps

    @property
    def busy(self) -> bool:
        return self.edge_density > 0.18

    @property
    def aspect(self) -> str:
        r = self.width / max(1, self.height)
        if r > 1.6:
            return "widescreen"
        if r > 1.15:
            return "landscape"
        if r > 0.87:
            return "square"
        return "portrait"


def open_image(data: bytes, draft_size: int = 256) -> Image.Image:
    """Decode bytes, using JPEG draft mode so large frames decode at a fraction of the cost."""
    try:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (draft_size, draft_size))
        img.load()
    except Exception as exc:  # Pillow raises many types for garbage input
        raise ImageDecodeError(f"cannot decode image: {exc}") from exc
    return img


def dhash(img: Image.Image) -> int:
    """64-bit difference hash: robust to resizing and re-encoding, cheap to compare."""
    small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def mean_rgb(img: Image.Image) -> tuple[float, float, float]:
    px = np.asarray(img.convert("RGB").resize((16, 16), Image.Resampling.BOX), dtype=np.float32)
    r, g, b = px.reshape(-1, 3).mean(axis=0)
    return (float(r), float(g), float(b))


def _rgb_distance(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    return math.dist(a, b)


def _colour_names(rgb: np.ndarray) -> np.ndarray:
    """Name every pixel (N x 3 floats in 0..1) with one of a dozen plain colour words."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    mx, mn = rgb.max(axis=1), rgb.min(axis=1)
    v, c = mx, mx - mn
    s = np.where(mx > 0, c / np.maximum(mx, 1e-6), 0.0)
    safe_c = np.maximum(c, 1e-6)
    h = (
        np.select(
            [mx == r, mx == g],
            [((g - b) / safe_c) % 6, (b - r) / safe_c + 2],
            (r - g) / safe_c + 4,
        )
        * 60.0
    )
    hue_names = np.select(
        [h < 15, h < 40, h < 70, h < 160, h < 200, h < 255, h < 290, h < 345],
        ["red", "orange", "yellow", "green", "teal", "blue", "purple", "pink"],
        "red",
    )
    grey = np.select([v > 0.85, v > 0.55, v > 0.3], ["white", "light grey", "grey"], "dark grey")
    names = np.where(s < 0.18, grey, hue_names)
    brownish = (s >= 0.18) & (v < 0.6) & ((names == "orange") | (names == "red")) & (v > 0.18)
    names = np.where(brownish, "brown", names)
    return np.where(v < 0.15, "black", names)


def frame_stats(img: Image.Image) -> FrameStats:
    width, height = img.size
    rgb = img.convert("RGB")
    # Averaged thumbnail for tones and ramps; point samples for colour names, so
    # fine multicoloured texture is not averaged into grey; a larger one for edges.
    px = np.asarray(rgb.resize((64, 64), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    flat = px.reshape(-1, 3)
    mx = flat.max(axis=1)
    sample = np.asarray(rgb.resize((64, 64), Image.Resampling.NEAREST), dtype=np.float32).reshape(-1, 3) / 255.0
    smx, smn = sample.max(axis=1), sample.min(axis=1)
    sat = np.where(smx > 0, (smx - smn) / np.maximum(smx, 1e-6), 0.0)
    big = np.asarray(rgb.convert("L").resize((128, 128), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    grad = np.abs(np.diff(big, axis=0))[:, :-1] + np.abs(np.diff(big, axis=1))[:-1, :]
    names = _colour_names(sample)
    uniq, counts = np.unique(names, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    colours = tuple(str(uniq[i]) for i in order[:3] if counts[i] / len(names) >= 0.08) or (str(uniq[order[0]]),)
    gradient = _gradient(px, float((grad > 0.08).mean()))
    return FrameStats(
        width=width,
        height=height,
        mean_rgb=tuple(int(round(x * 255)) for x in flat.mean(axis=0)),  # type: ignore[arg-type]
        colours=colours,
        brightness=float(mx.mean()),  # HSV value: a saturated red is bright though its luma is low
        saturation=float(sat.mean()),
        edge_density=float((grad > 0.08).mean()),
        greyscale=bool(np.abs(flat - flat.mean(axis=1, keepdims=True)).max() < 0.04),
        gradient=gradient,
    )


def _gradient(px: np.ndarray, edges: float) -> tuple[str, str, str] | None:
    """A smooth ramp: few edges but clearly different halves (left/right or top/bottom)."""
    if edges > 0.05:
        return None
    halves = {
        "left to right": (px[:, :16], px[:, -16:]),
        "top to bottom": (px[:16, :], px[-16:, :]),
    }
    best = max(halves.items(), key=lambda kv: float(np.abs(kv[1][0].mean((0, 1)) - kv[1][1].mean((0, 1))).sum()))
    a, b = best[1]
    if float(np.abs(a.mean((0, 1)) - b.mean((0, 1))).sum()) < 0.25:
        return None
    name_a = str(_colour_names(a.reshape(-1, 3).mean(0, keepdims=True))[0])
    name_b = str(_colour_names(b.reshape(-1, 3).mean(0, keepdims=True))[0])
    return (best[0], name_a, name_b)


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def stats_caption(st: FrameStats) -> Caption:
    """A literal caption of what the pixel statistics show (no lead-ins, <=4 sentences)."""
    light = "brightly lit" if st.brightness > 0.7 else "dimly lit" if st.brightness < 0.3 else "evenly lit"
    vivid = "vivid" if st.saturation > 0.5 else "muted" if st.saturation < 0.2 else "moderately saturated"
    main, rest = st.colours[0], list(st.colours[1:])
    objects = [f"{main} background"] + [f"{c} areas" for c in rest]
    if st.gradient:
        direction, a, b = st.gradient
        first = f"A smooth {a}-to-{b} colour gradient runs {direction} across the {st.aspect} frame."
        objects.append(f"{a} to {b} gradient")
    elif st.busy:
        first = f"A dense, finely detailed pattern of {_join(list(st.colours))} texture covers the {st.aspect} frame."
        objects += ["fine grain texture", "scattered small specks"]
    else:
        first = f"A plain, mostly uniform {main} field fills the {st.aspect} frame."
        objects.append("empty flat surface")
    second = (
        f"Patches of {_join(rest)} appear alongside the dominant {main}."
        if rest
        else f"The {main} tone is consistent from edge to edge."
    )
    third = f"The picture is {light} with {vivid} colour and no people, text or logos."
    if st.greyscale:
        third = f"The picture is black-and-white and {light}, with no people, text or logos."
        objects.append("monochrome tones")
    content_type = "real-world footage" if st.busy else "motion graphics" if st.saturation > 0.3 else "CGI"
    style = (
        "black-and-white archival film"
        if st.greyscale and st.busy
        else "abstract texture footage"
        if st.busy
        else "colour gradient title card"
        if st.gradient
        else "minimalist solid-colour card"
    )
    quality = (
        "amateur handheld"
        if st.busy and st.brightness < 0.3
        else "professional digital graphic"
        if not st.busy
        else "professional"
    )
    article = "An" if light[0] == "e" else "A"
    texture = "busy" if st.busy else "plain"
    return {
        "description": " ".join([first, second, third]),
        "objects": objects[:10],
        "actions": [],
        "environment": f"An abstract setting without identifiable places, {light}, dominated by {main} tones.",
        "content_type": content_type,
        "specific_style": style,
        "production_quality": quality,
        "summary": f"{article} {light}, {texture} {st.aspect} frame dominated by {_join(list(st.colours))}.",
        "logos": [],
    }


# ----------------------------------------------------------------- degradation

# Light paraphrase used even at quality 1.0: a faithful student does not copy the teacher verbatim.
_SYNONYMS = {
    "large": "big",
    "small": "little",
    "visible": "shown",
    "wearing": "dressed in",
    "standing": "stood",
    "wooden": "timber",
    "bright": "vivid",
    "dark": "dim",
    "person": "individual",
    "man": "male figure",
    "woman": "female figure",
    "background": "backdrop",
    "white": "pale",
    "holding": "gripping",
    "near": "close to",
    "several": "a few",
    "outdoor": "open-air",
    "building": "structure",
    "road": "street",
    "frame": "shot",
    "covers": "fills",
    "dense": "thick",
    "plain": "simple",
}
_FILLER = ["item", "thing", "area", "element", "surface", "shape", "region", "material", "structure", "object"]
_HALLUCINATED_OBJECTS = [
    "a parked car",
    "a potted plant",
    "a wooden chair",
    "a street lamp",
    "a red umbrella",
    "a laptop computer",
    "a coffee mug",
    "a brick wall",
    "a wristwatch",
    "a bicycle",
]
_HALLUCINATED_ACTIONS = ["person walking", "camera panning", "hand waving", "car driving past", "door opening"]
_CONTENT_TYPES = ["real-world footage", "animation", "video game", "CGI", "cartoon", "screen recording"]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def _rewrite(text: str, rng: random.Random, garble: float, capitalise: bool = True) -> str:
    """Swap some words for synonyms (always) and, with probability `garble`, for filler words."""
    out = []
    for word in text.split(" "):
        core = word.strip(".,;:!?\"'()").lower()
        if core in _SYNONYMS and rng.random() < 0.35:
            word = word.lower().replace(core, _SYNONYMS[core])
        elif len(core) > 3 and rng.random() < garble:
            word = word.replace(word.strip(".,;:!?\"'()"), rng.choice(_FILLER))
        out.append(word)
    result = " ".join(out)
    return result[:1].upper() + result[1:] if capitalise else result


def _degrade_list(items: list[str], rng: random.Random, loss: float, pool: list[str], garble: float) -> list[str]:
    kept = [it for it in items if rng.random() >= loss * 0.6]
    return [rng.choice(pool) if rng.random() < loss * 0.3 else _rewrite(it, rng, garble, False) for it in kept]


def degrade(caption: Caption, quality: float, rng: random.Random) -> Caption:
    """Paraphrase lightly at quality 1.0; lower quality drops, replaces and garbles content.

    Keys and types are always kept (validity is the fault knobs' job), but below
    ~0.7 some prompt-rule violations appear (banned lead-in, too many objects),
    as weaker models produce them.
    """
    loss = min(1.0, max(0.0, 1.0 - quality))
    garble = loss * 0.3
    out: Caption = {k: caption.get(k, [] if k in ("objects", "actions", "logos") else "") for k in CAPTION_KEYS}
    sents = _sentences(str(out["description"]))
    keep = max(1, math.ceil(len(sents) * (1.0 - 0.75 * loss)))
    out["description"] = " ".join(_rewrite(s, rng, garble) for s in sents[:keep])
    out["objects"] = _degrade_list(list(out["objects"]), rng, loss, _HALLUCINATED_OBJECTS, garble)[:10]
    out["actions"] = _degrade_list(list(out["actions"]), rng, loss, _HALLUCINATED_ACTIONS, garble)[:5]
    out["logos"] = [lg for lg in out["logos"] if rng.random() >= loss * 0.7]
    out["environment"] = _rewrite(str(out["environment"]), rng, garble)
    for key in ("specific_style", "production_quality"):
        out[key] = _rewrite(str(out[key]), rng, garble, capitalise=False)
    if rng.random() < loss * 0.4:
        out["content_type"] = rng.choice(_CONTENT_TYPES)
    summary = _sentences(str(out["summary"]))
    out["summary"] = _rewrite(summary[0] if summary else "", rng, garble)
    if rng.random() < loss * 0.3 and out["description"]:
        out["description"] = "This image shows " + out["description"][0].lower() + out["description"][1:]
    if rng.random() < loss * 0.15:
        out["objects"] = (out["objects"] + _HALLUCINATED_OBJECTS)[:12]
    return out


# Temporal jitter: values a flickering model might swap in for one frame (bench.score.temporal measures it).
_JITTER_VALUES = {
    "content_type": _CONTENT_TYPES,
    "specific_style": ["handheld vlog", "studio portrait", "retro pixel art", "film noir", "news broadcast"],
    "production_quality": ["amateur handheld", "professional studio", "low-budget webcam", "broadcast quality"],
    "environment": ["A busy city street at night under neon signs.", "A quiet beach at sunrise with calm waves.",
                    "A cluttered office with desks and monitors."],
    "summary": ["A crowd gathers in a city square at dusk.", "A dog runs across a snowy field.",
                "A close-up of hands typing on a keyboard."],
}
JITTER_FIELDS = (*_JITTER_VALUES, "objects")


def jitter(caption: Caption, probability: float, rng: random.Random) -> Caption:
    """With `probability`, perturb one field of this frame's caption (chosen by rng): a different value for a
    field from _JITTER_VALUES, or the objects with one dropped and one hallucinated. Keys and types are kept."""
    if rng.random() >= probability:
        return caption
    out = dict(caption)
    field = rng.choice(JITTER_FIELDS)
    if field == "objects":
        objects = list(out.get("objects") or [])
        if objects:
            objects.pop(rng.randrange(len(objects)))
        objects.append(rng.choice([o for o in _HALLUCINATED_OBJECTS if o not in objects]))
        out["objects"] = objects[:10]
    else:
        out[field] = rng.choice([v for v in _JITTER_VALUES[field] if v != out.get(field)])
    return out


# ------------------------------------------------------------------ references


@dataclass(frozen=True)
class Reference:
    id: str
    dhash: int
    mean_rgb: tuple[float, float, float]
    caption: Caption


def load_references(path: str) -> list[Reference]:
    """Read a dataset manifest (JSONL: id, image, optional reference) and hash each reference image.

    Unusable lines (not UTF-8, not JSON, not an object, no image path) are skipped and
    counted in one warning: the harness records each as a failed frame, the simulator
    just has no reference for it.
    """
    manifest = Path(path)
    if manifest.is_dir():
        manifest = manifest / "manifest.jsonl"
    refs: list[Reference] = []
    bad: list[int] = []
    with manifest.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a BOM may only start the file
                row = json.loads(line) if line.strip() else None
            except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
                bad.append(n)
                continue
            if row is None:
                continue
            if not isinstance(row, dict) or not isinstance(row.get("image"), str) or not row["image"]:
                bad.append(n)
                continue
            if not isinstance(row.get("reference"), dict):
                continue
            img_path = manifest.parent / row["image"]
            try:
                img = open_image(img_path.read_bytes(), draft_size=64)
            except (OSError, ImageDecodeError) as exc:
                print(f"sim: skipping reference {row.get('id', n)}: {exc}", file=sys.stderr)
                continue
            ref = Reference(
                id=str(row.get("id", n)), dhash=dhash(img), mean_rgb=mean_rgb(img), caption=row["reference"]
            )
            refs.append(ref)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        print(f"sim: skipped {len(bad)} unusable line(s) in {manifest} (line {shown})", file=sys.stderr)
    return refs


def nearest(
    refs: list[Reference], h: int, rgb: tuple[float, float, float], max_distance: int = DHASH_MAX_DISTANCE
) -> Reference | None:
    """The reference with the closest dHash (then mean colour), if both are close enough."""
    near = [
        r
        for r in refs
        if hamming(r.dhash, h) <= max_distance and _rgb_distance(r.mean_rgb, rgb) <= MEAN_RGB_MAX_DISTANCE
    ]
    return min(near, key=lambda r: (hamming(r.dhash, h), _rgb_distance(r.mean_rgb, rgb)), default=None)


class CaptionMaker:
    """Image bytes -> caption dict, cached per image so retries cost nothing."""

    def __init__(self, seed: int, quality: float, references: list[Reference] | None = None, *,
                 temporal_jitter: float = 0.0) -> None:
        self.seed = seed
        self.quality = quality
        self.temporal_jitter = temporal_jitter
        self.references = references or []
        self._cache: dict[str, tuple[Caption, str]] = {}

    def caption(self, data: bytes, sha256: str) -> tuple[Caption, str]:
        """Return (caption, source) where source is "stats" or "ref:<id>"."""
        if sha256 not in self._cache:
            if len(self._cache) > 4096:  # bounded: a long run must not grow without limit
                self._cache.clear()
            img = open_image(data)
            ref = nearest(self.references, dhash(img), mean_rgb(img)) if self.references else None
            base, source = (ref.caption, f"ref:{ref.id}") if ref else (stats_caption(frame_stats(img)), "stats")
            rng = random.Random(f"caption:{self.seed}:{sha256}")
            caption = degrade(base, self.quality, rng)
            if self.temporal_jitter:
                caption = jitter(caption, self.temporal_jitter, random.Random(f"jitter:{self.seed}:{sha256}"))
            self._cache[sha256] = (caption, source)
        return self._cache[sha256]
