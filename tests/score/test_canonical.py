"""The canonical text definition (bench/score/canonical.py): schema order, values only, deterministic."""

from __future__ import annotations

import json

from bench.score.canonical import FIELDS, canonical_text, caption_json, field_text, schema_fields
from tests.conftest import SEED_CAPTION


def test_schema_order_values_only_one_line_per_field() -> None:
    shuffled = dict(reversed(list(SEED_CAPTION.items())))
    text = canonical_text(shuffled)
    assert text == canonical_text(SEED_CAPTION)  # key order in the JSON does not matter
    lines = text.split("\n")
    # actions and logos are empty in the seed caption: no line for them
    assert lines[0] == SEED_CAPTION["description"]
    assert lines[1] == "; ".join(SEED_CAPTION["objects"])
    assert lines[2] == SEED_CAPTION["environment"]
    assert len(lines) == 7
    assert "description" not in text.lower().split()  # key names are never part of the text


def test_field_text_rules() -> None:
    assert field_text("  two\n spaces  ") == "two spaces"
    assert field_text(["a", "", " b  c ", None]) == "a; b c"
    assert field_text(None) == "" and field_text([]) == ""
    assert field_text({"b": 1, "a": [2]}) == '{"a":[2],"b":1}'
    assert field_text(3) == "3" and field_text(True) == "true"


def test_extra_and_missing_keys() -> None:
    cap = {"summary": "Only a summary.", "not_in_schema": "ignored"}
    assert canonical_text(cap) == "Only a summary."


def test_schema_fields_from_prompt_and_default() -> None:
    assert schema_fields({"json_schema": {"properties": {"summary": {}, "objects": {}}}}) == ("summary", "objects")
    assert schema_fields(None) == FIELDS and schema_fields({}) == FIELDS


def test_caption_json_deterministic() -> None:
    shuffled = dict(reversed(list(SEED_CAPTION.items())))
    assert caption_json(shuffled) == caption_json(SEED_CAPTION)
    assert list(json.loads(caption_json({**SEED_CAPTION, "zz": 1}))) == [*FIELDS, "zz"]
