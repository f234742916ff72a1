"""Judge calibration without people: plant known errors into hand-written references, see what the judge notices.

    python -m bench.score.calibrate [judge=NAME] [dataset=DIR] [limit=N] [show_reference=false] [out=FILE.json]
                                    [judge.KEY=VALUE ...]

For every frame of the dataset (default: the shipped sample, datasets/sample) that has a hand-written reference,
each kind of error in KINDS is planted into a copy of the reference (deterministically; a kind that does not apply
to a frame, e.g. no object to drop, is skipped for it). The judge is then asked
- single-answer (its own rubric, v1 or v2): the clean reference and each corrupted copy as the candidate;
  the error is *noticed* when the corrupted copy scores lower than the clean one on that frame;
- pairwise (bench.score.pairwise, both orders): clean vs corrupted; *noticed* when the clean one is preferred
  in both orders (a flip or a tie is not noticed).
The judge is shown the frame's reference as its rubric says (show_reference=false hides it, to calibrate judging
from the image alone). The table gives, per kind, the share noticed with a 95% Wilson interval; a kind noticed in
less than BLIND_BELOW of frames in either mode is flagged as a blind spot. All traffic goes through the judge cache,
retry policy, cost accounting and SIMULATED labelling of bench.score.judge.

Exit codes: 0 measured; 1 the judge stopped or gave no verdict; 2 unusable arguments or dataset.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.config import DatasetConfig, JudgeConfig
from bench.frames import DatasetError, encode_frame, load_frames, resolve_dataset_dir
from bench.score.cache import JudgeCache
from bench.score.canonical import caption_json
from bench.score.judge import EncodeSettings, Judge, JudgeItem, JudgeStopped, _typed
from bench.score.pairwise import PairItem, PairwiseJudge, _outcome, judge_config
from bench.score.references import ScoreError
from bench.stats import rate

BLIND_BELOW = 0.5  # a kind noticed in fewer than half the frames is a blind spot
_NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
_NUMBER = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r"|\d+)\b", re.IGNORECASE)
_INVENTED_OBJECTS = ["red fire hydrant", "giraffe", "hot-air balloon"]
Caption = dict[str, Any]


def _wrong_object(c: Caption) -> Caption | None:
    objects = list(c.get("objects") or [])
    if not objects:
        return None
    new = next(o for o in _INVENTED_OBJECTS if o not in " ".join(objects).lower())
    return {**c, "objects": [new, *objects[1:]]}


def _missing_object(c: Caption) -> Caption | None:
    objects = list(c.get("objects") or [])
    return {**c, "objects": objects[1:]} if len(objects) > 1 else None


def _wrong_count(c: Caption) -> Caption | None:
    for fld in ("description", "summary"):
        text = str(c.get(fld) or "")
        found = _NUMBER.search(text)
        if found:
            word = found.group(1).lower()
            n = int(word) if word.isdigit() else _NUMBER_WORDS.index(word)
            new = str(n + 2) if word.isdigit() else _NUMBER_WORDS[(n + 2) % len(_NUMBER_WORDS)]
            return {**c, fld: text[:found.start()] + new + text[found.end():]}
    objects = list(c.get("objects") or [])
    return {**c, "objects": ["three " + objects[0], *objects[1:]]} if objects else None


def _wrong_content_type(c: Caption) -> Caption | None:
    current = str(c.get("content_type") or "").lower()
    return {**c, "content_type": "animation" if "animation" not in current else "real-world footage"}


def _invented_logo(c: Caption) -> Caption | None:
    return {**c, "logos": [*(c.get("logos") or []), "Coca-Cola"]}


def _banned_lead_in(c: Caption) -> Caption | None:
    text = str(c.get("description") or "")
    return {**c, "description": "This image shows " + text[:1].lower() + text[1:]} if text else None


def _fields_swapped(c: Caption) -> Caption | None:
    env, style = c.get("environment"), c.get("specific_style")
    return {**c, "environment": style, "specific_style": env} if env and style and env != style else None


# The kinds of planted error (bench/sim/judge.py checks for the same names; its judge_blind knob turns them off).
KINDS: dict[str, Callable[[Caption], Caption | None]] = {
    "wrong_object": _wrong_object, "missing_object": _missing_object, "wrong_count": _wrong_count,
    "wrong_content_type": _wrong_content_type, "invented_logo": _invented_logo,
    "banned_lead_in": _banned_lead_in, "fields_swapped": _fields_swapped,
}


def plant(kind: str, reference: Caption) -> Caption | None:
    """A copy of the reference with one error of this kind, or None when it does not apply to this reference."""
    return KINDS[kind](copy.deepcopy(reference))


def calibrate(judge: Any, *, dataset: str | Path = "datasets/sample", limit: int | None = None,
              show_reference: bool = True, judge_cache: str | Path | None = None, log_dir: str | Path | None = None
              ) -> dict[str, Any]:
    cfg: JudgeConfig = _typed(judge)
    ds = DatasetConfig(name=Path(dataset).name, path=str(dataset), limit=limit, max_side=1024)
    try:
        frames = [f for f in load_frames(ds) if isinstance(f.reference, dict)]
    except DatasetError as exc:
        raise ScoreError(f"dataset={dataset}: {exc}") from exc
    if not frames:
        raise ScoreError(f"dataset={dataset}: no frame has a hand-written reference caption to plant errors into")
    single: list[JudgeItem] = []
    pairs: list[PairItem] = []
    planted: dict[str, list[str]] = {k: [] for k in KINDS}
    for f in frames:
        sha = encode_frame(f, ds.max_side, ds.jpeg_quality, ds.max_pixels).sha256
        clean = caption_json(f.reference)
        ref = clean if show_reference else None
        single.append(JudgeItem(f"{f.id}\x00clean", f, sha, clean, ref))
        for kind in KINDS:
            bad = plant(kind, f.reference)
            if bad is None:
                continue
            planted[kind].append(f.id)
            wrong = caption_json(bad)
            single.append(JudgeItem(f"{f.id}\x00{kind}", f, sha, wrong, ref))
            pairs.append(PairItem(f"{f.id}\x00{kind}\x00clean-first", f, sha, clean, ref, wrong))
            pairs.append(PairItem(f"{f.id}\x00{kind}\x00clean-second", f, sha, wrong, ref, clean))
    encode = EncodeSettings(ds.max_side, ds.jpeg_quality, ds.max_pixels)
    manifest = str(resolve_dataset_dir(ds.path) / ds.manifest)
    # The simulator judge's server log goes to log_dir, else a temporary folder (never into the dataset).
    with (tempfile.TemporaryDirectory(prefix="capbench-calibrate-") as tmp,
          JudgeCache(judge_cache or cfg.cache) as cache):
        log = Path(log_dir) if log_dir else Path(tmp)
        sj = Judge(cfg, cache=cache, encode=encode, log_dir=log, sim_references=manifest)
        verdicts = sj.judge(single)
        pj = PairwiseJudge(judge_config(cfg), cache=cache, encode=encode, log_dir=log, sim_references=manifest)
        prefs = pj.judge(pairs)
    if not any(v.get("score") is not None for v in verdicts.values()):
        raise JudgeStopped(f"judge {cfg.label!r} gave no verdict on the calibration frames")
    table = {}
    for kind, ids in planted.items():
        drops, wins, judged_single, judged_pair = 0, 0, 0, 0
        for fid in ids:
            clean_score = verdicts[f"{fid}\x00clean"].get("score")
            bad_score = verdicts[f"{fid}\x00{kind}"].get("score")
            if clean_score is not None and bad_score is not None:
                judged_single += 1
                drops += bad_score < clean_score
            first, second = prefs[f"{fid}\x00{kind}\x00clean-first"], prefs[f"{fid}\x00{kind}\x00clean-second"]
            if not first["failure"] and not second["failure"]:
                judged_pair += 1
                wins += _outcome(first["better"], second["better"]) == ("a", True)
        s, p = rate(drops, judged_single), rate(wins, judged_pair)
        blind = any(r["rate"] is not None and r["rate"] < BLIND_BELOW for r in (s, p))
        table[kind] = {"frames": len(ids), "single": s, "pairwise": p, "blind_spot": blind}
    simulated = bool(cfg.model.simulated) or sj.stats.simulated_verdicts + pj.stats.simulated_verdicts > 0
    cost = [c for c in (sj.stats.verdict_cost_usd, pj.stats.verdict_cost_usd) if c is not None]
    judge_block = {"label": cfg.label, "model_name": cfg.model.name, "rubric_version": cfg.rubric.version,
                   "simulated": simulated, "endpoint": sj.endpoint,
                   "requests_sent": sj.stats.requests_sent + pj.stats.requests_sent,
                   "cost_usd": sum(cost) if cost else None}
    return {"format": "capbench-calibration/1", "judge": judge_block,
            "dataset": str(dataset), "frames": len(frames), "show_reference": show_reference,
            "blind_below": BLIND_BELOW, "kinds": table}


def print_calibration(console: Console, c: dict[str, Any]) -> None:
    j = c["judge"]
    sim = " [bold yellow]SIMULATED judge[/bold yellow]" if j["simulated"] else ""
    t = Table(title=f"judge sensitivity: {j['label']} (rubric v{j['rubric_version']}){sim}, {c['frames']} frames of "
                    f"{c['dataset']}, reference {'shown' if c['show_reference'] else 'hidden'}", title_justify="left")
    for col in ("planted error", "frames", "single-answer: score drops (95%)", "pairwise: clean preferred (95%)", ""):
        t.add_column(col, justify="left" if col == "planted error" else "right")

    def fmt(r: dict[str, Any]) -> str:
        return "—" if r["rate"] is None else f"{r['rate']:.0%} ({r['ci95'][0]:.0%}–{r['ci95'][1]:.0%})"

    for kind, row in c["kinds"].items():
        t.add_row(kind, str(row["frames"]), fmt(row["single"]), fmt(row["pairwise"]),
                  "[red]BLIND SPOT[/red]" if row["blind_spot"] else "")
    console.print(t)
    cost = "$—" if j["cost_usd"] is None else f"${j['cost_usd']:.4f}"
    console.print(f"blind spot: noticed in fewer than {c['blind_below']:.0%} of frames in either mode; judge requests "
                  f"sent {j['requests_sent']}, cost of the verdicts {cost}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    from bench.score.__main__ import DEFAULT_JUDGE, UsageError, compose_judge

    argv = sys.argv[1:] if argv is None else argv
    err = Console(stderr=True)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    judge_name, overrides, opts, out = DEFAULT_JUDGE, [], {}, None
    try:
        for arg in argv:
            key, eq, value = arg.partition("=")
            if key == "judge" and eq:
                judge_name = value
            elif key.startswith("judge.") and eq:
                overrides.append(arg)
            elif key == "dataset" and eq:
                opts["dataset"] = value
            elif key == "limit" and eq:
                opts["limit"] = int(value)
            elif key == "show_reference" and eq:
                opts["show_reference"] = value.lower() in ("true", "1", "yes")
            elif key == "out" and eq:
                out = value
            else:
                raise UsageError(f"unknown argument {arg!r}: use judge=, judge.KEY=, dataset=, limit=, "
                                 "show_reference=, out=")
        judge = compose_judge(judge_name, overrides)
    except (UsageError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    try:
        result = calibrate(judge, **opts)
    except JudgeStopped as exc:
        err.print(f"[red]judge stopped:[/red] {exc}", highlight=False)
        return 1
    except ScoreError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    print_calibration(Console(), result)
    if out:
        Path(out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
