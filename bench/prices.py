"""List prices from an offline price database, with per-model overrides in config.

A model config either states its prices ($ per 1M tokens, with source and
date) or names a catalog entry (`price.catalog_provider`, `price.catalog_model`)
that is looked up in genai-prices, a maintained price database that ships its
data inside the package (no network). Stated prices win. The prices used are
written into the run's config.yaml and metrics.json.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import version

from omegaconf import DictConfig

from bench.config import PriceConfig

# Price at a frame-sized request, below any long-context tier (Gemini 2.5 Pro
# doubles its price above 200k input tokens).
_PROBE_INPUT, _PROBE_OUTPUT = 1_000, 1_000


class PriceLookupError(Exception):
    pass


def catalog_price(provider: str, model: str) -> tuple[float, float, str]:
    """($/1M input, $/1M output, source) for a model in genai-prices' bundled data."""
    from genai_prices import Usage, calc_price

    try:
        calc = calc_price(Usage(input_tokens=_PROBE_INPUT, output_tokens=_PROBE_OUTPUT), model_ref=model,
                          provider_id=provider)
    except LookupError as exc:
        raise PriceLookupError(f"genai-prices has no price for {provider}/{model}: set model.price.input_per_million "
                               "and model.price.output_per_million (with source and date) instead") from exc
    per_in = float(calc.input_price) * 1e6 / _PROBE_INPUT
    per_out = float(calc.output_price) * 1e6 / _PROBE_OUTPUT
    return per_in, per_out, f"genai-prices {version('genai-prices')} bundled price data ({provider}/{calc.model.id})"


def resolve_price(price: PriceConfig | DictConfig) -> None:
    """Fill in catalog prices where the config states none (in place)."""
    if price.input_per_million is not None and price.output_per_million is not None:
        return
    if not (price.catalog_provider and price.catalog_model):
        return
    per_in, per_out, source = catalog_price(price.catalog_provider, price.catalog_model)
    if price.input_per_million is None:
        price.input_per_million = per_in
    if price.output_per_million is None:
        price.output_per_million = per_out
    price.source = price.source or source
    # The package version dates the data (its release); genai-prices' snapshot "timestamp" is only when the
    # snapshot object was made in this process (datetime.now), so it must not be shown as the data's date.
    price.date = price.date or f"looked up {datetime.now(UTC).date().isoformat()} in the data bundled with the source"
