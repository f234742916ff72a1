"""`python -m bench.report RUN_DIR... [--out reports/NAME.html] [--baseline BASE] [--latest] [--csv DIR]`

RUN_DIR may be a run folder, a glob (quote it), a folder of runs, or a Hydra
multirun folder. Writes one HTML file that works offline. Runs a glob or folder
picks up that failed, did not finish or have fewer than --min-frames frames are
left out (named in a note) unless --include-all. Exit codes: 0 written, 2
unusable input (no runs found, unreadable run folder).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.load import RunLoadError, export_tables
from bench.report.choose import DEFAULT_MIN_FRAMES, load_report_runs
from bench.report.sample import DEFAULT_MAX_FRAMES

EXIT_OK, EXIT_USAGE = 0, 2


def default_out(labels: list[str], datasets: list[str]) -> Path:
    stem = "_vs_".join(labels) if len(labels) <= 4 else f"{len(labels)}-runs"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{'+'.join(datasets)}__{stem}")[:120]
    return Path("reports") / f"{stem}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.html"


def _use_system_allocator_for_arrow() -> None:
    """Arrow memory (pandas' string columns, the Parquet writer) from malloc, not Arrow's own mimalloc pool: every
    batch of the report's pass makes and drops Arrow strings (captions on their way to Parquet) around the few
    that stay, and mimalloc kept ~270 MB of freed pages at a million frames, which malloc_trim cannot hand back
    (bench.heap.release_freed). Set for this command's process only: a library caller keeps its own pool."""
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders, globs, folders of runs, multirun folders")
    p.add_argument("--out", help="the HTML file (default: reports/<dataset>__<runs>__<time>.html)")
    p.add_argument("--title", help="the report's title")
    p.add_argument("--no-thumbnails", action="store_true", help="leave frame thumbnails out (smaller file)")
    p.add_argument("--csv", metavar="DIR", help="also write runs.csv and frames.csv here")
    p.add_argument("--parquet", metavar="DIR", help="also write runs.parquet and frames.parquet here")
    p.add_argument("--no-html", action="store_true", help="only export tables")
    p.add_argument("--max-embedded-frames", type=int, default=DEFAULT_MAX_FRAMES, metavar="N",
                   help="beyond N frames the explorer holds the failed and disputed frames and a stratified sample "
                        f"(every frame is in the .frames.parquet beside the HTML; default {DEFAULT_MAX_FRAMES})")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of that sample (default 0)")
    p.add_argument("--baseline", metavar="BASE", help="a run folder: add a view of each run against it (frames "
                   "that became invalid or valid, largest score drops and gains, new hallucinations, deltas)")
    p.add_argument("--latest", action="store_true", help="keep only the newest run per (model, config)")
    p.add_argument("--include-all", action="store_true", help="keep failed, unfinished and tiny runs that a glob or "
                   "folder picked up (by default they are left out, with a note naming them)")
    p.add_argument("--min-frames", type=int, default=DEFAULT_MIN_FRAMES, metavar="N",
                   help="runs a glob or folder picked up with fewer frames are left out "
                        f"(default {DEFAULT_MIN_FRAMES})")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)

    started = time.monotonic()
    _use_system_allocator_for_arrow()
    if args.max_embedded_frames < 1:
        print("error: --max-embedded-frames must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        # the exports need every record in memory (bench.load); the report streams them
        runs, base_index, chosen = load_report_runs(args.runs, baseline=args.baseline, latest=args.latest,
                                                    include_all=args.include_all, min_frames=args.min_frames,
                                                    records=bool(args.csv or args.parquet))
    except RunLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not runs:
        print("error: no run folders found" + (f" ({' '.join(chosen)})" if chosen else ""), file=sys.stderr)
        return EXIT_USAGE
    for fmt, folder in (("csv", args.csv), ("parquet", args.parquet)):
        if folder:
            for path in export_tables(runs, folder, (fmt,)):
                print(f"wrote {path}")
    if args.no_html:
        return EXIT_OK

    from bench.report.data import assemble
    from bench.report.parquet import parquet_path_for
    from bench.report.render import render

    labels = [r.label or r.model for r in runs]
    out = Path(args.out) if args.out else default_out(labels, sorted({r.dataset for r in runs}))
    data = assemble(runs, thumbnails=not args.no_thumbnails, title=args.title,
                    max_embedded_frames=args.max_embedded_frames, sample_seed=args.sample_seed,
                    parquet_path=parquet_path_for(out), baseline=base_index)
    data["notes"] = chosen + data["notes"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data), encoding="utf-8")
    size = out.stat().st_size
    explorer = data["explorer"]
    print(f"report: {out} ({size / 1e6:.1f} MB; {len(runs)} runs, {explorer['total']} frames, "
          f"{explorer['embedded']} in the explorer; {time.monotonic() - started:.1f} s)")
    print(f"frames: {parquet_path_for(out)} (every frame of every run)")
    for note in data["notes"]:
        print(f"note: {note}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
