"""Judge panels: several judges score the same run; their verdicts side by side, a panel score, their agreement,
and self-preference (a judge of the scored model's own family).

    python -m bench.score RUN judge=panel_sim            # conf/judge/panel_*.yaml: panel.judges=[...]
    python -m bench.score RUN judges=[gemini-2.5-pro,gpt-4.1,claude-sonnet-4]

- Each member is an ordinary judge (conf/judge/NAME.yaml), asked through bench.score.judge (its cache, retries,
  cost, SIMULATED labelling), and its scoring is kept as its own scoring of the run (bench.scorings), so
  `judge=LABEL` still selects one judge's verdicts. The panel's scoring is written last (the latest).
- Panel score of a frame = the mean of the member scores that frame got (a member that failed on it is left out;
  the members' n say how often). The headline is the mean of that over frames, with the same bootstrap interval
  and the same "all" view (no caption scores 1) as one judge.
- Agreement over the frames at least two members scored: Krippendorff's alpha (interval level, the judges as
  raters; bench.stats.interval_alpha) and, per pair of judges, the share of frames whose two scores are within 1
  point and exactly equal, with Wilson intervals; "pooled" sums those over all pairs.
- Self-preference: a judge from the same vendor (bench.backends.families.vendor_of: openai, anthropic, google)
  as the scored model, or as the model's teacher (`model.teacher`, e.g. ClipTagger's), is warned about, for one
  judge as for a panel (MT-Bench: judges favour their own family's answers). `panel.exclude_self=true` leaves
  such a judge out of this run's panel score, and the summary names who was left out next to the number.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bench.backends.families import vendor_of
from bench.config import JudgeConfig
from bench.score.references import RunFolder, ScoreError
from bench.scorings import endpoint_kind
from bench.stats import interval_alpha, rate

SELF_PREFERENCE_WHY = "judges tend to favour captions of their own model family (self-preference, MT-Bench)"


def panel_judges(judge: JudgeConfig | DictConfig | None) -> list[str]:
    """The member names of a panel config; [] for one judge."""
    if judge is None:
        return []
    names = OmegaConf.select(judge, "panel.judges") if isinstance(judge, DictConfig) else judge.panel.judges
    return [str(n) for n in (names or [])]


def member_configs(judge: JudgeConfig | DictConfig) -> list[DictConfig]:
    """Each member composed from conf/judge/NAME.yaml; the panel's judge.cache, when set, applies to all."""
    names = panel_judges(judge)
    label = OmegaConf.select(judge, "label") if isinstance(judge, DictConfig) else judge.label
    if len(names) < 2:
        raise ScoreError(f"judge panel {label!r}: name at least two judges (panel.judges=[a,b] or judges=[a,b])")
    cache = OmegaConf.select(judge, "cache") if isinstance(judge, DictConfig) else judge.cache
    members = []
    for name in names:
        cfg = _compose(name, label)
        if panel_judges(cfg):
            raise ScoreError(f"judge panel {label!r}: member {name!r} is itself a panel; list its judges instead")
        if cache:
            cfg.cache = cache
        members.append(cfg)
    labels = [m.label for m in members]
    if len(set(labels)) < len(labels):
        raise ScoreError(f"judge panel {label!r}: two members share a label ({', '.join(labels)}); per-judge scores "
                         "are kept by label, so give each a distinct one")
    return members


def _compose(name: str, panel: str) -> DictConfig:
    """conf/judge/NAME.yaml with its rubric, by Hydra: inside `python -m bench` (a Hydra app, whose config dir is
    the project's conf/) with the app's compose, else as `python -m bench.score` composes a judge."""
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from bench.score.__main__ import UsageError, compose_judge  # the CLI's composition (lazy: a CLI module)

    try:
        if GlobalHydra.instance().is_initialized():
            return compose(config_name="config", overrides=[f"judge={name}"]).judge
        return compose_judge(name, [])
    except (UsageError, HydraException, OmegaConfBaseException) as exc:
        raise ScoreError(f"judge panel {panel!r}: member {name!r}: {exc}") from exc


# ------------------------------------------------------------------------------------------------ self-preference
def candidate_vendors(config: Any, simulated: bool) -> dict[str, str]:
    """vendor -> what of the run belongs to it ("model gpt-4.1", "teacher gemini-2.5-pro"). A simulated model is
    placed by its name only (the simulator speaks every protocol; its wire protocol says nothing)."""
    name = str(OmegaConf.select(config, "model.name", default="") or "")
    backend = None if simulated else str(OmegaConf.select(config, "model.backend", default="openai_chat"))
    out: dict[str, str] = {}
    vendor = vendor_of(backend, name)
    if vendor:
        out[vendor] = f"model {name}"
    teacher = str(OmegaConf.select(config, "model.teacher", default="") or "")
    vendor = vendor_of(None, teacher)
    if vendor and vendor not in out:
        out[vendor] = f"teacher {teacher} (model.teacher)"
    return out


def self_preference(run: RunFolder, judges: list[Any]) -> list[dict[str, Any]]:
    """One entry per judge that shares a vendor with the run's model or its teacher."""
    simulated = bool(run.meta.get("simulated") or OmegaConf.select(run.config, "model.simulated", default=False))
    mine = candidate_vendors(run.config, simulated)
    out = []
    for j in judges:
        vendor = vendor_of(j.model.backend, j.model.name)
        if vendor and vendor in mine:
            sim = " (a simulated stand-in)" if j.model.simulated else ""
            out.append({"judge": j.label, "judge_model": j.model.name, "vendor": vendor, "candidate": mine[vendor],
                        "message": f"self-preference: judge {j.label} ({j.model.name}{sim}) is a {vendor} model, as is "
                                   f"the scored {mine[vendor]}; {SELF_PREFERENCE_WHY}"})
    return out


def excluded_judges(run: RunFolder, members: list[Any], panel: JudgeConfig | DictConfig) -> list[str]:
    """The members left out of this run's panel score (panel.exclude_self); refuses a panel that would have none
    left (checked before any judge is asked)."""
    label = str(OmegaConf.select(panel, "label") if isinstance(panel, DictConfig) else panel.label)
    exclude = bool(OmegaConf.select(panel, "panel.exclude_self", default=False) if isinstance(panel, DictConfig)
                   else panel.panel.exclude_self)
    excluded = [s["judge"] for s in self_preference(run, members)] if exclude else []
    if excluded and len(excluded) == len(members):
        raise ScoreError(f"judge panel {label!r}: panel.exclude_self=true leaves no judge for this run (every member "
                         "shares a family with the model); add a judge of another family or set "
                         "judge.panel.exclude_self=false")
    return excluded


# ------------------------------------------------------------------------------------------------ the panel
def combine(run: RunFolder, frame_ids: Iterable[str], members: list[tuple[Any, dict[str, Any], dict[str, Any]]],
            panel: JudgeConfig | DictConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """The panel's judge block (identity, cost, panel section) and its verdict per frame id.

    members: (typed member config, its scoring's judge summary, that judge's verdicts by frame id)."""
    label = str(OmegaConf.select(panel, "label") if isinstance(panel, DictConfig) else panel.label)
    exclude = bool(OmegaConf.select(panel, "panel.exclude_self", default=False) if isinstance(panel, DictConfig)
                   else panel.panel.exclude_self)
    labels = [m[0].label for m in members]
    selfpref = self_preference(run, [m[0] for m in members])
    excluded = excluded_judges(run, [m[0] for m in members], panel)
    verdicts = [m_verdicts for _, _, m_verdicts in members]
    combined: dict[str, Any] = {}
    for fid in frame_ids:
        per = {lab: v[fid] for lab, v in zip(labels, verdicts, strict=True) if v.get(fid) is not None}
        if not per:
            continue  # no member was asked (no caption): scored as the judge's "no caption"
        used = [(lab, v["score"]) for lab, v in per.items() if lab not in excluded and v.get("score") is not None]
        score = sum(s for _, s in used) / len(used) if used else None
        failures = [f"{lab}: {v['failure']}" for lab, v in per.items() if v.get("failure")]
        combined[fid] = {
            "score": score, "scores": [],  # "scores" are one judge's repeats; a panel's are in per_judge
            "per_judge": {lab: {"score": v.get("score"), "failure": v.get("failure"),
                                "rationale": v.get("rationale", "")} for lab, v in per.items()},
            "excluded": [lab for lab in excluded if lab in per],
            "rationale": "panel mean of " + ", ".join(f"{lab} {s:g}" for lab, s in used) if used else "",
            "hallucinated": {}, "missed": {},
            "failure": None if score is not None else ("; ".join(failures) or "no verdict from the panel's judges"),
            "cached": all(v.get("cached") for v in per.values())}
    blocks = [b for _, b, _ in members]
    costs = [b.get("cost_usd") for b in blocks]
    sent_costs = [(b.get("sent") or {}).get("cost_usd") for b in blocks]
    warnings = [s["message"] + (" — left out of this run's panel score (panel.exclude_self)" if s["judge"] in excluded
                                else "") for s in selfpref]
    warnings += [f"{b.get('label')}: {w}" for b in blocks for w in b.get("warnings") or []
                 if not w.startswith("self-preference:")]  # said once above, with the exclusion
    block = {
        "model": label, "label": label, "backend": "panel",
        "model_name": "panel:" + "+".join(labels) + ("; exclude_self" if exclude else ""),
        "endpoint": "panel:" + ",".join(endpoint_kind(b.get("endpoint")) for b in blocks),
        "simulated": any(b.get("simulated") for b in blocks),
        "rubric_version": "+".join(str(b.get("rubric_version")) for b in blocks),
        # exclude_self changes the number: part of the identity (scoring key; the gate compares like with like)
        "rubric": "+".join(str(b.get("rubric")) for b in blocks) + (";exclude_self" if exclude else ""),
        "repeats": 1,
        "with_reference": any(b.get("with_reference") for b in blocks),
        "requests_sent": sum(b.get("requests_sent") or 0 for b in blocks),
        "cache_hits": sum(b.get("cache_hits") or 0 for b in blocks),
        "deduplicated": sum(b.get("deduplicated") or 0 for b in blocks),
        "tokens": {k: sum((b.get("tokens") or {}).get(k) or 0 for b in blocks) for k in ("input", "output")},
        "cost_usd": None if any(c is None for c in costs) else sum(costs),
        "sent": {"requests": sum(b.get("requests_sent") or 0 for b in blocks),
                 "tokens": {k: sum(((b.get("sent") or {}).get("tokens") or {}).get(k) or 0 for b in blocks)
                            for k in ("input", "output")},
                 "cost_usd": None if any(c is None for c in sent_costs) else sum(sent_costs)},
        "price": None, "cache": blocks[0].get("cache") if blocks else None, "warnings": warnings,
        "self_preference": selfpref,
        "panel": {"judges": {b.get("label"): _member_summary(b) for b in blocks}, "exclude_self": exclude,
                  "excluded": excluded, "agreement": agreement(labels, verdicts),
                  "score": "per frame, the mean of the scores its judges gave" + (
                      f" (left out for this run: {', '.join(excluded)}, same family as the model)" if excluded
                      else "")},
    }
    return block, combined


def _member_summary(b: dict[str, Any]) -> dict[str, Any]:
    keep = ("label", "model_name", "backend", "simulated", "rubric", "rubric_version", "mean", "ci95", "n",
            "failures", "no_caption", "cost_usd", "requests_sent", "cache_hits")
    return {**{k: b.get(k) for k in keep}, "valid_only": {k: (b.get("valid_only") or {}).get(k)
                                                         for k in ("mean", "ci95", "n")}}


def agreement(labels: list[str], verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Krippendorff's alpha (judges as raters) and, per pair of judges, within-1 and exact agreement."""
    def score(v: Any) -> float | None:
        return v.get("score") if isinstance(v, dict) else None

    frames = sorted({f for v in verdicts for f in v})
    grid = [[score(v.get(f)) for f in frames] for v in verdicts]
    both = [i for i in range(len(frames)) if sum(g[i] is not None for g in grid) >= 2]
    data = [[float("nan") if g[i] is None else g[i] for i in both] for g in grid]
    pairs, tot_within, tot_exact, tot_n = [], 0, 0, 0
    for (a, ga), (b, gb) in itertools.combinations(zip(labels, grid, strict=True), 2):
        shared = [(x, y) for x, y in zip(ga, gb, strict=True) if x is not None and y is not None]
        within = sum(abs(x - y) <= 1 for x, y in shared)
        exact = sum(x == y for x, y in shared)
        tot_within, tot_exact, tot_n = tot_within + within, tot_exact + exact, tot_n + len(shared)
        pairs.append({"a": a, "b": b, "n": len(shared), "within_1": rate(within, len(shared)),
                      "exact": rate(exact, len(shared)),
                      "mean_abs_diff": sum(abs(x - y) for x, y in shared) / len(shared) if shared else None})
    return {"judges": labels, "frames": len(both),
            "krippendorff_alpha_interval": interval_alpha(data) if both else None,
            "pairs": pairs, "pooled": {"within_1": rate(tot_within, tot_n), "exact": rate(tot_exact, tot_n)},
            "note": "over frames at least two judges scored; within_1: the two scores differ by at most 1 point"}


def panel_lines(j: dict[str, Any]) -> list[str]:
    """The console's lines for a panel's judge block (bench.score.__main__.print_scores)."""
    p = j.get("panel")
    if not p:
        return []
    lines = [f"  panel score: {p['score']}"]
    for lab, m in p["judges"].items():
        ci = m.get("ci95")
        sim = ", SIMULATED" if m.get("simulated") else ""
        mean = "—" if m.get("mean") is None else f"{m['mean']:.2f}" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")
        left = " (left out of the panel score: same family as the model)" if lab in p.get("excluded", []) else ""
        lines.append(f"  judge {lab} ({m.get('model_name')}{sim}): {mean} over {m.get('n')} frames, failures "
                     f"{m.get('failures')}{left}")
    a = p["agreement"]
    alpha = a.get("krippendorff_alpha_interval")
    pooled = a["pooled"]

    def pct(r: dict[str, Any]) -> str:
        return "—" if r.get("rate") is None else f"{r['rate']:.0%}"

    lines.append(f"  panel agreement over {a['frames']} frames: Krippendorff's alpha (interval) "
                 f"{'undefined' if alpha is None else f'{alpha:.2f}'}; within 1 point {pct(pooled['within_1'])}, "
                 f"exact {pct(pooled['exact'])} (all pairs)")
    for pr in a["pairs"]:
        lines.append(f"    {pr['a']} vs {pr['b']}: within 1 {pct(pr['within_1'])}, exact {pct(pr['exact'])} "
                     f"over {pr['n']} frames")
    return lines
