"""The model catalog (conf/model/) stays in step with the price database, and lists what a run would use."""

import json

import pytest
from genai_prices import data_snapshot

from bench.backends.families import check_request_shape, family_of
from bench.models import catalog, main

CURRENT = {"gpt-5.6-sol", "gpt-5.4-mini", "claude-sonnet-4-6", "claude-opus-4-8", "gemini-3.1-pro",
           "gemini-3.8-flash", "qwen3-vl-8b"}
CARD = {"cliptagger", "cliptagger_bf16", "cliptagger_api", "gpt-4.1", "claude-sonnet-4", "gemini-2.5-pro",
        "gemini-2.5-flash", "qwen2.5-vl-7b"}


@pytest.fixture(scope="module")
def entries():
    return {e.config: e for e in catalog()}


@pytest.fixture(scope="module")
def composed():
    """Each conf/model/*.yaml composed as a run composes it (prices not yet resolved)."""
    from hydra import compose, initialize_config_dir

    from bench.models import conf_dir, config_names

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return {name: compose(config_name="config", overrides=[f"model={name}"]).model for name in config_names()}


def test_catalog_keeps_the_cards_models_and_has_current_ones(entries):
    assert CARD | CURRENT <= set(entries)
    assert all(family_of(entries[c].backend, entries[c].name).reasoning for c in CURRENT - {"qwen3-vl-8b"})


def test_every_entry_has_a_price_with_source_and_date(entries):
    for e in entries.values():
        if e.hosting == "self-hosted":
            assert e.gpu_hourly_usd is not None or e.config == "openai_compatible", e.config
            continue
        assert e.price_error is None, e.price_error
        assert e.price_in is not None and e.price_out is not None, f"{e.config} has no price"
        assert e.price_source and e.price_date, f"{e.config}: price without source or date"


def test_catalog_ids_are_known_to_the_price_database(composed):
    """A config naming a provider or model genai-prices does not know fails here, not at run time."""
    snap = data_snapshot.get_snapshot()
    providers = {p.id: p for p in snap.providers}
    checked = 0
    for name, model in composed.items():
        price = model.price
        if not price.catalog_provider:
            continue
        assert price.catalog_provider in providers, f"{name}: provider {price.catalog_provider!r} unknown"
        provider = providers[price.catalog_provider]
        # The provider's own entry (matched by its id or match rules, e.g. claude-sonnet-4-20250514), not a
        # look-alike from another provider.
        model = provider.find_model(price.catalog_model)
        assert model is not None and any(m is model for m in provider.models), \
            f"{name}: {price.catalog_provider}/{price.catalog_model} unknown to genai-prices"
        checked += 1
    assert checked >= 11


def test_prices_of_current_models(entries):
    # genai-prices 0.2.3 (bundled data, looked up 2026-11-30): GPT-5.6 Sol after the 2026-08-21 cut,
    # Gemini 3.8 Flash intro rate.
    assert (entries["gpt-5.6-sol"].price_in, entries["gpt-5.6-sol"].price_out) == pytest.approx((4.0, 20.0))
    assert (entries["claude-opus-4-8"].price_in, entries["claude-opus-4-8"].price_out) == pytest.approx((5.0, 25.0))
    assert (entries["gemini-3.8-flash"].price_in, entries["gemini-3.8-flash"].price_out) == pytest.approx((0.75, 3.75))


def test_every_catalog_config_passes_its_own_request_check(composed):
    for name, model in composed.items():
        model_name = "x" if name == "openai_compatible" else model.name
        assert check_request_shape(model.backend, model_name, model.sampling) == [], name


def test_listing_says_whether_a_key_is_set_and_never_prints_it(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["--json"]) == 0
    out = capsys.readouterr().out
    assert "sk-secret-value-123" not in out
    rows = {r["config"]: r for r in map(json.loads, out.splitlines())}
    assert rows["gpt-5.6-sol"]["key_set"] is True and rows["gpt-5.6-sol"]["key_env"] == "OPENAI_API_KEY"
    assert rows["claude-opus-4-8"]["key_set"] is False
    assert rows["sim"]["key_env"] is None and rows["sim"]["simulated"] is True
    assert main([]) == 0
    table = capsys.readouterr().out
    assert "gpt-5.6-sol" in table and "NOT SET" in table and "sk-secret" not in table
