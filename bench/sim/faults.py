"""Per-attempt latency and fault decisions.

Every attempt draws from its own RNG keyed on (seed, image sha256, how many
times this image was requested before). A run is therefore reproducible, and a
retry of a failed frame is a fresh draw that can succeed. Outcomes are mutually
exclusive and taken from one uniform draw, so each happens at exactly its
configured rate (the rates must sum to at most 1).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

from bench.config import SimConfig

# Order matters only for how the unit interval is carved up.
FAULTS = (
    "rate_limit",
    "server_error",
    "hang",
    "disconnect",
    "blocked",
    "truncated",
    "malformed",
)
_RATE_FIELD = {
    "rate_limit": "rate_limit_rate",
    "server_error": "server_error_rate",
    "hang": "hang_rate",
    "disconnect": "disconnect_rate",
    "blocked": "block_rate",
    "truncated": "truncation_rate",
    "malformed": "malformed_rate",
}
# Malformed JSON kinds and weights: the first three are recoverable by lenient
# extraction (strip prose / fences), the rest are not.
MALFORMED_KINDS = {
    "prose": 3,
    "fence": 3,
    "prose_fence": 2,
    "missing_brace": 2,
    "single_quotes": 2,
    "trailing_comma": 1,
}


def validate(cfg: SimConfig) -> None:
    """Fail at start-up, not mid-run, on impossible knobs."""
    total = 0.0
    for name in _RATE_FIELD.values():
        rate = float(getattr(cfg, name))
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"SimConfig.{name}={rate} must be within [0, 1]")
        total += rate
    if total > 1.0 + 1e-9:
        raise ValueError(f"SimConfig fault rates sum to {total:.3f} > 1 (they are exclusive per attempt)")
    for name in ("ttft_s", "ttft_jitter_s", "per_token_s", "per_token_jitter_s", "retry_after_s", "hang_s"):
        if float(getattr(cfg, name)) < 0:
            raise ValueError(f"SimConfig.{name} must be >= 0")
    if not 0.0 <= cfg.caption_quality <= 1.0:
        raise ValueError("SimConfig.caption_quality must be within [0, 1]")
    if not 0.0 <= float(getattr(cfg, "temporal_jitter", 0.0)) <= 1.0:
        raise ValueError("SimConfig.temporal_jitter must be within [0, 1] (a probability per frame)")


@dataclass
class Attempt:
    """What happens to one request; `rng` keeps drawing jitter for this attempt only."""

    n: int  # earlier requests for the same image
    outcome: str  # "ok" or one of FAULTS
    ttft_s: float
    cut: float  # fraction of the text kept, for truncated / disconnect
    malformed_kind: str | None
    block_style: str  # "candidate" (response blocked) | "prompt" (prompt blocked), for Gemini
    per_token_s: float
    per_token_jitter_s: float
    rng: random.Random = field(repr=False)

    def token_delay(self) -> float:
        j = self.per_token_jitter_s
        return max(0.0, self.per_token_s + (self.rng.uniform(-j, j) if j else 0.0))


class FaultPlanner:
    def __init__(self, cfg: SimConfig) -> None:
        validate(cfg)
        self.cfg = cfg
        self._seen: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()  # for /sim/stats and tests

    def decide(self, sha256: str, session: str = "") -> Attempt:
        n = self._seen[sha256]
        self._seen[sha256] += 1
        salt = f"{session}:" if session else ""  # no session: the same keys as before
        rng = random.Random(f"attempt:{self.cfg.seed}:{salt}{sha256}:{n}")
        u = rng.random()
        outcome, edge = "ok", 0.0
        for name in FAULTS:
            edge += float(getattr(self.cfg, _RATE_FIELD[name]))
            if u < edge:
                outcome = name
                break
        c = self.cfg
        ttft = max(0.0, c.ttft_s + (rng.uniform(-c.ttft_jitter_s, c.ttft_jitter_s) if c.ttft_jitter_s else 0.0))
        kinds, weights = zip(*MALFORMED_KINDS.items(), strict=False)
        self.outcomes[outcome] += 1
        return Attempt(
            n=n,
            outcome=outcome,
            ttft_s=ttft,
            cut=rng.uniform(0.2, 0.8),
            malformed_kind=rng.choices(kinds, weights)[0] if outcome == "malformed" else None,
            block_style=rng.choice(("candidate", "prompt")),
            per_token_s=c.per_token_s,
            per_token_jitter_s=c.per_token_jitter_s,
            rng=rng,
        )


def malform(caption: dict, text: str, kind: str) -> str:
    """Break well-formed JSON caption text the way real models do."""
    if kind == "prose":
        return "Here is the structured caption for the keyframe:\n\n" + text
    if kind == "fence":
        return "```json\n" + text + "\n```"
    if kind == "prose_fence":
        return "Sure! Here's the JSON:\n```json\n" + text + "\n```\nLet me know if you need anything else."
    if kind == "missing_brace":
        return text.rstrip()[:-1].rstrip()
    if kind == "single_quotes":
        return repr(caption)  # Python dict syntax: single quotes, True/None
    if kind == "trailing_comma":
        body = json.dumps(caption, indent=2, ensure_ascii=False)
        return body[: body.rstrip().rfind("\n")] + ",\n}"
    raise ValueError(f"unknown malformed kind {kind!r}")
