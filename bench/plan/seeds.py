"""The seeds' cost figures, recomputed by the planner, with the prices and token counts each implies.

`python -m bench.plan --seed-figures` prints them; tests/test_plan.py checks each against the
seed's words. Where a figure does not follow from the model card's own numbers (700 input + 250
output tokens per frame; $0.30 / $0.50 for ClipTagger, $3 / $15 for Claude 4 Sonnet), `implies`
says what it takes to reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.plan.costs import (
    ModelInputs,
    implied_input_tokens,
    implied_output_tokens,
    implied_requests_per_s,
    plan,
)

CARD = "seed 001 (ClipTagger-12B model card, inference.net blog, 2025-08-14)"
POST = "seed 000 (\"Announcing VidCap-12B\", inference.net x Wynd Labs)"
IN, OUT = 700.0, 250.0  # the card's "typical usage" per frame
# Prices ($ per 1M tokens in / out), each with its source.
CLIPTAGGER = (0.30, 0.50, "ClipTagger-12B, " + CARD)
CLAUDE_SONNET_4 = (3.00, 15.00, "Claude 4 Sonnet, " + CARD + "; Anthropic list price (genai-prices)")
GPT41_FINETUNED = (3.00, 12.00, "fine-tuned GPT-4.1 (OpenAI price list, fine-tuning section; MISSION.md)")
GPT41_LIST = (2.00, 8.00, "GPT-4.1 list price (genai-prices bundled data)")
GEMINI25_PRO = (1.25, 10.00, "Gemini 2.5 Pro list price, prompts up to 200k tokens (genai-prices bundled data)")
H100_HOURLY = (2.49, "1x H100 80GB, Lambda on-demand list price as of 2025-08 (conf/model/cliptagger.yaml)")


@dataclass(frozen=True)
class SeedFigure:
    claim: str  # the seed's words
    source: str
    claimed_usd: float  # the figure as the seed states it
    computed_usd: float  # what the planner computes from `basis`
    basis: str  # the prices, tokens and volume used
    implies: str = ""  # when the figure does not follow from the card's own numbers: what it takes

    @property
    def matches(self) -> bool:
        """Equal to the cent, or for "over $X" claims, above X."""
        if self.claim.startswith("over "):
            return self.computed_usd > self.claimed_usd
        return abs(self.computed_usd - self.claimed_usd) < 0.005


def _api(name: str, price: tuple[float, float, str], input_tokens: float = IN,
         output_tokens: float = OUT) -> ModelInputs:
    return ModelInputs(model=name, hosting="api", input_tokens=input_tokens, output_tokens=output_tokens,
                       price_in=price[0], price_out=price[1], price_source=price[2])


def _usd(m: ModelInputs, frames: float) -> float:
    value = plan(m, frames).on_demand_usd
    assert value is not None
    return value


def seed_figures() -> list[SeedFigure]:
    figures = [
        SeedFigure("$335 per million generations (ClipTagger-12B)", CARD, 335.0,
                   _usd(_api("cliptagger", CLIPTAGGER), 1e6),
                   "1M x (700 x $0.30 + 250 x $0.50) / 1M tokens"),
        SeedFigure("$5,100 (GPT-4.1) per million generations", CARD, 5100.0,
                   _usd(_api("gpt-4.1", GPT41_FINETUNED), 1e6),
                   "1M x (700 x $3 + 250 x $12) / 1M tokens",
                   f"the card gives no GPT-4.1 price; $5,100 at 700 + 250 tokens implies $3 / $12 per 1M tokens, "
                   f"the {GPT41_FINETUNED[2]}. At the GPT-4.1 list price ($2 / $8) it is "
                   f"${_usd(_api('gpt-4.1', GPT41_LIST), 1e6):,.0f}"),
        SeedFigure("$5,850 for Claude 4 Sonnet per million generations", CARD, 5850.0,
                   _usd(_api("claude-sonnet-4", CLAUDE_SONNET_4), 1e6),
                   "1M x (700 x $3 + 250 x $15) / 1M tokens"),
    ]
    annual_frames = 100_000 * 365
    figures.append(SeedFigure(
        "over $186,000 annually (100,000 frames daily on GPT-4.1)", CARD, 186_000.0,
        _usd(_api("gpt-4.1", GPT41_FINETUNED), annual_frames),
        f"100,000 frames/day x 365 = {annual_frames:,} frames at $5,100 per 1M",
        f"the $5,100 above, so the fine-tuned price $3 / $12; at the list price it is "
        f"${_usd(_api('gpt-4.1', GPT41_LIST), annual_frames):,.0f}"))
    # Seed 000: "For 1B requests, the price reduction becomes even more substantial: from $11M to $230K!"
    # $11M / 1B = $11,000 per 1M; the post calls the numbers "illustrative" and names no model or tokens.
    # Its teacher-grade reference is Gemini 2.5 Pro ("nearly match the performance of Gemini 2.5 Pro").
    teacher_out = implied_output_tokens(11_000.0, IN, GEMINI25_PRO[0], GEMINI25_PRO[1])
    figures.append(SeedFigure(
        "$11M for 1B requests (the large model)", POST, 11_000_000.0,
        _usd(_api("gemini-2.5-pro", GEMINI25_PRO, IN, teacher_out), 1e9),
        f"1B x (700 x $1.25 + {teacher_out:,.1f} x $10) / 1M tokens",
        f"$11,000 per 1M requests. The card's 700 + 250 tokens give ${_usd(_api('g', GEMINI25_PRO), 1e9) / 1e6:.3g}M "
        f"on Gemini 2.5 Pro, ${_usd(_api('g', GPT41_FINETUNED), 1e9) / 1e6:.3g}M on fine-tuned GPT-4.1 and "
        f"${_usd(_api('c', CLAUDE_SONNET_4), 1e9) / 1e6:.3g}M on Claude 4 Sonnet: none reaches $11M. At "
        f"{GEMINI25_PRO[2]} and 700 input tokens it takes {teacher_out:,.1f} output tokens per request "
        f"(250 of caption + {teacher_out - OUT:,.1f} of thinking, which Gemini 2.5 Pro bills as output); "
        f"at fine-tuned GPT-4.1 prices {implied_output_tokens(11_000.0, IN, 3.0, 12.0):,.1f}"))
    student_in = implied_input_tokens(230.0, OUT, CLIPTAGGER[0], CLIPTAGGER[1])
    rps = implied_requests_per_s(230.0, H100_HOURLY[0])
    self_hosted = plan(ModelInputs(model="cliptagger", hosting="self-hosted", gpu_hourly_usd=H100_HOURLY[0],
                                   gpu_source=H100_HOURLY[1], requests_per_s_per_gpu=rps), 1e9).self_hosted_usd
    assert self_hosted is not None
    figures.append(SeedFigure(
        "$230K for 1B requests (the 12B student)", POST, 230_000.0, self_hosted,
        f"1B requests self-hosted at ${H100_HOURLY[0]}/GPU-hour and {rps:.3f} requests/s per GPU",
        f"$230 per 1M requests. At the card's ClipTagger API price and 700 + 250 tokens it is "
        f"${_usd(_api('c', CLIPTAGGER), 1e9) / 1e3:,.0f}K; $230K takes either {student_in:,.0f} input tokens "
        f"(with 250 output) at $0.30 / $0.50, or self-hosting on one {H100_HOURLY[1]} at {rps:.2f} requests/s "
        f"per GPU ({rps * 3600:,.0f} frames per GPU-hour, {1e9 / (rps * 3600):,.0f} GPU-hours)"))
    return figures
