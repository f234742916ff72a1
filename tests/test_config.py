"""Every config choice composes against the structured schema; typos fail with the key's name."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError

from bench.__main__ import conf_dir
from bench.app import ConfigError, api_key_for, check_config
from bench.config import register

register()
MODELS = sorted(p.stem for p in (Path(conf_dir()) / "model").glob("*.yaml") if not p.stem.startswith("_"))
NEEDS = {"openai_compatible": ["model.base_url=http://127.0.0.1:8000/v1", "model.name=some-model"],
         "cliptagger_bf16": ["model.vllm.model=/weights/cliptagger-bf16"]}


def _compose(*overrides):
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_prompt_is_the_seed_prompt_verbatim():
    cfg = _compose()
    assert len(cfg.prompt.user) == 2525  # MISSION.md: the user prompt is 2,525 characters
    assert cfg.prompt.user.startswith("You are an image annotation API trained to analyze YouTube video keyframes.")
    assert cfg.prompt.user.rstrip().endswith("Output **only the JSON**, no extra text or explanation.")
    assert "just get right into the details." in cfg.prompt.system
    assert set(cfg.prompt.json_schema.required) == {"description", "objects", "actions", "environment",
                                                    "content_type", "specific_style", "production_quality",
                                                    "summary", "logos"}
    s = cfg.model.sampling  # the seed's recommended sampling
    assert (s.temperature, s.max_tokens, s.response_format, s.image_detail) == (0.1, 2000, "json_object", "high")


@pytest.mark.parametrize("model", MODELS)
def test_every_model_config_composes(model):
    cfg = _compose(f"model={model}", *NEEDS.get(model, []))
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    check_config(cfg)
    if cfg.model.price.input_per_million is not None:
        assert cfg.model.price.source and cfg.model.price.date, f"{model}: a price needs its source and date"
    if cfg.model.gpu.hourly_usd is not None:
        assert cfg.model.gpu.source and cfg.model.gpu.date, f"{model}: a GPU price needs its source and date"


@pytest.mark.parametrize("override", ["model.temprature=0.2", "runner.concurency=3", "dataset.max_sid=5"])
def test_misspelt_key_fails_with_its_name(override):
    with pytest.raises((ConfigCompositionException, ConfigKeyError)) as exc:
        _compose(override)
    assert override.split("=")[0].split(".")[-1] in str(exc.value) + str(exc.value.__cause__)


def test_missing_dataset_path_is_named_not_a_traceback():
    with pytest.raises(ConfigError, match=r"dataset.path needs a value"):
        check_config(_compose("dataset=folder"))


def test_required_values_are_named():
    with pytest.raises(ConfigError, match=r"model.vllm.model needs a value: the weights"):
        check_config(_compose("model=cliptagger_bf16"))


@pytest.mark.parametrize("override", ["+model.sampling.temprature=0.2", "+runner.concurency=3", "+banana=1"])
def test_keys_added_with_plus_are_still_checked(override):
    with pytest.raises(ConfigError, match="not a setting capbench knows"):
        check_config(_compose(override))


def test_free_form_dicts_take_any_key():
    check_config(_compose("+model.extra_body.top_k=20", "+model.extra_headers.X-Team=vision"))


@pytest.mark.parametrize("override, key", [("dataset.max_side=0", "dataset.max_side"),
                                           ("model.price.input_per_million=nan", "model.price.input_per_million"),
                                           ("model.gpu.hourly_usd=-1", "model.gpu.hourly_usd")])
def test_numbers_out_of_range_are_named(override, key):
    with pytest.raises(ConfigError, match=key):
        check_config(_compose(override))


def test_wrong_type_fails():
    with pytest.raises(ConfigCompositionException):
        _compose("runner.concurrency=lots")


def test_semantic_checks_name_key_and_fix():
    cfg = _compose("runner=open", "runner.rate=null", "model.sim.malformed_rate=2")
    with pytest.raises(ConfigError) as exc:
        check_config(cfg)
    assert "runner.rate" in str(exc.value) and "model.sim.malformed_rate" in str(exc.value)


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        api_key_for(_compose("model=gpt-4.1"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert api_key_for(_compose("model=gpt-4.1")) == "sk-test"


def test_a_schema_openai_strict_mode_would_refuse_is_named_before_the_run():
    cfg = _compose("model=gpt-4.1", "model.sampling.response_format=json_schema",
                   "prompt.json_schema.additionalProperties=true")
    with pytest.raises(ConfigError, match=r"strict: true.*\$: set additionalProperties: false"):
        check_config(cfg)
    check_config(_compose("model=gpt-4.1", "model.sampling.response_format=json_schema"))  # the shipped one is fine


def test_a_batch_run_over_replicas_is_refused_before_the_run():
    cfg = _compose("runner=batch", "model=openai_compatible", "model.name=m",
                   "model.base_url=[http://127.0.0.1:1/v1,http://127.0.0.1:2/v1]")
    with pytest.raises(ConfigError, match="runner=batch sends to one provider endpoint"):
        check_config(cfg)
