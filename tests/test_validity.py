import json
import re

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


# Issue 9, "Rule checks": what the prompt (seed 000, conf/prompt/cliptagger.yaml) bans, where it bans it.
@pytest.mark.parametrize("description", [
    '"This image shows a dog on a floor.',          # quoted lead-in
    "\u201cThis image shows a dog on a floor.\u201d",  # curly quotes
    "  THIS   image\u00a0shows a dog on a floor.",   # case, runs of spaces, a no-break space
    "**This keyframe** displays a dog on a floor.",  # markdown bold
])
def test_lead_in_is_caught_after_quotes_space_and_case_are_normalised(prompt, caption, description):
    caption["description"] = description
    v, _ = assess(json.dumps(caption), "stop", prompt.json_schema, prompt.rules)
    assert v.category == "rule_violation" and v.failed_fields == ["description"], v.reasons
    assert any("starts with banned lead-in" in r for r in v.reasons)


@pytest.mark.parametrize("field, value, where, phrase", [
    ("description", "A dog lies on a rug. This appears to be a living room.", "description", "this appears to be"),
    ("environment", "Indoors; this looks like a kitchen with tiles.", "environment", "this looks like"),
    ("objects", ["brown dog", "a rug that, in the image, is red"], "objects[1]", "in the image"),
    ("summary", "A dog naps, as this image makes clear.", "summary", "this image"),
])
def test_banned_phrase_anywhere_names_the_field_and_phrase(prompt, caption, field, value, where, phrase):
    caption[field] = value
    v, _ = assess(json.dumps(caption), "stop", prompt.json_schema, prompt.rules)
    assert v.schema_valid and v.category == "rule_violation" and v.failed_fields == [field]
    assert f"rule: {where}: contains banned phrase {phrase!r} (the prompt bans it anywhere)" in v.reasons


def test_phrases_are_whole_words_and_lead_ins_only_lead(prompt, caption):
    caption["description"] = "A dog sits under this framed poster, which fills the frame."  # not "this frame"
    caption["objects"] = ["poster reading 'this frame'"]  # a lead-in phrase, not banned mid-text
    v, _ = assess(json.dumps(caption), "stop", prompt.json_schema, prompt.rules)
    assert v.category == "valid", v.reasons


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_strict_rung_rejects_nan_and_infinity(prompt, caption, constant):
    text = json.dumps(caption)[:-1] + f', "score": {constant}}}'
    assert json.loads(text)  # what the old code accepted
    v, parsed = assess(text, "stop", prompt.json_schema, prompt.rules)
    assert not v.json_strict and not v.json_lenient and v.category == "not_json" and parsed is None
    with pytest.raises(ValueError):
        extract_json(f"Here: {{\"a\": {constant}}}")


def test_complete_caption_at_the_token_limit_is_valid_and_flagged(prompt, caption):
    v, parsed = assess(json.dumps(caption), "length", prompt.json_schema, prompt.rules)
    assert v.category == "valid" and v.schema_valid and v.rules_ok and v.finish_length
    assert parsed == caption and any("token limit" in r for r in v.reasons)
    # a fragment lenient extraction finds inside cut text is still a truncation
    cut = json.dumps({**caption, "objects": [{"x": 1}]})[:-40]
    v, _ = assess(cut, "length", prompt.json_schema, prompt.rules)
    assert v.category == "truncated" and v.finish_length
    v, _ = assess(json.dumps(caption), "stop", prompt.json_schema, prompt.rules)
    assert not v.finish_length


def test_metrics_count_valid_at_the_token_limit_apart_from_truncations(prompt, caption):
    from bench.metrics import compute_metrics

    def rec(fid, text, finish):
        v, parsed = assess(text, finish, prompt.json_schema, prompt.rules)
        return {"frame_id": fid, "status": "ok", "validity": v.to_dict(), "timing": {}, "attempts": []}

    whole = json.dumps(caption)
    records = [rec("a", whole, "length"), rec("b", whole, "stop"), rec("c", whole[:100], "length")]
    m = compute_metrics(records, frames_total=3, model={}, runner={}, simulated=False)
    assert m["validity"]["valid_but_length"] == 1
    assert m["validity"]["categories"] == {"valid": 2, "truncated": 1}
    assert m["validity"]["finish_length"] == {"valid": 1, "truncated": 1}
    assert m["schema_valid_rate"] == 2 / 3
    from pathlib import Path

    from rich.console import Console

    from bench.summary import print_summary

    console = Console(record=True, width=200)
    print_summary(console, {**m, "run": {"dataset": "d"}}, label="x", run_dir=Path("r"), status="complete")
    assert re.search(r"valid at the token limit\s*│ 1 ", console.export_text())
