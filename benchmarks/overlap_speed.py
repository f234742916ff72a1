"""Overlap scoring speed: naive rouge-score / sacrebleu per pair vs bench.score.overlap, on 100k pairs.

    python benchmarks/overlap_speed.py [--pairs 100000] [--naive-subset 2000] [--workers N]

The pairs are canonical caption texts (bench.score.canonical) made from the
sample's hand-written references: each reference is paraphrased into a
distinct "teacher" text and degraded at a random quality into a "student"
text (bench.sim.captions.degrade), so no two pairs are the same and the
texts have real caption lengths (~150 tokens).

Naive = `RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True).score(ref, cand)` and
`sacrebleu.sentence_bleu(cand, [ref])` per pair, timed on a subset and
extrapolated to all pairs (said so in the table). Ours is timed on all pairs.
The bit-identical check compares every score of the subset with `==`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import sacrebleu
from rouge_score import rouge_scorer

from bench.score.canonical import canonical_text
from bench.score.overlap import _Scorer, default_workers, score_pairs
from bench.sim.captions import degrade

ROOT = Path(__file__).resolve().parent.parent


def make_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    refs = [r["reference"] for r in map(json.loads, (ROOT / "datasets/sample/manifest.jsonl").open())
            if r.get("reference")]
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        teacher = degrade(refs[i % len(refs)], 0.9, random.Random(f"t{seed}:{i}"))
        student = degrade(teacher, rng.uniform(0.3, 1.0), random.Random(f"s{seed}:{i}"))
        pairs.append((canonical_text(student), canonical_text(teacher)))
    return pairs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--naive-subset", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=default_workers())
    args = ap.parse_args()

    t0 = time.perf_counter()
    pairs = make_pairs(args.pairs)
    print(f"made {len(pairs)} (candidate, reference) pairs in {time.perf_counter() - t0:.1f}s; "
          f"mean reference length {sum(len(r.split()) for _, r in pairs[:1000]) / 1000:.0f} words", flush=True)
    subset = pairs[: args.naive_subset]

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    t0 = time.perf_counter()
    naive_rouge = [scorer.score(ref, cand) for cand, ref in subset]
    t_rouge = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive_bleu = [sacrebleu.sentence_bleu(cand, [ref]).score for cand, ref in subset]
    t_bleu = time.perf_counter() - t0

    fresh = _Scorer()  # ROUGE alone, like for like with the naive ROUGE row (no warm caches)
    t0 = time.perf_counter()
    for cand, ref in subset:
        fresh.rouge(ref, cand)
    t_rouge_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_1 = score_pairs(subset, workers=1)
    t_ours_sub = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_all = score_pairs(pairs, workers=args.workers)
    t_ours = time.perf_counter() - t0

    n, k = len(pairs), len(subset)
    mismatches = 0
    for nr, nb, o, oa in zip(naive_rouge, naive_bleu, ours_1, ours_all[:k], strict=True):
        expect = (nr["rouge1"].fmeasure * 100, nr["rouge2"].fmeasure * 100, nr["rougeL"].fmeasure * 100, nb)
        mismatches += sum(a != b for a, b in zip(expect, (o.rouge1, o.rouge2, o.rougeL, o.bleu), strict=True))
        mismatches += sum(a != b for a, b in zip(expect, (oa.rouge1, oa.rouge2, oa.rougeL, oa.bleu), strict=True))

    scale = n / k
    rows = [
        ("naive rouge-score per pair (R1+R2+RL)", k, t_rouge, t_rouge * scale, True),
        ("naive sacrebleu.sentence_bleu per pair", k, t_bleu, t_bleu * scale, True),
        ("naive rouge-score + sentence_bleu", k, t_rouge + t_bleu, (t_rouge + t_bleu) * scale, True),
        ("bench.score.overlap ROUGE only, 1 process", k, t_rouge_ours, t_rouge_ours * scale, True),
        ("bench.score.overlap, 1 process (R1+R2+RL+BLEU)", k, t_ours_sub, t_ours_sub * scale, True),
        (f"bench.score.overlap, {args.workers} processes (R1+R2+RL+BLEU)", n, t_ours, t_ours, False),
    ]
    base = t_rouge * scale
    print(f"\n{'method':<52} {'pairs timed':>11} {'seconds':>9} {'pairs/s':>9} {f'{n // 1000}k pairs, s':>14} "
          f"{'vs naive ROUGE':>15}")
    for name, timed, secs, full, extrapolated in rows:
        est = f"{full:.1f}" + ("*" if extrapolated and timed != n else "")
        print(f"{name:<52} {timed:>11} {secs:>9.2f} {timed / secs:>9.0f} {est:>14} {base / full:>14.1f}x")
    print("* extrapolated from the timed subset (the naive path is linear in the number of pairs)")
    print(f"cores: {default_workers()}; bit-identical check on {k} pairs (ROUGE-1/2/L F and sentence BLEU, "
          f"1-process and parallel results): {'OK, 0 mismatches' if not mismatches else f'{mismatches} MISMATCHES'}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
