"""Pairwise judging: which of two runs' captions of the same frame is more accurate, ranked with intervals.

    python -m bench.score.pairwise RUN_A RUN_B [RUN_C ...] [judge=NAME] [baseline=RUN ...] [max_battles=N]
                                   [out=DIR] [seed=N] [replicates=N] [judge.KEY=VALUE ...]

For every frame the runs share, the judge sees the image, the frame's reference caption when it has one
(conf/judge/rubric/pairwise_accuracy_v1.yaml; the image stays the authority) and two captions, and answers
"A", "B" or "tie" with its reasons first. Every battle (frame, run x, run y) is asked in both orders; when
the two answers disagree the battle counts as a tie, and the share that agree is the position-consistency
rate. Battles are all pairs of runs or, with baseline=RUN (repeatable), each other run against each fixed
baseline (CapArena-Auto style); max_battles=N samples that many battles (seeded). A frame one run has no
caption for is won by the other without asking; neither: a tie. Judge traffic goes through the judge
cache (pairwise keys: mode, both captions, their order), retry policy, cost accounting and SIMULATED
labelling of bench.score.judge. The ranking (bench.score.ranking: Bradley-Terry with bootstrap intervals
over frames, win/tie/loss matrix, significance of each pair) is written to OUT/ranking.json with one line
per battle in OUT/battles.jsonl (OUT defaults to runs/pairwise/<UTC time>) and printed as a table; each
ranked run folder gets its place in it (RUN/pairwise.json, bench.pairwise_results: load_runs, report, gate).
`python -m bench.score RUN ... pairwise=true` does the same after scoring the runs.

Exit codes: 0 ranked; 1 the judge stopped or returned no verdict; 2 unusable runs or arguments.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from bench import pairwise_results
from bench.config import JudgeConfig, RubricConfig
from bench.frames import resolve_dataset_dir
from bench.score.cache import JudgeCache, sha256_text
from bench.score.canonical import caption_json, schema_fields
from bench.score.judge import (
    EncodeSettings,
    Judge,
    JudgeItem,
    JudgeStopped,
    VerdictError,
    _typed,
    json_object,
    rubric_id,
)
from bench.score.panel import self_preference
from bench.score.ranking import Battle, rank
from bench.score.references import RunFolder, ScoreError, dataset_references, load_run

RUBRIC_FILE = Path(__file__).resolve().parents[2] / "conf" / "judge" / "rubric" / "pairwise_accuracy_v1.yaml"
_ANSWERS = {"a": "A", "b": "B", "tie": "tie"}


def pairwise_rubric(path: Path = RUBRIC_FILE) -> RubricConfig:
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RubricConfig), OmegaConf.load(path)))  # type: ignore[return-value]


def parse_preference(text: str) -> dict[str, Any]:
    """{"reasons": str, "better": "A" | "B" | "tie"} (a code fence around the JSON is tolerated)."""
    value = json_object(text)
    better = _ANSWERS.get(str(value.get("better", "")).strip().lower())
    if better is None:
        raise VerdictError(f"'better' must be \"A\", \"B\" or \"tie\", got {value.get('better')!r}")
    return {"reasons": str(value.get("reasons") or ""), "better": better}


@dataclass(frozen=True)
class PairItem(JudgeItem):
    caption_b_json: str = ""


class PairwiseJudge(Judge):
    """The judge asked the pairwise question: same sending, cache, retries and accounting as bench.score.judge."""

    def _parts(self, item: JudgeItem, repeat: int) -> dict[str, Any]:
        assert isinstance(item, PairItem)
        return {**super()._parts(item, repeat), "mode": "pairwise",
                "caption_b_sha256": sha256_text(item.caption_b_json)}

    def _prompt(self, item: JudgeItem) -> str:
        assert isinstance(item, PairItem)
        rubric = self.cfg.rubric
        section = ""
        if item.reference_json is not None and (rubric.reference_by_default or self.cfg.with_reference):
            section = rubric.reference_section.replace("{{reference}}", item.reference_json)
        return (rubric.user.replace("{{reference_section}}", section).replace("{{caption_a}}", item.caption_json)
                .replace("{{caption_b}}", item.caption_b_json))

    def _parse(self, text: str) -> dict[str, Any]:
        return parse_preference(text)

    @staticmethod
    def _combine(answers: list[dict[str, Any]]) -> dict[str, Any]:
        first = answers[0] if answers else {"failure": "not asked"}
        verdict = first.get("verdict") or {}
        return {"better": verdict.get("better"), "reasons": verdict.get("reasons", ""),
                "failure": first.get("failure"), "cached": bool(first.get("cached"))}


def judge_config(judge: JudgeConfig | DictConfig) -> JudgeConfig:
    """The judge's model, endpoint, price and settings with the pairwise rubric; one answer per question."""
    return replace(_typed(judge), rubric=pairwise_rubric(), repeats=1)


def _names(runs: list[RunFolder]) -> list[str]:
    labels = [r.model_label for r in runs]
    return [lab if labels.count(lab) == 1 else f"{lab}@{r.path.name}" for lab, r in zip(labels, runs, strict=True)]


def plan(names: list[str], frames: list[str], baselines: list[str], max_battles: int | None, seed: int
         ) -> list[tuple[str, str, str]]:
    """(frame, x, y) battles: all pairs, or each non-baseline against each baseline; sampled to max_battles."""
    if baselines:
        pairs = [(x, b) for x in names if x not in baselines for b in baselines]
    else:
        pairs = list(itertools.combinations(names, 2))
    battles = [(f, x, y) for f in frames for x, y in pairs]
    if max_battles is not None and max_battles < len(battles):
        battles = sorted(random.Random(seed).sample(battles, max_battles))
    return battles


def _outcome(first: str | None, second: str | None) -> tuple[str, bool]:
    """(outcome for x, consistent) from x-shown-first and y-shown-first answers; a flip is a tie."""
    ab = {"A": "a", "B": "b", "tie": "tie"}[first or "tie"]
    ba = {"A": "b", "B": "a", "tie": "tie"}[second or "tie"]
    return (ab, True) if ab == ba else ("tie", False)


def run_pairwise(run_dirs: list[str | Path], *, judge: JudgeConfig | DictConfig, baselines: list[str | Path] = (),
                 max_battles: int | None = None, seed: int = 0, replicates: int = 1000,
                 judge_cache: str | Path | None = None, out: str | Path | None = None, progress: Any = None
                 ) -> dict[str, Any]:
    runs = [load_run(d) for d in run_dirs]
    if len({r.path.resolve() for r in runs}) < 2:
        raise ScoreError("pairwise needs at least two different run folders")
    names = _names(runs)
    by_path = {r.path.resolve(): n for r, n in zip(runs, names, strict=True)}
    base = []
    for b in baselines:
        if Path(b).resolve() not in by_path:
            raise ScoreError(f"baseline={b}: not one of the runs given; name it among the run folders too")
        base.append(by_path[Path(b).resolve()])
    records = {n: {rec["frame_id"]: rec for rec in r.records} for n, r in zip(names, runs, strict=True)}
    first = runs[0]
    warnings: list[str] = []
    shared = sorted(set.intersection(*(set(v) for v in records.values())))
    mismatched = [f for f in shared if len({(records[n][f].get("image") or {}).get("sha256") for n in names}) > 1]
    if mismatched:
        warnings.append(f"{len(mismatched)} frame(s) left out: the runs sent different image bytes for them "
                        f"(e.g. {mismatched[0]}); compare runs made with the same dataset settings")
    frames = [f for f in shared if f not in set(mismatched)]
    if not frames:
        raise ScoreError("the runs share no frame (with the same image): pairwise compares captions of the same frames")
    cfg = judge_config(judge)
    selfpref = [{**sp, "run": n} for r, n in zip(runs, names, strict=True) for sp in self_preference(r, [cfg])]
    warnings += [f"{sp['run']}: {sp['message']}" for sp in selfpref]
    fields = schema_fields(OmegaConf.to_container(OmegaConf.select(first.config, "prompt")) or {})
    refs = dataset_references(first)
    dataset_frames = {f.id: f for f in first.frames()}
    ds = first.dataset_cfg()
    battles = plan(names, frames, base, max_battles, seed)

    def cap(name: str, fid: str) -> str | None:
        c = records[name][fid].get("caption")
        return caption_json(c, fields) if isinstance(c, dict) else None

    items: list[PairItem] = []
    for fid, x, y in battles:
        cx, cy = cap(x, fid), cap(y, fid)
        if cx is None or cy is None:
            continue
        ref_caption = refs.get(fid)[0]
        ref = caption_json(ref_caption, fields) if ref_caption is not None else None
        sha = (records[x][fid].get("image") or {}).get("sha256")
        for order, (p, q) in (("xy", (cx, cy)), ("yx", (cy, cx))):
            items.append(PairItem(f"{fid}\x00{x}\x00{y}\x00{order}", dataset_frames.get(fid), sha, p, ref, q))
    folder = Path(out) if out else Path("runs") / "pairwise" / datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S")
    manifest = str(resolve_dataset_dir(ds.path) / ds.manifest)
    # A simulator judge's server log waits in a temporary folder: a comparison that stops writes nothing.
    with (tempfile.TemporaryDirectory(prefix="capbench-pairwise-") as tmp,
          JudgeCache(judge_cache or cfg.cache) as cache):
        j = PairwiseJudge(cfg, cache=cache, encode=EncodeSettings(ds.max_side, ds.jpeg_quality, ds.max_pixels),
                          log_dir=Path(tmp), sim_references=manifest, progress=progress)
        answers = j.judge(items) if items else {}
        cache_path = str(cache.path)
        server_log = (Path(tmp) / "judge_server.log").read_bytes() if (Path(tmp) / "judge_server.log").exists() \
            else None
    rows, ranked, failed, consistent, asked = [], [], 0, 0, 0
    for fid, x, y in battles:
        cx, cy = cap(x, fid), cap(y, fid)
        row: dict[str, Any] = {"frame_id": fid, "x": x, "y": y}
        if cx is None or cy is None:
            row.update(outcome="tie" if cx is None and cy is None else ("a" if cy is None else "b"),
                       decided_by="no caption")
        else:
            xy, yx = answers[f"{fid}\x00{x}\x00{y}\x00xy"], answers[f"{fid}\x00{x}\x00{y}\x00yx"]
            row.update(x_first=xy, y_first=yx)
            if xy["failure"] or yx["failure"]:
                failed += 1
                row.update(outcome=None, failure=xy["failure"] or yx["failure"])
                rows.append(row)
                continue
            outcome, same = _outcome(xy["better"], yx["better"])
            asked += 1
            consistent += same
            row.update(outcome=outcome, decided_by="judge", position_consistent=same)
        ranked.append(Battle(fid, x, y, row["outcome"]))
        rows.append(row)
    if items and not asked:
        raise JudgeStopped(f"judge {cfg.label!r} returned no pairwise verdict ({failed} battles failed); nothing "
                           "was written")
    simulated = bool(cfg.model.simulated) or j.stats.simulated_verdicts > 0 if items else bool(cfg.model.simulated)
    st = j.stats if items else None
    summary = {
        "format": "capbench-pairwise/1", "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": {n: {"path": str(r.path), "model": r.model_label,
                     "simulated": bool(r.meta.get("simulated") or OmegaConf.select(r.config, "model.simulated"))}
                 for n, r in zip(names, runs, strict=True)},
        "mode": "baselines" if base else "all pairs", "baselines": base,
        "frames": len(frames), "battles_possible": len(frames) * len(plan(names, ["_"], base, None, seed)),
        "battles": len(battles), "battles_failed": failed,
        "position_consistency": {"rate": consistent / asked if asked else None, "consistent": consistent,
                                 "judged": asked,
                                 "note": "share of judged battles whose two orders agree; a disagreement counts "
                                         "as a tie"},
        "judge": {"label": cfg.label, "model_name": cfg.model.name, "backend": cfg.model.backend,
                  "endpoint": j.endpoint if items else None, "rubric": rubric_id(cfg), "simulated": simulated,
                  "requests_sent": st.requests_sent if st else 0, "cache_hits": st.cache_hits if st else 0,
                  "deduplicated": st.deduplicated if st else 0,
                  "tokens": {"input": st.verdict_input_tokens, "output": st.verdict_output_tokens} if st else None,
                  "cost_usd": st.verdict_cost_usd if st else None,
                  "sent": {"tokens": {"input": st.input_tokens, "output": st.output_tokens},
                           "cost_usd": st.cost_usd} if st else None,
                  "price": OmegaConf.to_container(OmegaConf.structured(cfg.model.price)),
                  "cache": cache_path, "warnings": list(st.warnings) if st else []},
        "ranking": rank(ranked, names, replicates=replicates, seed=seed), "warnings": warnings,
        "self_preference": selfpref,
    }
    folder.mkdir(parents=True, exist_ok=True)
    if server_log is not None:
        (folder / "judge_server.log").write_bytes(server_log)
    (folder / "battles.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    (folder / "ranking.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    summary["out"] = str(folder)
    return summary


def rank_after_scoring(pw: dict[str, Any], runs: list[str], *, seed: int, replicates: int | None, out: Console,
                       err: Console) -> int:
    """`python -m bench.score RUN ... pairwise=true | ranking=FILE`: rank the runs (or pick up a ranking), give
    each run its place (bench.pairwise_results: RUN/pairwise.json) and print the ranking. Returns the exit code."""
    from bench.score.progress import JudgeProgress

    if pw.get("ranking"):
        try:
            summary = json.loads(Path(pw["ranking"]).read_text(encoding="utf-8"))
            if summary.get("format") != "capbench-pairwise/1":
                raise ValueError("not a capbench-pairwise/1 ranking.json")
        except (OSError, ValueError, AttributeError) as exc:
            err.print(f"[red]error:[/red] ranking={pw['ranking']}: {exc}", highlight=False, markup=False)
            return 2
        summary["out"] = str(Path(pw["ranking"]).parent)
        ranking_file = Path(pw["ranking"])
        written = pairwise_results.attach(summary, ranking_file, [Path(r) for r in runs] if runs else None)
        if runs and len(written) < len(runs):
            named = {Path(p).resolve() for p in (r["path"] for r in summary["runs"].values())}
            missing = [r for r in runs if Path(r).resolve() not in named]
            err.print(f"warning: not in {ranking_file}: {', '.join(missing)}", highlight=False, markup=False)
    else:
        every = list(dict.fromkeys([*runs, *pw.get("baselines", [])]))
        progress = JudgeProgress(err)
        try:
            summary = run_pairwise(every, judge=pw["judge"], baselines=pw.get("baselines", []),
                                   max_battles=pw.get("max_battles"), seed=seed,
                                   replicates=replicates or 1000, judge_cache=pw.get("judge_cache"),
                                   out=pw.get("out"), progress=progress)
        except JudgeStopped as exc:
            err.print(f"judge stopped (pairwise): {exc}", highlight=False, markup=False)
            return 1
        except ScoreError as exc:
            err.print(f"error (pairwise): {exc}", highlight=False, markup=False)
            return 2
        finally:
            progress.close()
        ranking_file = Path(summary["out"]) / "ranking.json"
        written = pairwise_results.attach(summary, ranking_file)
    print_ranking(out, summary)
    for path in written:
        entry = pairwise_results.read(path.parent)
        if entry:
            out.print(f"{path.parent}: {pairwise_results.summary_line(entry)}", highlight=False, markup=False)
    return 0


def print_ranking(console: Console, s: dict[str, Any]) -> None:
    sim = " [bold yellow]SIMULATED judge[/bold yellow]" if s["judge"]["simulated"] else ""
    sim_runs = [n for n, r in s["runs"].items() if r["simulated"]]
    r = s["ranking"]
    table = Table(title=f"pairwise ranking ({s['mode']}), judge {s['judge']['label']}{sim}", title_justify="left")
    for col in ("model", "BT strength (log)", "95% interval", "W / T / L"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for st in r["strengths"]:
        wtl = [sum(v[k] for v in r["matrix"][st["model"]].values()) for k in ("win", "tie", "loss")]
        tag = " (SIMULATED)" if st["model"] in sim_runs else ""
        table.add_row(st["model"] + tag, f"{st['theta']:+.2f}", f"{st['ci95'][0]:+.2f} – {st['ci95'][1]:+.2f}",
                      " / ".join(map(str, wtl)))
    console.print(table)
    pairs = Table(title="pairwise differences (bootstrap over frames)", title_justify="left")
    for col in ("pair", "W / T / L", "P(first wins)", "strength diff (95%)", "p", ""):
        pairs.add_column(col, justify="left" if col == "pair" else "right")
    for p in r["pairs"]:
        pairs.add_row(f"{p['a']} vs {p['b']}", f"{p['win']} / {p['tie']} / {p['loss']}", f"{p['p_win']:.2f}",
                      f"{p['theta_diff']:+.2f} ({p['ci95'][0]:+.2f} – {p['ci95'][1]:+.2f})", f"{p['p_value']:.3f}",
                      "significant" if p["significant"] else "not significant (a tie)")
    console.print(pairs)
    pc = s["position_consistency"]
    rate = "—" if pc["rate"] is None else f"{pc['rate']:.0%}"
    console.print(f"position consistency: {rate} ({pc['consistent']} of {pc['judged']} judged battles agree in both "
                  f"orders; the others count as ties); battles {s['battles']} of {s['battles_possible']} possible over "
                  f"{s['frames']} frames, failed {s['battles_failed']}", highlight=False)
    j = s["judge"]
    cost = "$—" if j["cost_usd"] is None else f"${j['cost_usd']:.4f}"
    console.print(f"judge requests sent {j['requests_sent']} (cache hits {j['cache_hits']}); cost of these verdicts "
                  f"{cost}; written to {s['out']}", highlight=False)
    for w in [*s["warnings"], *j["warnings"]]:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    from bench.score.__main__ import DEFAULT_JUDGE, UsageError, compose_judge
    from bench.score.progress import JudgeProgress

    argv = sys.argv[1:] if argv is None else argv
    err = Console(stderr=True)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    runs: list[str] = []
    opts: dict[str, Any] = {"baselines": []}
    judge_name, overrides = DEFAULT_JUDGE, []
    try:
        for arg in argv:
            key, eq, value = arg.partition("=")
            if not eq:
                runs.append(arg)
            elif key == "judge":
                judge_name = value
            elif key.startswith("judge."):
                overrides.append(arg)
            elif key == "baseline":
                opts["baselines"].append(value)
            elif key in ("max_battles", "seed", "replicates"):
                opts[key] = int(value)
            elif key == "out":
                opts["out"] = value
            else:
                raise UsageError(f"unknown key {key!r}: use judge=, judge.KEY=, baseline=, max_battles=, out=, "
                                 "seed=, replicates=")
        judge = compose_judge(judge_name, overrides)
    except (UsageError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    progress = JudgeProgress(err)
    try:
        summary = run_pairwise(runs, judge=judge, progress=progress, **opts)
    except JudgeStopped as exc:
        err.print(f"[red]judge stopped:[/red] {exc}", highlight=False)
        return 1
    except ScoreError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    finally:
        progress.close()
    pairwise_results.attach(summary, Path(summary["out"]) / "ranking.json")  # each run's place: RUN/pairwise.json
    print_ranking(Console(), summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
