"""`python -m bench.gate RUN_DIR --baseline BASELINE [gate=NAME] [gate.KEY=VALUE ...]`

Compares a run folder with a baseline (a run folder, or a JSON written by
`python -m bench.gate RUN_DIR --write-baseline FILE`) under the thresholds in
conf/gate/NAME.yaml, prints a table of the checks and writes JUnit XML.

Exit codes: 0 no check failed (skipped checks are counted apart); 1 a check failed;
2 unusable input (no such run, not a baseline, another dataset, bad config, a run whose
metrics.json its records do not confirm: see bench/gate/verify.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from bench.config import GateConfig
from bench.gate.checks import FAIL, PASS, SKIP, CheckResult, run_checks
from bench.gate.inputs import GateInputError, check_comparable, write_baseline
from bench.gate.junit import write_junit
from bench.gate.verify import check_pairing, load_checked_side
from bench.shards import shard_info
from bench.summary import message_console

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
_OVERRIDE = re.compile(r"^[+~]?[A-Za-z_][\w.]*=")


def load_gate_config(overrides: list[str]) -> GateConfig:
    """Compose conf/gate/<name>.yaml with Hydra (gate=NAME picks the file) onto the typed GateConfig."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from bench.__main__ import conf_dir

    bad = [o for o in overrides if not (o.startswith("gate=") or o.startswith("gate."))]
    if bad:
        raise GateInputError(f"unknown override(s) {', '.join(bad)}: use gate=NAME or gate.KEY=VALUE")
    choice = next((o.split("=", 1)[1] for o in overrides if o.startswith("gate=")), "default")
    rest = [o for o in overrides if not o.startswith("gate=")]
    try:
        with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
            composed = compose(config_name=None, overrides=[f"+gate={choice}", *rest])
        merged = OmegaConf.merge(OmegaConf.structured(GateConfig), composed.gate)
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except (HydraException, OmegaConfBaseException) as exc:
        raise GateInputError(f"gate config: {exc}".splitlines()[0]) from exc


def verdict_line(results: list[CheckResult]) -> str:
    """PASSED/FAILED with each outcome counted: a skipped check is never counted as one that held."""
    counts = {status: [r.name for r in results if r.status == status] for status in (PASS, FAIL, SKIP)}
    parts = [f"{len(counts[PASS])} passed"] + [f"{len(counts[s])} {w}" for s, w in ((FAIL, "failed"),
                                                                                    (SKIP, "skipped")) if counts[s]]
    verdict = "[red bold]FAILED[/red bold]" if counts[FAIL] else "[green bold]PASSED[/green bold]"
    named = "".join(f"; {w}: {', '.join(counts[s])}" for s, w in ((FAIL, "failing"), (SKIP, "skipped")) if counts[s])
    return f"{verdict}: {', '.join(parts)} of {len(results)} checks{named}"


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.gate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("items", nargs="+", metavar="RUN_DIR [gate=NAME] [gate.KEY=VALUE]",
                   help="the run folder to gate, then Hydra overrides of the gate config")
    p.add_argument("--baseline", help="a run folder or a baseline JSON file")
    p.add_argument("--junit", help="JUnit XML output (default: RUN_DIR/gate-junit.xml)")
    p.add_argument("--json", dest="json_out", help="also write the checks as JSON here")
    p.add_argument("--scoring", metavar="KEY", help="which scoring of a run folder to gate (default: the latest; "
                   "keys in RUN_DIR/scores/index.json)")
    p.add_argument("--write-baseline", metavar="FILE", help="write RUN_DIR as a baseline JSON file and exit")
    p.add_argument("--no-frames", action="store_true",
                   help="with --write-baseline: omit per-frame values (then only unpaired tests are possible)")
    args, extra = p.parse_known_args(argv)
    unknown = [e for e in extra if not _OVERRIDE.match(e)]
    if unknown:
        p.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.items += extra  # overrides after an option (argparse stops the positional list there)
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    tty = sys.stdout.isatty()  # piped: paths and labels are never wrapped (copy-paste, grep)
    out = Console(highlight=False, width=None if tty else 240, soft_wrap=not tty)
    err = message_console()
    overrides = [i for i in args.items if _OVERRIDE.match(i) and not Path(i).exists()]
    paths = [i for i in args.items if i not in overrides]
    if len(paths) != 1 and not (paths and all(shard_info(Path(p)) for p in paths)):
        err.print(f"[red]error:[/red] give exactly one RUN_DIR, or the shard folders of one sharded run "
                  f"(got {len(paths)}: {' '.join(paths) or 'none'})")
        return EXIT_USAGE
    started = time.monotonic()
    try:
        # metrics.json verified against the run's records (each shard's, for a sharded run)
        run = load_checked_side(paths[0] if len(paths) == 1 else paths, scoring=args.scoring)
        if args.write_baseline:
            path = write_baseline(run, args.write_baseline, with_frames=not args.no_frames)
            out.print(f"baseline written: {path} ({run.model} on {run.dataset}, {run.frames} frames, "
                      f"{path.stat().st_size:,} bytes)")
            return EXIT_PASS
        if not args.baseline:
            err.print("[red]error:[/red] --baseline BASELINE is required (a run folder or a baseline JSON)")
            return EXIT_USAGE
        cfg = load_gate_config(overrides)
        base = load_checked_side(args.baseline, scoring=args.scoring)
        check_pairing(run, base)
        notes = check_comparable(run, base)
        results = run_checks(run, base, cfg)
    except GateInputError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return EXIT_USAGE

    failed = [r for r in results if r.status == FAIL]
    title = (f"gate {cfg.name}: {run.model} ({run.source}) vs baseline {base.model} ({base.source}), "
             f"dataset {run.dataset}")
    table = Table(title=title, title_justify="left")
    for col in ("check", "result", "run", "baseline", "limit", "detail"):
        table.add_column(col, overflow="fold")
    style = {PASS: "[green]PASS[/green]", FAIL: "[red bold]FAIL[/red bold]", SKIP: "[yellow]SKIP[/yellow]"}
    for r in results:
        table.add_row(r.name, style[r.status], r.measured, r.baseline, r.limit, r.detail)
    out.print(table)
    if run.simulated != base.simulated:
        out.print("[yellow]note:[/yellow] one side is a simulated run and the other is not")
    for note in notes:
        out.print(f"[yellow]note:[/yellow] {note}")
    junit = Path(args.junit) if args.junit else Path(run.source) / "gate-junit.xml"
    if not Path(run.source).is_dir() and not args.junit:
        junit = Path("gate-junit.xml")
    write_junit(junit, results, suite=f"capbench.gate.{cfg.name}",
                properties={"run": run.source, "baseline": base.source, "model": run.model, "dataset": run.dataset,
                            "gate": cfg.name}, elapsed_s=time.monotonic() - started)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"gate": asdict(cfg), "run": run.source, "baseline": base.source,
                                                   "passed": not failed,
                                                   "checks": [asdict(r) for r in results]}, indent=2, default=str))
    out.print(f"{verdict_line(results)}  (JUnit XML: {junit})")
    if failed:
        out.print(diff_report_hint(paths, args.baseline, base.source), markup=False)
    return EXIT_FAIL if failed else EXIT_PASS


def diff_report_hint(paths: list[str], baseline_arg: str, baseline_source: str) -> str:
    """The command that builds the report of the run against its baseline (bench.report --baseline): what a
    reviewer opens when the gate fails. A baseline JSON holds no captions: its run folder is used when it is still
    here, else the command says to put it there."""
    from shlex import quote

    from bench.load import is_run_dir

    base = baseline_arg if is_run_dir(Path(baseline_arg)) else \
        baseline_source if baseline_source and is_run_dir(Path(baseline_source)) else None
    cmd = (f"python -m bench.report {' '.join(quote(p) for p in paths)} --baseline {quote(base or 'BASELINE_RUN_DIR')} "
           f"--out {quote(str(Path('reports') / 'gate-diff.html'))}")
    if base is None:
        return (f"see what changed, frame by frame: {cmd}  (the baseline {baseline_arg} is a JSON file without "
                f"captions: put its run folder, {baseline_source or 'unknown'}, in place of BASELINE_RUN_DIR)")
    return f"see what changed, frame by frame: {cmd}"


if __name__ == "__main__":
    sys.exit(main())
