import json

import pytest

from bench.validity import assess, count_sentences, extract_json


def test_seed_caption_is_valid_on_every_rung(prompt, caption):
    v, parsed = assess(json.dumps(caption), "stop", prompt.json_schema, prompt.rules)
    assert v.category == "valid", v.reasons
    assert (v.json_strict, v.json_lenient, v.schema_valid, v.rules_ok) == (True, True, True, True)
    assert parsed == caption


def test_code_fence_and_prose_pass_only_the_lenient_rung(prompt, caption):
    text = "Sure! Here is the JSON:\n```json\n" + json.dumps(caption) + "\n```\nHope this helps."
    v, parsed = assess(text, "stop", prompt.json_schema, prompt.rules)
    assert not v.json_strict and v.json_lenient and v.schema_valid
    assert v.category == "valid" and parsed == caption


def test_broken_json_is_not_repaired(prompt, caption):
    text = json.dumps(caption)[:-1]  # missing closing brace
    v, parsed = assess(text, "stop", prompt.json_schema, prompt.rules)
    assert v.category == "not_json" and parsed is None and not v.json_lenient


def test_truncation_is_its_own_category(prompt, caption):
    text = json.dumps(caption)[:120]
    v, _ = assess(text, "length", prompt.json_schema, prompt.rules)
    assert v.category == "truncated"
    assert any("token limit" in r for r in v.reasons)


def test_missing_key_wrong_type_and_extra_key_name_the_fields(prompt, caption):
    del caption["logos"]
    caption["objects"] = "a dog"
    caption["mood"] = "happy"
    v, _ = assess(json.dumps(caption), "stop", prompt.json_schema, prompt.rules)
    assert v.category == "schema_invalid" and v.json_strict and not v.schema_valid
    assert {"logos", "objects", "extra:mood"} <= set(v.failed_fields)


@pytest.mark.parametrize("mutate, field", [
    (lambda c: c.update(objects=[f"object {i}" for i in range(11)]), "objects"),
    (lambda c: c.update(actions=[f"action {i}" for i in range(6)]), "actions"),
    (lambda c: c.update(description="One. Two. Three. Four. Five."), "description"),
    (lambda c: c.update(summary="A dog sits. A cat stands."), "summary"),
    (lambda c: c.update(description="This image shows a dog on a floor."), "description"),
    (lambda c: c.update(environment="   "), "environment"),
])
def test_each_prompt_rule_is_checked(prompt, caption, mutate, field):
    mutate(caption)
    v, _ = assess(json.dumps(caption), "stop", prompt.json_schema, prompt.rules)
    assert v.schema_valid and not v.rules_ok and v.category == "rule_violation"
    assert v.failed_fields == [field]


def test_transport_failure_has_no_rungs(prompt):
    v, parsed = assess(None, None, prompt.json_schema, prompt.rules, error_kind="timeout")
    assert v.category == "transport_error" and not v.json_lenient and parsed is None


@pytest.mark.parametrize("text, n", [
    ("", 0),
    ("A dog.", 1),
    ("A dog sits, e.g. on a mat. It has 2.5 legs visible", 2),
    ("Dr. Smith stands near St. Paul's. A bus passes! Why?", 3),
    ('He says "stop." Then leaves.', 2),
    ("The title 'Hello world...' appears in bold. A man waves.", 2),
    ("A dialog asks 'Does the display look OK?' with a countdown.", 1),
    ("Version 2.5 is shown on screen", 1),
])
def test_count_sentences(text, n):
    assert count_sentences(text) == n


def test_extract_json_skips_braces_in_prose():
    value, strict = extract_json('Note {not json} then {"a": 1}')
    assert value == {"a": 1} and strict is False
    with pytest.raises(ValueError):
        extract_json("no json here")
