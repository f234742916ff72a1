"""Schema validity as a ladder (MISSION.md, "Yardsticks").

Each response climbs: strict JSON -> JSON after lenient extraction (code
fences, leading/trailing prose) -> valid against the JSON Schema -> obeys the
prompt's rules (counts, sentence limits, banned lead-ins). A rung counts only
if every rung below it holds. Truncation (finish reason "length") and
transport failures are categories of their own and are never dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from bench.config import RulesConfig

# Categories, worst first: the rung a response fell at (or "valid").
CATEGORIES = ("transport_error", "bad_input", "refused", "truncated", "not_json", "schema_invalid", "rule_violation",
              "valid")
TRUNCATION_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS"})

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


@dataclass
class Validity:
    category: str
    json_strict: bool = False
    json_lenient: bool = False
    schema_valid: bool = False
    rules_ok: bool = False
    reasons: list[str] = field(default_factory=list)
    failed_fields: list[str] = field(default_factory=list)  # fields named in schema/rule failures

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def extract_json(text: str) -> tuple[Any, bool]:
    """Return (parsed value, strict). Raises ValueError when no JSON object can be found.

    Lenient extraction only *finds* the JSON (inside a code fence or after
    prose); it never repairs it: a missing brace stays a failure.
    """
    try:
        return json.loads(text), True
    except (json.JSONDecodeError, TypeError):
        pass
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(candidate, start)
                return value, False
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
    raise ValueError("no JSON object found")


# Why not a library: nltk's punkt needs a data download (no hub here) and
# pysbd is unmaintained; captions are short English prose, so a splitter that
# knows common abbreviations and decimals is enough and predictable.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "st.", "no.", "approx.", "u.s.",
                  "a.m.", "p.m.")
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by the end
# of the text or by a space and a capital, digit or opening quote: "the title
# 'Hello world...' appears" and "a sign reads 'OK?' in red" stay one sentence.
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u2019\u201d)\]]*(?:\s+(?=[A-Z0-9\"'\u2018\u201c(\[])|\s*$)")


def count_sentences(text: str) -> int:
    masked = text.strip()
    if not masked:
        return 0
    lowered = masked.lower()
    for abbr in _ABBREVIATIONS:
        idx = lowered.find(abbr)
        while idx != -1:
            # Mask the dots so they are not sentence ends; keep length.
            masked = masked[:idx] + abbr.replace(".", "_") + masked[idx + len(abbr):]
            lowered = masked.lower()
            idx = lowered.find(abbr, idx + len(abbr))
    pieces = [p for p in _SENTENCE_END.split(masked) if p.strip()]
    return len(pieces)


@lru_cache(maxsize=8)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def check_rules(caption: dict[str, Any], rules: RulesConfig) -> list[tuple[str, str]]:
    """Return (field, reason) for each broken rule of the prompt."""
    broken: list[tuple[str, str]] = []
    for name, limit in rules.max_items.items():
        items = caption.get(name)
        if isinstance(items, list) and len(items) > limit:
            broken.append((name, f"{name}: {len(items)} items, at most {limit}"))
    for name, limit in rules.max_sentences.items():
        value = caption.get(name)
        if isinstance(value, str):
            n = count_sentences(value)
            if n > limit:
                broken.append((name, f"{name}: {n} sentences, at most {limit}"))
    banned = [b.lower() for b in rules.banned_leadins]
    for name in rules.leadin_fields:
        value = caption.get(name)
        if isinstance(value, str):
            head = value.strip().lower()
            hit = next((b for b in banned if head.startswith(b)), None)
            if hit:
                broken.append((name, f"{name}: starts with banned lead-in {hit!r}"))
    for name in rules.non_empty:
        value = caption.get(name)
        if isinstance(value, str) and not value.strip():
            broken.append((name, f"{name}: empty"))
    return broken


def assess(
    text: str | None,
    finish_reason: str | None,
    schema: dict[str, Any],
    rules: RulesConfig,
    *,
    error_kind: str | None = None,
) -> tuple[Validity, Any]:
    """Place one response on the ladder. Returns (verdict, parsed caption or None)."""
    if error_kind is not None or text is None:
        category = "bad_input" if error_kind == "bad_input" else "transport_error"
        return Validity(category=category, reasons=[error_kind or "no response"]), None

    if finish_reason == "content_filter":
        return Validity(category="refused", reasons=["the provider blocked or refused the answer "
                                                     "(safety filter / refusal)"]), None
    v = Validity(category="not_json")
    truncated = finish_reason in TRUNCATION_REASONS
    if truncated:
        v.reasons.append(f"finish reason {finish_reason!r}: output cut at the token limit")
    try:
        parsed, v.json_strict = extract_json(text)
        v.json_lenient = True
    except ValueError:
        v.category = "truncated" if truncated else "not_json"
        v.reasons.append("no JSON object could be parsed" if text.strip() else "empty response")
        return v, None
    if not v.json_strict:
        v.reasons.append("JSON found only after lenient extraction (code fence or surrounding text)")

    errors = sorted(_validator(json.dumps(schema, sort_keys=True)).iter_errors(parsed), key=lambda e: list(e.path))
    for err in errors:
        field_name = _field_of(err)
        v.failed_fields.append(field_name)
        v.reasons.append(f"schema: {field_name}: {err.message}")
    if errors:
        v.category = "truncated" if truncated else "schema_invalid"
        return v, parsed
    v.schema_valid = True

    broken = check_rules(parsed, rules) if isinstance(parsed, dict) else []
    for field_name, reason in broken:
        v.failed_fields.append(field_name)
        v.reasons.append(f"rule: {reason}")
    v.rules_ok = not broken
    if truncated:
        v.category = "truncated"
    else:
        v.category = "valid" if v.rules_ok else "rule_violation"
    return v, parsed


def _field_of(err: Any) -> str:
    """The top-level caption field a jsonschema error is about."""
    if err.path:
        return str(err.path[0])
    if err.validator == "required":
        match = re.match(r"'([^']+)' is a required property", err.message)
        return match.group(1) if match else "(object)"
    if err.validator == "additionalProperties":
        match = re.search(r"\('([^']+)'", err.message)
        return f"extra:{match.group(1)}" if match else "(extra keys)"
    return "(object)"
