"""Temporal scores over frame sequences: reference-free, from the captions alone (README, "Temporal scores").

    from bench.score.temporal import TemporalItem, temporal_scores
    summary = temporal_scores(items, settings)   # items: (frame_id, video, shot, timestamp_s, caption-or-None)

A frame takes part when it has a `video` and a `timestamp_s`; frames of one video are ordered by time and each
frame is compared with the next one (an *adjacent pair*). A pair whose two frames have the same known `shot` is
a *within-shot pair*; a pair whose shots differ is a *true cut*. caption is the model's caption when it is
schema-valid, else None (a frame with no valid caption can show neither stability nor a change).

- field stability (within-shot pairs with both captions): exact fields hold when their normalised values are
  equal (a rate, Wilson interval); text fields score the Jaccard similarity of their word sets (a mean,
  bootstrap interval over pairs). The headline `stability` is the mean of the per-field figures.
- object persistence: Jaccard of the normalised object-name sets of a within-shot pair (both empty: 1).
- flicker: for three consecutive frames of one shot with captions (a, b, c), each object in a and in c is one
  chance; it flickers when b lacks it. Rate = flickers / chances (Wilson).
- boundaries: a pair is a predicted boundary when at least k of the chosen fields change (exact fields: values
  differ; text fields and objects: Jaccard < change_below). Matched one-to-one to the true cuts of the same video
  within `tolerance` pair positions (nearest first); precision = matched / predicted, recall = matched / true,
  F1 = 2PR / (P + R) = 2·matched / (predicted + true), counts summed over videos. Scored on pairs whose shots
  are known; every k is tried, the best (highest F1, then the smaller k) is reported next to the configured one.
  chance_f1 is the F1 of calling every pair a boundary (what an F1 must beat); auc is the threshold-free
  probability that a true cut changes more of the fields than a within-shot pair (0.5 = chance).

Bad input never crashes and is never dropped silently: frames with no video or timestamp, duplicate timestamps
in a video (the first by frame id is kept), videos with a single usable frame, pairs with an unknown shot or
without captions are each counted under a named reason; frames that arrived out of time order are sorted and
counted. Memory: one compact entry per frame (word and object sets), the input is read once.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from bench.stats import BOOTSTRAP_REPLICATES, bootstrap_means, rate

EXACT_FIELDS = ("content_type", "specific_style", "production_quality")
TEXT_FIELDS = ("environment", "description", "summary")
STABILITY_FIELDS = EXACT_FIELDS + TEXT_FIELDS
BOUNDARY_FIELDS = ("content_type", "specific_style", "production_quality", "environment", "description",
                   "summary", "objects")
TEMPORAL_VERSION = "1"

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ARTICLE = re.compile(r"^(?:a|an|the)\s+")


class TemporalItem(NamedTuple):
    frame_id: str
    video: str | None
    shot: str | None
    timestamp_s: float | None
    caption: Mapping[str, Any] | None


def _setting(settings: Any, name: str, default: Any) -> Any:
    if settings is None:
        return default
    if isinstance(settings, Mapping):
        value = settings.get(name, default)
    else:
        value = getattr(settings, name, default)
    return default if value is None else value


def normalise_value(value: Any) -> str:
    """An exact field's value for comparison: case-folded words joined by one space ("Real-world" = "real world")."""
    return " ".join(_WORD.findall(str(value or "").casefold()))


def words(value: Any) -> frozenset[str]:
    return frozenset(_WORD.findall(str(value or "").casefold()))


def object_name(value: Any) -> str:
    """An object's name for comparison: case-folded words, a leading article dropped ("A red car" = "red car")."""
    return _ARTICLE.sub("", normalise_value(value))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; two empty sets are identical (1.0)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class _Frame(NamedTuple):
    frame_id: str
    shot: str | None
    t: float
    exact: tuple[str, ...] | None  # per EXACT_FIELDS; None = no caption
    text: tuple[frozenset[str], ...] | None  # per TEXT_FIELDS
    objects: frozenset[str] | None


def _compact(item: TemporalItem, t: float) -> _Frame:
    cap = item.caption if isinstance(item.caption, Mapping) else None
    if cap is None:
        return _Frame(str(item.frame_id), _shot(item.shot), t, None, None, None)
    objs = cap.get("objects")
    objects = frozenset(n for n in (object_name(o) for o in objs) if n) if isinstance(objs, list) else frozenset()
    return _Frame(str(item.frame_id), _shot(item.shot), t, tuple(normalise_value(cap.get(f)) for f in EXACT_FIELDS),
                  tuple(words(cap.get(f)) for f in TEXT_FIELDS), objects)


def _shot(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _timestamp(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        t = float(value)
    except ValueError:
        return None
    return t if math.isfinite(t) else None


def _changes(a: _Frame, b: _Frame, fields: tuple[str, ...], change_below: float) -> int:
    n = 0
    for f in fields:
        if f in EXACT_FIELDS:
            i = EXACT_FIELDS.index(f)
            n += a.exact[i] != b.exact[i]  # type: ignore[index]
        elif f in TEXT_FIELDS:
            i = TEXT_FIELDS.index(f)
            n += jaccard(a.text[i], b.text[i]) < change_below  # type: ignore[index]
        else:  # objects
            n += jaccard(a.objects, b.objects) < change_below  # type: ignore[arg-type]
    return n


def changed_fields(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None,
                   fields: tuple[str, ...] = BOUNDARY_FIELDS, change_below: float = 0.5) -> list[str] | None:
    """The fields that change from caption a to caption b, as the boundary detector counts them (the report's
    timeline draws these); None when either has no caption."""
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return None
    fa = _compact(TemporalItem("a", None, None, None, a), 0.0)
    fb = _compact(TemporalItem("b", None, None, None, b), 0.0)
    return [f for f in fields if _changes(fa, fb, (f,), change_below)]


def match_boundaries(truth: list[int], predicted: list[int], tolerance: int) -> int:
    """Matched pairs between true and predicted boundary positions, one-to-one, each within `tolerance`;
    closest candidates first (ties: earlier positions), so one prediction never claims two cuts."""
    candidates = sorted((abs(t - p), t, p) for t in truth for p in predicted if abs(t - p) <= tolerance)
    used_t: set[int] = set()
    used_p: set[int] = set()
    for _, t, p in candidates:
        if t not in used_t and p not in used_p:
            used_t.add(t)
            used_p.add(p)
    return len(used_t)


def boundary_auc(hist: np.ndarray) -> float | None:
    """P(a true cut changes more boundary fields than a within-shot pair), ties counting one half (the
    Mann-Whitney AUC of the changed-field count; 0.5 = no better than chance, 1 = every cut above every
    within-shot pair). hist[0] / hist[1]: pairs at cuts / within shots by number of fields changed."""
    cuts, within = hist[0].astype(float), hist[1].astype(float)
    n = cuts.sum() * within.sum()
    if not n:
        return None
    below = np.concatenate([[0.0], np.cumsum(within)[:-1]])  # within-shot pairs with fewer changes than c
    return float((cuts * (below + 0.5 * within)).sum() / n)


def prf(matched: int, predicted: int, truth: int) -> dict[str, Any]:
    precision = matched / predicted if predicted else None
    recall = matched / truth if truth else None
    # 2PR / (P + R) written as 2·matched / (predicted + true): also defined (0) when nothing was predicted
    f1 = 2 * matched / (predicted + truth) if predicted + truth else None
    return {"precision": precision, "recall": recall, "f1": f1, "matched": matched, "predicted": predicted,
            "true_cuts": truth}


def check_settings(settings: Any) -> tuple[tuple[str, ...], int, int, float]:
    """(boundary fields, k, tolerance, change_below), or ValueError naming the temporal.* key and the fix."""
    fields = tuple(_setting(settings, "boundary_fields", BOUNDARY_FIELDS))
    unknown = [f for f in fields if f not in BOUNDARY_FIELDS]
    if unknown or not fields:
        raise ValueError(f"temporal.boundary_fields: unknown field(s) {unknown} (choose from {list(BOUNDARY_FIELDS)})")
    k = int(_setting(settings, "k", 3))
    if not 1 <= k <= len(fields):
        raise ValueError(f"temporal.k={k}: must be between 1 and the number of boundary fields ({len(fields)})")
    tolerance = int(_setting(settings, "tolerance", 0))
    change_below = float(_setting(settings, "change_below", 0.5))
    if tolerance < 0 or not 0.0 <= change_below <= 1.0:
        raise ValueError("temporal.tolerance must be >= 0 and temporal.change_below within [0, 1]")
    return fields, k, tolerance, change_below


def temporal_scores(items: Iterable[TemporalItem | tuple], settings: Any = None, *, seed: int = 0,
                    replicates: int = BOOTSTRAP_REPLICATES, load_caption: Any = None) -> dict[str, Any]:
    """The temporal section of a scoring (see the module docstring), or {"applicable": False, ...} when no two
    frames of a video have timestamps. settings: bench.config.TemporalConfig or a mapping with its keys.
    load_caption: when given, an item's `caption` is a key (None: no caption) and load_caption(key) gives the
    caption when its video is scored: one video's captions are held at a time, not every frame's."""
    fields, k_cfg, tolerance, change_below = check_settings(settings)

    skipped: Counter[str] = Counter()
    videos: dict[str, list[tuple[float, str, int, Any]]] = defaultdict(list)
    seen = 0
    for n, raw in enumerate(items):
        item = raw if isinstance(raw, TemporalItem) else TemporalItem(*raw)
        seen += 1
        t = _timestamp(item.timestamp_s)
        if item.video in (None, ""):
            skipped["no_video"] += 1
            continue
        if t is None:
            skipped["no_timestamp"] += 1
            continue
        videos[str(item.video)].append((t, str(item.frame_id), n, item if load_caption is not None else
                                        _compact(item, t)))

    out_of_order = duplicates = single = 0
    pair_reasons: Counter[str] = Counter()
    exact_hold: list[list[int]] = [[] for _ in EXACT_FIELDS]
    text_rows: list[list[float]] = []  # per within-shot pair: TEXT_FIELDS similarities + object Jaccard
    flicker_chances = flickers = 0
    truth_total = 0
    # per k: (matched, predicted) summed over videos
    per_k = {k: [0, 0] for k in range(1, len(fields) + 1)}
    frames_used = within_pairs = cut_pairs = 0
    # how many boundary fields changed, per scored pair: [at true cuts, within shots] histograms (for the AUC)
    changed_hist = np.zeros((2, len(fields) + 1), dtype=np.int64)
    for video in sorted(videos):
        entries = videos[video]
        arrival = [e[2] for e in sorted(entries, key=lambda e: (e[0], e[1]))]
        if arrival != sorted(arrival):
            out_of_order += 1
        entries.sort(key=lambda e: (e[0], e[1]))
        seq: list[_Frame] = []
        for t, _fid, _n, fr in entries:
            if seq and seq[-1].t == t:
                duplicates += 1  # same instant twice: keep the first by frame id
                continue
            if load_caption is not None:
                key = fr.caption
                fr = _compact(fr._replace(caption=None if key is None else load_caption(key)), t)
            seq.append(fr)
        del videos[video][:]  # this video is done: its entries go (its compacted frames go with seq)
        if len(seq) < 2:
            single += 1
            continue
        frames_used += len(seq)
        truth: list[int] = []
        predicted: dict[int, list[int]] = {k: [] for k in per_k}
        for j, (a, b) in enumerate(zip(seq, seq[1:], strict=False)):
            if a.shot is None or b.shot is None:
                pair_reasons["unknown_shot"] += 1
                continue
            cut = a.shot != b.shot
            if cut:
                truth.append(j)
                cut_pairs += 1
            else:
                within_pairs += 1
            if a.exact is None or b.exact is None:
                pair_reasons["no_caption"] += 1  # no evidence: a cut here counts as missed
                continue
            changed = _changes(a, b, fields, change_below)
            changed_hist[0 if cut else 1, changed] += 1
            for k in per_k:
                if changed >= k:
                    predicted[k].append(j)
            if not cut:
                for i in range(len(EXACT_FIELDS)):
                    exact_hold[i].append(int(a.exact[i] == b.exact[i]))
                text_rows.append([jaccard(a.text[i], b.text[i]) for i in range(len(TEXT_FIELDS))]  # type: ignore[index]
                                 + [jaccard(a.objects, b.objects)])  # type: ignore[arg-type]
        for a, b, c in zip(seq, seq[1:], seq[2:], strict=False):
            if a.shot is None or not (a.shot == b.shot == c.shot) or a.objects is None or b.objects is None \
                    or c.objects is None:
                continue
            both = a.objects & c.objects
            flicker_chances += len(both)
            flickers += len(both - b.objects)
        truth_total += len(truth)
        for k in per_k:
            per_k[k][0] += match_boundaries(truth, predicted[k], tolerance)
            per_k[k][1] += len(predicted[k])

    if frames_used == 0:
        return {"applicable": False, "version": TEMPORAL_VERSION, "frames": seen,
                "reason": "no video has two frames with timestamps (frames need `video` and `timestamp_s`)",
                "skipped_frames": dict(skipped), "single_frame_videos": single, "duplicate_timestamps": duplicates}

    per_field: dict[str, Any] = {}
    for i, f in enumerate(EXACT_FIELDS):
        r = rate(sum(exact_hold[i]), len(exact_hold[i]))
        per_field[f] = {"value": r["rate"], "ci95": r["ci95"], "n": r["n"], "kind": "exact match rate"}
    table = np.array(text_rows, dtype=float).reshape(-1, len(TEXT_FIELDS) + 1)
    means = bootstrap_means(table, replicates=replicates, seed=seed)
    for i, f in enumerate(TEXT_FIELDS):
        per_field[f] = {"value": means[i]["mean"], "ci95": means[i]["ci95"], "n": means[i]["n"],
                        "kind": "mean word-set Jaccard"}
    values = [v["value"] for v in per_field.values() if v["value"] is not None]
    by_k = {k: prf(m, p, truth_total) for k, (m, p) in per_k.items()}
    scorable = [k for k in by_k if by_k[k]["f1"] is not None]
    best_k = max(scorable, key=lambda k: (by_k[k]["f1"], -k)) if scorable else None
    flicker = rate(flickers, flicker_chances)
    scored_pairs = int(changed_hist.sum())
    # the trivial detector that calls every scored pair a boundary: what an F1 must beat to mean anything
    chance = prf(int(changed_hist[0].sum()), scored_pairs, truth_total) if scored_pairs else None
    return {
        "applicable": True, "version": TEMPORAL_VERSION, "frames": seen, "frames_in_sequences": frames_used,
        "videos": len(videos) - single, "within_shot_pairs": within_pairs, "true_cuts": cut_pairs,
        "stability": float(np.mean(values)) if values else None,
        "stability_fields": list(STABILITY_FIELDS),
        "field_stability": per_field,
        "object_persistence": {"value": means[-1]["mean"], "ci95": means[-1]["ci95"], "n": means[-1]["n"],
                               "kind": "mean Jaccard of object-name sets"},
        "flicker": {"rate": flicker["rate"], "ci95": flicker["ci95"], "flickers": flickers,
                    "chances": flicker_chances},
        "boundaries": {"fields": list(fields), "k": k_cfg, "tolerance": tolerance, "change_below": change_below,
                       **by_k[k_cfg], "best_k": best_k, "best_f1": by_k[best_k]["f1"] if best_k else None,
                       "chance_f1": chance["f1"] if chance else None, "auc": boundary_auc(changed_hist),
                       "by_k": {str(k): v for k, v in by_k.items()}},
        "skipped_frames": dict(skipped), "out_of_order_videos": out_of_order, "duplicate_timestamps": duplicates,
        "single_frame_videos": single, "pairs_not_scored": dict(pair_reasons),
        "settings": {"boundary_fields": list(fields), "k": k_cfg, "tolerance": tolerance,
                     "change_below": change_below},
    }


def run_items(records: Iterable[Mapping[str, Any]], frame_meta: Mapping[str, Mapping[str, Any]] | None = None,
              valid: Any = None) -> Iterable[TemporalItem]:
    """generations.jsonl records as TemporalItems. video/shot/timestamp_s come from the record (capbench writes
    them since temporal scores) or, for older records, from `frame_meta` (frame id -> the dataset frame's meta).
    valid(record) says whether the caption counts (default: bench.score.references.is_valid, schema-valid)."""
    if valid is None:
        from bench.score.references import is_valid as valid
    for rec in records:
        fid = str(rec.get("frame_id"))
        meta = rec if "timestamp_s" in rec or "video" in rec else (frame_meta or {}).get(fid) or {}
        caption = rec.get("caption") if valid(rec) and isinstance(rec.get("caption"), dict) else None
        yield TemporalItem(fid, meta.get("video"), meta.get("shot"), meta.get("timestamp_s"), caption)


def needs_frame_meta(records: Iterable[Mapping[str, Any]]) -> bool:
    """Some record predates temporal fields: the dataset's frames must say where it sits in time."""
    return any("timestamp_s" not in r and "video" not in r for r in records)


def summary_lines(t: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) rows for the console summaries (bench.summary, python -m bench.score): stability and
    boundaries, each only when it was measured (within-shot pairs; pairs with known shots)."""
    if not t or not t.get("applicable"):
        return []  # stills (no frame in time): nothing to say; the scoring's JSON keeps the reason
    fs = t.get("field_stability") or {}
    ct = (fs.get("content_type") or {}).get("value")
    op = (t.get("object_persistence") or {}).get("value")
    fl = (t.get("flicker") or {}).get("rate")
    b = t.get("boundaries") or {}

    def pct(x: Any) -> str:
        return "—" if x is None else f"{x:.0%}"

    def num(x: Any) -> str:
        return "—" if x is None else f"{x:.2f}"

    sim = " (SIMULATED model)" if t.get("model_simulated") else ""
    rows = []
    # a row only when there is something to say: frames in time but no shot ids (e.g. the sample's keyframes) give
    # no within-shot pair and no cut, and a row of dashes and "best k=None" says nothing
    if t.get("within_shot_pairs") and (t.get("stability") is not None or op is not None):
        rows.append((f"temporal stability{sim}",
                     f"{num(t.get('stability'))} over {t.get('within_shot_pairs')} within-shot pairs (content type "
                     f"holds {pct(ct)}, object Jaccard {num(op)}, flicker {pct(fl)})"))
    if b.get("true_cuts"):  # without a true cut every F1 is 0 or undefined
        rows.append((f"scene boundaries{sim}",
                     f"F1 {num(b.get('f1'))} at k={b.get('k')} (P {num(b.get('precision'))}, R "
                     f"{num(b.get('recall'))}, {b.get('true_cuts')} true cuts, tolerance {b.get('tolerance')}); best "
                     f"k={b.get('best_k')} F1 {num(b.get('best_f1'))}; chance F1 {num(b.get('chance_f1'))}; AUC "
                     f"{num(b.get('auc'))}"))
    return rows
