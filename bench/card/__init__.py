"""The ClipTagger-12B model card, reproduced by one command (`python -m bench experiment=cliptagger_card`).

bench.card.run: the pipeline (teacher, models, scores, pairwise ranking, card.json, report);
bench.card.published: the card's published figures, each with its source and date;
bench.card.table: the card's table (measured beside published) and the differences in method.
"""

from bench.card.run import run_card

__all__ = ["run_card"]
