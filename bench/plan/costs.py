"""What N frames cost and how long they take, per model (pure arithmetic; inputs in bench.plan.inputs).

Definitions (README "Cost planner"; MISSION.md "Yardsticks"):
- On demand: N / 10^6 x (mean input tokens x $in + mean output tokens x $out), prices per 1M tokens.
- Batch API: on demand x (1 - the provider's batch discount) (BATCH_DISCOUNTS: source and date).
- Self-hosted: GPU-hours = N / (3600 x requests/s per GPU); $ = GPU-hours x $/GPU-hour, plus the
  GPU time spent starting the servers (model load) before the first frame.
- Wall time with G GPUs: N / (G x requests/s per GPU) + start-up; at an API rate limit: N / (RPM / 60),
  or N x tokens per frame / TPM when a token-per-minute limit binds first.
- Break-even: the monthly volume above which one GPU kept running all month (730 h) costs less than
  the API: $/GPU-hour x 730 / (API $ per frame), if the GPU can serve that many frames in a month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.cost import cost_per_million, self_hosted_cost_per_million

HOURS_PER_MONTH = 730.0  # 8,760 h a year / 12


@dataclass(frozen=True)
class Discount:
    fraction: float  # off the on-demand price
    source: str
    date: str


# Batch APIs price at half of on-demand (input and output tokens alike). Read in the offline
# documentation index on 2026-11-30: Anthropic's and Google's own pages; OpenAI's own page is not
# in the index, so its 50% is as the OpenAI community forum states it. Re-check before quoting.
BATCH_DISCOUNTS: dict[str, Discount] = {
    "openai": Discount(0.5, "OpenAI Batch API (platform.openai.com/docs/guides/batch); 50% as stated on "
                            "community.openai.com (\"you still get the 50% discount\"), OpenAI's own page not "
                            "re-read offline", "2026-11-30"),
    "anthropic": Discount(0.5, "Anthropic Message Batches, platform.claude.com/docs/build-with-claude/"
                               "batch-processing (\"reducing costs by 50%\")", "2026-11-30"),
    "google": Discount(0.5, "Google Developers Blog, \"Batch Mode in the Gemini API\" (2025-07-07: \"a 50% "
                            "discount compared to our synchronous APIs\")", "2025-07-07"),
}


@dataclass(frozen=True)
class ModelInputs:
    """Everything the plan needs about one model, each figure with where it came from."""

    model: str
    hosting: str  # api | self-hosted | simulator
    simulated: bool = False
    input_tokens: float | None = None  # mean per frame (all attempts)
    output_tokens: float | None = None
    tokens_source: str = ""
    price_in: float | None = None  # $ per 1M tokens
    price_out: float | None = None
    price_source: str = ""
    provider: str = ""  # openai | anthropic | google | ... (which batch discount applies)
    gpu_hourly_usd: float | None = None
    gpu_source: str = ""
    requests_per_s_per_gpu: float | None = None
    throughput_source: str = ""
    startup_s: float = 0.0  # GPU time per server before the first frame (model load)

    @property
    def api_per_million(self) -> float | None:
        if None in (self.input_tokens, self.output_tokens, self.price_in, self.price_out):
            return None
        return cost_per_million(self.input_tokens, self.output_tokens, self.price_in, self.price_out)  # type: ignore[arg-type]

    @property
    def self_hosted_per_million(self) -> float | None:
        if not self.gpu_hourly_usd or not self.requests_per_s_per_gpu:
            return None
        return self_hosted_cost_per_million(self.gpu_hourly_usd, 1, self.requests_per_s_per_gpu)

    @property
    def batch_discount(self) -> Discount | None:
        return BATCH_DISCOUNTS.get(self.provider)


@dataclass(frozen=True)
class Plan:
    """One model's answer for N frames. None = not known (the input it needs is missing: see `missing`)."""

    inputs: ModelInputs
    frames: float
    on_demand_usd: float | None
    batch_usd: float | None
    self_hosted_usd: float | None
    gpu_hours: float | None
    wall_s_gpus: float | None  # with `gpus` GPUs
    gpus: int
    wall_s_rate_limit: float | None  # at the API rate limit given
    breakeven_frames_per_month: float | None  # vs one dedicated GPU of `breakeven_against`
    breakeven_against: str | None
    missing: tuple[str, ...] = ()


def plan(m: ModelInputs, frames: float, *, gpus: int = 1, rpm: float | None = None, tpm: float | None = None,
         dedicated: ModelInputs | None = None) -> Plan:
    """Cost and time of `frames` frames on model `m` (see the module docstring for each formula)."""
    if frames < 0 or gpus < 1:
        raise ValueError("frames must be 0 or more and gpus at least 1")
    missing = []
    api = m.api_per_million
    on_demand = api * frames / 1e6 if api is not None and m.hosting != "self-hosted" else None
    if on_demand is None and m.hosting != "self-hosted":
        missing.append("tokens or prices")
    batch = on_demand * (1 - m.batch_discount.fraction) if on_demand is not None and m.batch_discount else None
    gpu_hours = self_hosted = wall_gpus = None
    if m.requests_per_s_per_gpu:
        gpu_hours = frames / (3600.0 * m.requests_per_s_per_gpu) + gpus * m.startup_s / 3600.0
        wall_gpus = frames / (gpus * m.requests_per_s_per_gpu) + m.startup_s
        if m.gpu_hourly_usd is not None:
            self_hosted = gpu_hours * m.gpu_hourly_usd
    elif m.hosting == "self-hosted":
        missing.append("throughput per GPU (a measured run, or --rps-per-gpu)")
    wall_rate = rate_limited_seconds(frames, m, rpm, tpm) if m.hosting != "self-hosted" else None
    breakeven = against = None
    if dedicated is not None and on_demand is not None and api:
        breakeven, against = breakeven_frames_per_month(api / 1e6, dedicated), dedicated.model
    return Plan(m, frames, on_demand, batch, self_hosted, gpu_hours, wall_gpus, gpus, wall_rate, breakeven, against,
                tuple(missing))


def rate_limited_seconds(frames: float, m: ModelInputs, rpm: float | None, tpm: float | None) -> float | None:
    """Wall time under an API rate limit: requests per minute, or tokens per minute, whichever binds."""
    times = []
    if rpm:
        times.append(frames / (rpm / 60.0))
    if tpm and m.input_tokens is not None and m.output_tokens is not None:
        times.append(frames * (m.input_tokens + m.output_tokens) / (tpm / 60.0))
    return max(times) if times else None


def breakeven_frames_per_month(api_usd_per_frame: float, gpu: ModelInputs) -> float | None:
    """Frames a month above which one GPU kept on all month beats the API; None if one GPU cannot serve
    that many frames (then the API is cheaper at any volume one GPU can carry) or the inputs are missing."""
    if not gpu.gpu_hourly_usd or not gpu.requests_per_s_per_gpu or api_usd_per_frame <= 0:
        return None
    frames = gpu.gpu_hourly_usd * HOURS_PER_MONTH / api_usd_per_frame
    capacity = gpu.requests_per_s_per_gpu * 3600.0 * HOURS_PER_MONTH
    return frames if frames <= capacity else None


def implied_output_tokens(per_million_usd: float, input_tokens: float, price_in: float, price_out: float) -> float:
    """The output tokens per generation that make `per_million_usd` at these prices and input tokens."""
    return (per_million_usd - input_tokens * price_in) / price_out


def implied_input_tokens(per_million_usd: float, output_tokens: float, price_in: float, price_out: float) -> float:
    return (per_million_usd - output_tokens * price_out) / price_in


def implied_requests_per_s(per_million_usd: float, gpu_hourly_usd: float, gpus: int = 1) -> float:
    """The throughput at which self-hosting costs `per_million_usd` per 1M generations."""
    return gpu_hourly_usd * gpus * 1e6 / (3600.0 * per_million_usd)


def human_duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.0f} s"
