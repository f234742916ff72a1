"""Cost per 1M generations (MISSION.md, "Yardsticks").

API models: mean input tokens x price_in + mean output tokens x price_out,
prices in $ per 1M tokens and tokens from the server's usage, retried attempts
included. 700 in + 250 out at $0.30/$0.50 gives $335 (ClipTagger, seed 001).
Self-hosted models: GPU $/hour x GPUs / (3600 x requests per second) x 10^6,
at the throughput the run measured.
"""

from __future__ import annotations


def cost_per_million(input_tokens: float, output_tokens: float, price_in: float, price_out: float) -> float:
    """$ for 1M generations of `input_tokens` in and `output_tokens` out, prices in $ per 1M tokens.

    (tokens x $/1M tokens) is the $ of one generation times 10^-6; times 10^6
    generations the factors cancel.
    """
    return input_tokens * price_in + output_tokens * price_out


def cost_of_generation(input_tokens: float, output_tokens: float, price_in: float, price_out: float) -> float:
    """$ of one generation."""
    return cost_per_million(input_tokens, output_tokens, price_in, price_out) / 1e6


def self_hosted_cost_per_million(gpu_hourly_usd: float, gpu_count: int, requests_per_s: float) -> float:
    """$ for 1M generations on rented GPUs running at the measured request throughput."""
    if requests_per_s <= 0:
        raise ValueError("requests_per_s must be positive to price a self-hosted run")
    return gpu_hourly_usd * gpu_count / (3600.0 * requests_per_s) * 1e6
