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

Rubric v2 (conf/judge/rubric/factual_accuracy_v2.yaml) is answered reasoning
first: the errors per field, each found by one check named after the error
kind bench.score.calibrate plants (`ERROR_KINDS`), then the rationale, then
the score derived from the errors by the rubric's rule. `judge_blind` turns
checks off (a planted blind spot). The pairwise rubric
(conf/judge/rubric/pairwise_accuracy_v1.yaml) is answered by comparing the
two captions' error penalties: the one with fewer, weighted as the rubric's
score rule weights them, wins, equal penalties tie; `judge_position_bias` is
the probability of preferring whichever caption is shown first instead,
drawn deterministically per request.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter
from typing import Any

from bench.config import SimConfig
from bench.sim import captions as cap
from bench.sim.protocols.base import SimRequest

MARKER = "[capbench judge rubric:"
_CANDIDATE = re.compile(r"<candidate>\s*(.*?)\s*</candidate>", re.DOTALL)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an the and or of in on at to with by for from is are its it this that".split())
_LIST_FIELDS = ("objects", "actions", "logos")
V2_MARKER = "[capbench judge rubric: factual_accuracy v2]"
PAIRWISE_MARKER = "[capbench judge rubric: pairwise_accuracy"
_CAPTION_A = re.compile(r"<caption_a>\s*(.*?)\s*</caption_a>", re.DOTALL)
_CAPTION_B = re.compile(r"<caption_b>\s*(.*?)\s*</caption_b>", re.DOTALL)
# The kinds of error the simulated judge checks for, one check each (bench.score.calibrate plants them).
ERROR_KINDS = ("wrong_object", "missing_object", "wrong_count", "wrong_content_type", "invented_logo",
               "banned_lead_in", "fields_swapped")
_LEAD_INS = ("this image shows", "the image shows", "this frame shows", "the frame shows", "in this image",
             "this picture shows", "the picture shows", "this video shows", "this scene shows")
_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
_SCALAR_FIELDS = ("environment", "specific_style", "production_quality")


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


def _truth(req: SimRequest, maker: cap.CaptionMaker) -> tuple[dict[str, Any], bool]:
    img = cap.open_image(req.image)
    ref: cap.Reference | None = (
        cap.nearest(maker.references, cap.dhash(img), cap.mean_rgb(img)) if maker.references else None
    )
    return (ref.caption, True) if ref else (cap.stats_caption(cap.frame_stats(img)), False)


def _caption_in(pattern: re.Pattern[str], text: str) -> dict[str, Any] | None:
    found = pattern.search(text)
    try:
        value = json.loads(found.group(1)) if found else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _counts(caption: dict[str, Any]) -> Counter[int]:
    words = _WORD.findall(" ".join(str(caption.get(f) or "") for f in ("description", "summary")).lower())
    words += _WORD.findall(" ".join(str(o) for o in caption.get("objects") or []).lower())
    return Counter(_NUMBERS[w] if w in _NUMBERS else int(w) for w in words if w in _NUMBERS or w.isdigit())


def errors(candidate: dict[str, Any], truth: dict[str, Any], blind: frozenset[str] = frozenset()
           ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(hallucinated, missed) per field, each check one error kind; kinds in `blind` are not checked."""
    hallucinated: dict[str, list[str]] = {}
    missed: dict[str, list[str]] = {}

    def add(where: dict[str, list[str]], kind: str, fld: str, items: list[str]) -> None:
        if items and kind not in blind:
            where.setdefault(fld, []).extend(items)

    add(hallucinated, "wrong_object", "objects", _unmatched(candidate.get("objects"), truth.get("objects")))
    add(missed, "missing_object", "objects", _unmatched(truth.get("objects"), candidate.get("objects")))
    add(hallucinated, "invented_logo", "logos", _unmatched(candidate.get("logos"), truth.get("logos")))
    add(missed, "missing_object", "logos", _unmatched(truth.get("logos"), candidate.get("logos")))
    if _counts(candidate) != _counts(truth):
        extra = sorted((_counts(candidate) - _counts(truth)).elements())
        add(hallucinated, "wrong_count", "description", [f"count {n} not in the frame" for n in extra] or
            ["a count is missing or wrong"])
    if str(candidate.get("content_type", "")).strip().lower() != str(truth.get("content_type", "")).strip().lower():
        add(hallucinated, "wrong_content_type", "content_type", [str(candidate.get("content_type", ""))])
    head = str(candidate.get("description") or "").strip().lower()
    lead = next((p for p in _LEAD_INS if head.startswith(p)), None)
    if lead and not str(truth.get("description") or "").strip().lower().startswith(lead):
        add(hallucinated, "banned_lead_in", "description", [f"lead-in {lead!r}"])
    for fld in _SCALAR_FIELDS:  # a value that belongs to another field shares few words with this field's truth
        if truth.get(fld) and _f1(_words(candidate.get(fld)), _words(truth.get(fld))) < 0.3:
            add(hallucinated, "fields_swapped", fld, [str(candidate.get(fld, ""))])
    return hallucinated, missed


def derived_score(hallucinated: dict[str, list[str]], missed: dict[str, list[str]]) -> int:
    """Rubric v2's rule: start at 5, -1 per hallucinated item, -0.5 per missed item, round down, at least 1."""
    penalty = sum(map(len, hallucinated.values())) + 0.5 * sum(map(len, missed.values()))
    return max(1, math.floor(5 - penalty))


def _penalty(candidate: dict[str, Any], truth: dict[str, Any], blind: frozenset[str]) -> float:
    hallucinated, missed = errors(candidate, truth, blind)
    return sum(map(len, hallucinated.values())) + 0.5 * sum(map(len, missed.values()))


def verdict_v2(req: SimRequest, maker: cap.CaptionMaker, cfg: SimConfig) -> dict[str, Any]:
    truth, from_ref = _truth(req, maker)
    candidate = _caption_in(_CANDIDATE, req.user)
    if candidate is None:
        return {"hallucinated": {}, "missed": {}, "rationale": "The candidate is not a JSON caption.", "score": 1}
    hallucinated, missed = errors(candidate, truth, frozenset(cfg.judge_blind))
    n_h, n_m = sum(map(len, hallucinated.values())), sum(map(len, missed.values()))
    return {"hallucinated": hallucinated, "missed": missed,
            "rationale": f"Simulated verdict against the frame's {'reference' if from_ref else 'pixel-statistics'} "
                         f"caption: {n_h} hallucinated and {n_m} missed item(s).",
            "score": derived_score(hallucinated, missed)}


def verdict_pairwise(req: SimRequest, maker: cap.CaptionMaker, cfg: SimConfig) -> dict[str, Any]:
    truth, _ = _truth(req, maker)
    a, b = _caption_in(_CAPTION_A, req.user), _caption_in(_CAPTION_B, req.user)
    rng = random.Random(f"pairwise:{cfg.seed}:{hashlib.sha256(req.image).hexdigest()}:"
                        f"{hashlib.sha256(req.user.encode()).hexdigest()}")
    if cfg.judge_position_bias > 0 and rng.random() < cfg.judge_position_bias:
        return {"reasons": "Simulated position bias: the first caption shown is preferred.", "better": "A"}
    if a is None or b is None:
        better = "tie" if a is None and b is None else ("A" if b is None else "B")
        return {"reasons": "A caption that is not JSON loses.", "better": better}
    blind = frozenset(cfg.judge_blind)
    pa, pb = _penalty(a, truth, blind), _penalty(b, truth, blind)
    better = "tie" if abs(pa - pb) < 1e-9 else ("A" if pa < pb else "B")
    return {"reasons": f"Simulated: error penalty A {pa:g}, B {pb:g}.", "better": better}


def answer(req: SimRequest, maker: cap.CaptionMaker, cfg: SimConfig) -> dict[str, Any]:
    """The judge-mode answer for whichever rubric the request carries."""
    if PAIRWISE_MARKER in req.user:
        return verdict_pairwise(req, maker, cfg)
    if V2_MARKER in req.user:
        return verdict_v2(req, maker, cfg)
    return verdict(req, maker)


def verdict(req: SimRequest, maker: cap.CaptionMaker) -> dict[str, Any]:
    """The rubric v1 verdict for one judge request (deterministic in the image and the candidate)."""
    truth, from_ref = _truth(req, maker)
    ref = from_ref
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
