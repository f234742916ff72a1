"""`python -m bench.merge SHARD_DIR... --out DIR`: the shard runs of one sharded run as one ordinary run folder.

The shards must be exactly one partition of the dataset (every shard index once, same config and
partition, no frame in two shards; bench.shards says which is wrong). A folder holding the shards
(a multirun sweep, runs/<dataset>/<model>/) may be given instead of the shard folders. The merged
folder has config.yaml, run.json (the shards it came from and their sessions), generations.jsonl
(each frame once) and metrics.json (throughput over the union of the shards' time spans); score it
with `python -m bench.score DIR`. Exit codes: 0 written, 2 unusable input.
"""

from __future__ import annotations

import argparse
import sys

from bench.load import RunLoadError, find_run_dirs, load_logical_run
from bench.shards import ShardSetError, group_runs, write_merged


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.merge", description=__doc__.split("\n\n")[0])
    p.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="the shard run folders (or a folder holding them)")
    p.add_argument("--out", required=True, metavar="DIR", help="the merged run folder to write (new or empty)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        groups = group_runs(find_run_dirs(args.shards))
        plain = [g for g in groups if not isinstance(g, list)]
        if plain:
            raise ShardSetError(f"{plain[0]}: not a shard run (run.json has no shard block); pass only the shard "
                                "folders of one sharded run")
        if len(groups) != 1:
            raise ShardSetError(f"the folders hold {len(groups)} different sharded runs; merge one at a time")
        run = load_logical_run(groups[0])
        out = write_merged(run, args.out)
    except (RunLoadError, ShardSetError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = run.metrics
    rps = m.get("requests_per_s")
    print(f"merged {len(groups[0])} shards into {out}: {m['recorded']}/{m['frames']} frames, "
          f"{m['completed']} completed, {m['failed']} failed; "
          f"{rps:.2f} requests/s over {m['throughput']['wall_duration_s']:.2f} s" if rps is not None else
          f"merged {len(groups[0])} shards into {out}: {m['recorded']}/{m['frames']} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
