"""The harness's ROUGE/BLEU against direct rouge-score / sacrebleu calls on the same texts: bit-identical."""

from __future__ import annotations

import random

import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from bench.score import overlap
from bench.score.canonical import canonical_text
from bench.score.overlap import corpus_bleu, score_pairs, tokenize_13a
from bench.sim.captions import degrade
from tests.conftest import SEED_CAPTION

WORDS = ("running runner runs ran the a wooden boardwalk Boardwalks grass GRASS sky-blue clouds 12 3.5 1,000 "
         "don't U.S. e-mail (left) [right] {x} 50% #tag @user é café naïve — ... ; : ! ? & < > \" ' / \\").split()


def random_text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)) + rng.choice(["", ".", " .", "\n"])


def caption_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ref = degrade(SEED_CAPTION, 0.9, random.Random(f"r{i}"))
        cand = degrade(ref, rng.uniform(0.2, 1.0), random.Random(f"c{i}"))
        out.append((canonical_text(cand), canonical_text(ref)))
    return out


def edge_pairs() -> list[tuple[str, str]]:
    rng = random.Random(1)
    pairs = [("", ""), ("", "a reference"), ("a candidate", ""), ("same text", "same text"), ("a", "a"),
             ("the the the", "the"), ("...", "!!!"), ("Running runs", "run ran running")]
    pairs += [(random_text(rng, rng.randrange(0, 40)), random_text(rng, rng.randrange(0, 40))) for _ in range(300)]
    return pairs


@pytest.mark.parametrize("pairs", [edge_pairs(), caption_pairs(120)], ids=["edge-texts", "captions"])
def test_rouge_and_bleu_bit_identical(pairs: list[tuple[str, str]]) -> None:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    ours = score_pairs(pairs, workers=1)
    for (cand, ref), o in zip(pairs, ours, strict=True):
        direct = scorer.score(ref, cand)  # rouge-score's argument order: (target, prediction)
        assert o.rouge1 == direct["rouge1"].fmeasure * 100
        assert o.rouge2 == direct["rouge2"].fmeasure * 100
        assert o.rougeL == direct["rougeL"].fmeasure * 100
        assert o.bleu == sacrebleu.sentence_bleu(cand, [ref]).score
    hyps, refs = [c for c, _ in pairs], [r for _, r in pairs]
    assert corpus_bleu([o.bleu_stats for o in ours]) == sacrebleu.corpus_bleu(hyps, [refs]).score


def test_13a_tokenizer_identical_to_sacrebleu() -> None:
    rng = random.Random(2)
    alphabet = "ab9 .,-'\"&;:<>!?()[]{}~`^_\\/@#$%*+=|\n\t0123é"
    tok = Tokenizer13a()
    for _ in range(3000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
        line += rng.choice(["", "&amp;", "&quot;x&lt;&gt;", "<skipped>", "-\n"])
        assert tokenize_13a(line) == tok(line)


def test_parallel_equals_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = caption_pairs(60, seed=3)
    monkeypatch.setattr(overlap, "PARALLEL_MIN_PAIRS", 10)
    monkeypatch.setattr(overlap, "_CHUNK", 16)
    assert score_pairs(pairs, workers=2) == score_pairs(pairs, workers=1)


def test_scores_are_percentages_and_ordered() -> None:
    good, bad = score_pairs([("a wooden boardwalk through green grass", "a wooden boardwalk through tall green grass"),
                             ("a red car on a road", "a wooden boardwalk through tall green grass")], workers=1)
    assert 0 <= bad.rougeL < good.rougeL <= 100 and 0 <= bad.bleu < good.bleu <= 100
    same = score_pairs([("identical words here", "identical words here")], workers=1)[0]
    assert (same.rouge1, same.rouge2, same.rougeL) == (100.0, 100.0, 100.0)
    assert same.bleu == pytest.approx(100.0)  # sacrebleu's own float: 100.00000000000004
