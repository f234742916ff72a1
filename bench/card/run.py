"""The model card's pipeline: teacher, then each model, scored, ranked, written to one experiment folder.

`python -m bench experiment=cliptagger_card` (bench/__main__.py calls `run_card` when `experiment.card` is set).
Each member is one ordinary run (bench.app.run) with its own run folder inside the experiment folder, so each
is resumable and readable by every other tool; ROUGE/BLEU against the teacher's run and the judge are scored
by bench.app right after each run (reference=<the teacher's run folder>, judge=<the experiment's judge>); the
pairwise ranking is bench.score.pairwise.run_pairwise. A model that cannot run here (no key, no GPU, no
weights: the run refuses before sending, exit 2) or that stops on a systemic error (exit 1) is skipped with
the reason; the others still run. A dataset that cannot be read stops the whole experiment (nothing can run).

The experiment folder (<runs_dir>/card/<name>/<UTC time>, or experiment.dir):
  runs/<model>/        one run folder per member (run_dir=..., so naming the folder again resumes each)
  pairwise/            ranking.json, battles.jsonl
  card.json            the card's data: members, measured and published figures, method notes
  report.html          the report, the card first (bench.report.card)
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.markup import escape

from bench.card.table import card_rows, method_notes, print_card
from bench.summary import message_console, summary_console

CARD_FORMAT = "capbench-card/1"
EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_ERROR_MARKERS = ("error:", "stopped early:", "run failed:")


@dataclass
class Member:
    """One model of the card: its conf/model/ name, the config actually run, and what happened."""

    name: str  # the real model's conf/model/ name (cliptagger, gpt-4.1, ...)
    role: str  # teacher | model
    model_config: str = ""  # the conf/model/ config run: the model itself or its simulated stand-in
    label: str = ""
    simulated: bool = False
    status: str = "pending"  # measured | skipped | failed
    reason: str = ""
    run_dir: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "model_config": self.model_config, "label": self.label,
                "simulated": self.simulated, "stands_for": self.name if self.simulated else None,
                "status": self.status, "reason": self.reason, "run_dir": self.run_dir, "notes": self.notes}


def _compose_model(choice: str, overrides: list[str]) -> DictConfig:
    """conf/model/<choice>.yaml (its own defaults included) as composed by Hydra, with model.* overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from bench.__main__ import conf_dir

    ovr = [f"model={choice}", *overrides]
    if GlobalHydra.instance().is_initialized():  # inside `python -m bench` (or a test's compose context)
        return compose(config_name="config", overrides=ovr).model
    with initialize_config_dir(version_base="1.3", config_dir=conf_dir(), job_name="bench.card"):
        return compose(config_name="config", overrides=ovr).model


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unnamed"


def member_config(cfg: DictConfig, member: Member, folder: Path, *, reference: str | None) -> DictConfig:
    """The run config of one member: the experiment's config with this member's model (or its stand-in),
    its own run folder, the teacher's run as reference (models) and no experiment (it is one run)."""
    exp = cfg.experiment
    overrides = list(exp.model_overrides.get(member.name, []) or [])
    stand_in = exp.simulate and member.name not in exp.real
    if stand_in:
        member.model_config = str(exp.stand_ins.get(member.name) or "sim")
        model = _compose_model(member.model_config, [])
        real = _compose_model(member.name, overrides)
        if real.hosting != "self-hosted":  # an API model's stand-in is priced like it (its own tokens, its price)
            model.price = real.price
        else:
            member.notes.append("priced like hosted ClipTagger ($0.30 / $0.50 per 1M tokens, seed 001): a "
                                "simulator has no GPU time to price")
        for key, value in (exp.stand_in_sim.get(member.name) or {}).items():
            model.sim[key] = value
        model.label = f"{member.name} (sim)"  # every tool adds SIMULATED to a simulated run's label
        model.simulated = True
        member.simulated = True
    else:
        member.model_config = member.name
        model = _compose_model(member.name, overrides)
        member.simulated = bool(model.simulated)
    member.label = str(model.label or model.name)
    run_cfg = copy.deepcopy(cfg)
    run_cfg.model = model
    run_cfg.experiment = None
    run_cfg.run_dir = str(folder / "runs" / _slug(member.name))
    run_cfg.reference = reference
    return run_cfg


def _reason(text: str) -> str:
    """The error lines bench.app printed (from the first marker on), for the report."""
    lines = text.strip().splitlines()
    for i, line in enumerate(lines):
        if line.lower().lstrip().startswith(_ERROR_MARKERS):
            return " ".join(x.strip() for x in lines[i:i + 6])[:600]
    return (lines[-1] if lines else "no message")[:600]


def _judge_problem(judge: DictConfig | None) -> str | None:
    if judge is None:
        return "no judge configured (judge=null)"
    model = judge.model
    if model.serve or not model.api_key_env or os.environ.get(model.api_key_env, "").strip():
        return None
    return f"judge {judge.label!r} needs an API key: set {model.api_key_env} (export {model.api_key_env}=...)"


def run_member(cfg: DictConfig, member: Member) -> int:
    """One ordinary run; its messages go to stderr as usual and are also kept (record=True) for a skip's reason."""
    import sys

    from bench.app import run

    recorder = Console(stderr=True, soft_wrap=not sys.stderr.isatty(), highlight=False, record=True)
    code = run(cfg, console=recorder)
    text = recorder.export_text(clear=True)
    if code == EXIT_USAGE:
        member.status, member.reason = "skipped", _reason(text)
    elif code == EXIT_FATAL:
        member.status, member.reason = "failed", _reason(text)
    elif code == EXIT_OK:
        member.status = "measured"
        if "scoring failed:" in text:
            member.notes.append("scoring failed: " + text.split("scoring failed:", 1)[1].strip()[:500])
    member.run_dir = cfg.run_dir if Path(cfg.run_dir, "run.json").is_file() else None
    return code


def experiment_folder(cfg: DictConfig) -> Path:
    exp = cfg.experiment
    if exp.dir:
        return Path(exp.dir)
    return Path(cfg.runs_dir) / "card" / _slug(exp.name or "card") / datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S")


def run_card(cfg: DictConfig, console: Console | None = None) -> int:
    """The whole card; returns 0 when at least one model was measured and the card written, 1 when none was,
    2 when the dataset cannot be read, 130 when interrupted (run the same command with experiment.dir=FOLDER
    to continue)."""
    from bench.frames import DatasetError, load_frames

    console = console or message_console()
    exp = cfg.experiment
    try:
        frames = load_frames(cfg.dataset)
        n_frames = len(frames)
    except DatasetError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    folder = experiment_folder(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    sim = " [yellow]SIMULATED stand-ins[/yellow]" if exp.simulate else ""
    console.print(f"experiment {escape(exp.name)}: {folder}  ({n_frames} frames of {cfg.dataset.name}; teacher "
                  f"{escape(exp.teacher)}; models {escape(', '.join(exp.models))}){sim}", highlight=False)
    judge = cfg.get("judge")
    judge_skip = _judge_problem(judge)
    run_base = copy.deepcopy(cfg)
    if judge_skip:
        console.print(f"[yellow]judge skipped:[/yellow] {escape(judge_skip)}; the models still run", highlight=False)
        run_base.judge = None
    members = [Member(exp.teacher, "teacher")] + [Member(m, "model") for m in exp.models if m != exp.teacher]
    if exp.teacher in exp.models:  # one run: scored against itself it would be 100 on every overlap metric
        members[0].notes.append(f"{exp.teacher} is also in experiment.models: it runs once, as the teacher")
    teacher_dir: str | None = None
    code = EXIT_OK
    try:
        for member in members:
            console.print(f"[bold]{member.role} {escape(member.name)}[/bold]", highlight=False)
            try:
                run_cfg = member_config(run_base, member, folder, reference=teacher_dir if member.role == "model"
                                        else None)
            except Exception as exc:  # noqa: BLE001 - e.g. an unknown model name: that member, not the card
                member.status, member.reason = "skipped", f"cannot compose its config: {exc}"
                console.print(f"[yellow]skipped:[/yellow] {escape(member.reason)}", highlight=False)
                continue
            rc = run_member(run_cfg, member)
            if rc == EXIT_INTERRUPTED:
                raise KeyboardInterrupt
            if member.status != "measured":
                console.print(f"[yellow]{member.status}:[/yellow] {escape(member.name)}: {escape(member.reason)}",
                              highlight=False)
            elif member.role == "teacher":
                teacher_dir = member.run_dir
        if teacher_dir is None:
            note = f"no teacher run ({members[0].reason or members[0].status}): ROUGE/BLEU vs teacher not measured"
            members[0].notes.append(note)
        pairwise = _pairwise(run_base, members, folder, judge_skip, console)
    except KeyboardInterrupt:
        console.print(f"interrupted; continue with the same command and experiment.dir={folder}", highlight=False)
        return EXIT_INTERRUPTED
    card = write_card(cfg, folder, members, pairwise, judge_skip, n_frames)
    report = _report(folder, card, console)
    print_card(summary_console(), card)
    console.print(f"card: {folder / 'card.json'}" + (f"\nreport: {report}" if report else ""), highlight=False)
    if not any(m.status == "measured" for m in members):
        console.print("[red]no model was measured[/red]: every one was skipped or failed (reasons above and in "
                      "the report)", highlight=False)
        code = EXIT_FATAL
    return code


def _pairwise(cfg: DictConfig, members: list[Member], folder: Path, judge_skip: str | None,
              console: Console) -> dict[str, Any]:
    """The pairwise ranking of the measured models (not the teacher) by the experiment's judge."""
    exp = cfg.experiment
    dirs = [m.run_dir for m in members if m.role == "model" and m.status == "measured" and m.run_dir]
    if not exp.pairwise:
        return {"status": "skipped", "reason": "experiment.pairwise=false"}
    if judge_skip:
        return {"status": "skipped", "reason": judge_skip}
    if len(dirs) < 2:
        return {"status": "skipped", "reason": f"{len(dirs)} model(s) measured: a ranking needs two"}
    from bench.score.judge import JudgeStopped
    from bench.score.pairwise import print_ranking, run_pairwise
    from bench.score.references import ScoreError

    console.print(f"[bold]pairwise ranking[/bold] of {len(dirs)} models, judge {escape(str(cfg.judge.label))}",
                  highlight=False)
    try:
        summary = run_pairwise(dirs, judge=cfg.judge, max_battles=exp.pairwise_max_battles, seed=0,
                               out=folder / "pairwise")
    except (JudgeStopped, ScoreError) as exc:
        console.print(f"[yellow]pairwise ranking not made:[/yellow] {escape(str(exc))}", highlight=False)
        return {"status": "failed", "reason": str(exc)}
    print_ranking(summary_console(), summary)
    return {"status": "measured", "out": summary["out"], "judge": summary["judge"]["label"],
            "judge_simulated": summary["judge"]["simulated"], "mode": summary["mode"],
            "battles": summary["battles"], "battles_possible": summary["battles_possible"],
            "position_consistency": summary["position_consistency"]["rate"],
            "strengths": summary["ranking"]["strengths"], "method": summary["ranking"]["method"]}


def write_card(cfg: DictConfig, folder: Path, members: list[Member], pairwise: dict[str, Any],
               judge_skip: str | None, n_frames: int) -> dict[str, Any]:
    exp = cfg.experiment
    judge = cfg.get("judge")
    teacher = members[0]
    card: dict[str, Any] = {
        "format": CARD_FORMAT, "experiment": exp.name, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "folder": str(folder), "dataset": cfg.dataset.name, "frames": n_frames, "simulated": bool(exp.simulate),
        "teacher": teacher.name,
        "judge": {"label": None if judge is None else str(judge.label),
                  "simulated": bool(judge is not None and judge.model.simulated),
                  "rubric": None if judge is None else f"{judge.rubric.name}@{judge.rubric.version}",
                  "skipped": judge_skip},
        "members": [m.as_dict() for m in members],
        "pairwise": pairwise,
        "runner": {"mode": cfg.runner.mode, "concurrency": cfg.runner.concurrency},
        "config": OmegaConf.to_container(exp, resolve=True),
    }
    card["rows"] = card_rows(card)
    card["method_notes"] = method_notes(card)
    (folder / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    return card


def _report(folder: Path, card: dict[str, Any], console: Console) -> Path | None:
    """The experiment's report (the card first); a report that cannot be built leaves card.json and says why."""
    from bench.report import build_report

    if not any(m["run_dir"] and m["status"] == "measured" for m in card["members"]):
        return _card_only_report(folder, card)
    title = f"capbench: the ClipTagger-12B card on {card['dataset']}" + (" (SIMULATED)" if card["simulated"] else "")
    # the runs the card measured, named one by one: a skipped or failed member's folder stays out, and a small
    # slice (dataset.limit) is not left out as a "tiny" run the way a glob's leftovers are (bench.report.choose)
    dirs = [m["run_dir"] for m in card["members"] if m["run_dir"] and m["status"] == "measured"]
    try:
        return build_report(dirs, folder / "report.html", title=title)["path"]
    except Exception as exc:  # noqa: BLE001 - the runs and card.json are saved; say how to build it again
        console.print(f"[red]report failed:[/red] {type(exc).__name__}: {escape(str(exc))}; build it again with "
                      f"`python -m bench.report {' '.join(dirs)} --out {folder / 'report.html'}`", highlight=False)
        return None


def _card_only_report(folder: Path, card: dict[str, Any]) -> Path:
    """No run at all (every model skipped): a page with the card alone, its reasons and the published figures."""
    from bench.report.card import render_card_only

    out = folder / "report.html"
    out.write_text(render_card_only(card), encoding="utf-8")
    return out
