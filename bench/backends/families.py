"""What each model family takes, checked before anything is sent.

A reasoning model refuses parameters an older model took (OpenAI's refuse `max_tokens` and a
non-default `temperature`; Claude with thinking refuses `temperature` != 1; Gemini 2.5 refuses a
`thinking_level`). `check_request_shape` names every such combination in the config, with the fix,
so that a run fails in a second instead of on every frame. `model.check_request=false` skips it (a
model newer than this table).

Sources (checked 2026-11-29; the SDK types are the installed openai 3.57, anthropic 2.14, google-genai 3.6):
- OpenAI: reasoning models answer `max_tokens` with 400 `unsupported_parameter` ("Use
  'max_completion_tokens' instead") and a temperature other than 1 with 400 `unsupported_value`
  (platform.openai.com/docs/guides/reasoning, "Limitations"). `reasoning_effort` is
  none|minimal|low|medium|high|xhigh|max in the OpenAPI spec (ReasoningEffort), "not all reasoning
  models support every value": gpt-5 minimal..high; gpt-5.1 none..high, default none; xhigh from
  gpt-5.2; GPT-5.1 to 5.5 take temperature/top_p only with effort none; GPT-5.6 only the default.
- Anthropic: `thinking={"type": "enabled", "budget_tokens": N}`, N >= 1024 and < max_tokens;
  `{"type": "adaptive"}` with `output_config.effort` (low|medium|high|xhigh|max) on Sonnet/Opus 4.6
  and later; Opus 4.7+ take only adaptive and refuse temperature/top_p; with thinking, temperature
  only 1 and top_p 0.95..1 (platform.claude.com/docs/en/build-with-claude/extended-thinking,
  .../adaptive-thinking; anthropic SDK ThinkingConfigEnabledParam, OutputConfigParam). Structured
  outputs (`output_config.format`) from Sonnet 4.5 / Opus 4.1 / Haiku 4.5 on, not Sonnet 4 / Opus 4.
- Gemini: `thinking_config.thinking_budget` on 2.5 (Pro 128..32768, cannot be 0; Flash 0..24576;
  -1 dynamic), `thinking_level` on 3.x only ("If you use thinking_level with a model earlier than
  Gemini 3, the model returns an error"), never both ("You can only set only one of thinking budget
  and thinking level"): ai.google.dev/gemini-api/docs/thinking; google-genai types.ThinkingConfig.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_TOKENS_FIELDS = ("max_completion_tokens", "max_tokens")


@dataclass(frozen=True)
class Family:
    name: str
    reasoning: bool = False
    efforts: tuple[str, ...] = ()  # reasoning_effort values the model takes (empty: none)
    # temperature/top_p: any | default_only (1) | effort_none_only (OpenAI 5.1-5.5) | never (Opus 4.7+)
    temperature: str = "any"
    thinking_budget: bool = False  # Claude thinking.type=enabled / Gemini 2.5 thinking_budget
    adaptive: bool = False  # Claude thinking.type=adaptive (+ output_config.effort)
    structured_outputs: bool = True  # Claude output_config.format
    budget_range: tuple[int, int] | None = None  # Gemini 2.5 (-1 = dynamic is always allowed)
    levels: tuple[str, ...] = ()  # Gemini 3.x thinking_level values

    def describe(self) -> str:
        """One line for the catalog listing."""
        parts = []
        if self.efforts:
            parts.append("reasoning_effort " + "|".join(self.efforts))
        if self.thinking_budget:
            if self.budget_range:
                parts.append(f"thinking_budget {self.budget_range[0]}..{self.budget_range[1]}")
            else:
                parts.append("thinking_budget (legacy)" if self.levels else "thinking_budget >=1024")
        if self.levels:
            parts.append("thinking_level " + "|".join(self.levels))
        if self.temperature != "any":
            parts.append({"default_only": "no temperature", "effort_none_only": "temperature only with effort none",
                          "never": "no temperature/top_p"}[self.temperature])
        return "; ".join(parts) or ("reasoning" if self.reasoning else "-")


_GPT5_EFFORTS = ("none", "low", "medium", "high", "xhigh")
_CLAUDE_EFFORTS = ("low", "medium", "high", "max")
# (backend, name pattern, family): the first match wins.
FAMILIES: list[tuple[str, re.Pattern[str], Family]] = [
    ("openai_chat", re.compile(r"^o[134](-|$)"),
     Family("OpenAI o-series", True, ("low", "medium", "high"), "default_only")),
    ("openai_chat", re.compile(r"^gpt-5(\.\d+)?-chat|-chat-latest$"), Family("OpenAI GPT-5 chat (non-reasoning)")),
    ("openai_chat", re.compile(r"^gpt-5\.6"), Family("OpenAI GPT-5.6", True, _GPT5_EFFORTS, "default_only")),
    ("openai_chat", re.compile(r"^gpt-5\.1(-|$)"),
     Family("OpenAI GPT-5.1", True, ("none", "low", "medium", "high"), "effort_none_only")),
    ("openai_chat", re.compile(r"^gpt-5\.[2-5]"),
     Family("OpenAI GPT-5.2-5.5", True, _GPT5_EFFORTS, "effort_none_only")),
    ("openai_chat", re.compile(r"^gpt-5(-|$)"),
     Family("OpenAI GPT-5", True, ("minimal", "low", "medium", "high"), "default_only")),
    ("openai_chat", re.compile(r"^gpt-4"), Family("OpenAI GPT-4 (non-reasoning)")),
    ("anthropic", re.compile(r"^claude-(sonnet-4|opus-4)(-0|-2025|@|$)"),
     Family("Claude 4", True, thinking_budget=True, structured_outputs=False)),
    ("anthropic", re.compile(r"^claude-opus-4-1"), Family("Claude Opus 4.1", True, thinking_budget=True)),
    ("anthropic", re.compile(r"^claude-(sonnet|opus|haiku)-4-5"), Family("Claude 4.5", True, thinking_budget=True)),
    ("anthropic", re.compile(r"^claude-(sonnet|opus)-4-6"),
     Family("Claude 4.6", True, _CLAUDE_EFFORTS, thinking_budget=True, adaptive=True)),
    ("anthropic", re.compile(r"^claude-opus-4-[7-9]"),
     Family("Claude Opus 4.7+", True, ("low", "medium", "high", "xhigh", "max"), "never", adaptive=True)),
    ("gemini", re.compile(r"^gemini-2\.5-pro"),
     Family("Gemini 2.5 Pro", True, thinking_budget=True, budget_range=(128, 32768))),
    ("gemini", re.compile(r"^gemini-2\.5-flash"),
     Family("Gemini 2.5 Flash", True, thinking_budget=True, budget_range=(0, 24576))),
    ("gemini", re.compile(r"^gemini-3(\.\d+)?-pro"),
     Family("Gemini 3.x Pro", True, thinking_budget=True, levels=("low", "medium", "high"))),
    ("gemini", re.compile(r"^gemini-3"),
     Family("Gemini 3.x Flash", True, thinking_budget=True, levels=("minimal", "low", "medium", "high"))),
]


def family_of(backend: str, model: str) -> Family | None:
    """The family a model belongs to, or None for a model capbench has no rules for (a vLLM model, say)."""
    for proto, pattern, family in FAMILIES:
        if proto == backend and pattern.search(model or ""):
            return family
    return None


def check_request_shape(backend: str, model: str, sampling: Any) -> list[str]:
    """Every combination of model.sampling.* the model will not take, each naming the key and the fix."""
    s = sampling
    problems: list[str] = []
    effort, budget, level = s.reasoning_effort, s.thinking_budget, s.thinking_level
    family = family_of(backend, model)
    where = f"model {model!r}" + (f" ({family.name})" if family else "")
    if backend == "openai_chat":
        if s.max_tokens_field not in MAX_TOKENS_FIELDS:
            problems.append(f"model.sampling.max_tokens_field={s.max_tokens_field!r}: use max_completion_tokens "
                            "or max_tokens")
        for key, value in (("thinking_budget", budget), ("thinking_level", level)):
            if value is not None:
                problems.append(f"model.sampling.{key} is not an OpenAI parameter: use model.sampling.reasoning_effort")
    elif backend == "anthropic":
        if level is not None:
            problems.append("model.sampling.thinking_level is a Gemini parameter: for Claude use "
                            "model.sampling.thinking_budget (extended thinking) or reasoning_effort (adaptive)")
        if effort is not None and budget is not None:
            problems.append("model.sampling.reasoning_effort (adaptive thinking) and thinking_budget (extended "
                            "thinking) exclude each other: set one")
        if budget is not None and not 1024 <= budget < s.max_tokens:
            problems.append(f"model.sampling.thinking_budget={budget}: Claude needs 1024 <= budget_tokens < "
                            f"max_tokens ({s.max_tokens}); thinking counts against max_tokens, so raise "
                            "model.sampling.max_tokens too")
        if (effort is not None or budget is not None) and (family is None or family.temperature != "never"):
            if s.temperature is not None and s.temperature != 1:
                problems.append(f"model.sampling.temperature={s.temperature}: with thinking Claude takes only 1 or "
                                "unset: add model.sampling.temperature=null")
            if s.top_p is not None and not 0.95 <= s.top_p <= 1:
                problems.append(f"model.sampling.top_p={s.top_p}: with thinking Claude takes 0.95 to 1 or unset")
    elif backend == "gemini":
        if effort is not None:
            problems.append("model.sampling.reasoning_effort is not a Gemini parameter: use thinking_level "
                            "(Gemini 3.x) or thinking_budget (Gemini 2.5)")
        if budget is not None and level is not None:
            problems.append("model.sampling.thinking_budget and thinking_level: Gemini takes only one of them "
                            "(\"You can only set only one of thinking budget and thinking level\")")
    if family is None:
        return problems
    problems += _family_checks(backend, family, s, where)
    return problems


def _family_checks(backend: str, family: Family, s: Any, where: str) -> list[str]:
    problems: list[str] = []
    effort, budget, level = s.reasoning_effort, s.thinking_budget, s.thinking_level
    if backend == "openai_chat":
        if family.reasoning and s.max_tokens_field == "max_tokens":
            problems.append(f"{where} refuses max_tokens (\"Use 'max_completion_tokens' instead\"): "
                            "remove model.sampling.max_tokens_field=max_tokens")
        if effort is not None and effort not in family.efforts:
            problems.append(f"model.sampling.reasoning_effort={effort!r}: {where} takes "
                            + ("|".join(family.efforts) if family.efforts else "none (not a reasoning model)"))
    if backend == "anthropic":
        if effort is not None and not family.adaptive:
            problems.append(f"model.sampling.reasoning_effort: {where} has no adaptive thinking; use "
                            "model.sampling.thinking_budget=N (extended thinking) instead")
        elif effort is not None and effort not in family.efforts:
            problems.append(f"model.sampling.reasoning_effort={effort!r}: {where} takes {'|'.join(family.efforts)}")
        if budget is not None and not family.thinking_budget:
            problems.append(f"model.sampling.thinking_budget: {where} takes only adaptive thinking (\"thinking.type."
                            "enabled is not supported for this model\"); use model.sampling.reasoning_effort")
        if s.response_format == "json_schema" and not family.structured_outputs:
            problems.append(f"model.sampling.response_format=json_schema: {where} has no structured outputs "
                            "(output_config.format); use json_object (the prompt alone)")
    if backend == "gemini":
        if level is not None and not family.levels:
            problems.append(f"model.sampling.thinking_level: {where} takes thinking_budget, not thinking_level")
        elif level is not None and level not in family.levels:
            problems.append(f"model.sampling.thinking_level={level!r}: {where} takes {'|'.join(family.levels)}")
        if budget is not None and family.budget_range and budget != -1:
            lo, hi = family.budget_range
            if not lo <= budget <= hi:
                problems.append(f"model.sampling.thinking_budget={budget}: {where} takes {lo}..{hi} or -1 (dynamic)"
                                + ("; it cannot stop thinking" if lo > 0 else ""))
    # Sampling the model refuses while it reasons.
    refuses = {"default_only": True, "never": True,
               "effort_none_only": (effort or "none") != "none"}.get(family.temperature, False)
    if refuses:
        for key in ("temperature", "top_p"):
            value = getattr(s, key)
            if value is not None and value != 1:
                why = " with reasoning_effort other than none" if family.temperature == "effort_none_only" else ""
                problems.append(f"model.sampling.{key}={value}: {where} takes only the default{why}: "
                                f"add model.sampling.{key}=null")
    return problems


# Images one request may carry, by protocol (window modes send several; checked before a run).
# - Anthropic: "100 per request on the API, for models with a 200k-token context window; 600 per request for
#   all other models", and past 20 images each is limited to 2000x2000 px; 32 MB per request
#   (platform.claude.com/docs/en/build-with-claude/vision, "General limits", read 2026-11-30). 100 is taken
#   for every Claude model: capbench does not know each one's context window.
# - Gemini: video at 1 frame per second by default, inline data under 100 MB
#   (ai.google.dev/gemini-api/docs/video-understanding, read 2026-11-30); no lower image count is known to us.
# - OpenAI-compatible (OpenAI, vLLM): vLLM takes as many as `--limit-mm-per-prompt` allows (model.vllm.*);
#   OpenAI's own per-request image limit was not checked from this offline machine: none is enforced here.
MAX_IMAGES_PER_REQUEST = {"anthropic": 100}


def image_count_problems(backend: str, model: str, images: int, *, serve: str = "",
                         vllm_limit: str | None = None) -> list[str]:
    """Why a request with `images` images would be refused by this model or server (empty: it is taken)."""
    import json

    problems = []
    limit = MAX_IMAGES_PER_REQUEST.get(backend)
    if limit is not None and images > limit:
        problems.append(f"mode: {images} images per request, but {backend} model {model!r} takes at most {limit} "
                        "per request: lower mode.frames")
    if serve == "vllm" and images > 1:
        try:
            allowed = int(json.loads(vllm_limit or "{}").get("image", 1))
        except (ValueError, TypeError, AttributeError):
            allowed = 1
        if images > allowed:
            problems.append(f"mode: {images} images per request, but vLLM is started with --limit-mm-per-prompt "
                            f"{vllm_limit}: add model.vllm.limit_mm_per_prompt='{{\"image\": {images}}}'")
    return problems
# The company whose models a model name belongs to (for self-preference: a judge favours its own family's
# outputs, MT-Bench / Zheng et al. 2023). From the name first (a Claude model behind an OpenAI-compatible proxy
# is still Claude), else from the wire protocol only an API of that vendor speaks. Open-weight families
# (Gemma, Llama, Qwen) are not mapped: their outputs are not the API models' outputs.
_VENDOR_NAMES = (("openai", re.compile(r"(^|/)(gpt-|o[134](-|$)|chatgpt)", re.I)),
                 ("anthropic", re.compile(r"claude", re.I)),
                 ("google", re.compile(r"gemini", re.I)))
_VENDOR_BACKENDS = {"anthropic": "anthropic", "gemini": "google"}


def vendor_of(backend: str | None, model: str | None) -> str | None:
    """openai | anthropic | google, or None (a self-hosted or unknown model)."""
    for vendor, pattern in _VENDOR_NAMES:
        if pattern.search(model or ""):
            return vendor
    return _VENDOR_BACKENDS.get(backend or "")
