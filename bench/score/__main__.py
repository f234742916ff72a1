"""`python -m bench.score RUN_DIR [RUN_DIR ...] [reference=dataset|RUN_DIR] [judge=NAME] [key=value ...]`

Scores saved runs without running the model again. RUN_DIR may be a run folder, a glob (quoted), a folder
of runs or a sweep's multirun folder (runs/multirun/<time>), as for bench.report. Keys:

  reference=dataset      the dataset's reference captions (the default)
  reference=RUN_DIR      a teacher run on the same frames (distillation)
  judge=NAME             an LLM judge from conf/judge/ (gemini-2.5-pro, gpt-4.1, openai_compatible, sim);
                         judge=default is gemini-2.5-pro; without judge= the overlap is scored and earlier
                         verdicts are kept
  judges=[A,B,C]         a panel of judges (conf/judge/ names): each judge's scores kept side by side, the panel
                         score (their mean), agreement (Krippendorff's alpha, within-1 and exact per pair);
                         judge=panel_sim / panel_frontier are panels too; judge.panel.exclude_self=true leaves a
                         judge of the model's own family out of its panel score (self-preference)
  judge.KEY=VALUE        any judge setting, e.g. judge.repeats=3, judge.with_reference=true,
                         judge.model.base_url=..., judge.cache=PATH (default:
                         $CAPBENCH_CACHE_DIR/judge_cache.sqlite, else ~/.cache/capbench/judge_cache.sqlite)
  temporal.KEY=VALUE     temporal scores (frames with video and timestamp_s): temporal.k=3 (fields that must
                         change for a boundary), temporal.tolerance=0 (pair positions), temporal.change_below=0.5,
                         temporal.boundary_fields=[content_type,summary,objects]
  pairwise=true          then judge the runs pairwise (bench.score.pairwise: both orders, Bradley-Terry ranking
                         with intervals) and give each run its place in RUN/pairwise.json (load_runs, report,
                         gate); baseline=RUN (repeatable, implies pairwise=true): battles against fixed baselines;
                         pairwise.judge=NAME (default: judge=, else the default judge), pairwise.max_battles=N,
                         pairwise.out=DIR (default runs/pairwise/<UTC time>)
  ranking=FILE           pick up an existing OUT/ranking.json instead: each of its runs gets RUN/pairwise.json
  workers=N              processes for ROUGE/BLEU (default: all cores)
  seed=N replicates=N    bootstrap seed and replicates (defaults 0 and 2000)

Judge configs are composed with Hydra from the project's conf/ (so judge=gpt-4.1 is conf/judge/gpt-4.1.yaml
and a misspelt key fails with its name). Every scoring is kept next to the run's earlier ones, keyed by its
reference and judge; a scoring that stopped or scored nothing writes nothing. Exit codes: 0 scored, 1 nothing
scored (the judge stopped on a fatal error or could not connect, or every verdict failed: re-run to continue,
verdicts are cached), 2 unusable run folder, reference or arguments.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench import pairwise_results
from bench.score import NothingScored, ScoreError, score_run
from bench.score.judge import JudgeStopped
from bench.score.panel import panel_lines
from bench.score.progress import JudgeProgress
from bench.score.temporal import summary_lines
from bench.summary import message_console, summary_console

DEFAULT_JUDGE = "gemini-2.5-pro"
_OWN_KEYS = {"reference": str, "workers": int, "seed": int, "replicates": int}


def _flag(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


_PAIRWISE_KEYS = {"pairwise": _flag, "pairwise.judge": str, "pairwise.max_battles": int, "pairwise.out": str,
                  "ranking": str}


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> tuple[list[str], dict[str, Any], list[str]]:
    """Split into run folders, our own options, and Hydra overrides for the judge group."""
    runs, own, judge_overrides, temporal_overrides = [], {}, [], []
    pairwise_opts: dict[str, Any] = {}
    judge_name: str | None = None
    for arg in argv:
        key, eq, value = arg.partition("=")
        key = key.lstrip("+")
        if not eq:
            runs.append(arg)
        elif key == "judge":
            judge_name = {"default": DEFAULT_JUDGE, "true": DEFAULT_JUDGE}.get(value, value)
        elif key == "judges":  # a panel of these judges (bench.score.panel), composed on conf/judge/panel.yaml
            names = [n.strip() for n in value.strip().removeprefix("[").removesuffix("]").split(",") if n.strip()]
            judge_name = "panel"
            judge_overrides += [f"judge.panel.judges=[{','.join(names)}]", f"judge.label='panel:{'+'.join(names)}'"]
        elif key.startswith("judge."):
            judge_overrides.append(f"{key}={value}")
        elif key in _PAIRWISE_KEYS:  # pairwise judging of the runs after their scoring (bench.score.pairwise)
            try:
                pairwise_opts[key.removeprefix("pairwise.").removeprefix("pairwise")] = _PAIRWISE_KEYS[key](value)
            except ValueError as exc:
                raise UsageError(f"{key}={value!r}: {exc}") from exc
        elif key == "baseline":
            pairwise_opts.setdefault("baselines", []).append(value)
        elif key.startswith("temporal."):
            temporal_overrides.append(f"{key.removeprefix('temporal.')}={value}")
        elif key in _OWN_KEYS:
            try:
                own[key] = _OWN_KEYS[key](value)
            except ValueError as exc:
                raise UsageError(f"{key}={value!r}: expected {_OWN_KEYS[key].__name__}") from exc
        else:
            raise UsageError(f"unknown key {key!r}: use reference=, judge=, judges=, judge.KEY=, temporal.KEY=, "
                             "workers=, seed=, replicates=, pairwise=, pairwise.judge=, pairwise.max_battles=, "
                             "pairwise.out=, baseline=, ranking=")
    if temporal_overrides:
        own["temporal"] = temporal_settings(temporal_overrides)
    if judge_overrides and judge_name is None:
        judge_name = DEFAULT_JUDGE
    if judge_name in ("none", "null", "false"):
        judge_name, judge_overrides = None, []
    if judge_name is not None:
        own["judge"] = compose_judge(judge_name, judge_overrides)
    if pairwise_opts:
        own["pairwise"] = pairwise_settings(pairwise_opts, judge_name, own.get("judge"))
    return runs, own, judge_overrides


def pairwise_settings(opts: dict[str, Any], judge_name: str | None, judge: Any) -> dict[str, Any]:
    """pairwise=true (with baseline=RUN ..., pairwise.judge=NAME, pairwise.max_battles=N, pairwise.out=DIR) or
    ranking=FILE; the pairwise judge is pairwise.judge, else the judge= given (one judge, not a panel), else
    the default judge; judge.cache applies to it too."""
    from bench.score.panel import panel_judges

    if opts.get("baselines") and "" not in opts:
        opts[""] = True  # baseline=RUN asks for battles against it
    out: dict[str, Any] = {"enabled": bool(opts.get("")), "ranking": opts.get("ranking"),
                           "baselines": opts.get("baselines", []), "max_battles": opts.get("max_battles"),
                           "out": opts.get("out")}
    if out["enabled"]:
        name = opts.get("judge")
        if name is None and panel_judges(judge):
            raise UsageError("pairwise judging asks one judge, not a panel: add pairwise.judge=NAME")
        name = name or judge_name or DEFAULT_JUDGE
        out["judge"] = compose_judge(name, [])
        out["judge_cache"] = judge.cache if judge is not None and judge.get("cache") else None
    return out


def temporal_settings(overrides: list[str]) -> DictConfig:
    """temporal.KEY=VALUE arguments typed by bench.config.TemporalConfig (a misspelt key fails by name)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from bench.config import TemporalConfig

    try:
        return OmegaConf.merge(OmegaConf.structured(TemporalConfig), OmegaConf.from_dotlist(overrides))
    except OmegaConfBaseException as exc:
        raise UsageError(f"temporal: {exc}") from exc


def compose_judge(name: str, overrides: list[str]) -> DictConfig:
    """conf/judge/NAME.yaml (+ its rubric) merged onto JudgeConfig, with judge.* overrides applied."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from bench.__main__ import conf_dir  # also registers the structured config schema

    with initialize_config_dir(version_base="1.3", config_dir=conf_dir(), job_name="bench.score"):
        # conf/config.yaml may or may not declare the judge group in its defaults; both work.
        for group in (f"judge={name}", f"+judge={name}"):
            try:
                cfg = compose(config_name="config", overrides=[group, *overrides])
                break
            except HydraException as exc:
                if "No match in the defaults list" in str(exc) and group[0] != "+":
                    continue
                raise UsageError(f"judge={name}: {exc}") from exc
            except OmegaConfBaseException as exc:
                raise UsageError(f"judge={name}: {exc}") from exc
    return cfg.judge


def _fmt(stat: dict[str, Any] | None) -> str:
    if not stat or stat.get("mean") is None:
        return "—"
    ci = stat.get("ci95")
    return f"{stat['mean']:.1f} ({ci[0]:.1f}–{ci[1]:.1f})" if ci else f"{stat['mean']:.1f}"


def _tokens(t: dict[str, Any] | None) -> str:
    return f"{t.get('input', 0)} in / {t.get('output', 0)} out tokens" if isinstance(t, dict) else "tokens unknown"


def _usd(x: float | None) -> str:
    return "$—" if x is None else f"${x:.4f}"


def print_scores(console: Console, run_dir: str, s: dict[str, Any]) -> None:
    ref = s["reference"]
    table = Table(title=f"scores: {run_dir}" + ("  [yellow]PARTIAL[/yellow]" if s["partial"] else ""),
                  title_justify="left")
    ov = s.get("overlap")
    if ov:
        table.add_column("metric", no_wrap=True)
        table.add_column(f"all, invalid = 0 (n={ov['all']['rougeL']['n']})", justify="right", no_wrap=True)
        table.add_column(f"valid only (n={ov['valid_only']['rougeL']['n']})", justify="right", no_wrap=True)
        for m, label in (("rouge1", "ROUGE-1"), ("rouge2", "ROUGE-2"), ("rougeL", "ROUGE-L"), ("bleu", "BLEU")):
            table.add_row(label, _fmt(ov["all"][m]), _fmt(ov["valid_only"][m]))
        cb = [ov[v].get("corpus_bleu") for v in ("all", "valid_only")]
        table.add_row("corpus BLEU", *(f"{x:.1f}" if x is not None else "—" for x in cb))
        console.print(table)
        console.print("mean (95% bootstrap CI) over frames, in percent; corpus BLEU over the frames at once",
                      highlight=False)
    console.print(f"reference: {ref['kind']} {ref['source']}; frames with a reference {ref['frames_with_reference']}, "
                  f"missing reference {ref['missing_reference']}, missing output {ref['missing_candidate']}",
                  highlight=False)
    for w in ref.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    for reason in s.get("partial_reasons", []):
        console.print(f"[yellow]partial:[/yellow] {reason}", highlight=False)
    if s.get("scoring"):
        console.print(f"scoring: {s['scoring']['key']} (kept next to the run's other scorings, see scores/index.json)",
                      highlight=False)
    for label, line in summary_lines(s.get("temporal")):
        console.print(f"{label}: {line}", highlight=False)
    j = s.get("judge")
    if j:
        sim = " [bold yellow](SIMULATED judge)[/bold yellow]" if j.get("simulated") else ""
        valid = j.get("valid_only") or {}
        console.print(f"judge {j['model']}{sim}, rubric v{j['rubric_version']}: {_fmt(j)} (1-5) over {j['n']} frames "
                      f"(all: no caption scores {j.get('no_caption_scored_as', 1):g}, {j.get('no_caption', 0)} such); "
                      f"valid only {_fmt(valid)} over {valid.get('n', 0)}; judge failures {j['failures']}; not "
                      f"judged {j['not_judged']}", highlight=False)
        sent = j.get("sent") or {}
        console.print(f"judge cost of these verdicts: {_tokens(j.get('tokens'))}, {_usd(j.get('cost_usd'))}; sent "
                      f"this time: {j['requests_sent']} requests (cache hits {j['cache_hits']}), "
                      f"{_tokens(sent.get('tokens'))}, {_usd(sent.get('cost_usd'))}", highlight=False)
        for line in panel_lines(j):
            console.print(escape(line), highlight=False)
        if j.get("agreement"):
            a = j["agreement"]
            console.print(f"judge agreement over {a['repeats']} repeats: identical {a['identical_share']:.0%}, "
                          f"Krippendorff's alpha {a['krippendorff_alpha_interval']}", highlight=False)
        if j.get("corr_rougeL") is not None:
            console.print(f"judge vs ROUGE-L (Spearman): {j['corr_rougeL']:.2f}", highlight=False)
        for w in j.get("warnings", []):
            console.print(f"[yellow]judge:[/yellow] {w}", highlight=False)
    elif s.get("judge") is None:
        console.print(f"judge: not run (add judge={DEFAULT_JUDGE}, the default judge, or judge=NAME from conf/judge/)",
                      highlight=False)


def _expand(paths: list[str]) -> list[str]:
    """Globs, folders of runs and multirun folders (`runs/multirun/<time>`) stand for their run folders, as in
    bench.report; a path that names none is passed on as it is, for score_run to say what is wrong with it."""
    from bench.load import RunLoadError, find_run_dirs, is_run_dir

    out: list[str] = []
    for path in paths:
        try:
            out += [path] if is_run_dir(Path(path)) else [str(p) for p in find_run_dirs([path])]
        except RunLoadError:
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    err = message_console()
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        runs, opts, _ = parse_args(argv)
    except UsageError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    pairwise = opts.pop("pairwise", None)
    if not runs and not (pairwise or {}).get("ranking"):
        err.print("[red]error:[/red] name a run folder: python -m bench.score RUN_DIR [key=value ...]")
        return 2
    from bench.load import shard_set

    runs = [str(d) for r in runs for d in (shard_set(r) or [r])]  # a sweep of shards: score each shard
    code = 0
    for run_dir in ([] if pairwise and pairwise["ranking"] else _expand(runs)):
        progress = JudgeProgress(err)
        try:
            scores = score_run(run_dir, **opts, progress=progress, on_lock_wait=lambda pid, d=run_dir: err.print(
                f"waiting: {d} is being scored by another process (pid {pid})", highlight=False))
        except JudgeStopped as exc:
            err.print(f"[red]judge stopped:[/red] {exc} Earlier scores are kept.", highlight=False)
            code = max(code, 1)
            continue
        except NothingScored as exc:
            err.print(f"[red]nothing scored:[/red] {exc}", highlight=False)
            code = max(code, 1)
            continue
        except ScoreError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            code = max(code, 2)
            continue
        finally:
            progress.close()
        print_scores(summary_console(), run_dir, scores)
        ranked = None if pairwise else pairwise_results.read(run_dir)
        if ranked:  # the latest pairwise ranking this run took part in
            summary_console().print(pairwise_results.summary_line(ranked), highlight=False, markup=False)
    if pairwise:
        from bench.score.pairwise import rank_after_scoring

        code = max(code, rank_after_scoring(pairwise, _expand(runs), seed=opts.get("seed", 0),
                                            replicates=opts.get("replicates"), out=summary_console(), err=err))
    return code


if __name__ == "__main__":
    sys.exit(main())
