"""Judge mode: the simulator answers a judge rubric with a verdict, not a caption.

bench.score.judge sends the frame and a rubric prompt that carries the
candidate caption between <candidate> tags. When the request's text contains
the rubric marker, the simulator answers with a deterministic verdict JSON
({"score", "rationale", "hallucinated", "missed"}) instead of a caption. The
"truth" is the frame's reference caption (nearest reference by dHash, as the
caption maker finds it) or, without one, the pixel-statistics caption. The
score grows with the word overlap between candidate and truth, so `sim`
(faithful captions) scores clearly higher than `sim_noisy` (degraded ones).
No model is involved; the verdict still goes through the fault planner like
any answer, so malformed verdicts and transport faults can be tested too.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from bench.sim import captions as cap
from bench.sim.protocols.base import SimRequest

MARKER = "[capbench judge rubric:"
_CANDIDATE = re.compile(r"<candidate>\s*(.*?)\s*</candidate>", re.DOTALL)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an the and or of in on at to with by for from is are its it this that".split())
_LIST_FIELDS = ("objects", "actions", "logos")


def is_judge_request(req: SimRequest) -> bool:
    return MARKER in req.user


def _words(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [w for v in value.values() for w in _words(v)]
    if isinstance(value, list):
        return [w for v in value for w in _words(v)]
    return [w for w in _WORD.findall(str(value if value is not None else "").lower()) if w not in _STOP]


def _f1(candidate: list[str], truth: list[str]) -> float:
    if not candidate or not truth:
        return 0.0
    overlap = sum((Counter(candidate) & Counter(truth)).values())
    return 2 * overlap / (len(candidate) + len(truth))


def _unmatched(items: Any, other: Any) -> list[str]:
    """Items of one side whose words mostly do not appear in the other side's field."""
    pool = set(_words(other))
    out = []
    for item in items if isinstance(items, list) else []:
        words = _words(item)
        if words and sum(w in pool for w in words) / len(words) < 0.5:
            out.append(str(item))
    return out


def verdict(req: SimRequest, maker: cap.CaptionMaker) -> dict[str, Any]:
    """The verdict for one judge request (deterministic in the image and the candidate)."""
    img = cap.open_image(req.image)
    ref: cap.Reference | None = (
        cap.nearest(maker.references, cap.dhash(img), cap.mean_rgb(img)) if maker.references else None
    )
    truth = ref.caption if ref else cap.stats_caption(cap.frame_stats(img))
    found = _CANDIDATE.search(req.user)
    try:
        candidate = json.loads(found.group(1)) if found else None
    except json.JSONDecodeError:
        candidate = None
    if not isinstance(candidate, dict):
        return {"score": 1, "rationale": "The candidate is not a JSON caption.", "hallucinated": {}, "missed": {}}
    f1 = _f1(_words(candidate), _words(truth))
    hallucinated = {f: _unmatched(candidate.get(f), truth.get(f)) for f in _LIST_FIELDS}
    missed = {f: _unmatched(truth.get(f), candidate.get(f)) for f in _LIST_FIELDS}
    if str(candidate.get("content_type", "")).lower() != str(truth.get("content_type", "")).lower():
        hallucinated["content_type"] = [str(candidate.get("content_type", ""))]
    # Like a strict judge: overlap sets the level (below 40% is "unrelated"), each invented item costs half a point.
    invented = sum(len(v) for v in hallucinated.values())
    score = max(1, min(5, round(1 + 4 * min(1.0, max(0.0, (f1 - 0.4) / 0.55)) - min(2.0, 0.5 * invented))))
    return {
        "score": score,
        "rationale": f"Simulated verdict: {f1:.0%} word overlap with the frame's "
        f"{'reference' if ref else 'pixel-statistics'} caption.",
        "hallucinated": {k: v for k, v in hallucinated.items() if v},
        "missed": {k: v for k, v in missed.items() if v},
    }
