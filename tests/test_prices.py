import pytest

from bench.config import PriceConfig
from bench.cost import cost_per_million
from bench.prices import PriceLookupError, resolve_price


def test_catalog_prices_come_from_the_offline_database_with_source():
    price = PriceConfig(catalog_provider="openai", catalog_model="gpt-4.1")
    resolve_price(price)
    assert (price.input_per_million, price.output_per_million) == pytest.approx((2.0, 8.0))
    assert price.source.startswith("genai-prices") and price.date
    # the package version dates the data; the day of the look-up is not the data's date
    assert "looked up" in price.date and "data of" not in price.date
    assert cost_per_million(700, 250, price.input_per_million, price.output_per_million) == pytest.approx(3400)


def test_claude_sonnet_4_matches_the_seed_price():
    price = PriceConfig(catalog_provider="anthropic", catalog_model="claude-sonnet-4-20250514")
    resolve_price(price)
    assert cost_per_million(700, 250, price.input_per_million, price.output_per_million) == pytest.approx(5850)


def test_stated_prices_win_and_unknown_models_say_what_to_do():
    price = PriceConfig(input_per_million=3.0, output_per_million=12.0, source="fine-tuned GPT-4.1", date="2025",
                        catalog_provider="openai", catalog_model="gpt-4.1")
    resolve_price(price)
    assert (price.input_per_million, price.output_per_million, price.source) == (3.0, 12.0, "fine-tuned GPT-4.1")
    with pytest.raises(PriceLookupError, match="model.price.input_per_million"):
        resolve_price(PriceConfig(catalog_provider="openai", catalog_model="no-such-model-xyz"))
