"""Schema validity as a ladder (MISSION.md, "Yardsticks").

Each response climbs: strict JSON -> JSON after lenient extraction (code
fences, leading/trailing prose) -> valid against the JSON Schema -> obeys the
prompt's rules (counts, sentence limits, banned lead-ins and phrases). A rung
counts only if every rung below it holds. Truncation (finish reason "length"
and no complete caption) and transport failures are categories of their own
and are never dropped; a complete caption that ended at the token limit keeps
its rungs and is flagged (`finish_length`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
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
    finish_length: bool = False  # the server stopped at its token limit (finish reason "length")
    reasons: list[str] = field(default_factory=list)
    failed_fields: list[str] = field(default_factory=list)  # fields named in schema/rule failures

    def to_dict(self) -> dict[str, Any]:
        # = asdict(self) without its recursive deep copy (a record's cost on the client's event loop)
        return {**self.__dict__, "reasons": list(self.reasons), "failed_fields": list(self.failed_fields)}


def extract_json(text: str) -> tuple[Any, bool]:
    """Return (parsed value, strict). Raises ValueError when no JSON object can be found.

    Lenient extraction only *finds* the JSON (inside a code fence or after
    prose); it never repairs it: a missing brace stays a failure.
    """
    try:
        return _STRICT.decode(text), True
    except (ValueError, TypeError):  # JSONDecodeError, or NaN/Infinity (not JSON: RFC 8259 section 6)
        pass
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = _STRICT.raw_decode(candidate, start)
                return value, False
            except ValueError:
                start = candidate.find("{", start + 1)
    raise ValueError("no JSON object found")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# json.loads accepts NaN, Infinity and -Infinity by default; strict JSON does not.
_STRICT = json.JSONDecoder(parse_constant=_reject_constant)


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


# Curly quotes, guillemets and primes as their ASCII forms, so '\u201cThis image shows' is caught.
_QUOTES = str.maketrans({c: '"' for c in "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033"}
                        | {c: "'" for c in "\u2018\u2019\u201a\u201b\u2039\u203a\u2032`"})
# What may stand before a lead-in without hiding it: quotes, brackets, markdown, dashes, colons.
_LEADING_PUNCT = re.compile(r"^[\s\"'*_#>~:\-\u2013\u2014(\[{<]+")


def normalise_text(text: str) -> str:
    """For phrase checks: NFKC (full-width letters, no-break spaces), quotes made ASCII, every run of
    white space one space, case folded."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return " ".join(text.split()).casefold()


@lru_cache(maxsize=256)
def _phrase_pattern(phrase: str, *, lead: bool) -> re.Pattern[str]:
    """A banned phrase as whole words ("this frame" does not match "this framed poster")."""
    body = re.escape(normalise_text(phrase))
    return re.compile(("^" if lead else r"(?<!\w)") + body + r"(?!\w)")


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
    led: set[str] = set()  # fields already failed for their lead-in
    for name in rules.leadin_fields:
        value = caption.get(name)
        if isinstance(value, str):
            head = _LEADING_PUNCT.sub("", normalise_text(value))
            hit = next((b for b in rules.banned_leadins if _phrase_pattern(b, lead=True).match(head)), None)
            if hit:
                led.add(name)
                broken.append((name, f"{name}: starts with banned lead-in {hit!r}"))
    for name in rules.phrase_fields:
        value = caption.get(name)
        texts = [(name, value)] if isinstance(value, str) else \
            [(f"{name}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []
        for where, text in texts:
            norm = _LEADING_PUNCT.sub("", normalise_text(text))
            for phrase in rules.banned_phrases:
                starts = [m.start() for m in _phrase_pattern(phrase, lead=False).finditer(norm)]
                if where in led:  # "This image shows..." is one broken rule (the lead-in), not two
                    starts = [i for i in starts if i > 0]
                if starts:
                    broken.append((name, f"{where}: contains banned phrase {phrase!r} (the prompt bans it anywhere)"))
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
    v.finish_length = finish_reason in TRUNCATION_REASONS
    if v.finish_length:
        v.reasons.append(f"finish reason {finish_reason!r}: the server stopped at the token limit")
    try:
        parsed, v.json_strict = extract_json(text)
        v.json_lenient = True
    except ValueError:
        v.category = "truncated" if v.finish_length else "not_json"
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
        # Cut at the limit and only a fragment parsed (an inner object found by lenient extraction):
        # a real truncation. A whole text that parses strictly was not cut short; it is just invalid.
        v.category = "truncated" if v.finish_length and not v.json_strict else "schema_invalid"
        return v, parsed
    v.schema_valid = True

    broken = check_rules(parsed, rules) if isinstance(parsed, dict) else []
    for field_name, reason in broken:
        v.failed_fields.append(field_name)
        v.reasons.append(f"rule: {reason}")
    v.rules_ok = not broken
    # A complete caption that happens to end at the token limit counts at the rungs it reached;
    # finish_length flags it (metrics count "valid_but_length").
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
