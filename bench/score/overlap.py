"""ROUGE-1/2/L (rouge-score, Porter stemming) and BLEU (sacrebleu), fast and bit-identical.

Calling `rouge_scorer.RougeScorer(..., use_stemmer=True).score()` per pair is
slow for millions of frames: it re-stems every word (nltk's Porter stemmer is
most of the time) and fills an O(m x n) Python table for the LCS. This module
computes the *same numbers* with the same formulas:

- tokens: rouge-score's own tokenizer steps (lowercase, non-alphanumerics to
  spaces, split, stem words longer than 3 characters, keep [a-z0-9]+), with
  each word's stem memoised (the stemmer is a pure function);
- ROUGE-N: the same n-gram counts, intersection and `scoring.fmeasure`;
- ROUGE-L: the LCS *length* with a bit-parallel algorithm (Allison-Dix /
  Hyyrö: one big-integer update per candidate token) instead of the table;
  precision, recall and F are then the same divisions of the same integers;
- BLEU: sacrebleu's own `BLEU` object (13a tokenizer, exp smoothing; effective
  order for sentence BLEU, as `sacrebleu.sentence_bleu` does), with each
  reference's n-grams extracted once; corpus BLEU from the summed statistics,
  as `sacrebleu.corpus_bleu` does;
- prepared texts (tokens, n-grams, LCS bit masks, BLEU reference n-grams) are
  cached per text, so a reference scored against several candidates (teacher
  vs many students, or the few distinct `content_type` values) is processed once;
- large batches are split across processes (the cores).

tests/score/test_overlap.py checks equality with direct rouge-score and
sacrebleu calls; benchmarks/overlap_speed.py measures the speed-up.
All scores are returned in percent (0-100), like the published 67.4 / 26.7.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import re
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from rouge_score.scoring import fmeasure
from sacrebleu.metrics.bleu import BLEU

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
METRICS = ("rouge1", "rouge2", "rougeL", "bleu")
PARALLEL_MIN_PAIRS = 4000  # below this, starting worker processes costs more than it saves
_CHUNK = 2000
# Prepared texts kept per process before the cache is reset. It pays off when a reference recurs (a
# teacher run scored against several candidates); 50k bounds it (~100 MB) at any run size.
_CACHE_MAX = 50_000

# rouge_score.tokenize's patterns, verbatim.
_NON_ALPHANUM = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")
_VALID = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True)
class PairScore:
    rouge1: float
    rouge2: float
    rougeL: float  # noqa: N815 (the metric's published name)
    bleu: float
    bleu_stats: tuple[int, ...]  # sacrebleu's sufficient statistics, summed for corpus BLEU

    def as_dict(self) -> dict[str, float]:
        return {"rouge1": self.rouge1, "rouge2": self.rouge2, "rougeL": self.rougeL, "bleu": self.bleu}


@dataclass
class _Prepared:
    n: int
    ids: list[int]
    unigrams: frozenset[Any]  # multisets as sets (see _as_set): a clipped count is the size of an intersection
    bigrams: frozenset[Any]
    masks: dict[int, int] | None = None  # token id -> bit positions, built when the text is a reference


class _Scorer:
    """One per process: caches stems, token ids, prepared texts and BLEU reference n-grams."""

    def __init__(self) -> None:
        from nltk.stem import porter  # here, not at import: 0.2 s that commands which don't score need not pay

        self._stemmer = porter.PorterStemmer()
        self._stems: dict[str, str] = {}
        self._vocab: dict[str, int] = {}
        self._prepared: dict[str, _Prepared] = {}
        self._bleu_refs: dict[str, tuple[int, list[frozenset[Any]]]] = {}
        self._bleu_hyps: dict[str, tuple[int, list[frozenset[Any]]]] = {}

    def tokens(self, text: str) -> list[str]:
        """rouge_score.tokenize.tokenize(text, PorterStemmer()), with memoised stems."""
        words = _SPACES.split(_NON_ALPHANUM.sub(" ", text.lower()))
        stems = self._stems
        out = []
        for w in words:
            if len(w) > 3:
                s = stems.get(w)
                if s is None:
                    s = stems[w] = self._stemmer.stem(w)
                w = s
            if _VALID.match(w):
                out.append(w)
        return out

    def prepare(self, text: str) -> _Prepared:
        p = self._prepared.get(text)
        if p is None:
            if len(self._prepared) > _CACHE_MAX:
                self._prepared.clear()
                self._bleu_refs.clear()
                self._bleu_hyps.clear()
            vocab = self._vocab
            ids = [vocab.setdefault(t, len(vocab)) for t in self.tokens(text)]
            # Bigram (a, b) as one int: ids are < 2**32 in any realistic vocabulary.
            bigrams = Counter((a << 32) | b for a, b in zip(ids, ids[1:], strict=False))
            p = _Prepared(len(ids), ids, _as_set(Counter(ids)), _as_set(bigrams))
            self._prepared[text] = p
        return p

    def rouge(self, target: str, prediction: str) -> tuple[float, float, float]:
        """F-measures (0-1) of rouge1, rouge2, rougeL exactly as RougeScorer.score(target, prediction)."""
        t, p = self.prepare(target), self.prepare(prediction)
        r1 = _ngram_f(t.unigrams, p.unigrams, t.n, p.n)
        r2 = _ngram_f(t.bigrams, p.bigrams, max(t.n - 1, 0), max(p.n - 1, 0))
        if not t.n or not p.n:
            rl: float = 0
        else:
            lcs = _lcs_length(t, p.ids)
            rl = fmeasure(lcs / p.n, lcs / t.n)
        return r1, r2, rl

    def bleu_stats(self, hypothesis: str, reference: str) -> list[int]:
        """sacrebleu's sentence statistics [hyp_len, ref_len, correct 1-4, total 1-4] for one reference."""
        ref = self._bleu_refs.get(reference)
        if ref is None:
            ref = self._bleu_refs[reference] = _bleu_ngrams(tokenize_13a(reference.rstrip()))
        hyp = self._bleu_hyps.get(hypothesis)
        if hyp is None:
            hyp = self._bleu_hyps[hypothesis] = _bleu_ngrams(tokenize_13a(hypothesis.rstrip()))
        correct = [len(h & r) for h, r in zip(hyp[1], ref[1], strict=True)]  # clipped counts, in C
        # One reference, so the "closest reference length" is its length.
        return [hyp[0], ref[0], *correct, *(max(0, hyp[0] - n) for n in range(_BLEU_ORDER))]

    def score(self, prediction: str, reference: str) -> PairScore:
        r1, r2, rl = self.rouge(reference, prediction)
        stats = self.bleu_stats(prediction, reference)
        return PairScore(r1 * 100, r2 * 100, rl * 100, sentence_bleu_score(stats), tuple(stats))


def sentence_bleu_score(stats: Sequence[int]) -> float:
    """`BLEU(effective_order=True)._compute_score_from_stats(stats).score` (sacrebleu.sentence_bleu's score: exp
    smoothing, effective order), the same float operations in the same order without building a BLEUScore,
    whose formatting was a third of BLEU's time. tests/score/test_overlap.py checks it equals sacrebleu's."""
    sys_len, ref_len = stats[0], stats[1]
    correct, total = stats[2:2 + _BLEU_ORDER], stats[2 + _BLEU_ORDER:]
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    if not any(correct):
        return 0.0
    precisions = [0.0] * _BLEU_ORDER
    smooth_mteval = 1.
    eff_order = _BLEU_ORDER
    for n in range(1, _BLEU_ORDER + 1):
        if total[n - 1] == 0:
            break
        eff_order = n
        if correct[n - 1] == 0:
            smooth_mteval *= 2
            precisions[n - 1] = 100. / (smooth_mteval * total[n - 1])
        else:
            precisions[n - 1] = 100. * correct[n - 1] / total[n - 1]
    return bp * math.exp(sum([_my_log(p) for p in precisions[:eff_order]]) / eff_order)


def _my_log(num: float) -> float:
    """sacrebleu.utils.my_log."""
    return -9999999999 if num == 0.0 else math.log(num)


def _ngram_f(target: frozenset[Any], pred: frozenset[Any], n_target: int, n_pred: int) -> float:
    """rouge_score.rouge_scorer._score_ngrams' F-measure; counts of n-grams are len - n + 1 (or 0)."""
    inter = len(target & pred)  # sum over n-grams of min(count in target, count in prediction)
    return fmeasure(inter / max(n_pred, 1), inter / max(n_target, 1))


def _as_set(counts: Counter[Any]) -> frozenset[Any]:
    """A multiset as a set: each n-gram g once, and (g, i) for its i-th repeat (i >= 1). For two such sets,
    |A & B| = sum over g of min(count_A(g), count_B(g)): the clipped counts ROUGE and BLEU use, computed by one
    set intersection in C instead of a Python loop per n-gram. (An n-gram is never itself a (g, i) pair: ROUGE's
    are ints, BLEU's str or tuples of str.)"""
    out: set[Any] = set(counts)
    for g, c in counts.items():
        if c > 1:
            out.update((g, i) for i in range(1, c))
    return frozenset(out)


def _lcs_length(target: _Prepared, prediction: list[int]) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyrö 2004), exact.

    Bit i of V is 0 where target[i] is matched by the LCS so far; one
    add/or/and per candidate token replaces a row of the O(m x n) table.
    """
    if target.masks is None:
        masks: dict[int, int] = {}
        for i, tok in enumerate(target.ids):
            masks[tok] = masks.get(tok, 0) | (1 << i)
        target.masks = masks
    masks = target.masks
    full = (1 << target.n) - 1
    v = full
    for tok in prediction:
        u = v & masks.get(tok, 0)
        if u:
            v = ((v + u) | (v - u)) & full
    return target.n - v.bit_count()


# ---- BLEU statistics, computed like sacrebleu (13a tokenizer, n-grams 1-4), faster ---------------------------
# sacrebleu's TokenizerRegexp first puts spaces around every character of this class with a regex whose
# replacement template runs once per match (every space matches); str.translate does the same in C. The other
# three rules are sacrebleu's own regexes, applied in the same order.
_BLEU_ORDER = 4
_SPACED = [chr(c) for c in (*range(0x20, 0x27), *range(0x28, 0x2C), 0x2F, *range(0x3A, 0x41), *range(0x5B, 0x61),
                            *range(0x7B, 0x7F))]
_SPACE_PUNCT = str.maketrans({c: f" {c} " for c in _SPACED})
_RULES = [(re.compile(r"([^0-9])([\.,])"), r"\1 \2 "), (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
          (re.compile(r"([0-9])(-)"), r"\1 \2 ")]


def tokenize_13a(line: str) -> str:
    """sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()(line), same output (tests/score/test_overlap.py)."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} ".translate(_SPACE_PUNCT)
    for pattern, repl in _RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def _bleu_ngrams(tokenized: str) -> tuple[int, list[frozenset[Any]]]:
    """(length, [n-grams for n = 1..4 as multiset-sets, _as_set]): sacrebleu's extract_all_word_ngrams, split by
    order."""
    toks = tokenized.split()
    grams = [_as_set(Counter(toks))]
    for n in range(2, _BLEU_ORDER + 1):
        grams.append(_as_set(Counter(zip(*(toks[i:] for i in range(n)), strict=False))))
    return len(toks), grams


_SCORER: _Scorer | None = None


def _scorer() -> _Scorer:
    global _SCORER
    if _SCORER is None:
        _SCORER = _Scorer()
    return _SCORER


def _score_chunk(pairs: Sequence[tuple[str, str]]) -> list[PairScore]:
    s = _scorer()
    return [s.score(pred, ref) for pred, ref in pairs]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def score_pairs(pairs: Sequence[tuple[str, str]], *, workers: int | None = None) -> list[PairScore]:
    """Score (prediction, reference) text pairs; order kept. Parallel across processes for large batches."""
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or len(pairs) < PARALLEL_MIN_PAIRS:
        return _score_chunk(pairs)
    # fork is the cheapest start and needs no re-import of __main__, but forking a process whose other
    # threads may hold locks can deadlock the child: then start workers from a clean forkserver.
    methods = mp.get_all_start_methods()
    method = "fork" if "fork" in methods and threading.active_count() == 1 else (
        "forkserver" if "forkserver" in methods else "spawn")
    chunks = [pairs[i:i + _CHUNK] for i in range(0, len(pairs), _CHUNK)]
    out: list[PairScore] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method)) as pool:
        for part in pool.map(_score_chunk, chunks):
            out.extend(part)
    return out


def corpus_bleu(stats: Sequence[Sequence[int]]) -> float | None:
    """sacrebleu.corpus_bleu's score from per-pair statistics (None when there are none)."""
    if not stats:
        return None
    summed = [sum(col) for col in zip(*stats, strict=True)]
    return BLEU()._compute_score_from_stats(summed).score
