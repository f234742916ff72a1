"""The canonical text of a caption: what ROUGE and BLEU compare.

A structured caption is turned into one plain text deterministically, so that
two runs (or a run and its teacher) are compared on content, not on JSON
formatting or key order:

- fields in **schema order** (the prompt's `json_schema.properties`, else
  `FIELDS`: description, objects, actions, environment, content_type,
  specific_style, production_quality, summary, logos); keys outside the
  schema are ignored, a missing key counts as empty;
- each field's **values only**, never the key names (matching keys would
  inflate every score);
- a string: its whitespace collapsed to single spaces, stripped;
- an array: its items' texts in the caption's own order, joined by "; "
  (order is kept: ROUGE-2/L are order-sensitive and the order is the model's
  output), empty items skipped;
- a number, boolean or object: compact JSON with sorted keys;
- one line per non-empty field, joined by "\\n" (both tokenizers treat the
  newline as a space, so it only makes the text readable).

Per-field scores use `field_text` of one field. The version below is recorded
in every result so that scores from another definition are never mixed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

CANONICAL_VERSION = "1"
FIELDS: tuple[str, ...] = ("description", "objects", "actions", "environment", "content_type", "specific_style",
                           "production_quality", "summary", "logos")


def field_text(value: Any) -> str:
    """One field's value as plain text (see the module docstring for the rules)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list | tuple):
        return "; ".join(t for t in (field_text(v) for v in value) if t)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_text(caption: Mapping[str, Any], fields: Sequence[str] = FIELDS) -> str:
    """The whole caption as one text: non-empty fields in schema order, one line each."""
    return "\n".join(t for t in (field_text(caption.get(f)) for f in fields) if t)


def schema_fields(prompt: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Field order from a prompt config's JSON Schema (a run's config.yaml), else the ClipTagger default."""
    try:
        props = (prompt or {}).get("json_schema", {}).get("properties") or {}
    except AttributeError:
        props = {}
    return tuple(str(k) for k in props) or FIELDS


def caption_json(caption: Mapping[str, Any], fields: Sequence[str] = FIELDS) -> str:
    """The caption as the judge sees it: schema fields first in schema order, then any others; 2-space JSON.

    Deterministic, so its hash keys the judge cache.
    """
    ordered = {f: caption[f] for f in fields if f in caption}
    ordered.update({k: v for k, v in caption.items() if k not in ordered})
    return json.dumps(ordered, indent=2, ensure_ascii=False)
