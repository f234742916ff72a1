"""The ClipTagger-12B model card's published figures: the one home of every number the card section
compares against, each with its source and date.

Source: seed 001, "Introducing ClipTagger-12b: SoTA Video Understanding at 15x Lower Cost", Sam Hogan,
inference.net blog, published 2025-08-14 (also quoted in MISSION.md, "Published results"). Keys are this
project's model configs (conf/model/): the card's "ClipTagger-12B" is the FP8 checkpoint it describes
(`cliptagger`), "teacher" is whichever model the experiment uses as teacher (the card does not name its own).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

CARD_SOURCE = ("ClipTagger-12B model card: \"Introducing ClipTagger-12b\", Sam Hogan, inference.net blog "
               "(seed 001)")
CARD_DATE = "2025-08-14"
TEACHER = "teacher"  # the key of figures that belong to the card's (unnamed) teacher


@dataclass(frozen=True)
class Published:
    metric: str  # judge | rouge1 | rouge2 | rougeL | bleu | e2el_s | cost_per_million_usd
    model: str  # a conf/model/ name, or TEACHER
    value: float
    approx: bool = False  # the card says "approximately"
    quote: str = ""  # the card's own words
    source: str = CARD_SOURCE
    date: str = CARD_DATE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FIGURES: tuple[Published, ...] = (
    # "Using Gemini-2.5-Pro as an independent judge ... the model scores 3.53 compared to 3.64 for GPT-4.1 and
    # 3.16 for Claude 4 Sonnet." (scale and rubric not published)
    Published("judge", "cliptagger", 3.53, quote="Gemini-2.5-Pro judge: the model scores 3.53"),
    Published("judge", "gpt-4.1", 3.64, quote="3.64 for GPT-4.1"),
    Published("judge", "claude-sonnet-4", 3.16, quote="3.16 for Claude 4 Sonnet"),
    # "67.4% ROUGE-1, 40.4% ROUGE-2, 52.0% ROUGE-L, and 26.7% BLEU" against the teacher's outputs
    Published("rouge1", "cliptagger", 67.4, quote="67.4% ROUGE-1 vs the teacher's outputs"),
    Published("rouge2", "cliptagger", 40.4, quote="40.4% ROUGE-2"),
    Published("rougeL", "cliptagger", 52.0, quote="52.0% ROUGE-L"),
    Published("bleu", "cliptagger", 26.7, quote="26.7% BLEU"),
    # "processes frames in approximately 6.5 seconds end-to-end, compared to 13.5 seconds for the teacher"
    Published("e2el_s", "cliptagger", 6.5, approx=True, quote="approximately 6.5 seconds end-to-end"),
    Published("e2el_s", TEACHER, 13.5, approx=True, quote="13.5 seconds for the teacher model"),
    # "700 input tokens and 250 output tokens per frame ... $335 per million generations versus $5,100 for
    # GPT-4.1 or $5,850 for Claude 4 Sonnet"
    Published("cost_per_million_usd", "cliptagger", 335.0,
              quote="$0.30 / $0.50 per 1M tokens; 700 in + 250 out: $335 per million generations"),
    Published("cost_per_million_usd", "gpt-4.1", 5100.0, quote="$5,100 for GPT-4.1"),
    Published("cost_per_million_usd", "claude-sonnet-4", 5850.0, quote="$5,850 for Claude 4 Sonnet"),
)

METRICS: dict[str, str] = {  # metric -> its label, in the card's order
    "judge": "judge score (Gemini 2.5 Pro judge)",
    "rouge1": "ROUGE-1 vs teacher (%)",
    "rouge2": "ROUGE-2 vs teacher (%)",
    "rougeL": "ROUGE-L vs teacher (%)",
    "bleu": "BLEU vs teacher (%)",
    "e2el_s": "end-to-end latency per request (s)",
    "cost_per_million_usd": "$ per 1M generations",
}

# Qualitative claims of the card that have no number to put beside ours.
CLAIMS: tuple[dict[str, str], ...] = (
    {"claim": "FP8 shows no measurable quality loss vs BF16 based on judge scores", "models": "cliptagger, "
     "cliptagger_bf16", "source": CARD_SOURCE, "date": CARD_DATE},
)


# The same model under another config: hosted ClipTagger (inference.net's API) is the card's model and price.
ALIASES = {"cliptagger_api": "cliptagger"}


def published(metric: str, model: str, *, teacher: bool = False) -> Published | None:
    """The card's figure for this metric and model (the teacher's figures for the experiment's teacher)."""
    key = TEACHER if teacher else ALIASES.get(model, model)
    return next((f for f in FIGURES if f.metric == metric and f.model == key), None)
