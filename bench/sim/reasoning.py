"""The simulator as a reasoning model: which requests it refuses, and how much it thinks.

Asked for a model whose name says it reasons (gpt-5*, o1/o3/o4*; Claude with `thinking`; gemini-2.5*
and gemini-3*), the simulator refuses what the real API refuses, with the real error text, and spends
`sim.reasoning_tokens` (scaled by the effort asked for, capped by the budget) before the answer:
billed as output, reported in usage as each protocol does, and `sim.thinking_s` of time (default:
the tokens at `per_token_s`). Any other name (capbench-sim) answers as before.

The rules are written from the providers' documentation and observed errors, independently of
bench/backends/families.py, so that tests of the backends against the simulator check one against
the other. Error texts (as the APIs send them, 2025-2026):
- OpenAI: "Unsupported parameter: 'max_tokens' is not supported with this model. Use
  'max_completion_tokens' instead." (param max_tokens, code unsupported_parameter);
  "Unsupported value: 'temperature' does not support 0.1 with this model. Only the default (1)
  value is supported." (param temperature, code unsupported_value).
- Anthropic: "`temperature` may only be set to 1 when thinking is enabled.", "`max_tokens` must be
  greater than `thinking.budget_tokens`.", "thinking.enabled.budget_tokens: Input should be greater
  than or equal to 1024", '"thinking.type.enabled" is not supported for this model. Use
  "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
- Gemini: "You can only set only one of thinking budget and thinking level.", "Budget 0 is invalid.
  This model only works in thinking mode."
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bench.sim.protocols.base import BadRequest

# How much of sim.reasoning_tokens each effort spends (medium, the usual default, spends all of it).
EFFORT_SCALE = {"none": 0.0, "minimal": 0.125, "low": 0.5, "medium": 1.0, "high": 2.0, "xhigh": 4.0, "max": 4.0}


@dataclass(frozen=True)
class Think:
    """What one request asks of the simulated reasoning."""

    scale: float = 1.0  # x sim.reasoning_tokens
    cap: int | None = None  # a thinking budget
    show: bool = False  # stream the thinking (Claude thinking blocks, Gemini include_thoughts)


def openai(body: dict[str, Any], model: str) -> Think | None:
    if not re.match(r"^(o[134](-|$)|gpt-5)", model) or "-chat" in model:
        return None
    if "max_tokens" in body:
        raise BadRequest("Unsupported parameter: 'max_tokens' is not supported with this model. "
                         "Use 'max_completion_tokens' instead.", param="max_tokens", code="unsupported_parameter")
    effort = body.get("reasoning_effort")
    # GPT-5.1 to 5.5 default to no reasoning and then take a temperature; the others only the default.
    newer = re.match(r"^gpt-5\.[1-5]", model) is not None
    default = "none" if newer else "medium"
    effort = default if effort is None else effort
    if effort not in EFFORT_SCALE:
        raise BadRequest(f"Unsupported value: '{effort}' is not supported with the '{model}' model.",
                         param="reasoning_effort", code="unsupported_value")
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None and value != 1 and not (newer and effort == "none"):
            raise BadRequest(f"Unsupported value: '{key}' does not support {value} with this model. "
                             "Only the default (1) value is supported.", param=key, code="unsupported_value")
    return Think(scale=EFFORT_SCALE[effort])


def anthropic(body: dict[str, Any], model: str) -> Think | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    if re.match(r"^claude-opus-4-[7-9]", model) and thinking["type"] == "enabled":
        raise BadRequest('"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" '
                         'and "output_config.effort" to control thinking behavior.')
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise BadRequest("`temperature` may only be set to 1 when thinking is enabled. Please consult our "
                         "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
    if thinking["type"] == "adaptive":
        effort = (body.get("output_config") or {}).get("effort") or "high"  # adaptive defaults to high effort
        return Think(scale=EFFORT_SCALE.get(effort, 1.0), show=True)
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        raise BadRequest("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if budget >= (body.get("max_tokens") or 0):
        raise BadRequest("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                         "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
    return Think(cap=budget, show=True)


def gemini(gen_cfg: dict[str, Any], model: str) -> Think | None:
    if not re.match(r"^gemini-(2\.5|3)", model):
        return None
    cfg = gen_cfg.get("thinkingConfig", gen_cfg.get("thinking_config")) or {}
    budget = cfg.get("thinkingBudget", cfg.get("thinking_budget"))
    level = cfg.get("thinkingLevel", cfg.get("thinking_level"))
    show = bool(cfg.get("includeThoughts", cfg.get("include_thoughts")))
    if budget is not None and level is not None:
        raise BadRequest("You can only set only one of thinking budget and thinking level.")
    if level is not None and model.startswith("gemini-2.5"):
        raise BadRequest("Thinking level is not supported for this model.")
    if budget == 0:
        if "pro" in model:
            raise BadRequest("Budget 0 is invalid. This model only works in thinking mode.")
        return Think(scale=0.0)
    if level is not None:
        return Think(scale=EFFORT_SCALE.get(str(level).lower(), 1.0), show=show)
    return Think(cap=budget if isinstance(budget, int) and budget > 0 else None, show=show)


def spend(think: Think | None, reasoning_tokens: int) -> int:
    """Reasoning tokens this request spends."""
    if think is None:
        return 0
    tokens = round(reasoning_tokens * think.scale)
    return min(tokens, think.cap) if think.cap is not None else tokens
