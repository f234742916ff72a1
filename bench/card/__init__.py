"""The ClipTagger-12B model card, reproduced by one command (`python -m bench experiment=cliptagger_card`).

bench.card.run: the pipeline (teacher, models, scores, pairwise ranking, card.json, report);
bench.card.published: the card's published figures, each with its source and date;
bench.card.table: the card's table (measured beside published) and the differences in method.
"""

from __future__ import annotations

from typing import Any


def run_card(cfg: Any, console: Any = None) -> int:
    """bench.card.run.run_card, imported when called: the report reads bench.card.published without the pipeline."""
    from bench.card.run import run_card as run

    return run(cfg, console)


__all__ = ["run_card"]
