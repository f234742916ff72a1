"""Batch prices: the price database's batch price for the model when it has one (genai-prices prices
`processing: batch` variants, with their own source and verification date), else the on-demand list
price x the provider's documented batch discount (source and date kept next to it)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any


@dataclass(frozen=True)
class BatchPrice:
    input_per_million: float | None
    output_per_million: float | None
    source: str


def batch_price(price: Any, discount: float, discount_source: str) -> BatchPrice:
    """`price` is the model's resolved PriceConfig (bench.prices.resolve_price already ran)."""
    if price.catalog_provider and price.catalog_model:
        found = _catalog_batch(price.catalog_provider, price.catalog_model)
        if found is not None:
            return found
    if price.input_per_million is None or price.output_per_million is None:
        return BatchPrice(None, None, "no price")
    return BatchPrice(price.input_per_million * discount, price.output_per_million * discount,
                      f"{price.source or 'list price'} ({price.date or 'undated'}) x {discount:g}: {discount_source}")


def _catalog_batch(provider: str, model: str) -> BatchPrice | None:
    from genai_prices import Usage, calc_price

    try:
        calc = calc_price(Usage(input_tokens=1_000, output_tokens=1_000), model_ref=model, provider_id=provider,
                          price_context={"processing": "batch"})
    except LookupError:
        return None
    variants = calc.model.price_variants or []
    if not any((v.when or {}).get("processing") == "batch" for v in variants):
        return None  # no batch price in the database: the caller applies the documented discount
    return BatchPrice(float(calc.input_price) * 1e3, float(calc.output_price) * 1e3,
                      f"genai-prices {version('genai-prices')} batch price ({provider}/{calc.model.id})")
